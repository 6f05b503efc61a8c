"""The browser verifier (verifier/site/assets/verify.js) against the Python verifier.

verify.js is an independent implementation of `por-mst-v1` verification (WebCrypto SHA-256,
BigInt). Node 20 has ``globalThis.crypto.subtle``, so the same file runs here: one node
process checks every case, and each verdict (valid or not, the failed check's name, the
balances in whole units) must equal what `attestations.proofs` says about the same input:

- every proof of every file in fixtures/vectors, valid, and every ``invalid_proofs`` case;
- proofs built by the tool itself (a real tree), and every single-value change, removal or
  type change in them (balances, siblings, salts, indices, root, commitment, ...);
- proofs checked against another attestation's root document.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from attestations.proofs import parse_proof, parse_root_document, verify_proof
from verifier.base.errors import InvalidProof

ROOT = Path(__file__).resolve().parents[2]
VERIFY_JS = ROOT / "verifier" / "site" / "assets" / "verify.js"
VECTORS = sorted((ROOT / "fixtures" / "vectors").glob("*.json"))

RUNNER = r"""
const fs = require("fs"), vm = require("vm");
vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"), { filename: "verify.js" });
const cases = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
(async () => {
  const out = [];
  for (const c of cases) {
    const opts = c.root === null ? {} : { publishedRoot: c.root };
    const v = await PorVerify.checkProof(c.proof, opts);
    out.push(v.valid ? { valid: true, balances: v.balances } : { valid: false, check: v.check });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
"""


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_site_builder", ROOT / "tests" / "browser" / "site_builder.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required under CI to test verify.js")
        pytest.skip("node is not installed")
    return node


def py_verdict(proof: Any, root: Any) -> dict[str, Any]:
    try:
        published = parse_root_document(root) if root is not None else None
        verified = verify_proof(parse_proof(proof), published_root=published)
    except InvalidProof as exc:
        return {"valid": False, "check": exc.check}
    return {"valid": True, "balances": verified.balances_whole()}


def js_verdicts(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    runner = tmp_path / "runner.cjs"
    runner.write_text(RUNNER)
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases))
    done = subprocess.run(
        [node_binary(), str(runner), str(VERIFY_JS), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(result) == len(cases)
    return result


def compare(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    js = js_verdicts(cases, tmp_path)
    mismatches = [
        {"case": c.get("name"), "python": py_verdict(c["proof"], c["root"]), "js": v}
        for c, v in zip(cases, js, strict=True)
        if py_verdict(c["proof"], c["root"]) != v
    ]
    assert not mismatches, json.dumps(mismatches[:5], indent=1, ensure_ascii=False)
    return js


def apply_patch(doc: Any, patch: list[dict[str, Any]]) -> Any:
    """RFC 6902, `replace` and `remove` only (what the vectors use)."""
    doc = copy.deepcopy(doc)
    for op in patch:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        target = doc
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last: Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
        if op["op"] == "replace":
            target[last] = op["value"]
        elif op["op"] == "remove":
            del target[last]
        else:
            raise AssertionError(op)
    return doc


# ----------------------------------------------------------------------------- vectors


def vector_cases() -> list[dict[str, Any]]:
    cases = []
    for path in VECTORS:
        vector = json.loads(path.read_text())
        expected = vector["expected"]
        root = expected["root_document"]
        for i, proof in enumerate(expected["proofs"]):
            cases.append({"name": f"{path.name} proof {i}", "proof": proof, "root": root})
            cases.append({"name": f"{path.name} proof {i} alone", "proof": proof, "root": None})
        invalid = expected["invalid_proofs"]
        base = expected["proofs"][invalid["proof"]]
        for case in invalid["cases"]:
            patched = apply_patch(base, case["patch"])
            for published in (root, None):
                cases.append(
                    {
                        "name": f"{path.name}: {case['description']}",
                        "proof": patched,
                        "root": published,
                    }
                )
    return cases


def test_vectors_exist() -> None:
    assert len(VECTORS) >= 4


def test_every_vector_proof_and_tampered_case(tmp_path: Path) -> None:
    cases = vector_cases()
    verdicts = compare(cases, tmp_path)
    # the valid ones are valid, with the vectors' expected balances in whole units
    by_name = {c["name"]: v for c, v in zip(cases, verdicts, strict=True)}
    for path in VECTORS:
        expected = json.loads(path.read_text())["expected"]
        for i, proof in enumerate(expected["proofs"]):
            verdict = by_name[f"{path.name} proof {i}"]
            assert verdict["valid"], (path.name, i, verdict)
            want = {
                code: v["whole"] for code, v in expected["balances"][proof["account_id"]].items()
            }
            assert verdict["balances"] == want
    invalid = [v for c, v in zip(cases, verdicts, strict=True) if ":" in c["name"]]
    assert invalid and not any(v["valid"] for v in invalid)


def test_proof_against_another_vectors_root_is_another_attestation(tmp_path: Path) -> None:
    one = json.loads(VECTORS[0].read_text())["expected"]
    two = json.loads(VECTORS[1].read_text())["expected"]
    cases = [
        {"name": "1 vs 2", "proof": one["proofs"][0], "root": two["root_document"]},
        {"name": "2 vs 1", "proof": two["proofs"][0], "root": one["root_document"]},
    ]
    verdicts = compare(cases, tmp_path)
    assert all(v == {"valid": False, "check": "published commitment"} for v in verdicts)


# ----------------------------------------------------------------------------- tool-built


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    builder = _load_builder()
    work = tmp_path_factory.mktemp("tree")
    tree = builder.build_liabilities(work, "js-test-1", accounts=40)
    root = json.loads((tree / "root.json").read_text())
    return root, builder.proofs_of(tree)


def _scalar_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _scalar_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _scalar_paths(v, (*path, i))
    else:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:-1] + ("0" if value[-1] != "0" else "1")
        if value.isdigit():
            return str(int(value) + 1)
        return value + "x"
    return "x"


def _set(doc: Any, path: tuple[Any, ...], new: Any, remove: bool = False) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for part in path[:-1]:
        target = target[part]
    if remove:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return doc


def test_tool_built_proofs_are_valid(
    built: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    root, proofs = built
    cases = [{"name": a, "proof": p, "root": root} for a, p in proofs.items()]
    assert all(v["valid"] for v in compare(cases, tmp_path))


def test_every_single_change_to_a_tool_built_proof(
    built: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    root, proofs = built
    proof = next(iter(proofs.values()))
    cases = []
    for path in _scalar_paths(proof):
        name = "/".join(map(str, path))
        old = copy.deepcopy(proof)
        target = old
        for part in path:
            target = target[part]
        cases.append(
            {"name": f"change {name}", "proof": _set(proof, path, _changed(target)), "root": root}
        )
        cases.append({"name": f"null {name}", "proof": _set(proof, path, None), "root": root})
        cases.append(
            {"name": f"remove {name}", "proof": _set(proof, path, None, remove=True), "root": root}
        )
    for key in proof:
        cases.append(
            {
                "name": f"remove top {key}",
                "proof": _set(proof, (key,), None, remove=True),
                "root": root,
            }
        )
    verdicts = compare(cases, tmp_path)
    changed = [v for c, v in zip(cases, verdicts, strict=True) if c["name"].startswith("change")]
    # every changed value is caught, except as_of alone (not bound by the commitment) when
    # no root document is given; here the published root is given, so all are caught
    assert not any(v["valid"] for v in changed)


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("negative balance", lambda p: p["leaves"][0]["balances"].__setitem__(0, "-1")),
        ("leading zero", lambda p: p["leaves"][0]["balances"].__setitem__(0, "01")),
        ("2**128", lambda p: p["leaves"][0]["balances"].__setitem__(0, str(2**128))),
        ("json int balance", lambda p: p["leaves"][0]["balances"].__setitem__(0, 5)),
        ("bool index", lambda p: p["leaves"][0].__setitem__("index", True)),
        ("string index", lambda p: p["leaves"][0].__setitem__("index", "3")),
        ("uppercase hex", lambda p: p.__setitem__("commitment", p["commitment"].upper())),
        ("wrong format", lambda p: p.__setitem__("format", "por-mst-v2")),
        ("no leaves", lambda p: p.__setitem__("leaves", [])),
        ("height 0", lambda p: p.__setitem__("height", 0)),
        ("unsorted assets", lambda p: p["assets"].reverse()),
        ("bad code", lambda p: p["assets"][0].__setitem__("code", "btc")),
        ("duplicate leaf", lambda p: p["leaves"].append(copy.deepcopy(p["leaves"][0]))),
        ("lone surrogate id", lambda p: p.__setitem__("account_id", "a\ud800")),
        ("empty account id", lambda p: p.__setitem__("account_id", "")),
        ("extra key", lambda p: p.__setitem__("note", "hello")),
        ("not an object", lambda p: p["leaves"].__setitem__(0, [])),
    ],
)
def test_malformed_fields_agree(
    built: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path, name: str, mutate: Any
) -> None:
    root, proofs = built
    proof = copy.deepcopy(next(iter(proofs.values())))
    mutate(proof)
    compare([{"name": name, "proof": proof, "root": root}], tmp_path)


def test_sum_overflow_agrees(tmp_path: Path) -> None:
    """A sibling sum that pushes a parent to 2**128 fails the "sums" check in both."""
    vector = json.loads(VECTORS[3].read_text())["expected"]
    proof = copy.deepcopy(vector["proofs"][0])
    proof["leaves"][0]["path"][0]["sums"][0] = str(2**128 - 1)
    verdicts = compare([{"name": "overflow", "proof": proof, "root": None}], tmp_path)
    assert verdicts == [{"valid": False, "check": "sums"}]
