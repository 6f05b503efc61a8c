"""The stress engine after an outside review (issue 14), on tests/unit/stress_fixture.py.

Losses on one balance do not depend on the order of the shocks: each shock asks
``floor(part × share)``; shocks asking more than a balance holds are scaled down pro rata to
exactly the balance (the units the floors leave go to the largest remainders, ties by the
shock's content). Within the balance, a larger share never leaves less uncovered.

Hand figures (BTC owed 100 and held 100, so no BTC surplus; the hot BTC wallet holds 10 BTC at
1,000 JPY; 99% of the 5,000 cash frozen, the guarantee defaulted; the policy covers hack in
hot wallets, excludes insider, deductible 2,000):

- 60% hack + 60% insider of hot BTC ask 12 BTC of 10: each takes 5 BTC, in either order.
  Insurance 5,000 − 2,000 = 3,000; cash 50; uncovered 10,000 − 3,050 = 6,950 JPY (6.95 BTC).
  File order used to decide it: hack first 5,950, insider first 7,950 (the tester's
  ord_hf/ord_if).
- the tester's grow2: 5% hack + 90% insider (9.5 BTC lost) leaves 9,450 JPY uncovered. 50%
  hack + 90% insider ask 14 BTC of 10: hack takes floor(10e8 × 5/14) = 357,142,857 units,
  insider 642,857,142 + the one unit the floors leave (its remainder is larger); insurance
  3,571.42857 − 2,000; 8,378.57143 JPY uncovered. A larger share of an insured peril in a
  balance lost whole moves loss to that peril: outside the monotone property, which holds
  while the shocks ask no more than the balance (hack 10% + insider 90%: 9,950 ≥ 9,450).
"""

from __future__ import annotations

import io
import itertools
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import BTC, base, report, scenario, statement

from verifier.base.console import PorConsole
from verifier.base.errors import InputError
from verifier.stress.base import StressBase, stress_base
from verifier.stress.engine import Payer, ScenarioResult, _pro_rata, evaluate
from verifier.stress.scenario import Scenario

FROZEN = """
[[scenarios.shocks]]
kind = "cash_frozen"
cash = "trust"
share = "0.99"

[[scenarios.shocks]]
kind = "guarantee_default"
guarantee = "standby"
"""


def hot_btc(*shares: tuple[str, str]) -> Scenario:
    """Losses of the hot BTC wallet, (share, peril) each in this order, money mostly gone."""
    shocks = "".join(
        f'[[scenarios.shocks]]\nkind = "loss"\nwallet = "bitcoin.wallets[1]"\n'
        f'share = "{share}"\nperil = "{peril}"\n'
        for share, peril in shares
    )
    return scenario(shocks + FROZEN)


def figures(r: ScenarioResult) -> tuple[object, ...]:
    """Everything a scenario's outcome says, losses as a multiset (they are listed in file
    order)."""
    losses = Counter(
        (x.wallet.key, x.asset, x.units, x.customer_units, x.own_units, x.peril, x.event)
        for x in r.losses
    )
    return (r.assets, r.payers, r.uncovered_value, r.time_to_pay_days, losses)


def test_the_testers_order_counterexample_gives_one_answer() -> None:
    b = base(btc_held=100 * BTC)
    hack_first = evaluate(b, hot_btc(("0.6", "hack"), ("0.6", "insider")))
    insider_first = evaluate(b, hot_btc(("0.6", "insider"), ("0.6", "hack")))
    assert figures(hack_first) == figures(insider_first)
    assert sorted(x.units for x in hack_first.losses) == [5 * BTC, 5 * BTC]
    assert hack_first.uncovered_value == Decimal(6950)
    crime = next(p for p in hack_first.payers if p.name == "crime")
    assert crime.paid == Decimal(3000)


def test_the_testers_grow2_figures() -> None:
    b = base(btc_held=100 * BTC)
    small = evaluate(b, hot_btc(("0.05", "hack"), ("0.9", "insider")))
    assert small.uncovered_value == Decimal(9450)
    bigger = evaluate(b, hot_btc(("0.5", "hack"), ("0.9", "insider")))
    taken = {x.peril: x.units for x in bigger.losses}
    assert taken == {"hack": 357_142_857, "insider": 642_857_143}
    assert bigger.uncovered_value == Decimal("8378.57143")
    assert figures(bigger) == figures(evaluate(b, hot_btc(("0.9", "insider"), ("0.5", "hack"))))
    within = evaluate(b, hot_btc(("0.1", "hack"), ("0.9", "insider")))
    assert within.uncovered_value == Decimal(9950) >= small.uncovered_value


def test_pro_rata_by_hand() -> None:
    assert _pro_rata(10, [(4, ("a",)), (5, ("b",))]) == [4, 5]  # asks fit: as asked
    assert _pro_rata(10, [(6, ("a",)), (6, ("b",))]) == [5, 5]
    assert _pro_rata(10, [(6, ("b",)), (6, ("a",)), (6, ("c",))]) == [3, 4, 3]  # tie: "a"
    assert _pro_rata(0, [(0, ("a",))]) == [0]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**6), min_size=1, max_size=5))
def test_pro_rata_never_more_than_the_balance_nor_the_ask(full: int, asks: list[int]) -> None:
    keyed = [(ask, (str(i),)) for i, ask in enumerate(asks)]
    takes = _pro_rata(full, keyed)
    assert all(0 <= t <= a for t, a in zip(takes, asks, strict=True))
    assert sum(takes) == min(full, sum(asks))
    for perm in itertools.islice(itertools.permutations(range(len(asks))), 24):
        again = _pro_rata(full, [keyed[i] for i in perm])
        assert [again[perm.index(i)] for i in range(len(asks))] == takes


SELECTORS = (
    'wallet = "bitcoin.wallets[1]"',
    'wallet = "bitcoin.wallets[0]"',
    'wallet = "ethereum.wallets[1]"',
    'class = "hot"',
    'vendor = "vaultsoft"',
    'vendor = "signco"\nasset = "ETH"',
)
SHOCK = st.tuples(
    st.integers(0, len(SELECTORS) - 1),
    st.integers(0, 1000),
    st.sampled_from(["hack", "insider", "theft"]),
    st.sampled_from(["a", "b"]),
)


def _scenario(shocks: list[tuple[int, int, str, str]], extra: str = "") -> Scenario:
    return scenario(
        "".join(
            f'[[scenarios.shocks]]\nkind = "loss"\n{SELECTORS[sel]}\n'
            f'share = "{Decimal(n) / 1000}"\nperil = "{peril}"\nevent = "{event}"\n'
            for sel, n, peril, event in shocks
        )
        + extra
    )


@settings(max_examples=120, deadline=None)
@given(
    st.lists(SHOCK, min_size=1, max_size=4),
    st.permutations(range(4)),
    st.sampled_from(["aggregate", "per_occurrence"]),
    st.sampled_from(["", FROZEN]),
)
def test_permuting_shocks_gives_identical_results(
    shocks: list[tuple[int, int, str, str]], order: list[int], limit_type: str, extra: str
) -> None:
    b = base(limit_type, btc_held=100 * BTC)
    permuted = [shocks[i] for i in order if i < len(shocks)]
    assert figures(evaluate(b, _scenario(shocks, extra))) == figures(
        evaluate(b, _scenario(permuted, extra))
    )


def _asked_within(b: object, shocks: list[tuple[int, int, str, str]]) -> bool:
    """Every balance asked for no more than it holds (shares on one address add to ≤ 1)."""
    from verifier.stress.engine import selected_wallets

    asked: Counter[str] = Counter()
    for shock in _scenario(shocks).shocks:
        for w in selected_wallets(b, shock):  # type: ignore[arg-type]
            asked[w.address] += int(Decimal(shock.get("share")) * 1000)
    return all(n <= 1000 for n in asked.values())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(SHOCK, min_size=1, max_size=3),
    st.integers(0, 2),
    st.integers(1, 1000),
    st.sampled_from(["", FROZEN]),
)
def test_growing_a_share_never_lowers_the_uncovered_value(
    shocks: list[tuple[int, int, str, str]], which: int, extra_share: int, extra: str
) -> None:
    b = base(btc_held=100 * BTC)
    which %= len(shocks)
    grown = list(shocks)
    sel, n, peril, event = grown[which]
    grown[which] = (sel, min(1000, n + extra_share), peril, event)
    if not _asked_within(b, grown):
        return  # asked beyond a balance: scaled pro rata, outside this property
    before = evaluate(b, _scenario(shocks, extra)).uncovered_value
    after = evaluate(b, _scenario(grown, extra)).uncovered_value
    # each money payer's buy-back floors to whole units: one base unit per asset per payer
    slack = 3 * (Decimal("0.00001") + Decimal("1e-16"))
    assert after >= before - slack


# ----------------------------------------------------------------------------- insurance gates

HOT_ETH = '[[scenarios.shocks]]\nkind = "loss"\nwallet = "ethereum.wallets[1]"\n'


def _with_gates(gates: list[dict[str, object]] | None) -> StressBase:
    """The fixture with the crime policy's component given these gates (None: no component)."""
    doc = report()
    components = doc["reserve"]["eligible"]["components"]
    crime = next(c for c in components if c["kind"] == "insurance")
    if gates is None:
        components.remove(crime)
    else:
        crime["gates"] = gates
    return stress_base(doc, statement(), source="report.json")


def _crime(r: ScenarioResult) -> Payer:
    return next(p for p in r.payers if p.kind == "insurance")


@pytest.mark.parametrize("gate", ["insurer", "in force", "term", "notice", "perils", "deductible"])
def test_a_policy_that_failed_a_gate_about_itself_pays_nothing(gate: str) -> None:
    # all hot ETH, 10,000: cash 5,000; the policy would owe 8,000 (test_stress_engine); it
    # failed a gate, so the guarantee (10,000, 5 days) pays the other 5,000
    b = _with_gates([{"gate": gate, "passed": False, "reason": "why"}])
    r = evaluate(b, scenario(HOT_ETH))
    crime = _crime(r)
    assert crime.available == 0 and crime.paid == 0
    assert crime.notes == (f"failed the reserve evaluation's {gate} gate (why): pays nothing",)
    guarantee = next(p for p in r.payers if p.kind == "guarantee")
    assert guarantee.paid == 5000 and r.made_whole and r.time_to_pay_days == 5


@pytest.mark.parametrize("gate", ["horizon", "currency"])
def test_gates_about_what_counts_do_not_stop_payment(gate: str) -> None:
    r = evaluate(_with_gates([{"gate": gate, "passed": False, "reason": "x"}]), scenario(HOT_ETH))
    assert _crime(r).available == 8000 and _crime(r).paid == 5000


def test_a_policy_the_evaluation_does_not_hold_pays_nothing() -> None:
    crime = _crime(evaluate(_with_gates(None), scenario(HOT_ETH)))
    assert crime.paid == 0 and crime.notes == ("not in the reserve evaluation: pays nothing",)


def test_no_evaluation_at_all_keeps_the_engines_own_checks() -> None:
    doc = report()
    doc["reserve"] = None
    b = stress_base(doc, statement(), source="report.json")
    assert b.policy_gates is None
    assert _crime(evaluate(b, scenario(HOT_ETH))).paid == 5000


# ----------------------------------------------------------------------------- worthless


@pytest.mark.parametrize(
    ("shock", "key"),
    [
        ('kind = "price"\nasset = "BTC"\nchange = "-1"\n', "scenarios[0].shocks[0].change"),
        ('kind = "depeg"\nasset = "ETH"\nchange = "-1.5"\n', "scenarios[0].shocks[0].change"),
        ('kind = "price"\nasset = "BTC"\nchange = -1\n', "scenarios[0].shocks[0].change"),
        ('kind = "price"\nasset = "BTC"\nprice = "0"\n', "scenarios[0].shocks[0].price"),
        ('kind = "price"\nasset = "BTC"\nprice = 0\n', "scenarios[0].shocks[0].price"),
    ],
)
def test_a_price_of_zero_is_refused_naming_the_shock(shock: str, key: str) -> None:
    # a zero price valued the loss at 0 and read "NOT made whole: 0.00 JPY uncovered"
    with pytest.raises(InputError) as caught:
        scenario("[[scenarios.shocks]]\n" + shock)
    assert caught.value.key == key and "a price of zero" in caught.value.message


def test_a_near_total_collapse_is_modelled() -> None:
    r = evaluate(
        base(), scenario('[[scenarios.shocks]]\nkind = "price"\nasset = "BTC"\nchange = "-0.99"\n')
    )
    assert next(a for a in r.assets if a.code == "BTC").price_after == Decimal(10)


# ----------------------------------------------------------------------------- the terminal


def _with_own_buffer() -> StressBase:
    """The fixture plus an own buffer of 12 BTC (the rule: at least the 10 hot BTC of
    customers) and a custodial wallet of 3 BTC the report did not count."""
    from stress_fixture import wallet

    doc = report()
    doc["wallets"] += [
        wallet("bitcoin.wallets[2]", "own-buffer", "cold", "bitcoin", "bc1own",
               {"BTC": 12 * BTC}, None, counted_as="own buffer"),
        wallet("bitcoin.wallets[3]", "custodian", "custodial", "bitcoin", "bc1cust",
               {"BTC": 3 * BTC}, None, counted_as="excluded: custodial"),
    ]  # fmt: skip
    doc["reserve"]["checks"] = [{"check": "own_buffer:BTC", "passed": True}]
    doc["reserve_inputs"]["per_asset"] = [
        {"code": "BTC", "own_buffer_units": str(12 * BTC), "hot_units": str(10 * BTC)}
    ]
    return stress_base(doc, statement(), source="report.json")


def _terminal(b: StressBase, shocks: str) -> str:
    from verifier.stress.document import stress_document
    from verifier.stress.engine import evaluate_all
    from verifier.stress.terminal import render_stress

    doc = stress_document(evaluate_all(b, [scenario(shocks)]), generated_at="t")
    console = PorConsole(file=io.StringIO(), width=80, highlight=False, soft_wrap=True)
    render_stress(doc, console)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_losses_backing_no_customer_are_shown() -> None:
    loss = '[[scenarios.shocks]]\nkind = "loss"\nlabel = "{}"\nshare = "{}"\n'
    text = " ".join(
        _terminal(
            _with_own_buffer(), loss.format("own-buffer", "0.1") + loss.format("custodian", "1")
        ).split()
    )
    assert "not customer backing" in text
    assert "BTC 1.20000000 in own-buffer (own buffer)" in text
    assert "BTC 3.00000000 in custodian (excluded: custodial)" in text
    assert "own-buffer rule" not in text  # 10.8 own BTC left >= 10 hot customer BTC


def test_a_drained_own_buffer_says_the_rule_would_fail() -> None:
    shock = '[[scenarios.shocks]]\nkind = "loss"\nlabel = "own-buffer"\nshare = "0.5"\n'
    text = " ".join(_terminal(_with_own_buffer(), shock).split())
    assert "own buffer drained: BTC 6.00000000 of own coins left against 10.00000000" in text
    assert "the own-buffer rule (Japan's same-type own coins) would fail" in text


def test_payer_lines_wrap_under_their_text() -> None:
    from dataclasses import replace

    b = base()
    b = replace(b, policies=tuple(replace(p, claim_days=None) for p in b.policies))
    lines = _terminal(b, HOT_ETH).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  3. insurance crime"))
    assert lines[at + 1].startswith("     ") and not lines[at + 1].startswith("      ")
    assert "claim_days" in lines[at + 1] + lines[at + 2]


def test_no_claim_period_note_only_for_a_policy_that_paid() -> None:
    from dataclasses import replace

    b = base()
    b = replace(b, policies=tuple(replace(p, claim_days=None) for p in b.policies))
    note = "the policy states no claim period (claim_days)"
    small = evaluate(b, scenario(HOT_ETH + 'share = "0.4"\n'))  # cash alone pays 4,000
    assert note not in _crime(small).notes and small.time_to_pay_days == 0
    large = evaluate(b, scenario(HOT_ETH))  # the policy pays 5,000
    assert note in _crime(large).notes and large.time_to_pay_days is None


def test_html_time_to_pay_is_not_doubled() -> None:
    from verifier.stress.html import _note_rest

    assert _note_rest("at once", "at once (surplus and cash)") == "surplus and cash"
    assert _note_rest("30 days", "30 days (insurance crime)") == "insurance crime"
    assert (
        _note_rest("30 days", "30 days (insurance crime); the uncovered part is never paid")
        == "insurance crime; the uncovered part is never paid"
    )
    assert _note_rest("not stated", "unknown: crime states no period") == (
        "unknown: crime states no period"
    )


@pytest.mark.parametrize(
    ("field", "text", "limit"),
    [("id", "a" * 65, "at most 64"), ("title", "t" * 201, "at most 200 characters"),
     ("description", "d" * 4001, "at most 4000 characters")],
)  # fmt: skip
def test_scenario_text_is_bounded(field: str, text: str, limit: str) -> None:
    from verifier.stress.scenario import parse_scenarios

    row: dict[str, object] = {"id": "x", "title": "t", "description": "d"}
    row[field] = text
    row["shocks"] = [{"kind": "loss", "class": "hot"}]
    with pytest.raises(InputError) as caught:
        parse_scenarios({"scenarios": [row]}, "s.toml")
    assert caught.value.key == f"scenarios[0].{field}" and limit in caught.value.message
    row[field] = text[:-1]
    assert parse_scenarios({"scenarios": [row]}, "s.toml").scenarios[0]
