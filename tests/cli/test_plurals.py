"""Counts read right: "1 run", "1 address", "1 breach", "2 addresses" (verifier.base.console.plural
and the outputs that use it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rich.console import Console

from verifier.base.console import plural


@pytest.mark.parametrize(
    ("count", "word", "words", "expected"),
    [
        (1, "level", None, "1 level"),
        (2, "level", None, "2 levels"),
        (0, "level", None, "0 levels"),
        (1, "address", None, "1 address"),
        (3, "address", None, "3 addresses"),
        (2, "breach", None, "2 breaches"),
        (2, "box", None, "2 boxes"),
        (0, "discrepancy", None, "0 discrepancies"),
        (2, "day", None, "2 days"),
        (1, "child", "children", "1 child"),
        (2, "child", "children", "2 children"),
        (-1, "block", None, "-1 blocks"),
    ],
)
def test_plural(count, word, words, expected):
    assert plural(count, word, words) == expected


def test_plural_thousands():
    assert plural(1_000_000, "row", thousands=True) == "1,000,000 rows"
    assert plural(1, "row", thousands=True) == "1 row"


def _text(render) -> str:
    console = Console(record=True, width=200, color_system=None)
    render(console)
    return " ".join(console.export_text().split())


def test_report_one_unproven_address_and_one_breach():
    from verifier.report.terminal import render_terminal

    one = {
        "verdict": {"exit_code": 1, "breaches": [{"message": "BTC under"}]},
        "wallets": [
            {
                "chain": "bitcoin",
                "address": "bcrt1qexample",
                "label": "hot",
                "ownership": {"status": "unproven", "reason": "no signature"},
            }
        ],
    }
    text = _text(lambda console: render_terminal(one, console))
    assert "Not proven: 1 address, not counted" in text
    assert "1 breach listed above" in text
    two = {**one, "wallets": one["wallets"] * 2}
    two["verdict"] = {"exit_code": 1, "breaches": [{"message": "a"}, {"message": "b"}]}
    text = _text(lambda console: render_terminal(two, console))
    assert "Not proven: 2 addresses, not counted" in text
    assert "2 breaches listed above" in text


def test_history_table_of_one_run():
    from verifier.history.records import Coverage, RunRecord
    from verifier.history.view import render_table

    run = RunRecord(
        id=1,
        started_at="2026-12-05T00:36:12.000Z",
        finished_at="2026-12-05T00:36:13.000Z",
        status="ok",
        exit_code=0,
        error=None,
        duration_ms=1000,
        tool_version="0",
        config_hash=None,
        report_id=None,
        currency="JPY",
        combined_ratio=Decimal("1.02"),
        reserve_required=Decimal(1),
        reserve_eligible=Decimal(2),
        reserve_met=True,
        coverage={
            "BTC": Coverage(
                asset="BTC",
                decimals=8,
                liabilities=100,
                shortfall=0,
                holdings=101,
                ratio=Decimal("1.01"),
                threshold=Decimal(1),
                covered=True,
            )
        },
    )
    assert "por history: 1 run " in _text(lambda console: render_table([run], console)) + " "
    assert "por history: 2 runs" in _text(lambda console: render_table([run, run], console))


def test_max_age_of_one_day_and_one_block():
    from verifier.holdings.ownership import MaxAge

    assert MaxAge(1, "default", {"bitcoin": 1}).describe() == "1 day (default); bitcoin 1 block"
    assert MaxAge(92, "default", {"bitcoin": 6}).describe() == "92 days (default); bitcoin 6 blocks"


def test_sample_of_one_row(por, tmp_path):
    res = por(
        "liabilities", "sample", "--accounts", "1", "--assets", "1", "--out", tmp_path / "s.csv"
    )
    assert res.rc == 0, res.err
    assert " ".join(res.err.split()).startswith("1 row written to ")
