"""The distribution rule (verifier/insolvency/rules.py): small estates computed by hand, and
the invariants of the rule as hypothesis properties (Σ = min(A, T), nobody above their claim,
ratios equal within one base unit, the customer's own recomputation, never netted)."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from verifier.base.errors import InputError
from verifier.insolvency.rules import (
    Cutoff,
    PoolAsset,
    minor_per_unit,
    plan_asset,
    plan_distribution,
    share,
    values,
)

H1, H2, H3 = "11" * 32, "22" * 32, "33" * 32
"""Three leaf hashes in ascending order: a, b, c."""


# ----------------------------------------------------------------------------- by hand


def test_one_asset_short_one_in_surplus_never_netted() -> None:
    # BTC: claims 5, 3, 2 (T = 10), 7 available: x·D = 35, 21, 14 -> floors 3, 2, 1 (6),
    # remainders 5, 1, 4; R = 1 goes to a (largest remainder). ETH: claims 1 each, 10
    # available: everyone paid in full, 7 surplus that never reaches BTC.
    plan = plan_distribution(
        [H1, H2, H3],
        [[5, 3, 2], [1, 1, 1]],
        [PoolAsset("BTC", 8, 7, None), PoolAsset("ETH", 18, 10, None)],
        policy="in-kind",
        cash=1000,
    )
    btc, eth = plan.assets
    assert btc.allocation.shares == (4, 2, 1)
    assert (btc.allocation.total, btc.allocation.distributable, btc.surplus) == (10, 7, 0)
    assert btc.allocation.remainder_units == 1
    assert btc.allocation.cutoff == Cutoff(5, H1)
    assert eth.allocation.shares == (1, 1, 1)
    assert (eth.allocation.distributable, eth.surplus, eth.sold_value) == (3, 7, 0)
    assert eth.allocation.cutoff is None
    assert plan.fiat is None  # in kind: the estate's fiat is not distributed by the plan


def test_ties_in_the_remainder_go_by_leaf_hash() -> None:
    # claims 1, 1, 1, 2 available: every x·D = 2, floor 0, remainder 2; R = 2 -> the two
    # smallest leaf hashes (given out of order here)
    allocation = plan_asset([(H3, 1), (H1, 1), (H2, 1)], 2)
    assert allocation.shares == (0, 1, 1)
    assert allocation.cutoff == Cutoff(2, H2)
    assert share(1, 2, 3, H3, allocation.cutoff) == 0
    assert share(1, 2, 3, H2, allocation.cutoff) == 1


# AAA: 2 decimals, price 1.5 with 2 currency decimals -> 1.5 minor units per base unit.
# BBB: 0 decimals, price 10 -> 1000 minor units per unit.
AAA = minor_per_unit(Decimal("1.5"), 2, 2)
BBB = minor_per_unit(Decimal("10"), 0, 2)
CLAIMS = [[3, 1, 0], [1, 0, 2]]  # a: AAA 3, BBB 1; b: AAA 1; c: BBB 2


def test_rates_are_exact() -> None:
    assert Fraction(3, 2) == AAA and Fraction(1000) == BBB


def test_fiat_by_hand() -> None:
    # values: a floor(4.5 + 1000) = 1004, b floor(1.5) = 1, c 2000; T = 3005.
    # pool: cash 500 + AAA 2·1.5 = 3 + BBB 1·1000 - deductions 200 = 1303 = D.
    # a: 1004·1303 = 1308212 = 435·3005 + 1037; b: 1303 = 0·3005 + 1303;
    # c: 2000·1303 = 2606000 = 867·3005 + 665. Floors 1302, R = 1 -> b (remainder 1303).
    plan = plan_distribution(
        [H1, H2, H3],
        CLAIMS,
        [PoolAsset("AAA", 2, 2, AAA), PoolAsset("BBB", 0, 1, BBB)],
        policy="fiat",
        cash=500,
        deductions=200,
    )
    assert [a.in_kind for a in plan.assets] == [False, False]
    assert [a.allocation.shares for a in plan.assets] == [(0, 0, 0), (0, 0, 0)]
    assert [a.sold_value for a in plan.assets] == [3, 1000]
    fiat = plan.fiat
    assert fiat is not None
    assert fiat.claims == (1004, 1, 2000)
    assert (fiat.sold, fiat.pool, fiat.allocation.total) == (1003, 1303, 3005)
    assert fiat.allocation.shares == (435, 1, 867)
    assert fiat.allocation.cutoff == Cutoff(1303, H2)


def test_mixed_by_hand() -> None:
    # in kind: AAA T = 4, A = 2: x·D 6, 2, 0 -> floors 1, 0, 0, remainders 2, 2, 0; R = 1 ->
    # a (tie at 2, smaller leaf hash). BBB T = 3, A = 1: remainders 1, 0, 2 -> c.
    # unpaid: a AAA 1 + BBB 1 = floor(1.5 + 1000) = 1001, b AAA 1 = 1, c BBB 1 = 1000;
    # T = 2002, pool 500 - 200 = 300: a 300300 = 150·2002 exactly, b 300, c 300000 =
    # 149·2002 + 1702; R = 1 -> c.
    plan = plan_distribution(
        [H1, H2, H3],
        CLAIMS,
        [PoolAsset("AAA", 2, 2, AAA), PoolAsset("BBB", 0, 1, BBB)],
        policy="mixed",
        cash=500,
        deductions=200,
    )
    aaa, bbb = plan.assets
    assert (aaa.allocation.shares, aaa.allocation.cutoff) == ((2, 0, 0), Cutoff(2, H1))
    assert (bbb.allocation.shares, bbb.allocation.cutoff) == ((0, 0, 1), Cutoff(2, H3))
    fiat = plan.fiat
    assert fiat is not None and fiat.basis == "unpaid value"
    assert fiat.claims == (1001, 1, 1000)
    assert (fiat.pool, fiat.allocation.shares) == (300, (150, 0, 150))
    assert fiat.allocation.cutoff == Cutoff(1702, H3)


def test_mixed_sells_a_surplus_only_when_the_estate_says_so() -> None:
    assets = [PoolAsset("AAA", 2, 2, AAA), PoolAsset("BBB", 0, 4, BBB)]
    kept = plan_distribution([H1, H2, H3], CLAIMS, assets, policy="mixed", cash=300)
    sold = plan_distribution(
        [H1, H2, H3], CLAIMS, assets, policy="mixed", cash=300, sell_surplus=True
    )
    # BBB: 3 claimed, 4 held: 1 surplus, worth 1000 minor units when sold
    assert kept.assets[1].sold_value == 0 and kept.fiat is not None and kept.fiat.pool == 300
    assert sold.assets[1].sold_value == 1000 and sold.fiat is not None
    assert sold.fiat.pool == 1300
    # unpaid AAA only: a 1 unit (floor 1.5 = 1), b 1 unit (1): both paid in full by the pool
    assert sold.fiat.claims == (1, 1, 0) and sold.fiat.allocation.shares == (1, 1, 0)
    assert [a.allocation.shares for a in sold.assets] == [(2, 0, 0), (1, 0, 2)]


def test_costs_beyond_the_fiat_pool_leave_it_empty() -> None:
    plan = plan_distribution(
        [H1], [[1]], [PoolAsset("AAA", 2, 0, AAA)], policy="mixed", cash=5, deductions=9
    )
    assert plan.fiat is not None and plan.fiat.pool == 0
    assert plan.fiat.allocation.shares == (0,)


@pytest.mark.parametrize(
    ("claims", "available", "why"),
    [
        ([(H1, -1)], 1, "negative"),
        ([(H1, 1)], -1, "negative"),
        ([(H1, 1), (H1, 2)], 1, "share a leaf hash"),
        ([("AB" * 32, 1)], 1, "lowercase hex"),
    ],
)
def test_hostile_pools_refused(claims: list[tuple[str, int]], available: int, why: str) -> None:
    with pytest.raises(InputError, match=why):
        plan_asset(claims, available)


def test_fiat_needs_every_price() -> None:
    with pytest.raises(InputError, match="AAA has no price"):
        plan_distribution([H1], [[1]], [PoolAsset("AAA", 2, 1, None)], policy="fiat")


def test_sell_surplus_is_for_mixed_only() -> None:
    with pytest.raises(InputError, match="mixed only"):
        plan_distribution(
            [H1], [[1]], [PoolAsset("AAA", 2, 1, AAA)], policy="fiat", sell_surplus=True
        )


# ----------------------------------------------------------------------------- properties

hashes = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True).map(
    lambda raw: [h.hex() for h in raw]
)
amounts = st.one_of(st.integers(0, 20), st.integers(0, 2**128 - 1))


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[tuple[str, int]], int]:
    leaves = draw(hashes)
    claims = [(h, draw(amounts)) for h in leaves]
    total = sum(c for _, c in claims)
    available = draw(st.one_of(st.integers(0, total + 5), amounts))
    return claims, available


@settings(max_examples=300)
@given(pools())
@example(([("00" * 32, 1), ("01" * 32, 1), ("02" * 32, 1)], 2))
@example(([("00" * 32, 0)], 5))
def test_the_rule_holds(pool: tuple[list[tuple[str, int]], int]) -> None:
    claims, available = pool
    allocation = plan_asset(claims, available)
    total = sum(c for _, c in claims)
    d = min(available, total)
    assert allocation.distributable == d and allocation.total == total
    assert sum(allocation.shares) == d
    for (leaf, claim), got in zip(claims, allocation.shares, strict=True):
        assert 0 <= got <= claim
        if total:
            assert abs(got * total - claim * d) < total  # equal ratio within one base unit
        assert share(claim, d, total, leaf, allocation.cutoff) == got
    assert (allocation.cutoff is None) == (allocation.remainder_units == 0)


@settings(max_examples=100)
@given(pools(), st.randoms(use_true_random=False))
def test_order_of_customers_does_not_matter(
    pool: tuple[list[tuple[str, int]], int], rnd: random.Random
) -> None:
    claims, available = pool
    first = plan_asset(claims, available)
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    second = plan_asset(shuffled, available)
    assert dict(zip((h for h, _ in claims), first.shares, strict=True)) == dict(
        zip((h for h, _ in shuffled), second.shares, strict=True)
    )
    assert first.cutoff == second.cutoff


@st.composite
def estates(draw: st.DrawFn) -> tuple[list[str], list[list[int]], list[int], list[int]]:
    leaves = draw(hashes)
    columns = [[draw(st.integers(0, 10**6)) for _ in leaves] for _ in range(2)]
    available = [draw(st.integers(0, 2 * sum(col) + 1)) for col in columns]
    other = [draw(st.integers(0, 2 * sum(col) + 1)) for col in columns]
    return leaves, columns, available, other


RATES = [Fraction(3, 2), Fraction(7, 3)]


@settings(max_examples=100)
@given(estates(), st.sampled_from(["in-kind", "mixed"]), st.booleans())
def test_never_netted_across_assets(
    estate: tuple[list[str], list[list[int]], list[int], list[int]], policy: str, sell: bool
) -> None:
    # asset B's availability changes; no one's asset A share does (in mixed, only the fiat
    # top-ups may change, as the spec states)
    leaves, columns, available, other = estate
    sell = sell and policy == "mixed"

    def run(b_available: int) -> tuple[int, ...]:
        assets = [
            PoolAsset("A", 0, available[0], RATES[0]),
            PoolAsset("B", 0, b_available, RATES[1]),
        ]
        plan = plan_distribution(
            leaves,
            columns,
            assets,
            policy=policy,
            sell_surplus=sell,
            cash=10,  # type: ignore[arg-type]
        )
        return plan.assets[0].allocation.shares

    assert run(available[1]) == run(other[1])


@settings(max_examples=100)
@given(estates(), st.sampled_from(["fiat", "mixed"]), st.integers(0, 10**7))
def test_fiat_pool_holds_the_rule(
    estate: tuple[list[str], list[list[int]], list[int], list[int]], policy: str, cash: int
) -> None:
    leaves, columns, available, _ = estate
    assets = [PoolAsset(code, 0, a, r) for code, a, r in zip("AB", available, RATES, strict=True)]
    plan = plan_distribution(leaves, columns, assets, policy=policy, cash=cash)  # type: ignore[arg-type]
    fiat = plan.fiat
    assert fiat is not None
    unpaid = [
        [x - d for x, d in zip(col, out.allocation.shares, strict=True)]
        for col, out in zip(columns, plan.assets, strict=True)
    ]
    assert list(fiat.claims) == values(unpaid, RATES)
    assert sum(fiat.allocation.shares) == min(fiat.pool, sum(fiat.claims))
    for leaf, owed, got in zip(leaves, fiat.claims, fiat.allocation.shares, strict=True):
        assert got <= owed
        assert (
            share(
                owed,
                fiat.allocation.distributable,
                fiat.allocation.total,
                leaf,
                fiat.allocation.cutoff,
            )
            == got
        )
    assert plan == plan_distribution(leaves, columns, assets, policy=policy, cash=cash)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(0, 10**30), st.integers(0, 10**30)), max_size=20))
def test_values_are_one_floor_of_the_exact_sum(rows: list[tuple[int, int]]) -> None:
    columns = [[a for a, _ in rows], [b for _, b in rows]]
    got = values(columns, RATES)
    for (a, b), value in zip(rows, got, strict=True):
        exact = a * RATES[0] + b * RATES[1]
        assert value <= exact < value + 1


def _reference(claims: list[tuple[str, int]], available: int) -> list[int]:
    """The rule as the spec words it, the slow way: floors, then R units by a tuple sort."""
    total = sum(c for _, c in claims)
    d = min(available, total)
    if total == 0:
        return [0] * len(claims)
    shares = [c * d // total for _, c in claims]
    order = sorted(range(len(claims)), key=lambda i: (-(claims[i][1] * d % total), claims[i][0]))
    for i in order[: d - sum(shares)]:
        shares[i] += 1
    return shares


@settings(max_examples=200)
@given(pools())
def test_the_fast_order_is_the_spec_order(pool: tuple[list[tuple[str, int]], int]) -> None:
    claims, available = pool
    assert list(plan_asset(claims, available).shares) == _reference(claims, available)
