"""Properties of the evaluation over random statements and holdings (hypothesis):
eligible never exceeds the sum of its components, insurance credit never exceeds θ·R,
shortfall = max(0, R − eligible), and a component with a failed gate counts zero."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from verifier.reserve.money import money_context
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import AssetPosition, ReserveInputs
from verifier.reserve.rules import ReserveEvaluation, evaluate
from verifier.reserve.statement_model import (
    CashReserve,
    Entity,
    Guarantee,
    Incident,
    InsurancePolicy,
    Overheads,
    ReserveStatement,
    VolumeRecord,
)

AS_OF = date(2026, 3, 31)
PACKS = {
    name: load_pack(name) for name in ("jp-psa", "jp-fsa-2026", "hk-sfc", "eu-mica", "ae-vara")
}

amounts = st.integers(0, 10**13).map(Decimal)
shares = st.integers(0, 100).map(lambda n: Decimal(n).scaleb(-2))
offsets = st.integers(-800, 800).map(lambda d: AS_OF + timedelta(days=d))


@st.composite
def policies(draw: st.DrawFn) -> InsurancePolicy:
    start = draw(offsets)
    perils = draw(
        st.dictionaries(
            st.sampled_from(("cold", "hot", "other", "custodial")),
            st.one_of(
                shares, st.lists(st.sampled_from(("theft", "fire", "war")), max_size=3).map(tuple)
            ),
            max_size=4,
        )
    )
    return InsurancePolicy(
        key="insurance[0]",
        name="p",
        insurer="i",
        authorised=draw(st.booleans()),
        limit=draw(amounts),
        limit_type=draw(st.sampled_from(("aggregate", "per_occurrence"))),
        deductible=draw(amounts),
        currency=draw(st.sampled_from(("JPY", "JPY", "USD"))),
        start=start,
        end=start + timedelta(days=draw(st.integers(1, 800))),
        notice_days=draw(st.integers(0, 200)),
        scope=draw(shares),
        perils=perils,
        exclusions=tuple(draw(st.lists(st.sampled_from(("theft", "war")), max_size=2))),
    )


@st.composite
def statements(draw: st.DrawFn) -> ReserveStatement:
    cash = tuple(
        CashReserve(
            f"cash[{i}]",
            "c",
            draw(amounts),
            draw(st.sampled_from(("JPY", "USD", "EUR"))),
            "h",
            draw(st.booleans()),
            draw(st.one_of(st.none(), offsets)),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    guarantees = tuple(
        Guarantee(
            f"guarantee[{i}]",
            "g",
            "b",
            draw(amounts),
            "JPY",
            draw(st.booleans()),
            draw(st.one_of(st.none(), offsets)),
        )
        for i in range(draw(st.integers(0, 2)))
    )
    volume = tuple(
        VolumeRecord(f"volume[{i}]", "spot", date(y, 1, 1), date(y + 1, 1, 1), draw(amounts))
        for i, y in enumerate(range(2022, 2026))
        if draw(st.booleans())
    )
    incidents = tuple(
        Incident(f"incident[{i}]", draw(offsets), loss, min(loss, draw(amounts)))
        for i, loss in enumerate(draw(st.lists(amounts, max_size=3)))
    )
    expenses = draw(amounts)
    entity = Entity(
        licence_class=draw(st.sampled_from(("class_1", "class_2", "class_3"))),
        overheads=Overheads(expenses, bonuses=min(expenses, draw(amounts))),
        cet1=draw(st.one_of(st.none(), amounts)),
        paid_up_capital=draw(st.one_of(st.none(), amounts)),
    )
    return ReserveStatement(
        currency="JPY",
        fx={
            "USD": Decimal("150.25"),
            "EUR": Decimal("162.4"),
            "HKD": Decimal("19.3"),
            "AED": Decimal("40.91"),
        },
        cash=cash,
        insurance=tuple(draw(st.lists(policies(), max_size=3))),
        guarantees=guarantees,
        volume=volume,
        incidents=incidents,
        entity=entity,
    )


@st.composite
def holdings(draw: st.DrawFn) -> ReserveInputs:
    positions = []
    for code in draw(st.sets(st.sampled_from(("BTC", "ETH", "USDT")), max_size=3)):
        held = draw(st.integers(0, 10**20))
        positions.append(
            AssetPosition(
                code,
                draw(st.integers(0, 10**20)),
                held,
                draw(st.integers(0, held)),
                draw(st.integers(0, 10**20)),
                8,
                draw(amounts),
            )
        )
    return ReserveInputs(
        currency="JPY",
        client_value_by_class={c: draw(amounts) for c in ("cold", "hot", "other", "custodial")},
        own_buffer_value=draw(amounts),
        per_asset=tuple(positions),
    )


@settings(max_examples=300, deadline=None)
@given(pack_id=st.sampled_from(sorted(PACKS)), statement=statements(), inputs=holdings())
@example(
    pack_id="jp-fsa-2026",
    statement=ReserveStatement(currency="JPY"),
    inputs=ReserveInputs("JPY", {}),
)
def test_evaluation_invariants(
    pack_id: str, statement: ReserveStatement, inputs: ReserveInputs
) -> None:
    pack = PACKS[pack_id]
    result = evaluate(pack, statement, inputs, as_of=AS_OF)
    parameter = pack.get("theta")
    theta = Decimal(1) if parameter is None else parameter.value
    assert isinstance(theta, Decimal)
    with money_context():  # the figures have up to 60 digits; the default context has 28
        check_invariants(result, theta)


def check_invariants(result: ReserveEvaluation, theta: Decimal) -> None:
    components_eligible = sum((c.eligible for c in result.components), Decimal(0))
    components_face = sum((c.amount for c in result.components), Decimal(0))
    assert result.eligible <= components_eligible <= components_face
    assert result.insurance_credit <= theta * result.required
    assert result.insurance_credit <= result.insurance_before_cap
    assert result.shortfall == max(Decimal(0), result.required - result.eligible)
    assert result.surplus == max(Decimal(0), result.eligible - result.required)
    assert result.met == (result.shortfall == 0)
    assert result.required >= 0
    for component in result.components:
        assert component.eligible >= 0
        if component.failed:
            assert component.eligible == 0
    doc: Any = result.to_json()
    # the document's figures agree exactly, as a consumer recomputing them checks
    # (verifier/reconcile/numbers.py: 999 digits, Inexact trapped)
    exact = Context(prec=999, traps=[Inexact, InvalidOperation])
    with localcontext(exact):
        required, eligible = Decimal(doc["required"]["amount"]), Decimal(doc["eligible"]["total"])
        assert Decimal(doc["shortfall"]) == max(Decimal(0), required - eligible)
        assert Decimal(doc["surplus"]) == max(Decimal(0), eligible - required)
    assert eligible == result.eligible and required == result.required
