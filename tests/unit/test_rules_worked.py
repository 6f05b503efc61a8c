"""The worked figures of docs/spec/rule-packs.md, reproduced exactly (Decimal equality) by every rule pack.

Each case's statement is in fixtures/reserve/; the figures below are docs/spec/rule-packs.md's, written in
the units docs/spec/rule-packs.md uses (¥bn, HK$bn, €m, USDT m) so they can be compared by eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from verifier.reserve.pack import Status
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import ReserveEvaluation, evaluate
from verifier.reserve.statement import load_statement

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reserve"
BN = Decimal(10) ** 9
M = Decimal(10) ** 6


def run(pack_id: str, fixture: str, **overrides: str) -> ReserveEvaluation:
    statement = load_statement(FIXTURES / f"{fixture}.toml")
    pack = load_pack(pack_id)
    assert statement.as_of is not None
    if overrides:
        pack = pack.with_overrides(overrides, on=date(2026, 11, 21))
    return evaluate(pack, statement, inputs_from_statement(statement), as_of=statement.as_of)


@dataclass(frozen=True)
class Worked:
    pack: str
    fixture: str
    required: Decimal
    eligible: Decimal
    shortfall: Decimal
    surplus: Decimal
    checks_pass: bool


WORKED = [
    Worked(
        "jp-fsa-2026",
        "jp-fsa-2026-worked",
        Decimal("5.061") * BN,
        Decimal("4.5305") * BN,
        Decimal("0.5305") * BN,
        Decimal(0),
        True,
    ),
    Worked(
        "hk-sfc",
        "hk-sfc-worked",
        Decimal("5.075") * BN,
        Decimal("4.95") * BN,
        Decimal(125) * M,
        Decimal(0),
        True,
    ),
    Worked(
        "eu-mica",
        "eu-mica-worked",
        Decimal(6) * M,
        Decimal("6.5") * M,
        Decimal(0),
        Decimal("0.5") * M,
        True,
    ),
    Worked(
        "eu-mica",
        "eu-mica-60-days",
        Decimal(6) * M,
        Decimal("4.5") * M,
        Decimal("1.5") * M,
        Decimal(0),
        True,
    ),
    Worked(
        "ae-vara",
        "ae-vara-worked",
        Decimal(2) * M,
        Decimal("2.5") * M,
        Decimal(0),
        Decimal("0.5") * M,
        False,
    ),
    Worked("jp-psa", "jp-psa-ok", Decimal(0), Decimal(0), Decimal(0), Decimal(0), True),
    Worked("jp-psa", "jp-psa-non-cold-6pct", Decimal(0), Decimal(0), Decimal(0), Decimal(0), False),
    Worked(
        "jp-psa", "jp-psa-buffer-per-asset", Decimal(0), Decimal(0), Decimal(0), Decimal(0), False
    ),
]


@pytest.mark.parametrize("case", WORKED, ids=lambda c: c.fixture)
def test_worked_headline_figures(case: Worked) -> None:
    result = run(case.pack, case.fixture)
    assert result.required == case.required
    assert result.eligible == case.eligible
    assert result.shortfall == case.shortfall
    assert result.surplus == case.surplus
    assert result.met is (case.shortfall == 0)
    assert result.checks_passed is case.checks_pass
    doc = result.to_json()
    assert Decimal(doc["required"]["amount"]) == case.required
    assert Decimal(doc["eligible"]["total"]) == case.eligible
    assert Decimal(doc["shortfall"]) == case.shortfall
    assert Decimal(doc["surplus"]) == case.surplus


def test_jp_proposal_terms_and_insurance_cap() -> None:
    result = run("jp-fsa-2026", "jp-fsa-2026-worked")
    terms = dict(result.terms)
    assert terms == {
        "volume": Decimal("2.000") * BN,
        "cold": Decimal("1.9175") * BN,
        "hot": Decimal(0),
        "incidents": Decimal("0.300") * BN,
    }
    (policy,) = [c for c in result.components if c.kind == "insurance"]
    assert policy.eligible == Decimal("3.6") * BN
    assert result.insurance_before_cap == Decimal("3.6") * BN
    assert result.insurance_cap == Decimal("2.5305") * BN
    assert result.insurance_credit == Decimal("2.5305") * BN
    (cash,) = [c for c in result.components if c.kind == "cash"]
    assert cash.eligible == Decimal("2.0") * BN
    assert result.to_json()["eligible"]["insurance_cap"] == "2530500000"
    assert "= 5061000000" in result.formula


def test_jp_proposal_without_buffer_credit() -> None:
    result = run("jp-fsa-2026", "jp-fsa-2026-worked", buffer_credit="false")
    assert result.required == Decimal("14.961") * BN
    assert dict(result.terms)["hot"] == Decimal("8.25") * BN
    overridden = result.pack.get("buffer_credit")
    assert overridden is not None
    assert overridden.value is False
    assert overridden.status is Status.PH


def test_hk_components() -> None:
    result = run("hk-sfc", "hk-sfc-worked")
    assert dict(result.terms)["cold"] == Decimal("0.5") * Decimal("9.85") * BN
    assert dict(result.terms)["hot"] == Decimal("0.15") * BN
    eligible = {c.kind: c.eligible for c in result.components}
    assert eligible == {
        "insurance": Decimal("2.95") * BN,
        "cash": Decimal("1.5") * BN,
        "guarantee": Decimal("0.5") * BN,
    }
    (share,) = [c for c in result.checks if c.check == "non_cold_share"]
    assert share.passed and Decimal(share.value) == Decimal("0.015")
    assert share.status is Status.GUIDE


def test_mica_terms_and_notice_gate() -> None:
    good = run("eu-mica", "eu-mica-worked")
    assert dict(good.terms) == {"minimum": Decimal(150_000), "overheads": Decimal(6) * M}
    short = run("eu-mica", "eu-mica-60-days")
    (policy,) = [c for c in short.components if c.kind == "insurance"]
    assert policy.eligible == 0
    (failed,) = policy.failed
    assert failed.gate == "notice"
    assert "60" in failed.reason and "90" in failed.reason
    capital = [c for c in short.components if c.kind == "capital"]
    assert capital[0].eligible == Decimal("4.5") * M


def test_vara_per_asset_breach_not_offset() -> None:
    result = run("ae-vara", "ae-vara-worked")
    checks = {c.check: c for c in result.checks}
    usdt = checks["coverage:USDT"]
    assert not usdt.passed
    assert Decimal(usdt.value) == Decimal("0.998")
    assert Decimal(usdt.limit) == 1
    assert usdt.status is Status.LAW
    assert "short 100000 USDT" in usdt.reason  # 0.1m USDT
    assert "not offset" in usdt.reason
    # BTC holds more than it owes; that surplus does not offset the USDT breach
    assert checks["coverage:BTC"].passed
    assert Decimal(checks["coverage:BTC"].value) == Decimal("1.2")
    assert result.met and not result.ok


def test_jp_psa_non_cold_share_of_6_percent_fails() -> None:
    result = run("jp-psa", "jp-psa-non-cold-6pct")
    (share,) = [c for c in result.checks if c.check == "non_cold_share"]
    assert not share.passed
    assert Decimal(share.value) == Decimal("0.06")
    assert Decimal(share.limit) == Decimal("0.05")
    assert share.status is Status.LAW
    assert all(c.passed for c in result.checks if c.check != "non_cold_share")


def test_jp_psa_buffer_is_per_asset_of_the_same_type() -> None:
    statement = load_statement(FIXTURES / "jp-psa-buffer-per-asset.toml")
    inputs = inputs_from_statement(statement)
    # the buffer's total value exceeds the non-cold customer value ...
    assert inputs.own_buffer_value > inputs.client_value_by_class["hot"]
    result = evaluate(load_pack("jp-psa"), statement, inputs, as_of=date(2026, 6, 30))
    checks = {c.check: c for c in result.checks}
    # ... yet BTC's buffer is short, and ETH's larger buffer does not count for BTC
    assert not checks["own_buffer:BTC"].passed
    assert (checks["own_buffer:BTC"].value, checks["own_buffer:BTC"].limit) == ("90", "100")
    assert "short 10 BTC" in checks["own_buffer:BTC"].reason
    assert checks["own_buffer:ETH"].passed
    assert checks["non_cold_share"].passed
    assert not result.ok


def test_jp_psa_ok_passes_everything() -> None:
    result = run("jp-psa", "jp-psa-ok")
    assert result.ok
    assert {c.check for c in result.checks} == {
        "non_cold_share",
        "own_buffer:BTC",
        "own_buffer:ETH",
        "coverage:BTC",
        "coverage:ETH",
    }
