"""Contract between verifier.reconcile and verifier.reserve.rules: reserve inputs -> evaluation -> verdict.

`reserve_inputs` builds the plain dict the rule pack needs; verifier.reserve.rules turns it into its
`ReserveInputs`, evaluates a pack, and reconciliation reads the evaluation document back.
Checked on docs/spec/rule-packs.md's Hong Kong worked figure (required HK$5.075bn, shortfall HK$125m).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from verifier.inputs.prices import Price
from verifier.reconcile.coverage import reconcile
from verifier.reconcile.reserve_inputs import reserve_inputs
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import AssetPosition, ReserveInputs
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_reconcile_cases", Path(__file__).with_name("test_reconcile.py")
)
assert _spec is not None and _spec.loader is not None
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

SAT = 10**8


def to_rules(doc: dict[str, Any]) -> ReserveInputs:
    """The conversion the rules side documents: decimal strings -> Decimal, units -> int."""
    return ReserveInputs(
        currency=doc["currency"],
        client_value_by_class={k: Decimal(v) for k, v in doc["client_value_by_class"].items()},
        own_buffer_value=Decimal(doc["own_buffer_value"]),
        per_asset=tuple(
            AssetPosition(
                code=p["code"],
                owed_units=int(p["owed_units"]),
                held_units=int(p["held_units"]),
                hot_units=int(p["hot_units"]),
                own_buffer_units=int(p["own_buffer_units"]),
                decimals=p["decimals"],
                price=Decimal(p["price"]),
            )
            for p in doc["per_asset"]
        ),
    )


def test_hong_kong_worked_figure_end_to_end() -> None:
    owed = {"BTC": (8, 12_500 * SAT)}
    snap = cases.snapshot(
        cases.chain(
            "bitcoin",
            {"BTC": 8},
            cases.address("cold", {"BTC": 12_312 * SAT + SAT // 2}),
            cases.address("hot", {"BTC": 187 * SAT + SAT // 2}, cls="hot"),
        )
    )
    prices = {"BTC": Price(Decimal("800000"), "HKD", "fixture", "2026-03-31T00:00:00Z")}
    inputs = reserve_inputs(owed, snap, prices)
    assert inputs["client_value_by_class"]["cold"] == "9850000000"
    assert inputs["client_value_by_class"]["hot"] == "150000000"

    statement = load_statement(ROOT / "fixtures" / "reserve" / "hk-sfc-worked.toml")
    evaluation = evaluate(load_pack("hk-sfc"), statement, to_rules(inputs), as_of=date(2026, 3, 31))
    doc = evaluation.to_json()
    rec = reconcile(owed, snap, prices, doc)

    assert rec.reserve is not None
    assert rec.reserve.required == Decimal("5075000000")
    assert rec.reserve.shortfall == Decimal("125000000")
    assert rec.covered
    assert [b.kind for b in rec.breaches if b.kind != "check"] == ["reserve"]
    assert rec.exit_code == 1
