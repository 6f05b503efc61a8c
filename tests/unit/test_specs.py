"""The specifications in docs/spec/ against the code that writes each document.

Every worked example and vector in docs/spec/*.md sits in a fenced block after a marker
``<!-- spec-vector: NAME -->``. Each is parsed out of the markdown and recomputed with the
tool's own code (and, for the hashes, with hashlib straight from the spec's formulas), so a
spec page and the writer cannot drift apart: the por-mst-v1 two-leaf tree is rebuilt by
``por liabilities build``; the attestation example is re-assembled, re-signed with the
throwaway key and re-encoded byte for byte; the report and evaluation tables list exactly
the members the code writes; a site is built and its manifest compared; the alert example is
produced by the alert code. Last, README.md and docs/ point at nothing outside the repository
and every relative link in them resolves inside it.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attestations.document.canonical import canonical_json, signing_payload
from attestations.document.files import pretty_json
from attestations.document.parse import parse_attestation
from attestations.document.sign import (
    build_attestation,
    public_key_hex,
    sign_attestation,
    verify_attestation,
)
from attestations.encoding import (
    AssetSpec,
    account_hash,
    add_sums,
    commitment,
    derive_salt,
    enc,
    leaf_hash,
    node_hash,
    tree_height,
)
from attestations.proofs import (
    RootDocument,
    SumNode,
    check_root_document,
    parse_proof,
    parse_root_document,
    verify_proof,
)
from verifier.cli.main import main
from verifier.history.alerts import ALERT_FORMAT, alerts_for, payload
from verifier.history.records import Coverage, RunRecord
from verifier.report.document import REPORT_FORMAT, build_report
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement
from verifier.site.files import CSP, SITE_FORMAT, read_manifest
from verifier.site.publish import build_site

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report_cases = _load("_spec_report_cases", ROOT / "tests" / "unit" / "test_report.py")


# ----------------------------------------------------------------------------- markdown


def vectors(page: str) -> dict[str, str]:
    """Every ``<!-- spec-vector: NAME -->`` block of a page: NAME -> the block's text."""
    text = (SPEC / page).read_text(encoding="utf-8")
    found = re.findall(r"<!-- spec-vector: ([^>]+?) -->\n```[a-z]*\n(.*?)^```$", text, re.S | re.M)
    out = dict(found)
    assert len(out) == len(found), f"{page}: a vector name is used twice"
    return out


def values(block: str) -> dict[str, str]:
    """``name = value`` lines."""
    out = {}
    for line in block.splitlines():
        name, sep, value = line.partition(" = ")
        assert sep, f"not a 'name = value' line: {line!r}"
        out[name] = value
    return out


def table(text: str, after: str) -> list[str]:
    """The data rows of the first markdown table at or after the line `after`."""
    lines = text.splitlines()
    start = lines.index(after)
    rows: list[str] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append(line)
    return rows[2:]  # without the header and the |---| line


def documented(rows: list[str]) -> dict[str, str]:
    """path -> type column of the rows of a field table."""
    out = {}
    for row in rows:
        match = re.match(r"\| `([^`]+)` \| ([^|]+(?:\\\|[^|]+)*) \|", row)
        assert match, row
        out[match.group(1)] = match.group(2).replace("\\|", "|").strip()
    return out


# ----------------------------------------------------------------------------- por-mst-v1

MST = "por-mst-v1.md"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split())


def test_mst_two_leaf_example_recomputes_hash_by_hash() -> None:
    v = values(vectors(MST)["por-mst-v1 two-leaves"])
    assets = [AssetSpec(c, int(d)) for c, d in (a.split(":") for a in v["assets"].split())]
    master = bytes.fromhex(v["master_secret"])
    leaves = []
    for i in range(2):
        who = v[f"leaf{i}.account"]
        balances = _ints(v[f"{who}.balances"])
        message = who.encode() + struct.pack(">I", 0)
        assert message.hex() == v[f"{who}.salt_message"]
        salt = hmac.digest(master, message, "sha256")
        assert salt.hex() == v[f"{who}.salt"] == derive_salt(master, who, 0).hex()
        acct = hashlib.sha256(b"\x04" + who.encode()).digest()
        assert acct.hex() == v[f"{who}.account_hash"] == account_hash(who).hex()
        encoded = b"".join(b.to_bytes(16, "big") for b in balances)
        assert encoded.hex() == v[f"{who}.enc_balances"] == enc(balances).hex()
        preimage = b"\x00" + salt + acct + encoded
        assert preimage.hex() == v[f"leaf{i}.preimage"]
        digest = hashlib.sha256(preimage).digest()
        assert digest.hex() == v[f"leaf{i}.hash"] == leaf_hash(salt, acct, balances).hex()
        leaves.append((digest, balances))
    (left, lsums), (right, rsums) = leaves
    assert tree_height(2) == int(v["height"]) == 1
    preimage = b"\x01" + left + enc(lsums) + right + enc(rsums)
    assert preimage.hex() == v["root.preimage"]
    root = hashlib.sha256(preimage).digest()
    assert root.hex() == v["root.hash"] == node_hash(left, lsums, right, rsums).hex()
    sums = add_sums(lsums, rsums)
    assert sums == _ints(v["root.sums"])
    ident = v["attestation_id"].encode()
    preimage = (
        b"\x03"
        + struct.pack(">H", len(ident))
        + ident
        + bytes([len(assets)])
        + b"".join(bytes([len(a.code)]) + a.code.encode() + bytes([a.decimals]) for a in assets)
        + bytes([1])
        + root
        + enc(sums)
    )
    assert preimage.hex() == v["commitment.preimage"]
    assert hashlib.sha256(preimage).hexdigest() == v["commitment"]
    assert commitment(v["attestation_id"], assets, 1, root, sums).hex() == v["commitment"]


def test_mst_example_documents_are_what_the_code_writes() -> None:
    blocks = vectors(MST)
    v = values(blocks["por-mst-v1 two-leaves"])
    root_doc = parse_root_document(json.loads(blocks["por-mst-v1 two-leaves root.json"]))
    check_root_document(root_doc)
    expected = RootDocument(
        attestation_id=v["attestation_id"],
        as_of=v["as_of"],
        assets=(AssetSpec("BTC", 8), AssetSpec("ETH", 18)),
        height=1,
        root=SumNode(bytes.fromhex(v["root.hash"]), _ints(v["root.sums"])),
        commitment=bytes.fromhex(v["commitment"]),
    )
    # the layout `por liabilities build` writes: json.dumps(..., indent=2) and a newline
    assert (
        blocks["por-mst-v1 two-leaves root.json"] == json.dumps(expected.to_json(), indent=2) + "\n"
    )
    raw = json.loads(blocks["por-mst-v1 two-leaves proof"])
    proof = parse_proof(raw)
    assert list(proof.to_json().items()) == list(raw.items())  # members and their order
    result = verify_proof(proof, published_root=root_doc)
    assert result.balances == _ints(v["alice.balances"])
    assert result.balances_whole() == {"BTC": "1.5", "ETH": "2.25"}


def test_mst_example_is_what_por_liabilities_build_and_proof_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = vectors(MST)
    v = values(blocks["por-mst-v1 two-leaves"])
    (tmp_path / "liabilities.csv").write_text(blocks["por-mst-v1 two-leaves liabilities.csv"])
    (tmp_path / "assets.toml").write_text(blocks["por-mst-v1 two-leaves assets.toml"])
    secret = tmp_path / "secret.key"
    secret.write_text(v["master_secret"] + "\n")
    secret.chmod(0o600)
    tree = tmp_path / "tree"
    args = ["liabilities", "build", str(tmp_path / "liabilities.csv")]
    args += ["--assets", str(tmp_path / "assets.toml"), "--attestation-id", v["attestation_id"]]
    args += ["--as-of", v["as_of"], "--secret-file", str(secret), "--out", str(tree)]
    assert main(args) == 0
    assert (tree / "root.json").read_text() == blocks["por-mst-v1 two-leaves root.json"]
    capsys.readouterr()
    assert main(["liabilities", "proof", str(tree), "alice"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert list(written.items()) == list(json.loads(blocks["por-mst-v1 two-leaves proof"]).items())


def test_mst_spec_links_every_committed_vector() -> None:
    text = (SPEC / MST).read_text(encoding="utf-8")
    for path in sorted((ROOT / "fixtures" / "vectors").glob("*.json")):
        assert f"(../../fixtures/vectors/{path.name})" in text, path.name


# ----------------------------------------------------------------------------- por-attestation-v1

ATT = "por-attestation-v1.md"


def test_attestation_canonical_vector() -> None:
    blocks = vectors(ATT)
    value = json.loads(blocks["por-attestation-v1 canonical input"])
    expected = blocks["por-attestation-v1 canonical output"].removesuffix("\n")
    assert canonical_json(value) == expected.encode("utf-8")


def test_attestation_example_signature_recomputes() -> None:
    blocks = vectors(ATT)
    doc = json.loads(blocks["por-attestation-v1 example document"])
    v = values(blocks["por-attestation-v1 example signature"])
    canonical = blocks["por-attestation-v1 example canonical"].removesuffix("\n").encode("utf-8")
    message = signing_payload(doc)
    assert message == b"por-attestation-v1\n" + canonical
    assert len(message) == int(v["message_length"])
    assert hashlib.sha256(message).hexdigest() == v["message_sha256"]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["ed25519_secret_key"]))
    assert public_key_hex(key) == v["ed25519_public_key"] == doc["signature"]["public_key"]
    assert key.sign(message).hex() == v["signature"] == doc["signature"]["value"]
    verify_attestation(doc, expected_public_key=v["ed25519_public_key"])


def test_attestation_example_is_what_the_code_writes() -> None:
    """Re-assembled from its parts by `build_attestation`, signed by `sign_attestation` and
    laid out by `pretty_json` (what `write_attestation` publishes): the same bytes."""
    blocks = vectors(ATT)
    doc = json.loads(blocks["por-attestation-v1 example document"])
    parsed = parse_attestation(doc)
    rebuilt = build_attestation(
        attestation_id=parsed.attestation_id,
        as_of=parsed.as_of,
        exchange=parsed.exchange,
        liabilities=doc["liabilities"],
        chains=parsed.chains,
        reserve=doc["reserve"],
        prices=parsed.prices,
        rule_pack=parsed.rule_pack,
    )
    key = bytes.fromhex(
        values(blocks["por-attestation-v1 example signature"])["ed25519_secret_key"]
    )
    signed = sign_attestation(rebuilt, Ed25519PrivateKey.from_private_bytes(key))
    assert pretty_json(signed).decode("utf-8") == blocks["por-attestation-v1 example document"]
    # its liabilities are the por-mst-v1 worked example's root document
    root = json.loads(vectors(MST)["por-mst-v1 two-leaves root.json"])
    assert doc["liabilities"] == root


def test_attestation_example_ownership_signature_is_real() -> None:
    from eth_account import Account

    from chains.base import Ownership
    from chains.eth_ownership import verify_eip191

    blocks = vectors(ATT)
    doc = json.loads(blocks["por-attestation-v1 example document"])
    v = values(blocks["por-attestation-v1 example signature"])
    chain = doc["chains"][0]
    wallet = chain["wallets"][0]
    assert Account.from_key(bytes.fromhex(v["ethereum_secret_key"])).address == wallet["address"]
    assert wallet["address"] == v["ethereum_address"]
    check = verify_eip191(wallet["address"], chain["challenge"], wallet["ownership"]["signature"])
    assert check.status is Ownership.PROVEN


def test_attestation_verify_by_hand_snippet_runs(tmp_path: Path) -> None:
    blocks = vectors(ATT)
    (tmp_path / "attestation.json").write_text(blocks["por-attestation-v1 example document"])
    done = subprocess.run(
        [sys.executable, "-c", blocks["por-attestation-v1 verify-by-hand"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "signature OK" in done.stdout
    tampered = json.loads(blocks["por-attestation-v1 example document"])
    tampered["prices"]["ETH"]["value"] = "500000.6"
    (tmp_path / "attestation.json").write_text(json.dumps(tampered))
    done = subprocess.run(
        [sys.executable, "-c", blocks["por-attestation-v1 verify-by-hand"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "InvalidSignature" in done.stderr


def test_attestation_member_table_is_the_parsers() -> None:
    from attestations.document import model as document

    text = (SPEC / ATT).read_text(encoding="utf-8")
    rows = documented(table(text, "| member | type and rule |"))
    top = [p for p in rows if "." not in p and "[" not in p]
    assert top == [*document.TOP_REQUIRED, *document.TOP_OPTIONAL]
    chain = [p.split(".", 1)[1] for p in rows if p.startswith("chains[].")]
    assert chain == list(document.CHAIN_KEYS)
    wallet = [p.split(".", 1)[1] for p in rows if p.startswith("…wallets[].")]
    assert wallet == list(document.WALLET_KEYS)
    for name, keys in (
        ("prices", document.PRICE_KEYS),
        ("rule_pack", document.RULE_PACK_KEYS),
        ("signature", document.SIGNATURE_KEYS),
    ):
        row = next(
            r for r in table(text, "| member | type and rule |") if r.startswith(f"| `{name}` |")
        )
        assert f"{{{', '.join(keys)}}}" in row, name


# ----------------------------------------------------------------------------- por-report-v1

REPORT = "por-report-v1.md"


def _spec_report_rows() -> list[str]:
    return table((SPEC / REPORT).read_text(encoding="utf-8"), "## 4. Members")


def test_report_member_table_is_what_build_report_writes() -> None:
    doc = report_cases.sample_report()
    assert doc["report"] == REPORT_FORMAT
    found = report_cases.paths(doc)
    docs = documented(_spec_report_rows())
    assert set(found) == set(docs), (
        f"undocumented: {sorted(set(found) - set(docs))}; "
        f"documented but absent: {sorted(set(docs) - set(found))}"
    )
    for path, sample in found.items():
        allowed = tuple(
            report_cases.TYPES[t.strip()]
            for t in docs[path].split("|")
            if t.strip() in report_cases.TYPES
        )
        assert allowed, path
        if bool in allowed or not isinstance(sample, bool):
            assert isinstance(sample, allowed), f"{path}: {sample!r} is not {docs[path]}"


def test_report_guide_table_is_the_spec_table() -> None:
    """docs/report.md keeps the same field table as the spec, row for row."""
    guide = table((ROOT / "docs" / "report.md").read_text(encoding="utf-8"), "## Fields")
    assert guide == _spec_report_rows()


def test_report_id_is_derived_as_the_spec_says() -> None:
    rec = report_cases.sample_reconciliation()
    doc = build_report(rec, generated_at="2026-11-21T01:00:00Z", input_hashes=report_cases.HASHES)
    blank = {**doc, "report_id": ""}
    j = json.dumps(blank, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert doc["report_id"] == "sha256:" + hashlib.sha256(j.encode("utf-8")).hexdigest()


EVAL_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "list": list,
    "list of strings": list,
}


def _evaluations() -> Iterator[dict[str, Any]]:
    fixtures = ROOT / "fixtures" / "reserve"
    for pack_id in known_packs():
        for path in sorted(fixtures.glob(f"{pack_id}-*.toml")):
            statement = load_statement(path)
            assert statement.as_of is not None
            pack = load_pack(pack_id)
            result = evaluate(
                pack, statement, inputs_from_statement(statement), as_of=statement.as_of
            )
            yield result.to_json()


def _eval_paths(value: Any, prefix: str = "") -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    if isinstance(value, dict):
        for key, child in value.items():
            name = "<term>" if prefix == "required.terms" else key
            path = f"{prefix}.{name}" if prefix else name
            out.setdefault(path, []).append(child)
            if prefix != "parameters[].value":
                for sub, samples in _eval_paths(child, path).items():
                    out.setdefault(sub, []).extend(samples)
    elif isinstance(value, list):
        for child in value:
            if prefix == "parameters[].value":
                continue
            for sub, samples in _eval_paths(child, f"{prefix}[]").items():
                out.setdefault(sub, []).extend(samples)
    return out


def test_reserve_evaluation_table_is_what_rules_writes() -> None:
    found: dict[str, list[Any]] = {}
    for doc in _evaluations():
        for path, samples in _eval_paths(doc).items():
            found.setdefault(path, []).extend(samples)
    text = (SPEC / REPORT).read_text(encoding="utf-8")
    docs = documented(table(text, "## 5. The reserve evaluation (`reserve`)"))
    assert set(found) == set(docs), (
        f"undocumented: {sorted(set(found) - set(docs))}; "
        f"documented but absent: {sorted(set(docs) - set(found))}"
    )
    for path, samples in found.items():
        allowed = tuple(EVAL_TYPES[t.strip()] for t in docs[path].split("|"))
        for sample in samples:
            if isinstance(sample, bool):
                assert bool in allowed, f"{path}: {sample!r} is not {docs[path]}"
            else:
                assert isinstance(sample, allowed), f"{path}: {sample!r} is not {docs[path]}"
    # the report table's `reserve.*` rows are members of the evaluation specified here
    members = {p.split(".")[0].split("[")[0] for p in docs}
    for path in documented(_spec_report_rows()):
        if path.startswith("reserve."):
            assert path.removeprefix("reserve.") in members, path


# ----------------------------------------------------------------------------- por-site-v1


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    builder = _load("_spec_site_builder", ROOT / "tests" / "browser" / "site_builder.py")
    work = tmp_path_factory.mktemp("spec-site")
    att_dir, _ = builder.make_attestation_dir(work)
    out = work / "site"
    build_site(att_dir, out, generated_at="2026-11-21T02:00:00Z")
    return out


def test_site_manifest_is_as_specified(site: Path) -> None:
    example = json.loads(vectors("por-site-v1.md")["por-site-v1 manifest"])
    raw = (site / "site.json").read_text(encoding="utf-8")
    manifest = json.loads(raw)
    assert raw == json.dumps(manifest, indent=2) + "\n"
    assert manifest["format"] == example["format"] == SITE_FORMAT
    assert list(manifest) == list(example)
    rows = documented(
        table((SPEC / "por-site-v1.md").read_text(encoding="utf-8"), "| member | type | meaning |")
    )
    assert list(rows) == list(example)
    for name, kind in rows.items():
        assert isinstance(manifest[name], dict if kind == "object" else str), name
    assert manifest["content_security_policy"] == example["content_security_policy"] == CSP
    assert set(manifest["files"]) == set(example["files"])
    assert list(manifest["files"]) == sorted(manifest["files"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((site / name).read_bytes()).hexdigest() == digest
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["generated_at"])
    root = json.loads((site / "root.json").read_text())
    assert manifest["commitment"] == root["commitment"]
    assert read_manifest(site) == manifest
    # the files table of the spec names every file a site has
    files_table = table((SPEC / "por-site-v1.md").read_text(encoding="utf-8"), "## 1. Files")
    named = {n for row in files_table for n in re.findall(r"`([^`]+)`", row.split(" | ")[0])}
    assert set(manifest["files"]) | {"site.json"} == named


# ----------------------------------------------------------------------------- por-alert-v1


def test_alert_example_is_what_the_alert_code_sends() -> None:
    example = json.loads(vectors("por-alert-v1.md")["por-alert-v1 example"])
    assert example["format"] == ALERT_FORMAT
    run = example["run"]

    def record(run_id: int, eth_ratio: str, status: str) -> RunRecord:
        return RunRecord(
            id=run_id,
            started_at=run["started_at"],
            finished_at=run["finished_at"],
            status=status,
            exit_code=run["exit_code"],
            error=run["error"],
            duration_ms=4250,
            tool_version="test",
            config_hash=None,
            report_id=run["report_id"],
            currency="JPY",
            combined_ratio=None,
            reserve_required=None,
            reserve_eligible=None,
            reserve_met=None,
            coverage={
                "ETH": Coverage("ETH", 18, 100, 98, 2, Decimal(eth_ratio), Decimal(1), False)
            },
        )

    shortfall = example["alerts"][0]
    report = {
        "verdict": {
            "breaches": [{"kind": "asset", **{k: shortfall[k] for k in ("subject", "message")}}]
        }
    }
    now = record(run["id"], "0.98", run["status"])
    alerts = alerts_for(now, report, record(41, "1.05", "ok"), Decimal("0.05"))
    from verifier.base.redact import mask_url

    database = mask_url("postgresql://por:secret@db.internal/por")
    document = payload(now, alerts, exchange=example["exchange"], database=database)
    assert document == example
    assert list(document) == list(example) and list(document["run"]) == list(run)
    rows = documented(
        table((SPEC / "por-alert-v1.md").read_text(encoding="utf-8"), "## 2. The document")
    )
    assert [p for p in rows if "." not in p] == list(example)
    assert [p.split(".", 1)[1] for p in rows if p.startswith("run.")] == list(run)
    assert [p.split(".", 1)[1] for p in rows if p.startswith("alerts[].")] == list(shortfall)


# ----------------------------------------------------------------------------- rule packs


def test_rule_pack_example_loads(tmp_path: Path) -> None:
    block = vectors("rule-packs.md")["rule-pack example"]
    path = tmp_path / "example-hk.toml"
    path.write_text(block, encoding="utf-8")
    pack = load_pack(str(path))
    assert [s.id for s in pack.sources] == [18]
    assert pack.sources[0] == load_pack("hk-sfc").sources[0]  # the same source, word for word


def test_rule_pack_source_list_is_the_packs() -> None:
    block = (
        (SPEC / "rule-packs.md")
        .read_text(encoding="utf-8")
        .split("<!-- spec-vector: rule-pack sources -->\n")[1]
    )
    rows = [r for r in block.splitlines() if re.match(r"\| \d+ \|", r)]
    listed: dict[int, list[str]] = {}
    used: dict[int, list[str]] = {}
    for pack_id in known_packs():
        for s in load_pack(pack_id).sources:
            listed[s.id] = [s.title, s.publisher, s.date, s.identifier]
            used.setdefault(s.id, []).append(f"`{pack_id}`")
    parsed = {}
    for row in rows:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        parsed[int(cells[0])] = (cells[1:5], cells[5])
    assert set(parsed) == set(listed)
    for n, (cells, packs) in parsed.items():
        assert cells == listed[n], n
        assert packs == ", ".join(used[n]), n


# ----------------------------------------------------------------------------- pointers and links

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
OUTSIDE = [
    re.compile(r"\b(?:DESIGN|RULES|FORMATS|NODES|STYLE)\.md\b"),
    re.compile(r"\.\./shared\b|(?<![\w.])shared/(?:samples|hooks)\b"),
    re.compile(r"/work/"),
    re.compile(r"design notes shared|shared design notes", re.I),
]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*(\S+)", re.M)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_point_at_nothing_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        for pattern in OUTSIDE:
            match = pattern.search(line)
            assert match is None, (
                f"{path.relative_to(ROOT)}:{n}: {match.group(0)!r} is outside the repository"
            )


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    for match in LINK.finditer(prose):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("file:"):
            continue  # http(s), mailto: a page elsewhere, not a file of ours
        where = f"{path.relative_to(ROOT)}: link {target!r}"
        assert not target.startswith(("/", "file:")), f"{where} is absolute"
        name, _, anchor = target.partition("#")
        resolved = (path.parent / name).resolve() if name else path
        assert resolved.is_relative_to(ROOT), f"{where} leaves the repository"
        assert resolved.exists(), f"{where} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{where}: no heading #{anchor}"


def test_the_link_check_catches_what_it_should(tmp_path: Path) -> None:
    """The two checks above can fail: each kind of bad pointer is found."""
    bad = [
        "see DESIGN.md",
        "the [rules](../shared/RULES.md)",
        "copied from ../shared/samples/",
        "in /work/shared/x",
        "the design notes shared with this repository",
    ]
    for line in bad:
        assert any(p.search(line) for p in OUTSIDE), line
    links = [m.group(1) for m in LINK.finditer("[a](missing.md) [b](/etc/passwd) [c](x.md#nope)")]
    assert links == ["missing.md", "/etc/passwd", "x.md#nope"]
    assert _slug("11. Worked example: two leaves") == "11-worked-example-two-leaves"
