"""`por insolvency proof` and `por insolvency verify`: a customer's bundle, every check named,
and tampering with any figure caught by the check it breaks.

On the sample tree (tests/cli/conftest.py `built`; figures in tests/cli/test_insolvency_plan.py):
in kind, 15 BTC for T = 2250000001 sat (alice 100000000 with the remainder unit, bob 1 with
it, erin 1399999999), ETH in full, USDT nothing; mixed, the same plus a USD pool of 1000.00.

Tampering: in the bundle (a claim balance, a distribution balance, a sibling hash or sum,
the account id of one proof, the plan id) and in the plan (T, D, the cutoff, totals, prices,
ratio, the fiat pool), first as is (the plan id no longer recomputes: "plan_id" fails), then
with the plan id recomputed as a forger would (the check the figure feeds fails).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.insolvency_world import (
    ACCOUNTS,
    AS_OF_DATE,
    IN_KIND,
    MIXED,
    make_world,
    minimal_mst,
    por_fixture_runner,
)
from verifier.insolvency.verify import CHECKS, compute_plan_id, verify_bundle

mm = minimal_mst()


def _make(por, built: Path, tmp_path: Path, estate: str) -> dict[str, Path]:
    return make_world(por_fixture_runner(por), built, tmp_path, estate)


@pytest.fixture
def in_kind(por, built: Path, tmp_path: Path) -> dict[str, Path]:
    return _make(por, built, tmp_path, IN_KIND)


@pytest.fixture
def mixed(por, built: Path, tmp_path: Path) -> dict[str, Path]:
    return _make(por, built, tmp_path, MIXED)


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def test_every_bundle_verifies_with_every_check_named(por, in_kind: dict[str, Path]) -> None:
    plan_file = in_kind["P"] / "plan.json"
    expected = {"alice": 100000000, "bob": 1, "erin": 1399999999, "carol": 0, "dave": 0}
    for account in ACCOUNTS:
        res = por(
            "insolvency", "verify", in_kind["bundles"] / f"{account}.json", "--plan", plan_file,
            "--json",
        )  # fmt: skip
        assert res.rc == 0, res.out
        doc = res.json()
        assert doc["valid"] and doc["failed"] == []
        assert [c["name"] for c in doc["checks"]] == list(CHECKS)
        assert all(c["ok"] for c in doc["checks"])
        assert doc["account_id"] == account
        assert int(doc["distribution"]["BTC"]) == expected[account]
    res = por("insolvency", "verify", in_kind["bundles"] / "alice.json", "--plan", plan_file)
    assert res.rc == 0
    assert "ok   distribution rule: the rule applied to the claim gives BTC 1," in res.out


def test_bundle_files_are_private_and_hold_two_proofs(in_kind: dict[str, Path]) -> None:
    path = in_kind["bundles"] / "alice.json"
    assert path.stat().st_mode & 0o777 == 0o600
    bundle = _load(path)
    assert set(bundle) == {"insolvency_proof", "plan_id", "claim", "distribution"}
    assert bundle["insolvency_proof"] == "por-insolvency-proof-v1"


def test_the_minimal_verifier_accepts_both_proofs(in_kind: dict[str, Path]) -> None:
    plan = _load(in_kind["P"] / "plan.json")
    for account in ACCOUNTS:
        bundle = _load(in_kind["bundles"] / f"{account}.json")
        commitment = bytes.fromhex(plan["claims"]["commitment"])
        claimed = mm.verify(bundle["claim"], published_commitment=commitment)
        paid = mm.verify(bundle["distribution"], root_document=plan["distribution"]["root"])
        assert claimed == mm.verify(bundle["claim"])
        assert set(paid) == {"BTC", "ETH", "USDT"}


Mutation = Callable[[dict[str, Any]], None]


def _set(*path: Any, value: Any = None, add: int | None = None) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        if add is not None:
            target[path[-1]] = str(int(target[path[-1]]) + add)
        else:
            target[path[-1]] = value

    return apply


BUNDLE_TAMPERING: list[tuple[str, Mutation, set[str]]] = [
    ("claim balance", _set("claim", "leaves", 0, "balances", 0, add=1), {"claim proof"}),
    (
        "distribution balance",
        _set("distribution", "leaves", 0, "balances", 0, add=1),
        {"distribution proof"},
    ),
    (
        "a sibling's sum in the claim",
        _set("claim", "leaves", 0, "path", 0, "sums", 0, add=1),
        {"claim proof"},
    ),
    (
        "a sibling's hash in the distribution",
        _set("distribution", "leaves", 0, "path", 1, "hash", value="0" * 64),
        {"distribution proof"},
    ),
    (
        "account id of the distribution",
        _set("distribution", "account_id", value="bob"),
        {"distribution proof"},
    ),
    ("the bundle's plan id", _set("plan_id", value="sha256:" + "0" * 64), {"bundle"}),
    ("the format", _set("insolvency_proof", value="por-insolvency-proof-v0"), {"bundle"}),
]


@pytest.mark.parametrize("what", [t[0] for t in BUNDLE_TAMPERING])
def test_a_changed_bundle_fails_naming_the_check(
    por, in_kind: dict[str, Path], tmp_path: Path, what: str
) -> None:
    _, mutate, names = next(t for t in BUNDLE_TAMPERING if t[0] == what)
    bundle = _load(in_kind["bundles"] / "alice.json")
    mutate(bundle)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(bundle))
    res = por("insolvency", "verify", changed, "--plan", in_kind["P"] / "plan.json", "--json")
    assert res.rc == 3, res.out
    doc = res.json()
    assert not doc["valid"]
    assert names <= set(doc["failed"]), doc["failed"]
    assert "INVALID" in res.err and doc["failed"][0] in res.err


def test_a_claim_for_another_account_is_caught(in_kind: dict[str, Path]) -> None:
    """Two genuine proofs, of two customers: each verifies, but not together."""
    plan = _load(in_kind["P"] / "plan.json")
    bundle = _load(in_kind["bundles"] / "alice.json")
    bundle["distribution"] = _load(in_kind["bundles"] / "erin.json")["distribution"]
    result = verify_bundle(bundle, plan)
    assert set(result.failed) == {"distribution rule", "account"}


# (what, change, the checks that must fail, whose bundle: one the figure changes)
PLAN_TAMPERING: list[tuple[str, Mutation, set[str], str]] = [
    (
        "T of BTC",
        _set("assets", 0, "total_claims", add=1),
        {"claims totals", "plan figures"},
        "alice",
    ),
    ("D of BTC", _set("assets", 0, "distributable", add=-1), {"plan figures"}, "alice"),
    ("available BTC", _set("assets", 0, "available", add=5), {"plan figures"}, "alice"),
    (
        "the cutoff's remainder",
        _set("assets", 0, "remainder", "cutoff", "remainder", add=10**9),
        {"distribution rule"},
        "alice",
    ),
    (
        "the cutoff's leaf hash",
        _set("assets", 0, "remainder", "cutoff", "leaf_hash", value="0" * 64),
        {"distribution rule"},
        "bob",
    ),
    ("the ratio", _set("assets", 0, "ratio", "percent", value="66.67%"), {"plan figures"}, "alice"),
    (
        "the exact ratio",
        _set("assets", 0, "ratio", "exact", value="2/3"),
        {"plan figures"},
        "alice",
    ),
    ("a claims total", _set("claims", "totals", "BTC", add=1), {"claims totals"}, "alice"),
    (
        "a distribution total",
        _set("distribution", "totals", "BTC", add=-1),
        {"distribution totals"},
        "alice",
    ),
    (
        "the distributed total",
        _set("assets", 0, "distributed_total", add=-1),
        {"plan figures", "distribution totals"},
        "alice",
    ),
    (
        "the claims commitment",
        _set("claims", "commitment", value="ab" * 32),
        {"claim proof"},
        "alice",
    ),
    (
        "the distribution root",
        _set("distribution", "root", "root", "sums", 0, add=1),
        {"distribution proof"},
        "alice",
    ),
]


@pytest.mark.parametrize("what", [t[0] for t in PLAN_TAMPERING])
def test_a_changed_plan_fails_naming_the_check(in_kind: dict[str, Path], what: str) -> None:
    _, mutate, names, account = next(t for t in PLAN_TAMPERING if t[0] == what)
    plan = _load(in_kind["P"] / "plan.json")
    bundle = _load(in_kind["bundles"] / f"{account}.json")
    changed = copy.deepcopy(plan)
    mutate(changed)
    assert changed != plan
    # as changed: the plan id no longer recomputes
    assert "plan_id" in verify_bundle(bundle, changed).failed
    # a forger recomputes the plan id (and the bundle names it): the figure's own check fails
    changed["plan_id"] = compute_plan_id(changed)
    bundle["plan_id"] = changed["plan_id"]
    failed = set(verify_bundle(bundle, changed).failed)
    assert names <= failed and "plan_id" not in failed, failed


def test_mixed_plan_verifies_and_a_changed_price_is_caught(
    por, mixed: dict[str, Path], tmp_path: Path
) -> None:
    plan = _load(mixed["P"] / "plan.json")
    assert plan["fiat"] is not None
    for account in ACCOUNTS:
        bundle = _load(mixed["bundles"] / f"{account}.json")
        result = verify_bundle(bundle, plan)
        assert result.valid, (account, result.failed)
        assert "USD" in result.distribution
    # carol's ETH is paid in full, dave's USDT not at all: his top-up depends on the USDT price
    bundle = _load(mixed["bundles"] / "dave.json")
    for mutate, names in (
        (_set("valuation", "prices", "USDT", value="2"), {"distribution rule"}),
        (_set("fiat", "pool", add=1), {"plan figures"}),
        (_set("fiat", "distributable", add=-1), {"plan figures"}),
        (_set("fiat", "claims_value", add=1), {"plan figures"}),
        (_set("fiat", "remainder", "cutoff", value=None), set()),
    ):
        changed = copy.deepcopy(plan)
        mutate(changed)
        changed["plan_id"] = compute_plan_id(changed)
        forged = dict(bundle, plan_id=changed["plan_id"])
        failed = set(verify_bundle(forged, changed).failed)
        assert names <= failed, (names, failed)


def test_unreadable_inputs_exit_3_naming_the_file(
    por, in_kind: dict[str, Path], tmp_path: Path
) -> None:
    plan_file = in_kind["P"] / "plan.json"
    bad = tmp_path / "bad.json"
    for text, expected in (("{", "not JSON"), ('{"a": 1, "a": 2}', "bad.json"), ("[]", "bundle")):
        bad.write_text(text)
        res = por("insolvency", "verify", bad, "--plan", plan_file)
        assert res.rc == 3 and expected in res.err, res.err
    broken = tmp_path / "plan.json"
    plan = _load(plan_file)
    del plan["assets"][0]["total_claims"]
    broken.write_text(json.dumps(plan))
    res = por("insolvency", "verify", in_kind["bundles"] / "alice.json", "--plan", broken)
    assert res.rc == 3 and "assets[0].total_claims" in res.err and str(broken) in res.err


def test_proof_refuses_a_claims_directory_of_another_plan(
    por, in_kind: dict[str, Path], built: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-D"
    res = por(
        "insolvency", "claims", "--tree", built, "--as-of", AS_OF_DATE, "--out", other,
        "--workers", "1",
    )  # fmt: skip
    assert res.rc == 0
    res = por(
        "insolvency", "proof", "--plan", in_kind["P"], "--claims", other, "--account", "alice",
        "--out", tmp_path / "x.json",
    )  # fmt: skip
    assert res.rc == 2 and "not the one the plan" in res.err
    res = por(
        "insolvency", "proof", "--plan", in_kind["P"], "--claims", in_kind["D"],
        "--account", "nobody", "--out", tmp_path / "x.json",
    )  # fmt: skip
    assert res.rc == 3 and "nobody" in res.err
    res = por(
        "insolvency", "proof", "--plan", in_kind["P"], "--claims", in_kind["D"],
        "--account", "alice", "--out", in_kind["P"] / "plan.json",
    )  # fmt: skip
    assert res.rc == 2


JS_RUNNER = r"""
const fs = require("fs"), vm = require("vm");
for (const name of ["verify.js", "insolvency.js"]) {
  vm.runInThisContext(fs.readFileSync(process.argv[2] + "/" + name, "utf8"), { filename: name });
}
const cases = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
(async () => {
  const out = [];
  for (const c of cases) {
    const v = await PorInsolvency.verifyBundle(c.bundle, c.plan);
    const dist = {};
    for (const k of Object.keys(v.distribution || {})) dist[k] = v.distribution[k].toString();
    out.push({ valid: v.valid, failed: v.failed, distribution: dist });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
"""


def test_the_browser_gives_the_same_verdicts(in_kind: dict[str, Path], tmp_path: Path) -> None:
    """insolvency.js (node) and verify.py agree on every genuine bundle and every tampering
    above: the same verdict, the same failed checks, the same distribution."""
    plan = _load(in_kind["P"] / "plan.json")
    cases = [{"bundle": _load(in_kind["bundles"] / f"{a}.json"), "plan": plan} for a in ACCOUNTS]
    for _, mutate, _ in BUNDLE_TAMPERING:
        bundle = _load(in_kind["bundles"] / "alice.json")
        mutate(bundle)
        cases.append({"bundle": bundle, "plan": plan})
    for _, mutate, _, account in PLAN_TAMPERING:
        changed = copy.deepcopy(plan)
        mutate(changed)
        for rehash in (False, True):
            bundle = _load(in_kind["bundles"] / f"{account}.json")
            if rehash:
                changed = copy.deepcopy(changed)
                changed["plan_id"] = compute_plan_id(changed)
                bundle["plan_id"] = changed["plan_id"]
            cases.append({"bundle": bundle, "plan": changed})
    _same_in_js(cases, tmp_path)


def test_the_browser_gives_the_same_fiat_top_ups(mixed: dict[str, Path], tmp_path: Path) -> None:
    plan = _load(mixed["P"] / "plan.json")
    cases = [{"bundle": _load(mixed["bundles"] / f"{a}.json"), "plan": plan} for a in ACCOUNTS]
    for price in ("2", "0.5", "3.14159"):
        changed = copy.deepcopy(plan)
        changed["valuation"]["prices"]["USDT"] = price
        changed["plan_id"] = compute_plan_id(changed)
        for a in ACCOUNTS:
            bundle = dict(_load(mixed["bundles"] / f"{a}.json"), plan_id=changed["plan_id"])
            cases.append({"bundle": bundle, "plan": changed})
    _same_in_js(cases, tmp_path)


def _same_in_js(cases: list[dict[str, Any]], tmp_path: Path) -> None:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (tmp_path / "runner.cjs").write_text(JS_RUNNER)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    assets = Path(__file__).resolve().parents[2] / "verifier" / "site" / "assets"
    done = subprocess.run(
        [node, str(tmp_path / "runner.cjs"), str(assets), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    js = json.loads(done.stdout)
    for case, verdict in zip(cases, js, strict=True):
        py = verify_bundle(case["bundle"], case["plan"])
        assert verdict["valid"] == py.valid
        assert verdict["failed"] == py.failed
        assert verdict["distribution"] == {k: str(v) for k, v in py.distribution.items()}
