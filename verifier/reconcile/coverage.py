"""Reconciliation: liabilities against proven on-chain holdings and the liability reserve.

Where it sits: after the snapshot (verifier/holdings/snapshot.py, the ``por-snapshot-v1`` document)
and the reserve evaluation (verifier/reserve/rules.py, which sizes the reserve from the numbers
verifier/reconcile/reserve_inputs.py builds); before the report (verifier/report/document.py
renders the `Reconciliation` that `reconcile` returns). Pure: values in, values out; no
files, network, clock or database.

The package, in the order a reconciliation runs: parse.py reads the documents into the
values of values.py; tally.py counts the holdings per asset and cross-checks the inputs;
this module computes per-asset and combined coverage and the breaches into the values of
result.py; reserve_inputs.py gives the rule pack the same counts; numbers.py holds the
decimal contexts every figure goes through.

Invariants (each one is a check below, or follows from how a figure is computed):

1. Base units are ``int`` throughout; fiat values are `Decimal` computed in an explicit
   context (`EXACT`: 999 digits with ``Inexact`` trapped, so a product or sum is exact or
   raises); floats are refused wherever a number enters.
2. Only addresses whose ownership status is ``proven`` and whose attribution is
   ``customer`` back liabilities. Unproven and custodial holdings are reported and excluded
   (custodial ones are counted only when ``count_custodial``); the exchange's own
   holdings (attribution ``own``) never back customer liabilities: at most they are its
   own buffer (`OwnBufferRule`).
3. Coverage is per asset and shortfalls are never netted across assets: a surplus of one
   asset cannot hide a shortfall of another. The combined figure caps each asset's holdings
   at its liabilities for exactly that reason (DESIGN.md, "Coverage").
4. Ratios are rounded toward zero (`RATIO`, ``ROUND_FLOOR``), so a shown ratio never
   overstates coverage (``ratio * liabilities <= holdings``); every pass/fail decision is
   taken on exact values, never on a rounded ratio.
5. An address listed under two wallets of a chain counts once; if the two entries disagree
   on its class or attribution the input is ambiguous and rejected.
6. Every asset with liabilities has a price above zero (a missing price is an
   `InputError`, never a zero); all prices and the rule pack are in one reporting currency.

7. A rule pack's concentration limits (largest vendor share, notified vendors, no mixed
   wallets; concentration.py) are pack gates like the others: a breach fails the verdict
   (exit 1), as a failed reserve check does.

Under-coverage is a result (``exit_code == 1`` with every breach in words), never an
exception; malformed input raises `InputError` (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Any

from attestations.proofs import RootDocument, format_units
from verifier.inputs.prices import Price
from verifier.reconcile.concentration import concentration, limit_breaches
from verifier.reconcile.numbers import EXACT, dec_str, percent_of, unit_value
from verifier.reconcile.parse import parse_evaluation, parse_max_age
from verifier.reconcile.reserve_inputs import inputs_from
from verifier.reconcile.result import AssetCoverage, Breach, Combined, Reconciliation, Reserve
from verifier.reconcile.tally import Tally, asset_order, prepare
from verifier.reconcile.values import OwnBufferRule, Thresholds


# Long on purpose: one pass per asset, then the combined figure; the arithmetic reads as
# the formula in docs/report.md only when it is in one place.
def reconcile(
    liabilities: RootDocument | Mapping[str, tuple[int, int]],
    snapshot: Mapping[str, Any],
    prices: Mapping[str, Price],
    evaluation: Mapping[str, Any] | None = None,
    *,
    thresholds: Thresholds | None = None,
    count_custodial: bool = False,
    own_buffer: OwnBufferRule | None = None,
) -> Reconciliation:
    """Per-asset and combined coverage, the reserve verdict and every breach.

    Parameters
    ----------
    liabilities
        The root document (`RootDocument`) or ``{code: (decimals, owed base units)}``.
    snapshot
        A ``por-snapshot-v1`` document (`verifier.holdings.snapshot.Snapshot.to_json()`).
    prices
        ``{code: Price}`` in the reporting currency; every owed asset needs one.
    evaluation
        The rule pack's reserve evaluation document (verifier/reserve/rules.py), or None when no
        reserve is assessed (the eligible reserve is then 0).
    thresholds
        Minimum coverage per asset and combined (default 1 and 1).
    count_custodial
        Count custodial customer holdings as backing (excluded by default).
    own_buffer
        Which own holdings are the exchange's buffer (never customer backing either way).

    Returns
    -------
    Reconciliation
        Figures, breaches in words and ``exit_code`` (0 covered, 1 otherwise).

    Raises
    ------
    InputError
        Malformed inputs, a missing price, mixed currencies, decimals or attestation ids
        that disagree, an inconsistent evaluation.
    """
    limits = thresholds if thresholds is not None else Thresholds()
    reserve = None if evaluation is None else parse_evaluation(evaluation)
    prepared = prepare(
        liabilities,
        snapshot,
        prices,
        count_custodial,
        own_buffer,
        None if reserve is None else reserve.currency,
    )
    assets = []
    for code in asset_order(prepared):
        tally = prepared.tallies.get(code, Tally())
        assets.append(
            AssetCoverage(
                code=code,
                decimals=prepared.decimals[code],
                liabilities=prepared.owed[code],
                cold=tally.proven["cold"],
                hot=tally.proven["hot"],
                other=tally.proven["other"],
                custodial=tally.custodial,
                unproven=tally.unproven,
                own_buffer=tally.own_buffer,
                own_other=tally.own_other,
                counted_custodial=count_custodial,
                threshold=limits.for_asset(code),
                price=prepared.prices.get(code),
            )
        )
    combined = _combined(assets, prepared.currency, reserve, limits.min_combined)
    conc = concentration(
        prepared.holdings, prepared.decimals, prepared.prices, prepared.currency, prepared.vendors
    )
    warnings = list(prepared.warnings)
    warnings.extend(
        f"a coverage threshold is set for {code}, which is neither owed nor held"
        for code in sorted(set(limits.per_asset) - set(prepared.decimals))
    )
    return Reconciliation(
        exchange=prepared.exchange,
        currency=prepared.currency,
        liabilities=prepared.liabilities,
        snapshot_taken_at=prepared.taken_at,
        chains=prepared.pins,
        holdings=prepared.holdings,
        prices=dict(prepared.prices),
        assets=tuple(assets),
        combined=combined,
        reserve=reserve,
        reserve_inputs=inputs_from(prepared),
        thresholds=limits,
        count_custodial=count_custodial,
        own_buffer_rule=own_buffer,
        breaches=tuple(
            _breaches(assets, combined, reserve)
            + limit_breaches(
                conc,
                {} if reserve is None else reserve.limits,
                prepared.liabilities.as_of,
            )
        ),
        warnings=tuple(warnings),
        max_age=parse_max_age(snapshot),
        concentration=conc,
    )


def _combined(
    assets: list[AssetCoverage], currency: str, reserve: Reserve | None, threshold: Decimal
) -> Combined:
    owed_value = Decimal(0)
    capped_value = Decimal(0)
    with localcontext(EXACT):
        for a in assets:
            if a.liabilities == 0 or a.price is None:
                continue
            owed_value += unit_value(a.liabilities, a.decimals, a.price.value)
            capped_value += unit_value(min(a.holdings, a.liabilities), a.decimals, a.price.value)
    return Combined(
        currency=currency,
        liabilities_value=owed_value,
        capped_holdings_value=capped_value,
        eligible_reserve=Decimal(0) if reserve is None else reserve.eligible,
        threshold=threshold,
    )


def _breaches(
    assets: list[AssetCoverage], combined: Combined, reserve: Reserve | None
) -> list[Breach]:
    out: list[Breach] = []
    for a in assets:
        if a.covered:
            continue
        ratio = a.ratio
        shown = "0%" if ratio is None else percent_of(ratio)
        message = (
            f"{a.code}: proven holdings {format_units(a.holdings, a.decimals)} cover "
            f"{shown} of liabilities {format_units(a.liabilities, a.decimals)}, below the "
            f"minimum {percent_of(a.threshold)}"
        )
        if a.shortfall:
            message += f"; short by {format_units(a.shortfall, a.decimals)} {a.code}"
        else:
            with localcontext(EXACT):
                target = int((a.threshold * a.liabilities).to_integral_value(ROUND_CEILING))
            more = format_units(target - a.holdings, a.decimals)
            message += f"; {more} {a.code} more needed to reach the minimum"
        out.append(Breach("asset", a.code, message))
    if reserve is not None and not reserve.met:
        out.append(
            Breach(
                "reserve",
                "reserve",
                f"liability reserve not met under {reserve.pack_id} {reserve.pack_version}: "
                f"required {dec_str(reserve.required)} {reserve.currency}, eligible "
                f"{dec_str(reserve.eligible)}, shortfall {dec_str(reserve.shortfall)}",
            )
        )
    if reserve is not None:
        for check in reserve.failed_checks:
            name = str(check.get("check", "check"))
            detail = f"{name}: {check.get('reason', 'failed')}"
            if check.get("value") is not None or check.get("limit") is not None:
                detail += f" (value {check.get('value')}, limit {check.get('limit')})"
            if check.get("status"):
                detail += f" [{check.get('status')}]"
            out.append(Breach("check", name, detail))
    if not combined.met:
        ratio = combined.ratio
        out.append(
            Breach(
                "combined",
                "combined",
                f"combined coverage {'n/a' if ratio is None else percent_of(ratio)} is below the "
                f"minimum {percent_of(combined.threshold)}",
            )
        )
    return out
