"""Forged plans a customer must not see as valid (issue 15, an outside tester's findings).

Each forgery recomputes the plan id and, where it changes amounts, rebuilds the distribution
tree with the real rule and hands every customer a bundle of that tree, as a forger who
holds the plan directory would. `por insolvency verify` (verify.py) and the site's
insolvency.js must fail every one, naming the check; the sweep changes every field of a
genuine plan of each policy and requires every change to fail, except the fields
docs/spec/por-insolvency-v1.md §3.2 lists as read by no check (and shown nowhere).

Figures: the sample tree of tests/cli/conftest.py with the estates of
tests/cli/test_insolvency_verify.py (15 BTC, ETH in full, no USDT; mixed and fiat with a
USD reserve of 1000.00).
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from attestations.build import Liabilities, build_tree
from attestations.encoding import AssetSpec, account_hash, leaf_hash
from attestations.store import TreeStore
from tests.cli.test_insolvency_verify import ACCOUNTS, IN_KIND, MIXED, _load, _make, _same_in_js
from verifier.base.errors import InvalidProof
from verifier.insolvency import rules
from verifier.insolvency.consistency import ratio_of
from verifier.insolvency.verify import compute_plan_id, verify_bundle

FIAT = MIXED.replace('policy = "mixed"', 'policy = "fiat"')
ESTATES = {"in-kind": IN_KIND, "fiat": FIAT, "mixed": MIXED}

NOT_READ = {
    # read by no check and shown nowhere (docs/spec/por-insolvency-v1.md §3.2)
    "exchange",
    "claims.sha256",
    "valuation.date",
    "estate.file",
    "estate.sha256",
    "estate.deductions.0.label",
    "files.distributions.csv",
    "files.distributions.parquet",
    # bounded only: the claims root does not carry its leaf count (2^(h-1) < n <= 2^h)
    "claims.customers",
}
NOT_READ_IN_KIND = {
    # policy in-kind distributes no fiat: the valuation and the estate's cash are unused
    "valuation.currency_decimals",
    "estate.fiat.recovered",
    "estate.fiat.reserve",
    "estate.fiat.insurance",
}


@pytest.fixture(params=sorted(ESTATES))
def world(request: Any, por: Any, built: Path, tmp_path: Path) -> dict[str, Any]:
    made = _make(por, built, tmp_path, ESTATES[request.param])
    return {**made, "policy": request.param}


def _bundles(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a: _load(world["bundles"] / f"{a}.json") for a in ACCOUNTS}


def _leaves(bundles: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, int]]]:
    """Each customer's claim-tree leaf hash and claim, from their claim proof."""
    out = {}
    for account, bundle in bundles.items():
        claim = bundle["claim"]
        leaf = claim["leaves"][0]
        balances = [int(v) for v in leaf["balances"]]
        digest = leaf_hash(bytes.fromhex(leaf["salt"]), account_hash(account), balances).hex()
        out[account] = (
            digest,
            dict(zip((a["code"] for a in claim["assets"]), balances, strict=True)),
        )
    return out


def _forge(
    plan: dict[str, Any],
    bundles: dict[str, dict[str, Any]],
    shares: dict[str, dict[str, int]],
    tmp: Path,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A distribution tree of `shares` (account -> code -> units) under the plan's id and
    as_of, put into the plan (root, totals) with its id recomputed; a bundle per customer."""
    root_doc = plan["distribution"]["root"]
    specs = tuple(AssetSpec(a["code"], a["decimals"]) for a in root_doc["assets"])
    balances = np.zeros((len(ACCOUNTS), len(specs), 2), dtype=">u8")
    for i, account in enumerate(ACCOUNTS):
        for j, spec in enumerate(specs):
            units = shares[account].get(spec.code, 0)
            balances[i, j, 0], balances[i, j, 1] = units >> 64, units & (2**64 - 1)
    built = build_tree(
        Liabilities(specs, pa.array(list(ACCOUNTS)), balances),
        tmp / "forged-tree",
        attestation_id=plan["distribution"]["attestation_id"],
        as_of=plan["claims"]["as_of"],
        split=1,
    )
    root = built.root.to_json()
    plan["distribution"]["root"] = root
    plan["distribution"]["totals"] = dict(
        zip((a["code"] for a in root["assets"]), root["root"]["sums"], strict=True)
    )
    plan["plan_id"] = compute_plan_id(plan)
    forged = {}
    with TreeStore(tmp / "forged-tree") as store:
        for account in ACCOUNTS:
            proof, _ = store.checked_proof(account)
            forged[account] = dict(
                bundles[account], plan_id=plan["plan_id"], distribution=proof.to_json()
            )
    return plan, forged


def _rule(plan: dict[str, Any], leaves: dict[str, tuple[str, dict[str, int]]]) -> dict[str, Any]:
    """Every share recomputed by the real rule from the (changed) plan's figures, the plan's
    cutoffs, R and ratios set to match: a forger's plan is internally consistent."""
    shares: dict[str, dict[str, int]] = {a: {} for a in ACCOUNTS}
    hashes = [leaves[a][0] for a in ACCOUNTS]
    for asset in plan["assets"]:
        if not asset["in_kind"]:
            continue
        alloc = rules.plan_asset(
            [(leaves[a][0], leaves[a][1].get(asset["code"], 0)) for a in ACCOUNTS],
            int(asset["distributable"]),
        )
        _set_pool(asset, alloc, int(asset["total_claims"]))
        for a, s in zip(ACCOUNTS, alloc.shares, strict=True):
            shares[a][asset["code"]] = s
    fiat = plan["fiat"]
    if fiat is not None:
        prices = plan["valuation"]["prices"]
        values = []
        for a in ACCOUNTS:
            left = [
                [leaves[a][1].get(x["code"], 0) - shares[a].get(x["code"], 0)]
                for x in plan["assets"]
            ]
            rates = [
                rules.minor_per_unit(
                    rules.Decimal(prices[x["code"]]), x["decimals"], fiat["decimals"]
                )
                for x in plan["assets"]
            ]
            values.append(rules.values(left, rates)[0])
        total = sum(values)
        fiat["claims_value"] = str(total)
        d = min(int(fiat["pool"]), total)
        fiat["distributable"] = fiat["distributed_total"] = str(d)
        alloc = rules.plan_asset(list(zip(hashes, values, strict=True)), d)
        _set_pool(fiat, alloc, total)
        for a, s in zip(ACCOUNTS, alloc.shares, strict=True):
            shares[a][fiat["currency"]] = s
    return shares


def _set_pool(pool: dict[str, Any], alloc: rules.Allocation, total: int) -> None:
    pool["remainder"]["units"] = str(alloc.remainder_units)
    pool["remainder"]["cutoff"] = (
        None
        if alloc.cutoff is None
        else {"remainder": str(alloc.cutoff.remainder), "leaf_hash": alloc.cutoff.leaf_hash}
    )
    pool["ratio"] = ratio_of(alloc.distributable, total)


def _all_fail(
    plan: dict[str, Any], bundles: dict[str, dict[str, Any]], check: str, tmp: Path
) -> None:
    for account, bundle in bundles.items():
        result = verify_bundle(bundle, plan)
        assert check in result.failed, (account, result.failed)
        assert "plan_id" not in result.failed
    _same_in_js([{"bundle": b, "plan": plan} for b in bundles.values()], tmp)


def test_a_phantom_creditor_paying_everyone_half_fails(
    por: Any, built: Path, tmp_path: Path
) -> None:
    """The tester's forge.py: the fiat pool's claims doubled (a phantom creditor), every
    customer paid half by the rule, the tree rebuilt; verify passed for every customer."""
    world = _make(por, built, tmp_path, FIAT)
    plan, bundles = _load(world["P"] / "plan.json"), _bundles(world)
    leaves = _leaves(bundles)
    shares = _rule(plan, leaves)
    fiat = plan["fiat"]
    d, t = int(fiat["distributable"]), int(fiat["claims_value"]) * 2
    fiat["claims_value"] = str(t)
    fiat["ratio"] = ratio_of(d, t)
    fiat["remainder"]["cutoff"], fiat["remainder"]["units"] = None, "0"
    for a in ACCOUNTS:
        shares[a]["USD"] = shares[a]["USD"] // 2
    plan, forged = _forge(plan, bundles, shares, tmp_path)
    for bundle in forged.values():
        failed = set(verify_bundle(bundle, plan).failed)
        assert {"plan consistency", "distribution totals"} <= failed, failed
    _same_in_js([{"bundle": b, "plan": plan} for b in forged.values()], tmp_path)


def _sold_for_nothing(plan: dict[str, Any]) -> None:
    fiat, btc = plan["fiat"], plan["assets"][0]
    lost = int(btc["sold_value"])
    btc["sold_value"] = "0"
    fiat["sold"] = str(int(fiat["sold"]) - lost)
    fiat["pool"] = str(int(fiat["pool"]) - lost)


def _more_cash(plan: dict[str, Any]) -> None:
    fiat = plan["fiat"]
    fiat["cash"] = str(int(fiat["cash"]) + 10**6)
    fiat["pool"] = str(int(fiat["pool"]) + 10**6)


def _more_btc(plan: dict[str, Any]) -> None:
    btc = plan["assets"][0]
    btc["available"] = btc["distributable"] = btc["distributed_total"] = "2000000000"
    btc["surplus"] = "0"


def _deduct(plan: dict[str, Any]) -> None:
    fiat = plan["fiat"]
    fiat["deductions"] = str(int(fiat["deductions"]) + 50000)
    fiat["pool"] = str(max(0, int(fiat["cash"]) + int(fiat["sold"]) - int(fiat["deductions"])))


# (policy, what, change to the plan before every share is recomputed by the rule)
CONSISTENT_FORGERIES: list[tuple[str, str, Any]] = [
    ("fiat", "BTC sold for nothing", _sold_for_nothing),
    ("fiat", "more cash", _more_cash),
    ("mixed", "more BTC available", _more_btc),
    ("in-kind", "more BTC available", _more_btc),
    ("mixed", "larger deductions", _deduct),
]


@pytest.mark.parametrize("policy,what", [(p, w) for p, w, _ in CONSISTENT_FORGERIES])
def test_a_consistent_forgery_fails_plan_consistency(
    por: Any, built: Path, tmp_path: Path, policy: str, what: str
) -> None:
    """The tester's forge2.py: a figure changed, every share, cutoff, ratio, the tree and the
    plan id recomputed to match; only the plan's own inputs (estate, prices) betray it."""
    change = next(c for p, w, c in CONSISTENT_FORGERIES if (p, w) == (policy, what))
    world = _make(por, built, tmp_path, ESTATES[policy])
    plan, bundles = _load(world["P"] / "plan.json"), _bundles(world)
    change(plan)
    plan, forged = _forge(plan, bundles, _rule(plan, _leaves(bundles)), tmp_path)
    _all_fail(plan, forged, "plan consistency", tmp_path)


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(doc, dict):
        return [x for k, v in doc.items() for x in _paths(v, (*path, k))]
    if isinstance(doc, list):
        return [x for i, v in enumerate(doc) for x in _paths(v, (*path, i))]
    return [(path, doc)]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if value.isdigit():
            return str(int(value) + 1)
        if len(value) == 64:
            return ("1" if value[0] == "0" else "0") + value[1:]
        return value + "x"
    return "0" if value is None else value


def test_every_field_of_the_plan_is_checked(world: dict[str, Any], tmp_path: Path) -> None:
    """The tester's sweep.py: each field changed in turn, the plan id recomputed. Every
    change makes some customer's check fail (or the plan unreadable: exit 3 naming the key),
    except the fields no check reads; verify.py and insolvency.js agree on each."""
    from verifier.base.errors import InputError

    base, bundles = _load(world["P"] / "plan.json"), _bundles(world)
    allowed = NOT_READ | (NOT_READ_IN_KIND if world["policy"] == "in-kind" else set())
    undetected, cases = [], []
    for path, value in _paths(base):
        if path == ("plan_id",):
            continue
        plan = copy.deepcopy(base)
        target: Any = plan
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = _changed(value)
        plan["plan_id"] = compute_plan_id(plan)
        name = ".".join(map(str, path))
        caught = False
        for account in ACCOUNTS:
            bundle = dict(bundles[account], plan_id=plan["plan_id"])
            try:
                caught |= not verify_bundle(bundle, plan).valid
            except InputError:
                caught = True
                break
            cases.append({"bundle": bundle, "plan": plan})
        if not caught:
            undetected.append(name)
    # R is bounded only; a cutoff change is seen only by the customers whose share it
    # changes, a price only where the fiat pool values the asset for someone (spec 3.2)
    unexplained = [
        n
        for n in undetected
        if n not in allowed
        and not n.endswith(".remainder.units")
        and ".cutoff." not in n
        and not (n.startswith("valuation.prices.") and world["policy"] != "fiat")
    ]
    assert not unexplained, unexplained
    _same_in_js(cases, tmp_path)


def test_hostile_numbers_in_the_plan_exit_3_naming_the_key(
    por: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    """A decimals of 10**6 made verify compute 10**1000000 (exit 4); an amount of 2**128 or
    a 300-digit count is refused before any arithmetic."""
    base = _load(world["P"] / "plan.json")
    changes = [
        (("assets", 0, "decimals"), 10**6, "assets[0].decimals"),
        (("assets", 0, "total_claims"), str(2**128), "assets[0].total_claims"),
        (("assets", 1, "available"), "1" * 300, "assets[1].available"),
        (("claims", "customers"), 10**30, "claims.customers"),
        (("distribution", "totals", "BTC"), "-1", "distribution.totals.BTC"),
        (("valuation",), {"date": "x"}, "valuation"),
    ]
    if world["policy"] != "in-kind":
        changes.append((("fiat", "decimals"), 1000000, "fiat.decimals"))
        changes.append((("valuation", "currency_decimals"), 19, "valuation.currency_decimals"))
    for path, value, key in changes:
        plan = copy.deepcopy(base)
        target: Any = plan
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
        with contextlib.suppress(InvalidProof):  # a number canonical JSON cannot hold
            plan["plan_id"] = compute_plan_id(plan)
        (tmp_path / "hostile.json").write_text(json.dumps(plan))
        res = por(
            "insolvency", "verify", world["bundles"] / "alice.json", "--plan",
            tmp_path / "hostile.json",
        )  # fmt: skip
        assert res.rc == 3, (key, res.err)
        assert key.split(".")[0] in res.err and "hostile.json" in res.err, res.err
        assert "Traceback" not in res.err


def test_amounts_are_shown_with_the_proofs_decimals(world: dict[str, Any]) -> None:
    """A plan stating other decimals fails, and the amounts shown keep the proofs' own."""
    plan, bundle = _load(world["P"] / "plan.json"), _load(world["bundles"] / "alice.json")
    plan["assets"][1]["decimals"] = 8  # ETH has 18
    plan["plan_id"] = compute_plan_id(plan)
    result = verify_bundle(dict(bundle, plan_id=plan["plan_id"]), plan)
    assert "plan consistency" in result.failed
    assert result.decimals["ETH"] == 18 and result.decimals["BTC"] == 8
    if world["policy"] != "in-kind":
        assert result.decimals["USD"] == 2
    doc = result.to_json()
    assert doc["decimals"]["ETH"] == 18
