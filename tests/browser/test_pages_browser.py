"""Every page people read, in headless Chromium at phone (390 px) and desktop (1280 px) width.

The pages: the HTML coverage report (`verifier.report.html.render_html`) of a demo report
(tests/browser/demo-report.json, as `make demo` writes it) and of the hostile sample report,
the history page (`verifier.history.view.render_history_html`) of a few runs, one of them failed,
and every page of the published site (`verifier.site.publish.build_site`; the test fails when
the site gains a page this list does not name). Each page is served over loopback, must carry a
viewport meta, must not scroll sideways (``document.scrollingElement.scrollWidth <=
innerWidth``) nor hold a table, .scroll box or cell that does (scrollWidth > clientWidth + 1:
a table wider than its box hides its last columns), must keep chart text at least 11 px tall on screen, and is saved as a full-page
screenshot under the test's temporary directory (or $POR_ARTIFACTS/pages); the paths are
printed, for a person to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from chromium_fixtures import need_chromium
from page_checks import (
    WIDTHS,
    artefacts_dir,
    assert_chart_text_readable,
    assert_fits,
    open_page,
    serve_directory,
)

from verifier.history.records import Coverage, RunRecord
from verifier.history.view import render_history_html
from verifier.report.html import render_html
from verifier.site.publish import build_site

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent


def _run(n: int, when: str, status: str, ratios: dict[str, str], **over: Any) -> RunRecord:
    coverage = {
        code: Coverage(code, 8, 10**12, int(Decimal(r) * 10**12), 0, Decimal(r), Decimal(1), True)
        for code, r in ratios.items()
    }
    fields: dict[str, Any] = {
        "id": n,
        "started_at": when,
        "finished_at": when,
        "status": status,
        "exit_code": {"ok": 0, "shortfall": 1, "failed": 4}[status],
        "error": None,
        "duration_ms": 900,
        "tool_version": "0.1.0",
        "config_hash": "ab" * 32,
        "report_id": f"r{n}",
        "currency": "JPY",
        "combined_ratio": Decimal("1.026194993870396453367846263"),
        "reserve_required": Decimal("5520453201.8964376"),
        "reserve_eligible": Decimal("6260226600.9482188"),
        "reserve_met": True,
        "coverage": coverage,
    }
    fields.update(over)
    return RunRecord(**fields)


def history_runs() -> list[RunRecord]:
    """Four hourly runs: covered, a BTC shortfall, a failed run (a hostile error), covered."""
    return [
        _run(1, "2026-12-05T00:00:00.000Z", "ok", {"BTC": "1.0099999999982705", "ETH": "1.01"}),
        _run(
            2,
            "2026-12-05T01:00:00.000Z",
            "shortfall",
            {"BTC": "0.9731", "ETH": "1.0123"},
            reserve_eligible=Decimal("5000000000"),
            reserve_met=False,
            combined_ratio=Decimal("0.9981"),
        ),
        _run(
            3,
            "2026-12-05T02:00:00.000Z",
            "failed",
            {},
            error="bitcoin node <script>alert(1)</script> unreachable",
            combined_ratio=None,
            reserve_required=None,
            reserve_eligible=None,
            reserve_met=None,
        ),
        _run(4, "2026-12-05T03:00:00.000Z", "ok", {"BTC": "1.0312", "ETH": "1.0099"}),
    ]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every page, written into one directory (the site under site/)."""
    need_chromium()
    root = tmp_path_factory.mktemp("pages")
    demo = json.loads((HERE / "demo-report.json").read_text())
    (root / "report.html").write_text(render_html(demo), encoding="utf-8")
    hostile = builder._sample_report()
    (root / "report-sample.html").write_text(render_html(hostile), encoding="utf-8")
    (root / "history.html").write_text(
        render_history_html(history_runs(), "demo-out/por.db"), encoding="utf-8"
    )
    att_dir, _ = builder.make_attestation_dir(root / "work")
    build_site(att_dir, root / "site")
    return root


@pytest.fixture(scope="module")
def base_url(pages: Path) -> Iterator[str]:
    with serve_directory(pages) as url:
        yield url


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artefacts_dir(tmp_path_factory, "pages", "pages-screenshots")


# every table, .scroll box and cell that must not be wider inside than its box
BOXES = "table, .scroll, td, th, dd, pre, .result"

SITE_PAGES = ("site/index.html", "site/verify.html")
PAGES = ("report.html", "report-sample.html", "history.html", *SITE_PAGES)


def test_every_site_page_is_looked_at(pages: Path) -> None:
    """A page added to the site is added to PAGES, so it is screenshot and measured too."""
    built = sorted(
        f"site/{p.relative_to(pages / 'site')}" for p in (pages / "site").rglob("*.html")
    )
    assert built == sorted(SITE_PAGES)


@pytest.mark.parametrize("width_name", sorted(WIDTHS))
@pytest.mark.parametrize("name", PAGES)
def test_page_fits_the_viewport(
    browser: Any, base_url: str, artefacts: Path, name: str, width_name: str
) -> None:
    width = WIDTHS[width_name]
    context, page, errors = open_page(browser, f"{base_url}/{name}", width)
    try:
        viewport = page.eval_on_selector_all(
            'meta[name="viewport"]', "metas => metas.map(m => m.content)"
        )
        assert viewport == ["width=device-width, initial-scale=1"], name
        shot = artefacts / f"{name.replace('/', '-').removesuffix('.html')}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert_fits(page, width, name, BOXES)
        assert_chart_text_readable(page, width, name)
        assert page.evaluate("() => window.__xss === undefined")
        assert errors == []
    finally:
        context.close()
