"""The browser's copy of the distribution rule (verifier/site/assets/insolvency.js) against
the Python rule (verifier/insolvency/rules.py), on many cases, in node.

The rule is implemented twice on purpose (the customer's browser must not trust the
administrator's server), so a test must show the two agree: for pools of random claims
(hypothesis: tiny, huge, equal, one customer, zero claims, D = T, D = 0), each customer's
share recomputed by the JS from (claim, D, T, leaf hash, cutoff) equals the share the Python
`plan_asset` handed out; claim values in fiat agree with `minor_per_unit`/`values`; and the
plan id (RFC 8785 canonical JSON, SHA-256) agrees with `compute_plan_id`, non-ASCII keys
included.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.insolvency import rules
from verifier.insolvency.verify import compute_plan_id

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "verifier" / "site" / "assets"

RUNNER = r"""
const fs = require("fs"), vm = require("vm");
for (const name of ["verify.js", "insolvency.js"]) {
  vm.runInThisContext(fs.readFileSync(process.argv[2] + "/" + name, "utf8"), { filename: name });
}
const input = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
(async () => {
  const I = PorInsolvency;
  const shares = input.pools.map((p) => p.customers.map((c) =>
    I.share(BigInt(c.claim), BigInt(p.D), BigInt(p.T), c.leaf, p.cutoff).toString()));
  const values = input.values.map((v) => {
    const units = {};
    for (const k of Object.keys(v.units)) units[k] = BigInt(v.units[k]);
    return I.valueOf(units, v.decimals, v.prices, v.currency_decimals).toString();
  });
  const ids = [];
  for (const doc of input.plans) ids.push(await I.planId(doc));
  process.stdout.write(JSON.stringify({ shares, values, ids }));
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
"""


def node_binary() -> str:
    """As tests/unit/test_verify_js.py: skip without node, fail under CI."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required under CI to test insolvency.js")
        pytest.skip("node is not installed")
    return node


def run_js(payload: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    runner = tmp_path / "runner.cjs"
    runner.write_text(RUNNER)
    data = tmp_path / "input.json"
    data.write_text(json.dumps(payload))
    done = subprocess.run(
        [node_binary(), str(runner), str(ASSETS), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def leaf(n: int, salt: int) -> str:
    return hashlib.sha256(f"{salt}:{n}".encode()).hexdigest()


def pool(claims: list[int], available: int, salt: int) -> dict[str, Any]:
    """A pool as the plan publishes it, and the shares Python handed out."""
    leaves = [leaf(i, salt) for i in range(len(claims))]
    allocation = rules.plan_asset(list(zip(leaves, claims, strict=True)), available)
    cutoff = allocation.cutoff
    return {
        "D": str(allocation.distributable),
        "T": str(allocation.total),
        "cutoff": None
        if cutoff is None
        else {"remainder": str(cutoff.remainder), "leaf_hash": cutoff.leaf_hash},
        "customers": [{"claim": str(c), "leaf": h} for c, h in zip(claims, leaves, strict=True)],
        "python": [str(s) for s in allocation.shares],
    }


claims_st = st.lists(
    st.one_of(
        st.integers(0, 10),
        st.integers(0, 10**8),
        st.integers(0, 2**127 // 64),
        st.sampled_from([1, 3, 7, 10**18]),
    ),
    min_size=1,
    max_size=40,
)


@st.composite
def pools(draw: st.DrawFn) -> dict[str, Any]:
    claims = draw(claims_st)
    total = sum(claims)
    available = draw(
        st.one_of(
            st.integers(0, max(total, 1)),
            st.just(total),
            st.just(0),
            st.integers(total, total * 2 + 5),
            st.just(max(total - 1, 0)),
        )
    )
    return pool(claims, available, draw(st.integers(0, 10**6)))


@st.composite
def valuations(draw: st.DrawFn) -> dict[str, Any]:
    codes = draw(st.lists(st.sampled_from(["BTC", "ETH", "USDT", "X"]), min_size=1, unique=True))
    decimals = {c: draw(st.integers(0, 18)) for c in codes}
    prices = {
        c: format(
            draw(st.decimals(min_value=0, max_value=10**9, places=draw(st.integers(0, 10)))), "f"
        )
        for c in codes
    }
    units = {c: draw(st.integers(0, 10**30)) for c in codes}
    return {
        "units": {c: str(u) for c, u in units.items()},
        "decimals": decimals,
        "prices": prices,
        "currency_decimals": draw(st.integers(0, 4)),
    }


def py_value(v: dict[str, Any]) -> str:
    owed = [c for c in sorted(v["units"]) if int(v["units"][c])]
    rates = [
        rules.minor_per_unit(Decimal(v["prices"][c]), v["decimals"][c], v["currency_decimals"])
        for c in owed
    ]
    return str(rules.values([[int(v["units"][c])] for c in owed], rates)[0] if owed else 0)


PLANS: list[dict[str, Any]] = [
    {"plan": "por-plan-v1", "plan_id": "x", "assets": [], "b": 1, "a": [True, None, "é"]},
    {"plan": "por-plan-v1", "ü": {"z": "\u2028", "a": '"\\'}, "€": 9007199254740991, "A": ""},
    {"plan": "por-plan-v1", "nested": {"\U0001f600": "x", "\ue000": "y", "b": [{"d": 1, "c": 2}]}},
]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(pools(), min_size=1, max_size=12), st.lists(valuations(), max_size=12))
def test_js_rule_equals_python(
    tmp_path: Path, batch: list[dict[str, Any]], values: list[dict[str, Any]]
) -> None:
    js = run_js({"pools": batch, "values": values, "plans": PLANS}, tmp_path)
    assert js["shares"] == [p["python"] for p in batch]
    assert js["values"] == [py_value(v) for v in values]
    assert js["ids"] == [compute_plan_id(p) for p in PLANS]


def test_hand_computed_pool_in_js(tmp_path: Path) -> None:
    """Claims 5, 3, 2 of 10 with 7 available: 3.5, 2.1, 1.4 -> floors 3, 2, 1 (6); the one
    remaining unit goes to the largest remainder (x·D mod T = 5), the first customer."""
    p = pool([5, 3, 2], 7, salt=1)
    assert p["python"] == ["4", "2", "1"]
    assert p["cutoff"]["remainder"] == "5"
    js = run_js({"pools": [p], "values": [], "plans": []}, tmp_path)
    assert js["shares"] == [["4", "2", "1"]]
