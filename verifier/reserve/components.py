"""The eligible reserve's cash, guarantees and capital, each with the gates it must pass.

Where it sits: the second step of `verifier.reserve.rules.evaluate`, beside
verifier/reserve/insurance.py (policies). Each component of the statement becomes a
`Component` whose every gate is reported with its reason; a component whose kind the pack
does not accept, or that fails any gate, counts zero. What counts is rounded down
(verifier/reserve/money.py).
"""

from __future__ import annotations

from decimal import Decimal

from verifier.reserve.context import Context
from verifier.reserve.money import ZERO, round_down
from verifier.reserve.pack import RulePack
from verifier.reserve.results import Component, Gate
from verifier.reserve.statement_model import CashReserve, Guarantee


def eligible_kinds(pack: RulePack) -> tuple[str, ...]:
    """The component kinds the pack counts (``eligible_kinds``, else the model's default)."""
    kinds = pack.names("eligible_kinds")
    if kinds is not None:
        return kinds
    return (
        ("capital", "insurance") if pack.model == "capital" else ("cash", "guarantee", "insurance")
    )


def kind_gates(ctx: Context, kind: str) -> list[Gate]:
    """No gate when the pack counts `kind`; else the failed "kind" gate."""
    kinds = eligible_kinds(ctx.pack)
    if kind in kinds:
        return []
    reason = f"{kind} does not count under {ctx.pack.id} (eligible: {', '.join(kinds) or 'none'})"
    return [Gate("kind", False, reason)]


def component(
    kind: str, name: str, amount: Decimal, value: Decimal, gates: list[Gate]
) -> Component:
    """A component counting `value` (rounded down) when every gate passed, else zero."""
    eligible = round_down(value) if all(g.passed for g in gates) else ZERO
    return Component(kind, name, round_down(amount), eligible, tuple(gates))


def capital_component(ctx: Context) -> Component | None:
    """The entity's capital (``capital_item``: CET1 or paid-up), when the pack counts it."""
    pack, entity = ctx.pack, ctx.statement.entity
    if pack.model != "capital" and "capital" not in eligible_kinds(pack):
        return None
    item = pack.value("capital_item")
    item = item if isinstance(item, str) else "cet1"
    amount = entity.cet1 if item == "cet1" else entity.paid_up_capital
    gates = kind_gates(ctx, "capital")
    if amount is None:
        gates.append(Gate("present", False, f"entity.{item} is not given"))
        amount = ZERO
    else:
        gates.append(Gate("present", True, f"entity.{item}"))
    return component("capital", item, amount, amount, gates)


def _cash_gates(ctx: Context, cash: CashReserve) -> list[Gate]:
    """Held on trust (``cash_require_trust``), and a term deposit's maturity
    (``cash_max_maturity_days``)."""
    pack, as_of = ctx.pack, ctx.as_of
    gates = []
    if pack.flag("cash_require_trust"):
        reason = (
            f"held on trust at {cash.holder}"
            if cash.on_trust
            else f"not held on trust ({pack.tag('cash_require_trust')})"
        )
        gates.append(Gate("trust", cash.on_trust, reason))
    longest = pack.count("cash_max_maturity_days")
    if longest is not None:
        if cash.maturity is None or cash.maturity <= as_of:
            gates.append(Gate("maturity", True, "available on demand"))
        else:
            days = (cash.maturity - as_of).days
            reason = f"matures {cash.maturity} ({days} days)"
            if days > longest:
                reason += f", beyond {longest} days ({pack.tag('cash_max_maturity_days')})"
            gates.append(Gate("maturity", days <= longest, reason))
    return gates


def cash_components(ctx: Context) -> list[Component]:
    """Every ``[[cash]]`` deposit, converted, with its gates."""
    components = []
    for cash in ctx.statement.cash:
        gates = kind_gates(ctx, "cash")
        amount, currency_gate = ctx.convert(cash.amount, cash.currency)
        gates.append(currency_gate)
        gates += _cash_gates(ctx, cash)
        components.append(component("cash", cash.name, amount, amount, gates))
    return components


def _guarantee_gates(ctx: Context, guarantee: Guarantee) -> list[Gate]:
    """Payable on demand (``guarantee_require_on_demand``), and not expiring within the
    pack's ``horizon_days``."""
    pack, as_of = ctx.pack, ctx.as_of
    horizon = pack.count("horizon_days")
    gates = []
    if pack.flag("guarantee_require_on_demand"):
        reason = (
            "payable on first demand"
            if guarantee.on_demand
            else f"not payable on demand ({pack.tag('guarantee_require_on_demand')})"
        )
        gates.append(Gate("on demand", guarantee.on_demand, reason))
    if guarantee.maturity is not None:
        if guarantee.maturity <= as_of:
            gates.append(Gate("maturity", False, f"expired on {guarantee.maturity}"))
        elif horizon is not None and (guarantee.maturity - as_of).days <= horizon:
            reason = (
                f"expires {guarantee.maturity}, inside the {horizon}-day horizon "
                f"({pack.tag('horizon_days')})"
            )
            gates.append(Gate("maturity", False, reason))
        else:
            gates.append(Gate("maturity", True, f"expires {guarantee.maturity}"))
    return gates


def guarantee_components(ctx: Context) -> list[Component]:
    """Every ``[[guarantee]]``, converted, with its gates."""
    components = []
    for guarantee in ctx.statement.guarantees:
        gates = kind_gates(ctx, "guarantee")
        amount, currency_gate = ctx.convert(guarantee.amount, guarantee.currency)
        gates.append(currency_gate)
        gates += _guarantee_gates(ctx, guarantee)
        components.append(component("guarantee", guarantee.name, amount, amount, gates))
    return components
