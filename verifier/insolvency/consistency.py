"""A plan checked against itself: every figure it derives, recomputed from its own inputs.

Where it sits: between plan_schema.py (every key and bound of plan.json, already checked)
and the customer's check (verify.py's "plan figures" and "plan consistency"; the site's
insolvency.js mirrors both, tests/cli/test_insolvency_verify.py holds the two side by side).
`por publish --plan` and `por insolvency payouts` run it too, with no bundle.

`figure_problems` is the rule's arithmetic per pool: D = min(A, T) (0 when sold), every
share adds up to D, surplus = A − D, ratio = D/T; the fiat pool = max(0, cash + sold −
deductions). `consistency_problems` is everything else the plan derives: the claims root
(carried verbatim, its commitment recomputing to claims.commitment) gives the asset list,
decimals, attestation id, as_of and totals; the estate gives available, cash and
deductions; the policy gives in_kind, fiat, basis and sold values; the prices give sold
values and bound the fiat claims value; the distribution root gives its asset columns (the
assets paid in kind plus the currency), its totals and each pool's distributed total; and
rules_text is the text of this policy. docs/spec/por-insolvency-v1.md §3.2 lists what is
checked, and the few fields no customer can check (read by no check, shown nowhere).

Pure: a `PlanFile` in, a list of problems (empty when consistent) out. Integers and
Fractions only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from attestations.proofs import RootDocument, check_root_document, parse_root_document
from verifier.base.errors import InvalidProof
from verifier.insolvency.plan_schema import AssetEntry, FiatEntry, PlanFile, Ratio, Remainder
from verifier.reconcile.numbers import floor_ratio, percent_of

REMAINDER_RULE = "largest-remainder/leaf-hash"


def ratio_of(distributable: int, total: int) -> dict[str, str] | None:
    """D/T exactly ("n/d", lowest terms) and as a percentage floored to 2 decimals."""
    ratio = floor_ratio(distributable, total)
    if ratio is None:
        return None
    exact = Fraction(distributable, total)
    return {"exact": f"{exact.numerator}/{exact.denominator}", "percent": percent_of(ratio)}


def rate(price: Decimal | Fraction | str, decimals: int, currency_decimals: int) -> Fraction:
    """Minor units of the currency per base unit: price · 10^currency_decimals / 10^decimals."""
    return Fraction(Decimal(price) if isinstance(price, str) else price) * Fraction(
        10**currency_decimals, 10**decimals
    )


def rules_text(
    policy: str, sell_surplus: bool, currency: str | None, currency_decimals: int | None
) -> list[str]:
    """The rule of a plan in plain sentences (plan.json `rules_text`; the spec states it)."""
    text = [
        "Each asset is shared on its own: T is the total of the customers' claims, A what "
        "the estate holds of it, and D = min(A, T) is distributed; one asset's surplus never "
        "pays another asset's claims"
        + (
            " except through the fiat pool, as this plan's policy sells it."
            if policy != "in-kind"
            else "."
        ),
        "A customer with claim x receives floor(x * D / T) base units, plus one unit if they "
        "are among the first R = D - (sum of those floors) customers ordered by the "
        "remainder (x * D) mod T, largest first, then by the claim-tree leaf hash "
        "(lowercase hex), smallest first.",
        "The cutoff is the remainder and leaf hash of the R-th customer: a customer receives "
        "the extra unit if their remainder is larger, or equal with a leaf hash no larger.",
    ]
    if policy == "in-kind":
        text.append(
            "Policy in-kind: everything is paid in kind; the estate's fiat is not distributed "
            "by this plan and an asset's surplus stays in the estate."
        )
        return text
    if policy == "fiat":
        text.append(
            f"Policy fiat: every asset is valued at the valuation date in {currency} "
            f"minor units (floor(A * price * 10^{currency_decimals} / 10^decimals) per "
            "asset) and pooled with the estate's fiat less costs and priority deductions; a "
            "customer's claim is the floor of the sum of their claims' values; the pool is "
            "shared by the same rule."
        )
    else:
        text.append(
            "Policy mixed: every asset is paid in kind by the rule; what that leaves unpaid is "
            "valued at the valuation date (one floor over the customer's assets) and topped "
            "up from the fiat pool (the estate's fiat less costs and priority deductions"
            + (", plus each asset's surplus sold" if sell_surplus else "")
            + ") by the same rule."
        )
    text.append(
        "Costs and priority deductions come out of the fiat pool only; a pool they exceed "
        "is empty, and they are never taken from assets paid in kind."
    )
    return text


# ----------------------------------------------------------------------------- plan figures


def _ratio_problem(where: str, ratio: Ratio | None, distributable: int, total: int) -> str | None:
    expected = ratio_of(distributable, total)
    shown = None if ratio is None else {"exact": ratio.exact, "percent": ratio.percent}
    if shown != expected:
        return f"{where}: ratio {shown!r} is not D/T ({expected!r})"
    return None


def figure_problems(plan: PlanFile) -> list[str]:
    """Each pool's D, distributed total, surplus and ratio, and the fiat pool's sum."""
    problems = []
    for a in plan.assets:
        total, available = int(a.total_claims), int(a.available)
        distributable = int(a.distributable)
        wanted = min(available, total) if a.in_kind else 0
        if distributable != wanted:
            problems.append(f"{a.code}: distributable {distributable} is not {wanted}")
        if int(a.distributed_total) != distributable:
            problems.append(f"{a.code}: distributed total {a.distributed_total} is not D")
        if int(a.surplus) != available - distributable:
            problems.append(f"{a.code}: surplus {a.surplus} is not available - D")
        problems += filter(None, [_ratio_problem(a.code, a.ratio, distributable, total)])
    fiat = plan.fiat
    if fiat is not None:
        sold = sum(int(a.sold_value) for a in plan.assets)
        if int(fiat.sold) != sold:
            problems.append(f"fiat: sold {fiat.sold} is not the assets' sold values {sold}")
        pool = max(0, int(fiat.cash) + int(fiat.sold) - int(fiat.deductions))
        if int(fiat.pool) != pool:
            problems.append(f"fiat: pool {fiat.pool} is not cash + sold - deductions ({pool})")
        wanted = min(int(fiat.pool), int(fiat.claims_value))
        if int(fiat.distributable) != wanted or int(fiat.distributed_total) != wanted:
            problems.append(f"fiat: distributable and distributed total must be {wanted}")
        problems += filter(
            None, [_ratio_problem("fiat", fiat.ratio, wanted, int(fiat.claims_value))]
        )
    return problems


# ----------------------------------------------------------------------------- consistency


def root_of(data: dict[str, object], where: str) -> tuple[RootDocument | None, str | None]:
    """A root document carried by the plan, its commitment recomputed; (None, why) if not."""
    try:
        root = parse_root_document(data)
        check_root_document(root)
    except InvalidProof as exc:
        return None, f"{where} is not a valid por-mst-v1 root document ({exc.message})"
    return root, None


def _remainder_problems(where: str, r: Remainder, distributable: int, total: int) -> list[str]:
    """R and the cutoff: the rule's name; R = 0 exactly when no cutoff (and when D = T);
    R < T; the cutoff's remainder 0 < r < T (every remainder is below T)."""
    units = int(r.units)
    out = []
    if r.rule != REMAINDER_RULE:
        out.append(f"{where}: remainder rule {r.rule!r} is not {REMAINDER_RULE}")
    if (units == 0) != (r.cutoff is None):
        out.append(f"{where}: {units} remainder units but cutoff {r.cutoff is not None}")
    if distributable == total and units:
        out.append(f"{where}: D = T leaves no remainder, the plan states {units}")
    if total and units >= total:
        out.append(f"{where}: {units} remainder units are not below T")
    if r.cutoff is not None and not 0 < int(r.cutoff.remainder) < max(total, 1):
        out.append(f"{where}: the cutoff's remainder is not between 0 and T")
    return out


def _claims_problems(plan: PlanFile, root: RootDocument) -> list[str]:
    claims = plan.claims
    out = []
    if root.commitment.hex() != claims.commitment:
        out.append("claims.root: its commitment is not claims.commitment")
    if (root.attestation_id, root.as_of) != (claims.attestation_id, claims.as_of):
        out.append("claims: attestation_id or as_of differs from the claims root's")
    listed = [(a.code, a.decimals) for a in plan.assets]
    if listed != [(a.code, a.decimals) for a in root.assets]:
        out.append(f"assets: codes and decimals {listed} are not the claims root's")
    sums = {a.code: str(s) for a, s in zip(root.assets, root.root.sums, strict=True)}
    if claims.totals != sums or any(sums.get(a.code) != a.total_claims for a in plan.assets):
        out.append("claims.totals and assets[].total_claims must be the claims root's sums")
    # the root does not carry the leaf count: its height bounds it (2^(h-1) < n <= 2^h)
    height = root.height
    if not (
        claims.customers <= 1 << height and (height == 0 or claims.customers > 1 << (height - 1))
    ):
        out.append(f"claims.customers {claims.customers} does not fit the claims tree's height")
    return out


def _estate_problems(plan: PlanFile) -> list[str]:
    estate = plan.estate
    out = []
    if (estate.policy, estate.sell_surplus) != (plan.policy, plan.sell_surplus):
        out.append("estate: policy and sell_surplus must be the plan's")
    if plan.sell_surplus and plan.policy != "mixed":
        out.append("sell_surplus applies to policy mixed only")
    if sorted(estate.assets) != sorted(a.code for a in plan.assets):
        out.append("estate.assets: not the plan's assets")
    for a in plan.assets:
        held = estate.assets.get(a.code)
        if held is None:
            continue
        if int(held.available) != int(held.on_chain) + int(held.recovered):
            out.append(f"estate.assets.{a.code}: available is not on_chain + recovered")
        if held.available != a.available:
            out.append(f"{a.code}: available {a.available} is not the estate's {held.available}")
    if int(estate.deductions_total) != sum(int(d.amount) for d in estate.deductions):
        out.append("estate: deductions_total is not the sum of the deductions")
    return out


def _sold_value(plan: PlanFile, a: AssetEntry) -> int:
    """What the asset puts into the fiat pool: all of A (fiat), the surplus (mixed with
    sell_surplus), else nothing."""
    if plan.valuation is None or a.code not in plan.valuation.prices:
        return 0
    r = rate(plan.valuation.prices[a.code], a.decimals, plan.valuation.currency_decimals)
    if plan.policy == "fiat":
        return math.floor(int(a.available) * r)
    if plan.policy == "mixed" and plan.sell_surplus:
        return math.floor(int(a.surplus) * r)
    return 0


def _policy_problems(plan: PlanFile) -> list[str]:
    out = []
    paid_in_kind = plan.policy != "fiat"
    valuation = plan.valuation
    for a in plan.assets:
        if a.in_kind != paid_in_kind:
            out.append(f"{a.code}: in_kind {a.in_kind} under policy {plan.policy}")
        out += _remainder_problems(a.code, a.remainder, int(a.distributable), int(a.total_claims))
        wanted = _sold_value(plan, a)
        if int(a.sold_value) != wanted:
            out.append(f"{a.code}: sold_value {a.sold_value} is not {wanted}")
        if plan.policy != "in-kind":
            price = None if valuation is None else valuation.prices.get(a.code)
            if price is None or (int(a.total_claims) and Decimal(price) == 0):
                out.append(f"{a.code}: policy {plan.policy} needs a price (above 0 when claimed)")
    if valuation is not None and set(valuation.prices) - {a.code for a in plan.assets}:
        out.append("valuation.prices: prices an asset the plan does not hold")
    if (plan.fiat is None) != (plan.policy == "in-kind"):
        out.append(f"fiat: {'missing' if plan.fiat is None else 'present'} under {plan.policy}")
    if plan.policy != "in-kind" and valuation is None:
        out.append(f"valuation: policy {plan.policy} needs one")
    return out


def _fiat_problems(plan: PlanFile, fiat: FiatEntry, height: int) -> list[str]:
    valuation = plan.valuation
    estate = plan.estate
    out = []
    if valuation is None or (fiat.currency, fiat.decimals) != (
        valuation.currency,
        valuation.currency_decimals,
    ):
        out.append("fiat: currency and decimals must be the valuation's")
        return out
    basis = "value" if plan.policy == "fiat" else "unpaid value"
    if fiat.basis != basis:
        out.append(f"fiat: basis {fiat.basis!r} is not {basis!r} under policy {plan.policy}")
    cash = sum(int(v) for v in (estate.fiat.recovered, estate.fiat.reserve, estate.fiat.insurance))
    if int(fiat.cash) != cash:
        out.append(f"fiat: cash {fiat.cash} is not the estate's fiat {cash}")
    if fiat.deductions != estate.deductions_total:
        out.append(f"fiat: deductions {fiat.deductions} are not the estate's")
    out += _remainder_problems(
        "fiat", fiat.remainder, int(fiat.distributable), int(fiat.claims_value)
    )
    # Σ_c floor(y_c) lies within (floor(Σ y_c) - customers, floor(Σ y_c)]: the claims value
    # of a plan is bound to the claims totals (no phantom creditor can double it)
    owed = Fraction(0)
    for a in plan.assets:
        price = valuation.prices.get(a.code)
        left = int(a.total_claims) - (int(a.distributed_total) if plan.policy == "mixed" else 0)
        if price is not None and left:
            owed += left * rate(price, a.decimals, fiat.decimals)
    top = math.floor(owed)
    if not top - (1 << height) < int(fiat.claims_value) <= top:
        out.append(
            f"fiat: claims_value {fiat.claims_value} is not the value of the claims "
            f"{'left unpaid in kind ' if plan.policy == 'mixed' else ''}({top}, less at most "
            "one minor unit per customer)"
        )
    return out


def _distribution_problems(plan: PlanFile, root: RootDocument, claims: RootDocument) -> list[str]:
    dist = plan.distribution
    out = []
    if root.attestation_id != dist.attestation_id:
        out.append("distribution.attestation_id is not its root's")
    if root.as_of != plan.claims.as_of or root.height != claims.height:
        out.append("distribution.root: as_of and height must be the claims'")
    columns = [(a.code, a.decimals) for a in plan.assets if a.in_kind]
    pools = {a.code: a.distributed_total for a in plan.assets if a.in_kind}
    if plan.fiat is not None:
        columns.append((plan.fiat.currency, plan.fiat.decimals))
        pools[plan.fiat.currency] = plan.fiat.distributed_total
    columns.sort(key=lambda c: c[0].encode())
    if [(a.code, a.decimals) for a in root.assets] != columns:
        out.append(
            f"distribution.root: its assets are not the assets paid in kind and the currency "
            f"({', '.join(c for c, _ in columns)})"
        )
    sums = {a.code: str(s) for a, s in zip(root.assets, root.root.sums, strict=True)}
    if dist.totals != sums:
        out.append("distribution.totals are not the distribution root's sums")
    wrong = [code for code, total in pools.items() if sums.get(code) != total]
    if wrong:
        out.append(
            f"the distribution root's sums are not the distributed totals of {', '.join(wrong)}"
        )
    return out


def consistency_problems(plan: PlanFile) -> list[str]:
    """Every figure the plan derives, against its own inputs (module docstring)."""
    claims_root, why = root_of(plan.claims.root, "claims.root")
    dist_root, why_dist = root_of(plan.distribution.root, "distribution.root")
    out = [w for w in (why, why_dist) if w]
    if claims_root is not None:
        out += _claims_problems(plan, claims_root)
    out += _estate_problems(plan)
    out += _policy_problems(plan)
    if plan.fiat is not None:
        out += _fiat_problems(plan, plan.fiat, claims_root.height if claims_root else 0)
    if dist_root is not None and claims_root is not None:
        out += _distribution_problems(plan, dist_root, claims_root)
    valuation = plan.valuation
    text = rules_text(
        plan.policy,
        plan.sell_surplus,
        None if valuation is None else valuation.currency,
        None if valuation is None else valuation.currency_decimals,
    )
    if plan.rules_text != text:
        out.append("rules_text is not the text of this plan's policy")
    return out


def plan_problems(plan: PlanFile) -> list[str]:
    """Both: the figures, then the consistency (for a check of the plan alone)."""
    return figure_problems(plan) + consistency_problems(plan)


__all__: Sequence[str] = [
    "REMAINDER_RULE",
    "consistency_problems",
    "figure_problems",
    "plan_problems",
    "rate",
    "ratio_of",
    "root_of",
    "rules_text",
]
