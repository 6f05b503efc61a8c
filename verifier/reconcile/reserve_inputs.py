"""The numbers a reserve rule pack needs, counted exactly as coverage counts them.

Where it sits: verifier/jobs/pipeline.py calls `reserve_inputs` before the rule pack's
evaluation (verifier/reserve/rules.py sizes the reserve from these numbers), then
`verifier.reconcile.coverage.reconcile` embeds the same numbers in the `Reconciliation`
(`inputs_from`), so a report can be recomputed from what it shows. Both read the holdings
tallied by verifier/reconcile/tally.py.

Invariants: values are exact decimal strings (`EXACT`), base units integer strings, never
floats; a same-type own buffer is credited only up to that asset's non-cold holdings, so a
buffer of one asset never offsets the hot holdings of another.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from attestations.proofs import RootDocument
from verifier.inputs.prices import Price
from verifier.reconcile.numbers import EXACT, dec_str, unit_value
from verifier.reconcile.tally import Prepared, Tally, asset_order, prepare, total_units
from verifier.reconcile.values import CLASSES, PROVEN_CLASSES, OwnBufferRule


def inputs_from(prepared: Prepared) -> dict[str, Any]:
    """`reserve_inputs`' document from inputs `prepare` already checked and tallied."""
    by_class = {name: Decimal(0) for name in CLASSES}
    own_value = Decimal(0)
    per_asset = []
    unpriced = []
    for code in asset_order(prepared):
        tally = prepared.tallies.get(code, Tally())
        decimals = prepared.decimals[code]
        price = prepared.prices.get(code)
        non_cold = tally.proven["hot"] + tally.proven["other"]
        counted = sum(tally.proven.values())
        if prepared.count_custodial:
            counted += tally.custodial
        if price is None:
            # only an asset nobody is owed can lack a price (`prepare` checks it)
            if total_units(tally):
                unpriced.append(code)
            continue
        per_asset.append(
            {
                "code": code,
                "decimals": decimals,
                "owed_units": str(prepared.owed[code]),
                "held_units": str(counted),
                "hot_units": str(non_cold),
                "own_buffer_units": str(tally.own_buffer),
                "price": dec_str(price.value),
            }
        )
        with localcontext(EXACT):
            for name in PROVEN_CLASSES:
                by_class[name] += unit_value(tally.proven[name], decimals, price.value)
            by_class["custodial"] += unit_value(tally.custodial, decimals, price.value)
            # the buffer backs non-cold customer crypto of the same type: a buffer of one
            # asset never offsets the hot holdings of another
            credited = min(tally.own_buffer, non_cold)
            own_value += unit_value(credited, decimals, price.value)
    return {
        "currency": prepared.currency,
        "client_value_by_class": {name: dec_str(v) for name, v in by_class.items()},
        "own_buffer_value": dec_str(own_value),
        "per_asset": per_asset,
        "unpriced_assets": unpriced,
    }


def reserve_inputs(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    *,
    count_custodial: bool = False,
    own_buffer: OwnBufferRule | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """The numbers a reserve rule pack needs, from the snapshot and the prices.

    Parameters
    ----------
    liabilities
        The root document (`RootDocument`) or ``{code: (decimals, owed base units)}``.
    snapshot
        A ``por-snapshot-v1`` document (`verifier.holdings.snapshot.Snapshot.to_json()`).
    prices
        ``{code: Price}``, every price in one currency; required for each owed asset.
    count_custodial
        Count customer holdings in custodial wallets as held (``held_units``).
    own_buffer
        Which own holdings are the exchange's buffer; None credits no buffer.
    currency
        The reporting currency when no price gives it (and a check when prices do).

    Returns
    -------
    dict
        ``{"currency", "client_value_by_class": {"cold","hot","other","custodial"},
        "own_buffer_value", "per_asset": [{"code", "decimals", "owed_units",
        "held_units", "hot_units", "own_buffer_units", "price"}], "unpriced_assets"}``.
        Values and prices are decimal strings, base units integer strings. Every figure
        counts exactly the holdings coverage counts: proven customer holdings by class
        (``custodial``: customer holdings in custodial wallets, always given, and part of
        ``held_units`` only when `count_custodial`); unproven holdings are left out.
        ``hot_units`` is the non-cold part of ``held_units`` (hot + other), the quantity a
        same-type own buffer must match; ``own_buffer_value`` credits each asset's buffer
        only up to that asset's non-cold holdings, so a buffer of one asset never offsets
        the hot holdings of another. ``unpriced_assets`` lists held assets without a price
        (they are owed nothing): they are left out of ``per_asset`` and of every value.

    Raises
    ------
    InputError
        Malformed snapshot, an owed asset without a price, mixed currencies.
    """
    prepared = prepare(liabilities, snapshot, prices, count_custodial, own_buffer, currency)
    return inputs_from(prepared)
