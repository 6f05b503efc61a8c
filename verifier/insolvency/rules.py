"""The distribution rule of an insolvency plan: who gets how much, in kind or in fiat.

Where it sits: the pure core of verifier/insolvency/. plan.py reads the claims register and
the estate, calls `plan_distribution` and writes what it returns; the customer's check
(`por insolvency verify`, the site's page) calls `share` with the figures the plan publishes.
Integers only: base units and minor units of the reporting currency; prices are exact
`Fraction`s; never a float. docs/spec/por-insolvency-v1.md states the rule in words.

Invariants (tests/unit/test_insolvency_rules.py checks each with hypothesis):

1. Per asset, T = Σ claims, A = available, D = min(A, T); the shares add up to exactly D,
   so never more than is available and all of it when the asset is short.
2. Customer c gets q_c = floor(x_c·D / T), plus one unit when it is among the first
   R = D − Σ q_c customers ordered by r_c = (x_c·D) mod T descending, then by its CLAIM-tree
   leaf hash (lowercase hex) ascending. A unit only goes where r_c > 0, so nobody gets more
   than their claim, and |d_c·T − x_c·D| < T: every ratio is equal within one base unit.
3. The cutoff (r, leaf hash of the R-th customer; None when R = 0) is enough for a customer
   to recompute their own share from their claim, D and T (`share`).
4. Never netted across assets: an asset's shares depend on that asset's claims and
   availability only. Fiat (`fiat` policy: everything valued and pooled; `mixed`: top-ups
   of what in kind left unpaid) is the same rule over minor units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from verifier.base.errors import InputError

REMAINDER_RULE = "largest-remainder/leaf-hash"
"""The name of the remainder rule, as plan.json states it."""

POLICIES = ("in-kind", "fiat", "mixed")
Policy = Literal["in-kind", "fiat", "mixed"]

_LEAF_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Cutoff:
    """The last customer to receive a remainder unit: compare (r_c, leaf hash) with it."""

    remainder: int
    """r of that customer: (x·D) mod T, 0 < remainder < T."""
    leaf_hash: str
    """Its claim-tree leaf hash, 64 lowercase hex digits."""


@dataclass(frozen=True, slots=True)
class Allocation:
    """One pool (an asset in kind, or the fiat pool) shared by the rule."""

    total: int
    """T: the claims on the pool (base or minor units)."""
    available: int
    """A: what the pool holds."""
    distributable: int
    """D = min(A, T)."""
    remainder_units: int
    """R = D − Σ floor(x·D/T): units handed out one each by the remainder order."""
    cutoff: Cutoff | None
    """The R-th customer in the remainder order; None when R = 0."""
    shares: tuple[int, ...]
    """Each customer's share, in the order of the claims given."""


def remainder_of(claim: int, distributable: int, total: int) -> int:
    """r = (claim·D) mod T, the key of the remainder order (0 when T is 0)."""
    return (claim * distributable) % total if total else 0


def share(claim: int, distributable: int, total: int, leaf_hash: str, cutoff: Cutoff | None) -> int:
    """A customer's share recomputed from published figures: their claim, D, T and the cutoff.

    Parameters
    ----------
    claim
        x_c, the customer's claim on the pool (base units in kind, minor units in fiat).
    distributable, total
        D and T of the pool, as the plan publishes them.
    leaf_hash
        The customer's claim-tree leaf hash (lowercase hex), from their claim proof.
    cutoff
        The plan's cutoff for the pool (None when no remainder unit was handed out).

    Returns
    -------
    int
        floor(x·D/T), plus one when (r_c, leaf hash) comes no later than the cutoff.
    """
    if total == 0:
        return 0
    base, rem = divmod(claim * distributable, total)
    if cutoff is None or rem == 0:
        return base
    ahead = rem > cutoff.remainder or (rem == cutoff.remainder and leaf_hash <= cutoff.leaf_hash)
    return base + 1 if ahead else base


def _checked_hashes(leaf_hashes: Sequence[str]) -> None:
    for leaf_hash in leaf_hashes:
        if not _LEAF_HASH.fullmatch(leaf_hash):
            raise InputError("a leaf hash must be 64 lowercase hex digits", value=leaf_hash)
    if len(set(leaf_hashes)) != len(leaf_hashes):
        raise InputError("two customers share a leaf hash: the remainder order needs them unique")


def _checked_amounts(claims: Sequence[int], available: int) -> None:
    if available < 0:
        raise InputError("available must not be negative", value=str(available))
    if claims and min(claims) < 0:
        raise InputError("a claim must not be negative", value=str(min(claims)))


@dataclass(frozen=True, slots=True)
class _Order:
    """The leaf-hash order of the customers, computed once for every pool of a plan."""

    hashes: Sequence[str]
    by_rank: list[int]
    """Customer index at each place of the ascending leaf-hash order."""
    tie: list[int]
    """Per customer: n − 1 − its place, so a larger value sorts first among equal remainders."""

    @classmethod
    def of(cls, leaf_hashes: Sequence[str]) -> _Order:
        by_rank = sorted(range(len(leaf_hashes)), key=leaf_hashes.__getitem__)
        tie = [0] * len(leaf_hashes)
        last = len(leaf_hashes) - 1
        for place, index in enumerate(by_rank):
            tie[index] = last - place
        return cls(leaf_hashes, by_rank, tie)


def _allocate(claims: Sequence[int], available: int, order: _Order) -> Allocation:
    """The rule over one pool; `claims` and `order` list the customers alike."""
    total = sum(claims)
    distributable = min(available, total)
    if distributable == total:  # paid in full (or nothing claimed): no remainder at all
        return Allocation(total, available, distributable, 0, None, tuple(claims))
    pairs = [divmod(claim * distributable, total) for claim in claims]
    shares = [base for base, _ in pairs]
    units = distributable - sum(shares)
    cutoff = None
    if units:
        # only customers with r > 0 can be among the first R: Σ r = R·T and every r < T.
        # One integer key per customer, r·n + tie, sorts as (r desc, leaf hash asc) when
        # sorted descending: a tuple key would cost several times more at a million.
        n = len(claims)
        tie = order.tie
        keys = [rem * n + tie[i] for i, (_, rem) in enumerate(pairs) if rem]
        keys.sort(reverse=True)
        last = n - 1
        for key in keys[:units]:
            shares[order.by_rank[last - key % n]] += 1
        edge = keys[units - 1]
        cutoff = Cutoff(edge // n, order.hashes[order.by_rank[last - edge % n]])
    return Allocation(total, available, distributable, units, cutoff, tuple(shares))


def plan_asset(claims: Sequence[tuple[str, int]], available: int) -> Allocation:
    """Share `available` among `claims` ((leaf hash, claim) per customer) by the rule.

    Raises
    ------
    InputError
        A negative claim or availability, a malformed or repeated leaf hash.
    """
    hashes = [leaf_hash for leaf_hash, _ in claims]
    amounts = [claim for _, claim in claims]
    _checked_hashes(hashes)
    _checked_amounts(amounts, available)
    return _allocate(amounts, available, _Order.of(hashes))


# ----------------------------------------------------------------------------- fiat values


def minor_per_unit(price: Decimal | Fraction, decimals: int, currency_decimals: int) -> Fraction:
    """Minor units of the currency per base unit of an asset: price·10^cur_dec / 10^dec.

    A `Decimal` price is taken exactly (Fraction of a finite Decimal never rounds).
    """
    exact = Fraction(price)
    if exact < 0:
        raise InputError("a price must not be negative", value=str(price))
    return exact * Fraction(10**currency_decimals, 10**decimals)


def values(columns: Sequence[Sequence[int]], rates: Sequence[Fraction]) -> list[int]:
    """Each customer's value in minor units: floor(Σ_a x_{c,a}·rate_a), one floor per customer.

    `columns` holds one sequence per asset (the customers in the same order in each);
    `rates` are `minor_per_unit` of each asset. One common denominator keeps the
    arithmetic in integers: floor(Σ x·n_a / L) with L the lcm of the rates' denominators.
    """
    if len(columns) != len(rates):
        raise InputError("one rate per asset is needed")
    count = len(columns[0]) if columns else 0
    common = math.lcm(*(rate.denominator for rate in rates)) if rates else 1
    scaled = [rate.numerator * (common // rate.denominator) for rate in rates]
    sums = [0] * count
    for column, factor in zip(columns, scaled, strict=True):
        if factor:
            sums = [acc + x * factor for acc, x in zip(sums, column, strict=True)]
    return [acc // common for acc in sums]


def value_of(units: int, rate: Fraction) -> int:
    """floor(units·rate): the value of one amount of one asset, in minor units."""
    return math.floor(units * rate)


# ----------------------------------------------------------------------------- the estate


@dataclass(frozen=True, slots=True)
class PoolAsset:
    """One asset of the estate as the rule sees it."""

    code: str
    decimals: int
    available: int
    """A: base units the administrator holds for customers (on chain plus recovered)."""
    rate: Fraction | None
    """Minor units of the currency per base unit (`minor_per_unit`); None without a price."""


@dataclass(frozen=True, slots=True)
class AssetOutcome:
    """What the plan does with one asset."""

    code: str
    decimals: int
    in_kind: bool
    """True when the asset is paid in kind (policies in-kind and mixed)."""
    allocation: Allocation
    """The in-kind shares (in policy fiat: D = 0, every share 0, the asset is sold)."""
    surplus: int
    """A − D: units beyond the claims (in policy fiat: all of A, sold)."""
    sold_value: int
    """Minor units this asset put into the fiat pool (0 unless sold)."""


@dataclass(frozen=True, slots=True)
class FiatOutcome:
    """The fiat pool and its shares."""

    basis: Literal["value", "unpaid value"]
    """fiat: each customer's claim value; mixed: the value of what in kind left unpaid."""
    cash: int
    """Fiat of the estate before deductions, in minor units (recovered, reserve, insurance)."""
    sold: int
    """Minor units from assets sold into the pool."""
    deductions: int
    """Costs and priority deductions, in minor units."""
    pool: int
    """max(0, cash + sold − deductions): A of the fiat pool."""
    claims: tuple[int, ...]
    """Each customer's claim on the pool (v_c or s_c), minor units."""
    allocation: Allocation


@dataclass(frozen=True, slots=True)
class DistributionPlan:
    policy: Policy
    sell_surplus: bool
    assets: tuple[AssetOutcome, ...]
    fiat: FiatOutcome | None
    """None in policy in-kind (the estate's fiat is not distributed by this plan)."""


def _rates(assets: Sequence[PoolAsset], policy: str) -> list[Fraction]:
    rates = []
    for asset in assets:
        if asset.rate is None:
            raise InputError(
                f"policy {policy} values every asset: {asset.code} has no price",
                key=f"prices.{asset.code}",
            )
        rates.append(asset.rate)
    return rates


def plan_distribution(
    leaf_hashes: Sequence[str],
    columns: Sequence[Sequence[int]],
    assets: Sequence[PoolAsset],
    *,
    policy: Policy,
    sell_surplus: bool = False,
    cash: int = 0,
    deductions: int = 0,
) -> DistributionPlan:
    """The whole distribution: per asset in kind, then the fiat pool, as the policy says.

    Parameters
    ----------
    leaf_hashes
        Each customer's claim-tree leaf hash; the customers' order of every column.
    columns
        Per asset (in the order of `assets`), each customer's claim in base units.
    assets
        The estate's assets: availability and, for fiat and mixed, the rate.
    policy, sell_surplus
        in-kind, fiat or mixed; `sell_surplus` (mixed only) sells each asset's surplus
        into the fiat pool, the only way one asset's surplus reaches another's shortfall.
    cash, deductions
        The estate's fiat before and the costs and priority deductions, in minor units.
    """
    if policy not in POLICIES:
        raise InputError(f"policy must be one of {', '.join(POLICIES)}", value=str(policy))
    if sell_surplus and policy != "mixed":
        raise InputError("sell_surplus applies to policy mixed only", key="sell_surplus")
    if cash < 0 or deductions < 0:
        raise InputError("fiat amounts must not be negative")
    if len(columns) != len(assets):
        raise InputError("one claims column per asset is needed")
    in_kind = policy != "fiat"
    rates = _rates(assets, policy) if policy != "in-kind" else []
    _checked_hashes(leaf_hashes)
    order = _Order.of(leaf_hashes)
    outcomes = []
    sold = 0
    for index, (asset, column) in enumerate(zip(assets, columns, strict=True)):
        if len(column) != len(leaf_hashes):
            raise InputError(f"the claims of {asset.code} do not list every customer")
        _checked_amounts(column, asset.available)
        allocation = _allocate(column, asset.available if in_kind else 0, order)
        surplus = asset.available - allocation.distributable
        value = 0
        if policy == "fiat" or (sell_surplus and surplus):
            value = value_of(surplus, rates[index])
        sold += value
        outcomes.append(
            AssetOutcome(asset.code, asset.decimals, in_kind, allocation, surplus, value)
        )
    if policy == "in-kind":
        return DistributionPlan(policy, sell_surplus, tuple(outcomes), None)
    if policy == "fiat":
        basis: Literal["value", "unpaid value"] = "value"
        owed = values(columns, rates)
    else:
        basis = "unpaid value"
        unpaid = [
            [x - d for x, d in zip(column, outcome.allocation.shares, strict=True)]
            for column, outcome in zip(columns, outcomes, strict=True)
        ]
        owed = values(unpaid, rates)
    pool = max(0, cash + sold - deductions)
    allocation = _allocate(owed, pool, order)
    fiat = FiatOutcome(basis, cash, sold, deductions, pool, tuple(owed), allocation)
    return DistributionPlan(policy, sell_surplus, tuple(outcomes), fiat)
