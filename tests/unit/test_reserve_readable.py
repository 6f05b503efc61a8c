"""Reserve text for people rounds long decimals; the evaluation document stays exact.

verifier/reserve/readable.py: a value times a price, or an 18-decimal token amount, reaches
25 digits in the formula and the check reasons. The terminal and the report show them
rounded (`formula_text`, `reason_text`); `to_json` keeps every digit, since anyone
recomputes the evaluation from it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import AssetPosition, ReserveInputs
from verifier.reserve.readable import readable, round_number
from verifier.reserve.rules import evaluate
from verifier.reserve.statement_model import ReserveStatement

LONG = re.compile(r"(?<![\w.])[0-9]+\.[0-9]{9,}(?![\w.])")


@pytest.mark.parametrize(
    ("exact", "shown"),
    [
        ("230037766824.7031328166777", "230037766824.7"),
        ("11337699733.3376431058423", "11337699733.34"),
        ("137076.3961043825925864", "137076.4"),
        ("5428.768162549805646986", "5428.7682"),
        ("0.019607843137", "0.019607843"),
        ("0.000000000000000001", "0.000000000000000001"),
        ("0.000000000", "0"),
    ],
)
def test_a_long_decimal_keeps_eight_significant_digits_and_two_decimals(
    exact: str, shown: str
) -> None:
    assert round_number(Decimal(exact)) == shown
    assert readable(f"V_cold {exact} JPY") == f"V_cold {shown} JPY"


def test_short_numbers_words_and_dates_are_left_alone() -> None:
    text = (
        "R = clamp(floor 2000000000, cap none, m_ops 1.2 (assessed 1.2) × (volume 0 [none] "
        "+ c_cold 0.0005 × V_cold 1.23456789 + k_inc 0.5 × net incident losses 3y 0)) "
        "= 5520453201.8964376; expires 2026-11-21; v1.1234567891; jp-fsa-2026"
    )
    assert readable(text) == text


@given(st.decimals(min_value=0, max_value=10**15, places=18, allow_nan=False))
def test_rounding_is_close_and_keeps_at_most_eight_significant_digits(value: Decimal) -> None:
    shown = readable(f"held {value:f} of it").split()[1]
    number = Decimal(shown)
    whole, _, fraction = shown.partition(".")
    if LONG.fullmatch(f"{value:f}"):
        digits = (whole + fraction).lstrip("0")
        assert len(digits) <= max(8, len(whole.lstrip("0")) + 2), shown
    else:
        assert number == value and shown == f"{value:f}"
    # within half a unit of the last digit kept: 8 significant, or 2 decimals when coarser
    tolerance = max(value.scaleb(-7), Decimal("0.005"))
    assert abs(number - value) <= tolerance


def _evaluation() -> tuple[str, list[str], dict[str, object]]:
    """An evaluation whose holdings come from prices with many digits (as a snapshot's)."""
    statement = ReserveStatement(currency="JPY", as_of=date(2026, 11, 21))
    inputs = ReserveInputs(
        currency="JPY",
        client_value_by_class={
            "cold": Decimal("230037766824.7031328166777"),
            "hot": Decimal("11337699733.3376431058423"),
        },
        own_buffer_value=Decimal("11337699733.3376431058423"),
        per_asset=(
            AssetPosition(
                code="ETH",
                owed_units=135719204063745141174654,
                held_units=137076396104382592586400,
                hot_units=5428768162549805646986,
                own_buffer_units=5428768162549805646986,
                decimals=18,
                price=Decimal("1694872.3"),
            ),
        ),
    )
    result = evaluate(load_pack("jp-fsa-2026"), statement, inputs, as_of=date(2026, 11, 21))
    reasons = [c.reason_text for c in result.checks] + [
        g.reason_text for c in result.components for g in c.gates
    ]
    return result.formula_text, reasons, {"doc": result.to_json(), "formula": result.formula}


def test_formula_and_reasons_for_people_are_rounded_the_document_is_exact() -> None:
    formula_text, reasons, exact = _evaluation()
    assert "230037766824.7031328166777" in str(exact["formula"])
    assert "V_cold 230037766824.7 " in formula_text
    assert LONG.search(formula_text) is None
    for reason in reasons:
        assert LONG.search(reason) is None, reason
    doc = exact["doc"]
    assert isinstance(doc, dict)
    assert doc["required"]["formula"] == exact["formula"]
    checks = {c["check"]: c["reason"] for c in doc["checks"]}
    assert any("137076.3961043825925864" in reason for reason in checks.values())
    assert any("held 137076.4 of 135719.2 ETH owed" in reason for reason in reasons)
