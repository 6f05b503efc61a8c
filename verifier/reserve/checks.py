"""The pack's pass/fail checks beside the reserve amount: shares outside cold storage, the
same-type buffer, per-asset coverage.

Where it sits: the last step of `verifier.reserve.rules.evaluate`. Each check runs only
when the pack carries its parameter, and reports its value, its limit, the status of the
parameter and a reason. Per-asset checks are never netted across assets: one asset's
surplus does not offset another's shortfall. A failed check is a result (exit 1), not an
exception. The reasons are exact (part of the evaluation document); pages round them for
reading.
"""

from __future__ import annotations

from decimal import Decimal

from attestations.proofs import format_units
from verifier.reserve.context import Context
from verifier.reserve.money import ZERO, fmt_decimal, ratio_text
from verifier.reserve.positions import AssetPosition
from verifier.reserve.results import Check


def _non_cold_checks(ctx: Context) -> list[Check]:
    """The share of customer value outside cold storage (``non_cold_limit``), overall and
    per asset (``non_cold_limit_per_asset``)."""
    pack, values, checks = ctx.pack, ctx.values, []
    limit = pack.decimal("non_cold_limit")
    if limit is not None:
        non_cold = values["hot"] + values["other"]
        total = values["cold"] + non_cold
        share = non_cold / total if total > 0 else ZERO
        passed = share <= limit
        reason = (
            f"hot + other {fmt_decimal(non_cold)} of {fmt_decimal(total)} customer value "
            f"(custodial {fmt_decimal(values['custodial'])} reported, not counted)"
        )
        if not passed:
            reason += f": above the {fmt_decimal(limit)} limit"
        status = pack.status_of("non_cold_limit")
        checks.append(
            Check("non_cold_share", passed, ratio_text(share), fmt_decimal(limit), status, reason)
        )
    per_asset_limit = pack.decimal("non_cold_limit_per_asset")
    if per_asset_limit is not None:
        for p in ctx.inputs.per_asset:
            if p.held_units == 0:
                continue
            share = Decimal(p.hot_units) / Decimal(p.held_units)
            checks.append(
                Check(
                    f"non_cold_share:{p.code}",
                    share <= per_asset_limit,
                    ratio_text(share),
                    fmt_decimal(per_asset_limit),
                    pack.status_of("non_cold_limit_per_asset"),
                    f"{format_units(p.hot_units, p.decimals)} of "
                    f"{format_units(p.held_units, p.decimals)} {p.code} outside cold storage",
                )
            )
    return checks


def _own_buffer_check(ctx: Context, p: AssetPosition) -> Check:
    """The exchange's own coins of one asset cover that asset's customer coins outside cold
    storage (Japan: 履行保証暗号資産); other assets' buffers do not count."""
    passed = p.own_buffer_units >= p.hot_units
    own = format_units(p.own_buffer_units, p.decimals)
    hot = format_units(p.hot_units, p.decimals)
    reason = f"own {p.code} {own} against {hot} {p.code} of customer crypto outside cold storage"
    if not passed:
        short = format_units(max(0, p.hot_units - p.own_buffer_units), p.decimals)
        reason += f": short {short} {p.code}; other assets' buffers do not count"
    status = ctx.pack.status_of("own_buffer_same_type")
    return Check(f"own_buffer:{p.code}", passed, own, hot, status, reason)


def _own_buffer_checks(ctx: Context) -> list[Check]:
    """``own_buffer_same_type``: a same-type buffer for every asset with coins outside cold
    storage; failed when no per-asset positions are given."""
    if not ctx.pack.flag("own_buffer_same_type"):
        return []
    positions = ctx.inputs.per_asset
    status = ctx.pack.status_of("own_buffer_same_type")
    hot_assets = [p for p in positions if p.hot_units > 0]
    if not positions:
        reason = "no per-asset positions given: the same-type buffer cannot be checked"
        return [Check("own_buffer", False, "-", "-", status, reason)]
    if not hot_assets:
        reason = "no customer crypto outside cold storage"
        return [Check("own_buffer", True, "0", "0", status, reason)]
    return [_own_buffer_check(ctx, p) for p in hot_assets]


def _coverage_checks(ctx: Context) -> list[Check]:
    """``per_asset_coverage_min``: each asset's holdings cover its liabilities times the
    minimum; failed when no per-asset positions are given."""
    pack, positions = ctx.pack, ctx.inputs.per_asset
    minimum = pack.decimal("per_asset_coverage_min")
    if minimum is None:
        return []
    status = pack.status_of("per_asset_coverage_min")
    checks = []
    if not positions:
        reason = "no per-asset positions given: per-asset coverage cannot be checked"
        checks.append(Check("coverage", False, "-", fmt_decimal(minimum), status, reason))
    for p in positions:
        if p.owed_units == 0:
            continue
        ratio = Decimal(p.held_units) / Decimal(p.owed_units)
        needed = Decimal(p.owed_units) * minimum
        passed = Decimal(p.held_units) >= needed
        held = format_units(p.held_units, p.decimals)
        owed = format_units(p.owed_units, p.decimals)
        reason = f"held {held} of {owed} {p.code} owed"
        if not passed:
            missing = (needed - Decimal(p.held_units)).scaleb(-p.decimals)
            reason += f": short {fmt_decimal(missing)} {p.code}, not offset by other assets"
        checks.append(
            Check(
                f"coverage:{p.code}",
                passed,
                ratio_text(ratio),
                fmt_decimal(minimum),
                status,
                reason,
            )
        )
    return checks


def pack_checks(ctx: Context) -> list[Check]:
    """Every check the pack carries, in a fixed order: non-cold shares, own buffer,
    coverage."""
    return _non_cold_checks(ctx) + _own_buffer_checks(ctx) + _coverage_checks(ctx)
