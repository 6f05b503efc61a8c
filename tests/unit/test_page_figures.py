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
from itertools import pairwise
from pathlib import Path
from typing import Any

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
    # the page breaks the cell after eligible, so the runs table fits 1280 px
    for shown in (text, page.replace("<br>/ ", " / ")):
        assert "6,260,226,600 / 5,520,453,201" in shown
        assert "1,234.56%" in shown and "100.99%" in shown
    assert "reserve<br>(eligible /<br>required)</th>" in page


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


# ----------------------------------------------------------------------------- chart axes


def _is_round_step(step: Decimal) -> bool:
    """1, 2 or 5 × 10^k."""
    digits = step.normalize().as_tuple().digits
    return len(digits) == 1 and digits[0] in (1, 2, 5)


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("0.95", "1.0299"),
        ("0.9658", "1.0385"),
        ("0.99", "1.0199"),
        ("0", "6260226600.9482188"),
        ("0", "128002323123.5"),
        ("0.9", "12.36"),
        ("0", "0"),
        ("7", "7"),
        ("0", "0.000003"),
        ("1E30", "1.3E30"),
    ],
)
def test_value_axes_step_in_round_values(low: str, high: str) -> None:
    from verifier.report.charts import round_ticks

    ticks = round_ticks(Decimal(low), Decimal(high))
    assert 3 <= len(ticks) <= 6, ticks
    assert ticks[0] <= Decimal(low) and ticks[-1] >= Decimal(high)
    steps = {b - a for a, b in pairwise(ticks)}
    assert len(steps) == 1 and _is_round_step(steps.pop()), ticks


def test_value_axis_labels_read_as_round_values() -> None:
    from verifier.report.charts import amount_label, percent_label, round_ticks

    percents = [percent_label(t) for t in round_ticks(Decimal("0.9658"), Decimal("1.0385"))]
    assert percents == ["96%", "98%", "100%", "102%", "104%"]
    assert percent_label(Decimal("1.005")) == "100.5%"
    amounts = [amount_label(t) for t in round_ticks(Decimal(0), Decimal("6260226600.9"))]
    assert amounts == ["0", "2bn", "4bn", "6bn", "8bn"]
    assert amount_label(Decimal("1500000000")) == "1.5bn"
    assert amount_label(Decimal("500000")) == "500k"
    assert amount_label(Decimal("0.25")) == "0.25"


def _at(iso: str) -> Decimal:
    from verifier.report.charts import _seconds

    return _seconds(iso)


@pytest.mark.parametrize(
    ("first", "last", "pattern"),
    [
        ("2026-12-05T00:55:46.660Z", "2026-12-05T00:55:46.989Z", r"\d\d:\d\d:\d\d"),
        ("2026-12-05T00:00:00Z", "2026-12-05T00:07:00Z", r"\d\d:\d\d:\d\d"),
        ("2026-12-05T00:00:00Z", "2026-12-05T00:00:40Z", r"\d\d:\d\d:\d\d"),
        ("2026-12-05T00:00:00Z", "2026-12-05T03:00:00Z", r"\d\d:\d\d"),
        ("2026-12-05T23:00:00Z", "2026-12-06T03:00:00Z", r"\d\d:\d\d"),
        ("2026-12-05T00:00:00Z", "2026-12-20T03:00:00Z", r"\d\d-\d\d"),
        ("2026-12-05T00:00:00Z", "2028-12-20T03:00:00Z", r"\d{4}-\d\d"),
        ("2026-12-05T00:00:00Z", "2026-12-05T00:00:00Z", r"\d\d:\d\d:\d\d"),
    ],
)
def test_date_axis_labels_are_few_distinct_and_fine_enough(
    first: str, last: str, pattern: str
) -> None:
    from verifier.report.charts import time_ticks

    t0, t1 = _at(first), _at(last)
    ticks, caption = time_ticks(t0, t1)
    labels = [text for _, text in ticks]
    assert 1 <= len(labels) <= 5, labels
    assert len(set(labels)) == len(labels), labels
    assert all(re.fullmatch(pattern, text) for text in labels), labels
    assert all(t0 <= tick <= t1 for tick, _ in ticks)
    # the first and last run's dates, each once, in the caption
    day0, day1 = first[:10], last[:10]
    assert caption.count(day0) == 1 and caption.count(day1) == 1, caption
    assert caption == f"run started (UTC), {day0}" + ("" if day0 == day1 else f" to {day1}")


def test_short_runs_show_seconds_and_hours_show_round_times() -> None:
    from verifier.report.charts import time_ticks

    seconds, _ = time_ticks(_at("2026-12-05T00:00:00Z"), _at("2026-12-05T00:07:00Z"))
    assert [t for _, t in seconds] == ["00:00:00", "00:02:00", "00:04:00", "00:06:00"]
    hours, _ = time_ticks(_at("2026-12-05T00:00:00Z"), _at("2026-12-05T03:00:00Z"))
    assert [t for _, t in hours] == ["00:00", "01:00", "02:00", "03:00"]
    # the demo's runs within one second: one label, not three "00:55" in a row
    demo, _ = time_ticks(_at("2026-12-05T00:55:46.660Z"), _at("2026-12-05T00:55:46.989Z"))
    assert [t for _, t in demo] == ["00:55:46"]


def _texts(svg: str) -> list[tuple[Decimal, str, str]]:
    """(y, text, the tag's attributes) of every <text> in `svg`."""
    return [
        (Decimal(m.group(2)), m.group(3), m.group(1))
        for m in re.finditer(r'<text ([^>]*?y="([-\d.]+)"[^>]*)>([^<]*)</text>', svg)
    ]


def _value_labels(svg: str) -> list[tuple[Decimal, str]]:
    return [(y, t) for y, t, attrs in _texts(svg) if 'x="0"' in attrs and t != "coverage"]


def test_the_hundred_percent_line_is_labelled_clear_of_its_neighbours() -> None:
    times = ["2026-12-05T00:00:00.000Z", "2026-12-05T01:00:00.000Z"]
    for values in (("12.34", "13.5"), ("0.97", "1.03"), ("1.0099", "1.0099"), ("0.5", "1.2")):
        series = {"BTC": [(t, Decimal(v)) for t, v in zip(times, values, strict=True)]}
        svg = str(line_chart("c", times, series, percent=True, unit="coverage")[0])
        labels = _value_labels(svg)
        hundred = [y for y, t in labels if t == "100%"]
        assert len(hundred) == 1, labels
        assert 'stroke-dasharray="6 4"' in svg
        for y, text in labels:
            assert text == "100%" or abs(y - hundred[0]) >= 18, (values, labels)
            # a gridline at every labelled value
            assert f'y1="{y + 3}" x2="100%" y2="{y + 3}"' in svg, (text, svg)
        assert all(re.fullmatch(r"\d+%", t) for _, t in labels), labels


def test_coincident_lines_are_each_labelled_at_their_end() -> None:
    times = ["2026-12-05T00:55:46.660Z", "2026-12-05T00:55:46.989Z"]
    same = [(t, Decimal("1.0099")) for t in times]
    svg = str(
        line_chart(
            "c", times, {"USDT": same, "BTC": same, "ETH": same}, percent=True, unit="coverage"
        )[0]
    )
    ends = sorted((y, t) for y, t, attrs in _texts(svg) if 'class="line-end"' in attrs)
    assert sorted(t for _, t in ends) == ["BTC", "ETH", "USDT"]
    rows = [y for y, _ in ends]
    assert all(b - a >= 13 for a, b in pairwise(rows)), ends
    # every line's points are drawn, the earlier lines' larger: equal points show as rings
    sizes = re.findall(r'<path d="M[^"]*" stroke="[^"]*" stroke-width="(\d+)"', svg)
    assert len(sizes) == 6 and len(set(sizes)) == 3


def test_end_labels_stack_only_when_they_would_touch() -> None:
    from verifier.report.charts import end_label_rows

    apart = [Decimal(100), Decimal(50)]
    assert end_label_rows(apart) == apart
    stacked = end_label_rows([Decimal(50)] * 3)
    assert stacked == [Decimal(37), Decimal(50), Decimal(63)]  # centred on the lines
    top = end_label_rows([Decimal(5)] * 2)
    assert top[0] >= 12 and top[1] - top[0] == 13  # kept inside the chart


def test_coverage_chart_axis_is_round_and_compact() -> None:
    def asset(code: str, owed: str, held: str) -> dict[str, Any]:
        return {
            "code": code,
            "liabilities": {"value": owed},
            "holdings": {"value": held},
            "coverage_ratio": "1.01",
            "covered": True,
        }

    svg = str(coverage_chart([asset("BTC", "126626906991.9", "128002323123.5")], "JPY"))
    axis = [t for _, t, attrs in _texts(svg) if 'font-size="12"' in attrs]
    assert axis == ["0", "50bn", "100bn", "150bn", "value (JPY)"]
    small = str(coverage_chart([asset("ETH", "1234", "1300")], "JPY"))
    assert [t for _, t, a in _texts(small) if 'font-size="12"' in a][:-1] == [
        "0",
        "500",
        "1k",
        "1.5k",
    ]
