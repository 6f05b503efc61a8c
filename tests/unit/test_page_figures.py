"""The pages' figures and charts (verifier/report/figures.py, verifier/report/charts.py).

Rule-pack reasons are rounded for reading (the JSON keeps them exact), every legend colour
has its swatch class in the one style sheet (the site's CSP forbids inline style), and the
charts have no viewBox, so their text keeps its size on a phone; the proof-check page's
amounts (verifier/site/assets/verify.js) read like the report's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from verifier.report.charts import COLOURS, coverage_chart, line_chart, reserve_chart
from verifier.report.figures import pct, readable_text, units
from verifier.report.html import render_html, stylesheet

VERIFY_JS = Path(__file__).resolve().parents[2] / "verifier" / "site" / "assets" / "verify.js"


def test_reasons_are_rounded_for_reading() -> None:
    reason = (
        "hot + other 11337699733.3376431058423 of 241375466558.04077592252 customer value "
        "(custodial 2532538139.7 reported, not counted)"
    )
    assert readable_text(reason) == (
        "hot + other 11,337,699,733.33 of 241,375,466,558.04 customer value "
        "(custodial 2,532,538,139.7 reported, not counted)"
    )
    assert (
        readable_text("own ETH 5428.768162549805646986 against 0.5 ETH")
        == "own ETH 5,428.76816254 against 0.5 ETH"
    )
    # rounded down, never up; whole numbers, versions and words are left alone
    assert readable_text("held 0.999999999999 of 1") == "held 0.99999999 of 1"
    assert readable_text("pack 2026.0-ph1 v1.2.3 at height 1000") == (
        "pack 2026.0-ph1 v1.2.3 at height 1000"
    )
    assert readable_text("owed 1234567.891.") == "owed 1,234,567.89."
    assert readable_text(None) == ""


def test_coverage_rounds_down_everywhere() -> None:
    assert pct("1.00999") == "100.99%"
    assert pct(Decimal("0.99999")) == "99.99%"
    assert pct(None) == "n/a"
    assert units("5028418.830235", 6) == "5,028,418.830235"
    assert units("0.123456789", 18) == "0.12345678"


def test_every_legend_colour_has_a_swatch_class() -> None:
    css = stylesheet()
    for colour in COLOURS:
        code = colour.removeprefix("#").lower()
        assert f".c-{code}{{background:#{code}}}" in css, colour


def test_charts_keep_their_text_size() -> None:
    assets = [
        {
            "code": "BTC",
            "liabilities": {"value": "100"},
            "holdings": {"value": "101"},
            "coverage_ratio": "1.01",
            "covered": True,
        }
    ]
    reserve = {"required": {"amount": "5"}, "eligible": {"total": "6", "components": []}}
    svgs = [
        str(coverage_chart(assets, "JPY")),
        str(reserve_chart(reserve)[0]),
        str(
            line_chart(
                "coverage",
                ["2026-12-05T00:00:00.000Z", "2026-12-05T01:00:00.000Z"],
                {"BTC": [("2026-12-05T00:00:00.000Z", Decimal("1.01"))]},
                percent=True,
                unit="coverage",
            )[0]
        ),
    ]
    for svg in svgs:
        outer = re.match(r"<svg [^>]*>", svg)
        assert outer is not None and "viewBox" not in outer.group(0), svg[:80]
        assert 'width="100%"' in outer.group(0)
        assert "style=" not in svg


def test_the_report_page_shows_rounded_reasons() -> None:
    doc = {
        "verdict": {"exit_code": 0, "breaches": []},
        "reserve": {
            "checks": [
                {
                    "check": "non_cold_share",
                    "passed": True,
                    "value": "0.04697",
                    "limit": "0.05",
                    "status": "PH",
                    "reason": "hot + other 11337699733.3376431058423 of 241375466558.04",
                }
            ]
        },
    }
    page = render_html(doc)
    assert "hot + other 11,337,699,733.33 of 241,375,466,558.04" in page
    assert "11337699733.3376431058423" not in page


def test_proof_page_amounts_read_like_the_report() -> None:
    """verify.js formatReadable (the customer's proof-check page) shows a balance as
    figures.py `units` does: separators, at most 8 decimals, rounded down."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required under CI to test verify.js")
        pytest.skip("node is not installed")
    cases = [
        (0, 18),
        (150_000_000, 8),
        (123_456_789_012_345_678_901_234, 18),
        (5_428_768_162_549_805_646_986, 18),
        (248_906_732_096_634, 6),
        (999_999, 0),
        (1_000, 3),
        (-123_456_789_999, 10),
    ]
    script = (
        'const fs = require("fs"), vm = require("vm");'
        "vm.runInThisContext(fs.readFileSync(process.argv[1], 'utf8'));"
        "const cases = JSON.parse(process.argv[2]);"
        "process.stdout.write(JSON.stringify(cases.map(([u, d]) =>"
        " PorVerify.formatReadable(u, d))));"
    )
    args = json.dumps([[str(u), d] for u, d in cases])
    out = subprocess.run(
        [node, "-e", script, str(VERIFY_JS), args], capture_output=True, text=True, check=True
    )
    want = [units(Decimal(u).scaleb(-d), d) for u, d in cases]
    assert json.loads(out.stdout) == want
    assert want[3] == "5,428.76816254"
    # below the 8th decimal: figures.py `units` shows "0E-8" here (reported), the page zeros
    tiny = [node, "-e", script, str(VERIFY_JS), '[["1", 18]]']
    tiny_out = subprocess.run(tiny, capture_output=True, text=True, check=True).stdout
    assert json.loads(tiny_out) == ["0.00000000"]


def test_history_shows_the_reserve_and_the_pages_figures() -> None:
    """`por history` (terminal) and its page: the reserve as eligible / required, coverage and
    amounts by figures.py (separators, rounded down), one rule for both."""
    from rich.console import Console

    from verifier.history.records import Coverage, RunRecord
    from verifier.history.view import render_history_html, render_table

    run = RunRecord(
        id=7,
        started_at="2026-12-05T00:00:00.000Z",
        finished_at="2026-12-05T00:00:01.000Z",
        status="ok",
        exit_code=0,
        error=None,
        duration_ms=900,
        tool_version="0.1.0",
        config_hash="ab" * 32,
        report_id="r7",
        currency="JPY",
        combined_ratio=Decimal("12.3456"),
        reserve_required=Decimal("5520453201.8964376"),
        reserve_eligible=Decimal("6260226600.9482188"),
        reserve_met=True,
        coverage={
            "BTC": Coverage("BTC", 8, 10**12, 10**12, 0, Decimal("1.0099999"), Decimal(1), True)
        },
    )
    console = Console(record=True, width=200)
    render_table([run], console)
    text = console.export_text()
    page = render_history_html([run], "por.db")
    for shown in (text, page):
        assert "6,260,226,600 / 5,520,453,201" in shown
        assert "1,234.56%" in shown and "100.99%" in shown
    assert "reserve (eligible / required)</th>" in page


def test_coverage_legend_names_only_what_is_drawn() -> None:
    from verifier.report.charts import coverage_legend

    def side(value: str) -> dict[str, str]:
        return {"amount": value, "value": value}

    covered = {"code": "BTC", "liabilities": side("10"), "holdings": side("11"), "covered": True}
    short = {"code": "ETH", "liabilities": side("10"), "holdings": side("9"), "covered": False}
    unpriced = {"code": "XYZ", "liabilities": None, "holdings": None, "covered": False}
    assert [label for _, label in coverage_legend([covered, unpriced])] == [
        "customer liabilities",
        "proven holdings (covered)",
    ]
    assert [label for _, label in coverage_legend([short])] == [
        "customer liabilities",
        "proven holdings (short)",
    ]
    assert len(coverage_legend([covered, short])) == 3
    assert coverage_legend([unpriced]) == []


def test_tiny_figures_never_show_in_exponent_notation() -> None:
    from decimal import Decimal

    from verifier.report.figures import money, number

    assert units(Decimal(1).scaleb(-18), 18) == "0.00000000"
    assert money("0.0000001") == "0.00"
    assert number(Decimal("1E-9")) == "0.000000001"
    assert pct("0.000000001") == "0.00%"
