"""The history page's Runs table fits a 1280 px window with three assets and billions of yen
of reserve (issue 14, a second outside tester: its last column, "error", was clipped at
1280; the reserve cell now breaks between eligible and required, and the header wraps), and
`por history`'s scenario line counts every scenario, an errored one included."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chromium_fixtures import need_chromium

from verifier.history.records import Coverage, RunRecord
from verifier.history.view import render_history_html, stress_line
from verifier.jobs.stress_run import StressOutcome

pytestmark = pytest.mark.browser


def _run(n: int, **over: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": n,
        "started_at": f"2026-12-05T07:09:5{n}.000Z",
        "finished_at": f"2026-12-05T07:09:5{n}.500Z",
        "status": "ok",
        "exit_code": 0,
        "error": None,
        "duration_ms": 500,
        "tool_version": "0.1.0",
        "config_hash": None,
        "report_id": None,
        "currency": "JPY",
        "combined_ratio": Decimal("2.0589"),
        "reserve_required": Decimal("2813539113.77"),
        "reserve_eligible": Decimal("4906769556.66"),
        "reserve_met": True,
        "coverage": {
            code: Coverage(code, 8, 10**10, 10**10, 0, Decimal(ratio), Decimal(1), True)
            for code, ratio in (("BTC", "1.0049"), ("ETH", "1.0099"), ("USDT", "1.0099"))
        },
        "stress": (
            StressOutcome("dmm-2024", "DMM", True, Decimal(0), 0),
            StressOutcome("ghost", "Ghost", None, None, None, "selects no wallet"),
        ),
    }
    fields.update(over)
    return RunRecord(**fields)


def test_the_scenario_line_counts_an_errored_scenario() -> None:
    line = stress_line(_run(1))
    assert line.startswith("run 1 scenarios: 1 of 2 made whole; ghost not evaluated"), line


def test_the_runs_table_fits_at_1280(browser: Any, tmp_path: Path) -> None:
    need_chromium()
    runs = [_run(1), _run(2, status="failed", error="bitcoin node unreachable"), _run(3)]
    page_file = tmp_path / "history.html"
    page_file.write_text(render_history_html(runs, "/tmp/demo-out/por.db"), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        overflow = page.evaluate(
            "() => [...document.querySelectorAll('.scroll')].map("
            "e => [e.querySelector('table').className, e.scrollWidth, e.clientWidth])"
        )
        for cls, scroll, client in overflow:
            assert scroll <= client + 1, f"table.{cls} is {scroll}px in a {client}px box"
        assert "unreachable" in page.inner_text("table.runs")
    finally:
        context.close()
