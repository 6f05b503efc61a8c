"""The stress engine on hand-computed figures (tests/unit/stress_fixture.py; docs/stress.md).

Each case is the issue's list: a hot-wallet loss paid from cash; one needing insurance with
its deductible and its cap; one beyond everything; a per-occurrence limit hit by two events;
an excluded peril; a price shock turning a surplus into a shortfall in one asset only.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import BTC, ETH, base, scenario

from verifier.base.errors import InputError
from verifier.stress.engine import ScenarioResult, evaluate

HOT_ETH = '[[scenarios.shocks]]\nkind = "loss"\nwallet = "ethereum.wallets[1]"\n'
COLD_ETH = '[[scenarios.shocks]]\nkind = "loss"\nwallet = "ethereum.wallets[0]"\n'


def paid(result: ScenarioResult) -> dict[str, Decimal]:
    return {p.kind: p.paid for p in result.payers if p.kind != "surplus"}


def asset(result: ScenarioResult, code: str):  # type: ignore[no-untyped-def]
    return next(a for a in result.assets if a.code == code)


def test_hot_wallet_loss_paid_from_cash() -> None:
    # 40 of 100 hot ETH (4,000 JPY); ETH has no surplus; cash 5,000 buys all 40 back at once
    r = evaluate(base(), scenario(HOT_ETH + 'share = "0.4"\n'))
    eth = asset(r, "ETH")
    assert eth.loss_units == 40 * ETH and eth.paid_units == 40 * ETH and eth.made_whole
    assert paid(r) == {"cash": Decimal(4000), "insurance": 0, "guarantee": 0}
    assert r.made_whole and r.time_to_pay_days == 0
    assert asset(r, "BTC").loss_units == 0 and asset(r, "BTC").paid_units == 0


def test_loss_needing_insurance_pays_above_the_deductible() -> None:
    # all hot ETH: 10,000; cash 5,000; the policy owes 10,000 - 2,000 = 8,000, pays 5,000
    r = evaluate(base(), scenario(HOT_ETH))
    policy = next(p for p in r.payers if p.kind == "insurance")
    assert policy.available == 8000 and policy.paid == 5000
    assert r.made_whole and r.time_to_pay_days == 30  # the policy's claim_days


def test_insurance_cap_then_the_guarantee() -> None:
    # hot ETH (10,000) + 20% of cold ETH (180 ETH, 18,000) = 28,000; cash 5,000; the policy
    # owes min(20,000, 28,000 - 2,000) = 20,000 (its cap); the guarantee pays 3,000
    r = evaluate(base(), scenario(HOT_ETH + COLD_ETH + 'share = "0.2"\n'))
    assert paid(r) == {"cash": 5000, "insurance": 20000, "guarantee": 3000}
    assert r.made_whole and r.time_to_pay_days == 30


def test_loss_beyond_everything() -> None:
    # half the cold ETH: 450 ETH = 45,000; 5,000 + 20,000 + 10,000 = 35,000 pay 350 ETH
    r = evaluate(base(), scenario(COLD_ETH + 'share = "0.5"\n'))
    eth = asset(r, "ETH")
    assert eth.uncovered_units == 100 * ETH and r.uncovered_value == 10000
    assert eth.coverage_after == Decimal("0.9") and not r.made_whole
    assert asset(r, "BTC").made_whole  # BTC's surplus is never spent on ETH


def test_per_occurrence_limit_hit_by_two_events() -> None:
    # two events, each 30% of the cold ETH (270 ETH = 27,000): each claim min(20,000, 25,000)
    two = (COLD_ETH + 'share = "0.3"\nevent = "e1"\n') + (
        COLD_ETH + 'share = "0.3"\nevent = "e2"\n'
    )
    r = evaluate(base("per_occurrence"), scenario(two))
    policy = next(p for p in r.payers if p.kind == "insurance")
    assert [c[2] for c in policy.claims] == [20000, 20000] and policy.available == 40000
    # gap 54,000: cash 5,000 + insurance 40,000 + guarantee 9,000
    assert paid(r) == {"cash": 5000, "insurance": 40000, "guarantee": 9000} and r.made_whole
    # aggregate: one 20,000 for both events; 19,000 (190 ETH) stays uncovered
    r = evaluate(base("aggregate"), scenario(two))
    policy = next(p for p in r.payers if p.kind == "insurance")
    assert [c[2] for c in policy.claims] == [20000, 0]
    assert asset(r, "ETH").uncovered_units == 190 * ETH and not r.made_whole


def test_excluded_peril_pays_nothing() -> None:
    r = evaluate(base(), scenario(HOT_ETH + 'peril = "insider"\n'))
    policy = next(p for p in r.payers if p.kind == "insurance")
    assert policy.available == 0 and any("excluded" in n for n in policy.notes)
    # cash 5,000 + guarantee 5,000: whole, in the guarantee's 5 days
    assert paid(r) == {"cash": 5000, "insurance": 0, "guarantee": 5000}
    assert r.made_whole and r.time_to_pay_days == 5


NO_INSURANCE = (
    '[[scenarios.shocks]]\nkind = "insurer_default"\npays = "none"\n'
    '[[scenarios.shocks]]\nkind = "guarantee_default"\nissuer = "Bank"\n'
)
BTC_LOSS = (
    '[[scenarios.shocks]]\nkind = "loss"\nwallet = "bitcoin.wallets[1]"\n'
    '[[scenarios.shocks]]\nkind = "loss"\nwallet = "bitcoin.wallets[0]"\nshare = "0.05"\n'
)


def test_price_shock_turns_a_surplus_into_a_shortfall_in_one_asset_only() -> None:
    # 15 BTC lost; the 10 BTC surplus absorbs 10; cash 5,000 buys the other 5 at 1,000
    r = evaluate(base(), scenario(BTC_LOSS + NO_INSURANCE))
    assert asset(r, "BTC").surplus_units == 10 * BTC and r.made_whole
    # BTC +50%: 5,000 buys 3.33333333 BTC; 1.66666667 BTC stay uncovered; ETH untouched
    up = '[[scenarios.shocks]]\nkind = "price"\nasset = "BTC"\nchange = "0.5"\n'
    r = evaluate(base(), scenario(BTC_LOSS + NO_INSURANCE + up))
    btc, eth = asset(r, "BTC"), asset(r, "ETH")
    assert btc.paid_units == 333333333 and btc.uncovered_units == 166666667
    assert btc.price_after == 1500 and not btc.made_whole
    assert eth.uncovered_units == 0 and eth.coverage_after == eth.coverage_before == 1


def test_own_units_lost_reduce_no_backing() -> None:
    b = base()
    own = b.wallets[1].__class__(
        **{
            **{f: getattr(b.wallets[1], f) for f in b.wallets[1].__slots__},
            "customer": {},
            "own": {"BTC": 10 * BTC},
        }
    )
    b2 = b.__class__(
        **{
            **{f: getattr(b, f) for f in b.__slots__},
            "wallets": (b.wallets[0], own, *b.wallets[2:]),
        }
    )
    r = evaluate(
        b2, scenario('[[scenarios.shocks]]\nkind = "loss"\nwallet = "bitcoin.wallets[1]"\n')
    )
    btc = asset(r, "BTC")
    assert btc.loss_units == 0 and btc.own_loss_units == 10 * BTC and r.made_whole


def test_largest_picks_one_wallet_by_value() -> None:
    r = evaluate(
        base(),
        scenario(
            '[[scenarios.shocks]]\nkind = "loss"\nvendor = "signco"\n'
            'largest = true\nshare = "0.01"\n'
        ),
    )
    # cold BTC 100,000 JPY vs cold ETH 90,000: the BTC wallet
    assert {loss.wallet.key for loss in r.losses} == {"bitcoin.wallets[0]"}


@pytest.mark.parametrize(
    ("shocks", "says"),
    [
        ('[[scenarios.shocks]]\nkind = "loss"\nvendor = "nobody"\n', "selects no wallet"),
        ('[[scenarios.shocks]]\nkind = "price"\nasset = "DOGE"\nchange = "0.1"\n', "DOGE"),
        ('[[scenarios.shocks]]\nkind = "cash_frozen"\ncash = "nope"\n', "no counted cash"),
        (
            '[[scenarios.shocks]]\nkind = "insurer_default"\npolicy = "x"\npays = "none"\n',
            "no insurance policy",
        ),
    ],
)
def test_a_shock_matching_nothing_is_refused(shocks: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as info:
        evaluate(base(), scenario(shocks))
    assert info.value.key == "scenarios[0].shocks[0]" and info.value.exit_code == 3


def test_frozen_cash_and_late_insurer() -> None:
    # cash half frozen: 2,500; the policy pays 7,500 of its 8,000, 10 days late (40 days)
    shocks = HOT_ETH + (
        '[[scenarios.shocks]]\nkind = "cash_frozen"\nholder = "Trust Bank"\nshare = "0.5"\n'
        '[[scenarios.shocks]]\nkind = "insurer_default"\ninsurer = "Insurer"\ndelay_days = 10\n'
    )
    r = evaluate(base(), scenario(shocks))
    assert paid(r) == {"cash": 2500, "insurance": 7500, "guarantee": 0}
    assert r.time_to_pay_days == 40 and r.made_whole


def test_wallet_metadata_of_reports_with_the_split() -> None:
    """A report with issue 14's wallet keys: a mixed wallet's customer_units back customers
    and its own_units do not; an own wallet (customer_units as its balances there) backs
    nothing, and its loss is own."""
    from stress_fixture import report, statement

    from verifier.stress.base import stress_base

    doc = report()
    hot = doc["wallets"][1]
    hot["counted_as"] = "customer backing; declared own coins: own, not credited"
    hot["customer_units"], hot["own_units"] = {"BTC": str(6 * BTC)}, {"BTC": str(4 * BTC)}
    doc["assets"][0]["holdings"]["base_units"] = str(106 * BTC)
    doc["wallets"].append(
        {**doc["wallets"][0], "wallet": "bitcoin.wallets[2]", "label": "buffer",
         "address": "bc1own", "counted_as": "own buffer",
         "balances": {"BTC": {"base_units": str(5 * BTC)}},
         "customer_units": {"BTC": str(5 * BTC)}, "own_units": {"BTC": "0"}}
    )  # fmt: skip
    b = stress_base(doc, statement(), source="r")
    assert b.warnings == ()
    r = evaluate(
        b, scenario('[[scenarios.shocks]]\nkind = "loss"\nchain = "bitcoin"\nclass = "hot"\n')
    )
    btc = asset(r, "BTC")
    assert btc.loss_units == 6 * BTC and btc.own_loss_units == 4 * BTC and r.made_whole
    r = evaluate(b, scenario('[[scenarios.shocks]]\nkind = "loss"\nlabel = "buffer"\n'))
    assert asset(r, "BTC").loss_units == 0 and asset(r, "BTC").own_loss_units == 5 * BTC
