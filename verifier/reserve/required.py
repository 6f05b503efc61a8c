"""The required reserve ``R``: its terms, its value, and the formula with every value filled in.

Where it sits: the first step of `verifier.reserve.rules.evaluate` (RULES.md, "Rule-pack
model", formula 3). A ``reserve`` pack (Japan-style; Hong Kong is the same form)::

    R = clamp(floor, cap, m_ops · (Σ_k r_k·avg3y(volume_k) + c_cold·V_cold
                                   + c_hot·max(0, V_hot + V_other − V_buffer)
                                   + k_inc·net_incident_losses_3y))

where ``V_buffer`` counts only when ``buffer_credit`` is true; a ``capital`` pack (MiCA,
VARA): ``R = max(minimum, overheads_share · fixed overheads)``. Averages and products are
rounded up once, where they arise (verifier/reserve/money.py). The formula text is exact
(it is part of the evaluation document); pages round it for reading.
"""

from __future__ import annotations

from decimal import Decimal

from verifier.base.errors import InputError
from verifier.reserve.context import Context
from verifier.reserve.money import ONE, ZERO, add_years, fmt_decimal, round_up

Terms = tuple[tuple[str, Decimal], ...]
"""The named terms of ``R`` (before ``m_ops`` and the clamp), for the document."""


def m_ops(ctx: Context) -> tuple[Decimal, str]:
    """The operational-risk multiplier and how it was reached.

    An assessed ``m_ops`` in the statement wins; otherwise the pack's base ``m_ops_min``
    plus ``m_ops_step.<flag>`` for each risk flag the pack prices. Either is clamped to
    ``m_ops_min..m_ops_max``.
    """
    pack = ctx.pack
    low = pack.decimal_or("m_ops_min", ONE)
    high = pack.decimal_or("m_ops_max", low)
    risk = ctx.statement.entity.operational_risk
    if risk.m_ops is not None:
        value, basis = risk.m_ops, f"assessed {fmt_decimal(risk.m_ops)}"
    else:
        value, priced = low, []
        for flag in risk.flags:
            step = pack.decimal(f"m_ops_step.{flag}")
            if step is not None:
                value += step
                priced.append(f"{flag} +{fmt_decimal(step)}")
        basis = f"base {fmt_decimal(low)}" + "".join(f", {p}" for p in priced)
    clamped = min(high, max(low, value))
    if clamped != value:
        basis += f", clamped to {fmt_decimal(low)}..{fmt_decimal(high)}"
    return clamped, basis


def _volume(ctx: Context) -> tuple[Decimal, str]:
    """Σ_k r_k · average yearly volume of category k over the pack's window, and its parts."""
    pack, as_of = ctx.pack, ctx.as_of
    since = add_years(as_of, -(pack.count("volume_years") or 3))
    by_category: dict[str, list[Decimal]] = {}
    for record in ctx.statement.volume:
        if since < record.end <= as_of:
            by_category.setdefault(record.category, []).append(record.amount)
    volume, parts = ZERO, []
    for category in sorted(by_category):
        amounts = by_category[category]
        average = round_up(sum(amounts, ZERO) / len(amounts))
        rate = pack.decimal(f"volume_rate.{category}")
        if rate is None:
            rate = pack.decimal_or("volume_rate", ZERO)
        volume += rate * average
        parts.append(f"{fmt_decimal(rate)} × avg{len(amounts)}y {category} {fmt_decimal(average)}")
    return volume, "; ".join(parts) or "none"


def _net_incident_losses(ctx: Context) -> tuple[Decimal, int]:
    """Losses less recoveries of the incidents inside the pack's window, and its years."""
    years = ctx.pack.count("incident_years") or 3
    window = add_years(ctx.as_of, -years)
    losses = sum(
        (i.net_loss for i in ctx.statement.incidents if window < i.date <= ctx.as_of), ZERO
    )
    return losses, years


def required_reserve(ctx: Context) -> tuple[Decimal, str, Terms]:
    """``R`` of a ``reserve`` pack, its formula with every value, and its terms."""
    pack = ctx.pack
    volume, volume_parts = _volume(ctx)
    c_cold, c_hot = pack.decimal_or("c_cold", ZERO), pack.decimal_or("c_hot", ZERO)
    v_cold, v_hot, v_other = ctx.values["cold"], ctx.values["hot"], ctx.values["other"]
    credit = pack.flag("buffer_credit")
    v_buffer = ctx.inputs.own_buffer_value if credit else ZERO
    cold = c_cold * v_cold
    hot = c_hot * max(ZERO, v_hot + v_other - v_buffer)
    net_losses, incident_years = _net_incident_losses(ctx)
    k_inc = pack.decimal_or("k_inc", ZERO)
    incidents = k_inc * net_losses
    multiplier, m_basis = m_ops(ctx)
    raw = multiplier * (volume + cold + hot + incidents)
    floor = ctx.pack_amount("floor") or ZERO
    cap = ctx.pack_amount("cap")
    required = max(floor, round_up(raw))
    if cap is not None:
        required = min(cap, required)
    money = fmt_decimal
    buffer_text = f" − V_buffer {money(v_buffer)}" if credit else ""
    formula = (
        f"R = clamp(floor {money(floor)}, cap {'none' if cap is None else money(cap)}, "
        f"m_ops {money(multiplier)} ({m_basis}) × ("
        f"volume {money(volume)} [{volume_parts}]"
        f" + c_cold {money(c_cold)} × V_cold {money(v_cold)}"
        f" + c_hot {money(c_hot)} × max(0, V_hot {money(v_hot)} + V_other {money(v_other)}"
        f"{buffer_text})"
        f" + k_inc {money(k_inc)} × net incident losses {incident_years}y {money(net_losses)}"
        f")) = {money(required)}"
    )
    terms = (("volume", volume), ("cold", cold), ("hot", hot), ("incidents", incidents))
    return required, formula, terms


def _minimum_name(ctx: Context) -> tuple[str, str]:
    """The pack's minimum parameter for the statement's licence class, and its label.

    Raises
    ------
    InputError
        When the pack has a minimum per licence class and the statement names none of them.
    """
    pack, statement = ctx.pack, ctx.statement
    classes = sorted(
        p.name.removeprefix("minimum.") for p in pack.parameters if p.name.startswith("minimum.")
    )
    if not classes:
        return "minimum", "minimum"
    licence = statement.entity.licence_class
    if licence is None or licence not in classes:
        raise InputError(
            f"the pack {pack.id} needs a licence class among {', '.join(classes)}",
            file=statement.path,
            key="entity.licence_class",
            value=licence,
        )
    return f"minimum.{licence}", f"minimum {licence}"


def required_capital(ctx: Context) -> tuple[Decimal, str, Terms]:
    """``R`` of a ``capital`` pack: max(fixed minimum, share · fixed overheads).

    Raises
    ------
    InputError
        When the statement lacks the previous year's fixed overheads or a licence class
        the pack needs.
    """
    pack, statement = ctx.pack, ctx.statement
    minimum_name, label = _minimum_name(ctx)
    minimum = ctx.pack_amount(minimum_name) or ZERO
    overheads = statement.entity.overheads
    if overheads is None:
        raise InputError(
            f"missing: the pack {pack.id} needs the previous year's fixed overheads",
            file=statement.path,
            key="entity.overheads",
        )
    share = pack.decimal_or("overheads_share", ZERO)
    fixed = overheads.fixed
    by_overheads = round_up(share * fixed)
    required = max(minimum, by_overheads)
    formula = (
        f"R = max({label} {fmt_decimal(minimum)}, overheads_share {fmt_decimal(share)} × "
        f"fixed overheads {fmt_decimal(fixed)}) = {fmt_decimal(required)}"
    )
    return required, formula, (("minimum", minimum), ("overheads", by_overheads))
