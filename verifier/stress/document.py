"""The ``por-stress-v1`` document: every scenario's figures, and the sweep, as JSON.

Where it sits: the output of verifier/stress/. `stress_document` turns a `StressResult`
(verifier/stress/engine.py) and an optional `SweepResult` (verifier/stress/sweep.py) into
one JSON-ready dict that `por stress --json` prints, the terminal table and the HTML page
render, and scheduled runs compare. Base units are integer strings, amounts exact decimal
strings, ratios rounded toward zero; never a float. Every field: docs/stress.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from verifier.reconcile.numbers import dec_str
from verifier.stress.engine import AssetResult, Payer, ScenarioResult, StressResult
from verifier.stress.sweep import SweepEntry, SweepResult

FORMAT = "por-stress-v1"

STATEMENT_NOTE = (
    "A scenario is a model of one event, not a prediction: it takes the reconciliation's "
    "holdings, liabilities and prices and the reserve statement as they were, applies the "
    "shocks it lists and pays the loss in order from each asset's own surplus, eligible "
    "cash, insurance policy by policy and on-demand guarantees, never netting one asset's "
    "surplus against another's gap. It does not model recoveries, legal delays beyond the "
    "stated claim and payment periods, an insurer's solvency or dispute of a claim (unless "
    "a shock says so), market depth when buying coins back, losses of other customers' "
    "claims, or anything the report does not hold."
)


def _d(value: Decimal | None) -> str | None:
    return None if value is None else dec_str(value)


def _asset(a: AssetResult) -> dict[str, Any]:
    return {
        "code": a.code,
        "decimals": a.decimals,
        "liabilities": str(a.liabilities),
        "holdings_before": str(a.holdings_before),
        "loss_units": str(a.loss_units),
        "loss_value": _d(a.value(a.loss_units)),
        "own_loss_units": str(a.own_loss_units),
        "price_before": _d(a.price_before),
        "price_after": _d(a.price_after),
        "surplus_units": str(a.surplus_units),
        "paid_units": str(a.paid_units),
        "uncovered_units": str(a.uncovered_units),
        "uncovered_value": _d(a.value(a.uncovered_units)),
        "holdings_after": str(a.holdings_after),
        "coverage_before": _d(a.coverage_before),
        "coverage_after": _d(a.coverage_after),
        "made_whole": a.made_whole,
        "own_buffer_units": None if a.own_buffer is None else str(a.own_buffer[0]),
        "own_buffer_required_units": None if a.own_buffer is None else str(a.own_buffer[1]),
        "own_buffer_met_after": a.own_buffer_met_after,
    }


def _payer(p: Payer) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "order": p.order,
        "kind": p.kind,
        "name": p.name,
        "available": dec_str(p.available),
        "paid": dec_str(p.paid),
        "currency": p.currency,
        "days": p.days,
        "notes": list(p.notes),
    }
    if p.kind == "insurance":
        doc["claims"] = [
            {"event": e, "covered": dec_str(c), "claim": dec_str(k)} for e, c, k in p.claims
        ]
    return doc


def _scenario(r: ScenarioResult) -> dict[str, Any]:
    events = []
    for event in r.events:
        hit = [loss for loss in r.losses if loss.event == event]
        events.append(
            {
                "event": event,
                "perils": sorted({loss.peril for loss in hit}),
                "wallets": len({loss.wallet.address for loss in hit}),
            }
        )
    return {
        "id": r.scenario.id,
        "title": r.scenario.title,
        "description": r.scenario.description,
        "shocks": [s.as_json() for s in r.scenario.shocks],
        "made_whole": r.made_whole,
        "uncovered_value": dec_str(r.uncovered_value),
        "time_to_pay_days": r.time_to_pay_days,
        "time_to_pay_note": r.time_to_pay_note,
        "events": events,
        "assets": [_asset(a) for a in r.assets],
        "payers": [_payer(p) for p in r.payers],
        "wallets_lost": [
            {
                "wallet": loss.wallet.key,
                "label": loss.wallet.label,
                "class": loss.wallet.wallet_class,
                "vendor": loss.wallet.vendor,
                "custodian": loss.wallet.custodian,
                "chain": loss.wallet.chain,
                "address": loss.wallet.address,
                "asset": loss.asset,
                "units": str(loss.units),
                "counted_as": loss.wallet.counted_as,
                "customer_units": str(loss.customer_units),
                "own_units": str(loss.own_units),
                "share": dec_str(loss.share),
                "peril": loss.peril,
                "event": loss.event,
            }
            for loss in r.losses
        ],
    }


def _entry(e: SweepEntry, key: str, label: str) -> dict[str, Any]:
    return {
        key: e.key,
        label: e.label,
        "value": dec_str(e.value),
        "absorbable_share": dec_str(e.absorbable_share),
        "absorbable_value": dec_str(e.absorbable_value),
        "fully_absorbed": e.fully_absorbed,
    }


def sweep_json(s: SweepResult) -> dict[str, Any]:
    """The ``sweep`` member: wallets and vendors, weakest first."""
    return {
        "peril": s.peril,
        "wallets": [_entry(e, "key", "label") for e in s.wallets],
        "vendors": [_entry(e, "vendor", "name") for e in s.vendors],
    }


def stress_document(
    result: StressResult, sweep: SweepResult | None = None, *, generated_at: str
) -> dict[str, Any]:
    """The por-stress-v1 document of `result` (and `sweep`), generated at `generated_at`."""
    base = result.base
    return {
        "stress": FORMAT,
        "generated_at": generated_at,
        "report_id": base.report_id,
        "source": base.source,
        "exchange": base.exchange,
        "currency": base.currency,
        "as_of": base.as_of,
        "statement_note": STATEMENT_NOTE,
        "made_whole": result.made_whole,
        "warnings": list(base.warnings),
        "scenarios": [_scenario(r) for r in result.results],
        "sweep": None if sweep is None else sweep_json(sweep),
    }
