"""Insurance policies in the eligible reserve: their gates and the share of risk they cover.

Where it sits: the second step of `verifier.reserve.rules.evaluate`, beside
verifier/reserve/components.py (cash, guarantees, capital). A policy counts
``scope · max(0, limit − deductible)`` in the reporting currency, rounded down, when every
gate passes; `verifier.reserve.rules.evaluate` then caps the insurance total at ``θ·R``.
The scope is the declared scope times the value-weighted share of the wallet classes whose
perils the policy covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from verifier.reserve.components import component, kind_gates
from verifier.reserve.context import Context
from verifier.reserve.money import ONE, ZERO, fmt_decimal, ratio_text, round_down, share_down
from verifier.reserve.results import Component, Gate
from verifier.reserve.statement_model import InsurancePolicy

PERIL_CLASSES = ("cold", "hot", "other")
"""Wallet classes weighing an insurance policy's peril scope (custodial assets are the
custodian's risk and are reported, not weighed, as DESIGN.md excludes them by default)."""


def _class_shares(
    perils: Mapping[str, Any], required: tuple[str, ...], exclusions: tuple[str, ...]
) -> tuple[dict[str, Decimal], list[str]]:
    """Per wallet class, the share the policy covers (a declared share, or all or nothing
    by the perils covered there), and a note on each."""
    shares: dict[str, Decimal] = {}
    notes = []
    for wallet_class in PERIL_CLASSES:
        entry = perils.get(wallet_class)
        if entry is None:
            shares[wallet_class] = ZERO
            notes.append(f"{wallet_class} not covered")
        elif isinstance(entry, Decimal):
            shares[wallet_class] = entry
            notes.append(f"{wallet_class} {fmt_decimal(entry)}")
        else:
            covered = set(entry) - set(exclusions)
            missing = [p for p in required if p not in covered]
            if missing or not covered:
                shares[wallet_class] = ZERO
                lacks = ", ".join(missing) if missing else "every listed peril is excluded"
                notes.append(f"{wallet_class} not covered (lacks {lacks})")
            else:
                shares[wallet_class] = ONE
                notes.append(f"{wallet_class} covered ({', '.join(sorted(covered))})")
    return shares, notes


def peril_scope(
    ctx: Context, policy_scope: Decimal, perils: Mapping[str, Any], exclusions: tuple[str, ...]
) -> tuple[Decimal, Gate]:
    """A policy's effective scope: declared scope × the value-weighted share of the wallet
    classes whose perils it covers; and the "perils" gate (fails when the scope is zero)."""
    pack = ctx.pack
    required = pack.names("insurance_required_perils") or ()
    excluded = [p for p in required if p in exclusions]
    if excluded:
        return ZERO, Gate(
            "perils",
            False,
            f"excludes the required peril {', '.join(excluded)} "
            f"({pack.tag('insurance_required_perils')})",
        )
    if not perils:
        scope = policy_scope
        reason = f"declared scope {fmt_decimal(policy_scope)} (no per-wallet-class schedule)"
        return scope, Gate("perils", scope > 0, reason)
    shares, notes = _class_shares(perils, required, exclusions)
    total = sum((ctx.values[c] for c in PERIL_CLASSES), ZERO)
    if total > 0:
        weighted = sum((shares[c] * ctx.values[c] for c in PERIL_CLASSES), ZERO)
        covered_share = share_down(weighted / total)
    else:
        covered_share = share_down(sum(shares.values(), ZERO) / len(PERIL_CLASSES))
    scope = policy_scope * covered_share
    reason = (
        f"scope {ratio_text(scope)} = declared {fmt_decimal(policy_scope)} × share of customer "
        f"value covered {ratio_text(covered_share)} ({'; '.join(notes)})"
    )
    if scope == 0:
        reason = "covers none of the wallet classes holding customer assets: " + reason
    return scope, Gate("perils", scope > 0, reason)


def _insurer_and_term_gates(ctx: Context, policy: InsurancePolicy) -> list[Gate]:
    """The insurer is authorised; the policy is in force; its term and notice are long
    enough (each only when the pack asks)."""
    pack, as_of = ctx.pack, ctx.as_of
    gates = []
    if pack.flag("insurance_require_authorised"):
        reason = (
            f"{policy.insurer} is authorised"
            if policy.authorised
            else f"{policy.insurer} is not an authorised insurer "
            f"({pack.tag('insurance_require_authorised')})"
        )
        gates.append(Gate("insurer", policy.authorised, reason))
    if as_of < policy.start:
        gates.append(Gate("in force", False, f"cover starts {policy.start}, after {as_of}"))
    elif as_of >= policy.end:
        gates.append(Gate("in force", False, f"expired on {policy.end}"))
    else:
        gates.append(Gate("in force", True, f"{policy.start} to {policy.end}"))
    min_term = pack.count("insurance_min_term_days")
    if min_term is not None:
        term = (policy.end - policy.start).days
        reason = f"term {term} days"
        if term < min_term:
            reason += f" < {min_term} ({pack.tag('insurance_min_term_days')})"
        gates.append(Gate("term", term >= min_term, reason))
    min_notice = pack.count("insurance_min_notice_days")
    if min_notice is not None:
        ok = policy.notice_days >= min_notice
        reason = f"{policy.notice_days} days' notice of cancellation"
        if not ok:
            reason += f" < {min_notice} ({pack.tag('insurance_min_notice_days')})"
        gates.append(Gate("notice", ok, reason))
    return gates


def _horizon_and_deductible_gates(ctx: Context, policy: InsurancePolicy) -> list[Gate]:
    """A policy in force does not expire within the pack's horizon; something is payable
    above the deductible."""
    pack, as_of = ctx.pack, ctx.as_of
    horizon = pack.count("horizon_days")
    gates = []
    if horizon is not None and policy.start <= as_of < policy.end:
        left = (policy.end - as_of).days
        reason = f"expires {policy.end} ({left} days)"
        if left <= horizon:
            reason += f", inside the {horizon}-day horizon ({pack.tag('horizon_days')})"
        gates.append(Gate("horizon", left > horizon, reason))
    deductible, limit = fmt_decimal(policy.deductible), fmt_decimal(policy.limit)
    if policy.deductible >= policy.limit:
        reason = f"deductible {deductible} is not below the limit {limit}: nothing is payable"
        gates.append(Gate("deductible", False, reason))
    else:
        gates.append(
            Gate("deductible", True, f"deductible {deductible}, {policy.limit_type} limit")
        )
    return gates


def insurance_components(ctx: Context) -> list[Component]:
    """Every ``[[insurance]]`` policy, converted, with its gates and what it counts before
    the insurance cap."""
    components = []
    for policy in ctx.statement.insurance:
        gates = kind_gates(ctx, "insurance")
        limit, currency_gate = ctx.convert(policy.limit, policy.currency)
        rate = ctx.statement.rate(policy.currency) or ZERO
        gates.append(currency_gate)
        gates += _insurer_and_term_gates(ctx, policy)
        gates += _horizon_and_deductible_gates(ctx, policy)
        scope, perils_gate = peril_scope(ctx, policy.scope, policy.perils, policy.exclusions)
        gates.append(perils_gate)
        value = round_down(scope * max(ZERO, policy.limit - policy.deductible) * rate)
        components.append(component("insurance", policy.name, limit, value, gates))
    return components
