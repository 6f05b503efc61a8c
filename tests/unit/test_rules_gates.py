"""Eligibility gates: each one fails for its reason and zeroes only its component."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from verifier.base.errors import InputError
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import AssetPosition, ReserveInputs, inputs_from_statement
from verifier.reserve.results import Component
from verifier.reserve.rules import ReserveEvaluation, evaluate
from verifier.reserve.statement_model import (
    CashReserve,
    Entity,
    Guarantee,
    Incident,
    InsurancePolicy,
    OperationalRisk,
    Overheads,
    ReserveStatement,
    VolumeRecord,
)

AS_OF = date(2026, 3, 31)
BN = Decimal(10) ** 9


def policy(**changes: object) -> InsurancePolicy:
    base = InsurancePolicy(
        key="insurance[0]",
        name="policy",
        insurer="Example Insurance",
        authorised=True,
        limit=Decimal(5) * BN,
        limit_type="aggregate",
        deductible=Decimal("0.5") * BN,
        currency="JPY",
        start=date(2025, 10, 1),
        end=date(2026, 10, 1),
        notice_days=90,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def inputs(
    cold: str = "100e9", hot: str = "0", other: str = "0", buffer: str = "0"
) -> ReserveInputs:
    return ReserveInputs(
        currency="JPY",
        client_value_by_class={"cold": Decimal(cold), "hot": Decimal(hot), "other": Decimal(other)},
        own_buffer_value=Decimal(buffer),
        per_asset=(AssetPosition("BTC", 10**8, 10**8, 0, 0, 8, Decimal(15_000_000)),),
    )


def run(statement: ReserveStatement, pack: str = "jp-fsa-2026", **kw: str) -> ReserveEvaluation:
    return evaluate(load_pack(pack), statement, inputs(**kw), as_of=AS_OF)


def only(result: ReserveEvaluation, kind: str) -> Component:
    (component,) = [c for c in result.components if c.kind == kind]
    return component


def failed(component: Component) -> dict[str, str]:
    return {g.gate: g.reason for g in component.failed}


def test_good_policy_passes_every_gate() -> None:
    result = run(ReserveStatement(currency="JPY", insurance=(policy(),)))
    component = only(result, "insurance")
    assert not component.failed
    assert {g.gate for g in component.gates} == {
        "currency",
        "insurer",
        "in force",
        "term",
        "notice",
        "horizon",
        "deductible",
        "perils",
    }
    assert component.eligible == Decimal("4.5") * BN


@pytest.mark.parametrize(
    ("changes", "gate", "fragment"),
    [
        ({"authorised": False}, "insurer", "not an authorised insurer"),
        ({"end": date(2026, 3, 1), "start": date(2025, 3, 1)}, "in force", "expired on 2026-03-01"),
        ({"end": AS_OF, "start": date(2025, 3, 31)}, "in force", "expired"),
        ({"start": date(2026, 4, 1), "end": date(2027, 4, 1)}, "in force", "starts 2026-04-01"),
        (
            {"end": AS_OF + timedelta(days=10), "start": AS_OF + timedelta(days=10 - 366)},
            "horizon",
            "inside the 30-day horizon",
        ),
        ({"notice_days": 60}, "notice", "60 days' notice of cancellation < 90"),
        ({"start": date(2025, 12, 1), "end": date(2026, 6, 1)}, "term", "term 182 days < 365"),
        ({"deductible": Decimal(5) * BN}, "deductible", "not below the limit"),
        ({"deductible": Decimal(6) * BN}, "deductible", "nothing is payable"),
        ({"exclusions": ("theft",)}, "perils", "excludes the required peril theft"),
        ({"scope": Decimal(0)}, "perils", "declared scope 0"),
        ({"currency": "USD"}, "currency", "no [fx] rate"),
    ],
)
def test_failed_gate_zeroes_the_policy(
    changes: dict[str, object], gate: str, fragment: str
) -> None:
    cash = CashReserve("cash[0]", "trust", Decimal(1) * BN, "JPY", "Trust Bank", on_trust=True)
    statement = ReserveStatement(currency="JPY", cash=(cash,), insurance=(policy(**changes),))
    result = run(statement)
    component = only(result, "insurance")
    reasons = failed(component)
    assert gate in reasons, reasons
    assert fragment in reasons[gate]
    assert component.eligible == 0
    assert result.insurance_credit == 0
    assert only(result, "cash").eligible == Decimal(1) * BN  # other components unaffected


def test_peril_not_covering_the_wallet_class() -> None:
    # covers cold wallets only; every customer asset is in hot wallets
    covered_cold = policy(perils={"cold": ("theft",)})
    result = run(
        ReserveStatement(currency="JPY", insurance=(covered_cold,)),
        cold="0",
        hot="10e9",
        buffer="0",
    )
    reasons = failed(only(result, "insurance"))
    assert "covers none of the wallet classes" in reasons["perils"]
    assert "hot not covered" in reasons["perils"]


def test_peril_list_lacking_the_required_peril() -> None:
    fire_only = policy(perils={"cold": ("fire",), "hot": ("fire",), "other": ("fire",)})
    result = run(ReserveStatement(currency="JPY", insurance=(fire_only,)))
    assert "lacks theft" in failed(only(result, "insurance"))["perils"]


def test_partial_peril_scope_weights_by_value() -> None:
    half = policy(perils={"cold": ("theft", "fire"), "hot": ("fire",)}, scope=Decimal("0.8"))
    result = run(
        ReserveStatement(currency="JPY", insurance=(half,)), cold="50e9", hot="50e9", buffer="50e9"
    )
    component = only(result, "insurance")
    assert not component.failed
    # 0.8 declared × 50% of customer value covered × (5bn − 0.5bn)
    assert component.eligible == Decimal("0.8") * Decimal("0.5") * Decimal("4.5") * BN


def test_peril_shares_and_exclusions() -> None:
    shares = policy(
        perils={"cold": Decimal(1), "hot": Decimal("0.5"), "other": ("theft",)}, exclusions=("war",)
    )
    result = run(
        ReserveStatement(currency="JPY", insurance=(shares,)),
        cold="60e9",
        hot="20e9",
        other="20e9",
        buffer="40e9",
    )
    # (60 × 1 + 20 × 0.5 + 20 × 1) / 100 = 0.9
    assert only(result, "insurance").eligible == Decimal("0.9") * Decimal("4.5") * BN


def test_cash_gates() -> None:
    not_trust = CashReserve("cash[0]", "house", Decimal(1) * BN, "JPY", "Bank", on_trust=False)
    result = run(ReserveStatement(currency="JPY", cash=(not_trust,)))
    assert "not held on trust" in failed(only(result, "cash"))["trust"]
    long_deposit = CashReserve(
        "cash[0]",
        "deposit",
        Decimal(1) * BN,
        "HKD",
        "Bank",
        on_trust=True,
        maturity=AS_OF + timedelta(days=200),
    )
    statement = ReserveStatement(currency="HKD", cash=(long_deposit,))
    hk = evaluate(load_pack("hk-sfc"), statement, replace(inputs(), currency="HKD"), as_of=AS_OF)
    assert "beyond 183 days" in failed(only(hk, "cash"))["maturity"]
    short_deposit = replace(long_deposit, maturity=AS_OF + timedelta(days=90))
    hk = evaluate(
        load_pack("hk-sfc"),
        replace(statement, cash=(short_deposit,)),
        replace(inputs(), currency="HKD"),
        as_of=AS_OF,
    )
    assert only(hk, "cash").eligible == Decimal(1) * BN


def test_foreign_currency_converts_with_fx() -> None:
    usd = CashReserve("cash[0]", "usd", Decimal(1_000_000), "USD", "Bank", on_trust=True)
    statement = ReserveStatement(currency="JPY", fx={"USD": Decimal("150.25")}, cash=(usd,))
    component = only(run(statement), "cash")
    assert component.eligible == Decimal(150_250_000)
    assert "at 150.25 JPY" in component.gates[0].reason


def test_guarantee_gates() -> None:
    expired = Guarantee(
        "guarantee[0]", "g", "Bank", Decimal(1) * BN, "JPY", on_demand=True, maturity=AS_OF
    )
    soon = replace(expired, maturity=AS_OF + timedelta(days=5))
    later = replace(expired, maturity=AS_OF + timedelta(days=365))
    for guarantee, fragment in ((expired, "expired"), (soon, "inside the 30-day horizon")):
        result = run(ReserveStatement(currency="JPY", guarantees=(guarantee,)))
        assert fragment in failed(only(result, "guarantee"))["maturity"]
    assert (
        only(run(ReserveStatement(currency="JPY", guarantees=(later,))), "guarantee").eligible == BN
    )
    not_on_demand = replace(later, on_demand=False)
    custom = load_pack("jp-fsa-2026").with_overrides(
        {"guarantee_require_on_demand": "true"}, on=AS_OF
    )
    result = evaluate(
        custom, ReserveStatement(currency="JPY", guarantees=(not_on_demand,)), inputs(), as_of=AS_OF
    )
    assert "not payable on demand" in failed(only(result, "guarantee"))["on demand"]


def test_kind_not_eligible_under_the_pack() -> None:
    cash = CashReserve("cash[0]", "trust", Decimal(1_000_000), "EUR", "Bank", on_trust=True)
    statement = ReserveStatement(
        currency="EUR",
        cash=(cash,),
        entity=Entity(
            licence_class="class_1", overheads=Overheads(Decimal(100_000)), cet1=Decimal(10_000)
        ),
    )
    result = evaluate(
        load_pack("eu-mica"), statement, replace(inputs(), currency="EUR"), as_of=AS_OF
    )
    assert "cash does not count under eu-mica" in failed(only(result, "cash"))["kind"]
    assert result.required == Decimal(50_000)
    assert result.eligible == Decimal(10_000)
    assert result.shortfall == Decimal(40_000)


def test_missing_capital_figure_fails_its_gate() -> None:
    statement = ReserveStatement(
        currency="AED", entity=Entity(overheads=Overheads(Decimal(1_000_000)))
    )
    result = evaluate(
        load_pack("ae-vara"), statement, replace(inputs(), currency="AED"), as_of=AS_OF
    )
    assert "entity.paid_up_capital is not given" in failed(only(result, "capital"))["present"]
    assert result.shortfall == Decimal(1_500_000)


def test_capital_pack_needs_overheads_and_a_known_class() -> None:
    statement = ReserveStatement(
        currency="EUR", path="s.toml", entity=Entity(licence_class="class_3")
    )
    with pytest.raises(InputError) as info:
        evaluate(load_pack("eu-mica"), statement, replace(inputs(), currency="EUR"), as_of=AS_OF)
    assert info.value.key == "entity.overheads" and info.value.file == "s.toml"
    statement = replace(
        statement, entity=Entity(licence_class="class_4", overheads=Overheads(Decimal(1)))
    )
    with pytest.raises(InputError) as info:
        evaluate(load_pack("eu-mica"), statement, replace(inputs(), currency="EUR"), as_of=AS_OF)
    assert info.value.key == "entity.licence_class"
    assert "class_1, class_2, class_3" in str(info.value)


def test_pack_amounts_need_an_fx_rate_in_another_currency() -> None:
    statement = ReserveStatement(currency="USD", path="s.toml")
    usd_inputs = replace(inputs(), currency="USD")
    with pytest.raises(InputError) as info:
        evaluate(load_pack("jp-fsa-2026"), statement, usd_inputs, as_of=AS_OF)
    assert info.value.key == "fx" and "JPY" in str(info.value)
    converted = evaluate(
        load_pack("jp-fsa-2026"),
        replace(statement, fx={"JPY": Decimal("0.0066")}),
        usd_inputs,
        as_of=AS_OF,
    )
    assert converted.required >= Decimal("0.0066") * 2 * BN  # the ¥2bn floor in USD


def test_currency_of_inputs_must_match() -> None:
    with pytest.raises(InputError) as info:
        run(ReserveStatement(currency="EUR", path="s.toml"))
    assert info.value.key == "currency"


def test_insurance_cap_binds_only_insurance() -> None:
    cash = CashReserve("cash[0]", "trust", Decimal(3) * BN, "JPY", "Trust Bank", on_trust=True)
    big = policy(limit=Decimal(100) * BN, deductible=Decimal(0))
    result = run(ReserveStatement(currency="JPY", cash=(cash,), insurance=(big,)))
    # R = floor ¥2bn (1% of ¥100bn cold = ¥1bn < floor); θ = 0.5 → insurance credit ¥1bn
    assert result.required == 2 * BN
    assert result.insurance_cap == BN
    assert result.insurance_credit == BN
    assert result.eligible == 4 * BN
    assert result.surplus == 2 * BN


def test_windows_volume_incidents_and_m_ops_flags() -> None:
    volume = tuple(
        VolumeRecord(f"volume[{i}]", "spot", date(y, 1, 1), date(y + 1, 1, 1), Decimal(a) * BN)
        for i, (y, a) in enumerate([(2021, 99_000), (2023, 3000), (2024, 4000), (2025, 5000)])
    )
    incidents = (
        Incident("incident[0]", date(2023, 3, 31), Decimal(9) * BN),  # on the window edge: out
        Incident("incident[1]", date(2024, 1, 1), Decimal(2) * BN, Decimal(1) * BN),
        Incident("incident[2]", date(2026, 4, 1), Decimal(7) * BN),  # after as_of: out
    )
    entity = Entity(
        operational_risk=OperationalRisk(
            flags=("recent_incident", "single_signer_hot_wallet", "unknown")
        )
    )
    statement = ReserveStatement(currency="JPY", volume=volume, incidents=incidents, entity=entity)
    result = run(statement, cold="0")
    terms = dict(result.terms)
    assert terms["volume"] == Decimal("0.0005") * 4000 * BN
    assert terms["incidents"] == Decimal("0.5") * BN
    assert result.required == Decimal("1.3") * (terms["volume"] + terms["incidents"])
    assert "recent_incident +0.1" in result.formula
    clamped = replace(statement, entity=Entity(operational_risk=OperationalRisk(m_ops=Decimal(3))))
    assert "clamped to 1..1.5" in run(clamped, cold="0").formula


def test_own_buffer_and_coverage_without_positions_fail() -> None:
    no_assets = replace(inputs(), per_asset=())
    result = evaluate(load_pack("jp-psa"), ReserveStatement(currency="JPY"), no_assets, as_of=AS_OF)
    reasons = {c.check: c.reason for c in result.checks if not c.passed}
    assert "cannot be checked" in reasons["own_buffer"]
    assert "cannot be checked" in reasons["coverage"]


def test_statement_without_holdings() -> None:
    with pytest.raises(InputError) as info:
        inputs_from_statement(ReserveStatement(currency="JPY", path="s.toml"))
    assert info.value.key == "holdings" and info.value.file == "s.toml"


def test_inputs_validate() -> None:
    with pytest.raises(InputError):
        ReserveInputs("JPY", {"warm": Decimal(1)})
    with pytest.raises(InputError):
        ReserveInputs("JPY", {"cold": Decimal(-1)})
    with pytest.raises(InputError):
        ReserveInputs("JPY", {"cold": 1.5})  # type: ignore[dict-item]  # float-ok: rejected
    with pytest.raises(InputError):
        AssetPosition("BTC", 1, 1, 2, 0, 8, Decimal(1))  # hot > held
    with pytest.raises(InputError):
        AssetPosition("BTC", -1, 1, 0, 0, 8, Decimal(1))
    with pytest.raises(InputError):
        ReserveInputs("JPY", {}, per_asset=(AssetPosition("BTC", 1, 1, 0, 0, 8, Decimal(1)),) * 2)
    assert ReserveInputs("JPY", {"cold": Decimal(1)}).client_value_by_class == {
        "cold": Decimal(1),
        "hot": Decimal(0),
        "other": Decimal(0),
        "custodial": Decimal(0),
    }
