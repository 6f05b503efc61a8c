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

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from chromium_fixtures import need_chromium

from verifier.history.records import Coverage, RunRecord
from verifier.history.view import render_history_html
from verifier.report.html import render_html
from verifier.site.publish import build_site

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
WIDTHS = {"phone": 390, "desktop": 1280}


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
    handler = functools.partial(_Quiet, directory=str(pages))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("POR_ARTIFACTS")
    path = Path(env) / "pages" if env else tmp_path_factory.mktemp("pages-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


# every table, .scroll box and cell wider inside than its box (scrollWidth > clientWidth + 1),
# named by tag, class and the start of its text
OVERFLOWING = """() => [...document.querySelectorAll('table, .scroll, td, th, dd, pre, .result')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.scrollWidth}>${e.clientWidth} `
    + JSON.stringify(e.textContent.trim().slice(0, 40)))"""

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
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        is_mobile=width_name == "phone",
        has_touch=width_name == "phone",
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base_url}/{name}", wait_until="load")
        viewport = page.eval_on_selector_all(
            'meta[name="viewport"]', "metas => metas.map(m => m.content)"
        )
        assert viewport == ["width=device-width, initial-scale=1"], name
        shot = artefacts / f"{name.replace('/', '-').removesuffix('.html')}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        scroll, inner = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
        )
        assert inner == width
        assert scroll <= inner, f"{name} is {scroll}px wide at {inner}px: it scrolls sideways"
        # nor does any box inside it: a table wider than its .scroll box hides columns
        offenders = page.evaluate(OVERFLOWING)
        assert offenders == [], f"{name} at {width}px: boxes scroll sideways: {offenders}"
        # chart text keeps its size on a phone (a scaled-down SVG made it 6 px)
        smallest = page.evaluate(
            "() => Math.min(999, ...[...document.querySelectorAll('svg text')]"
            ".map(t => t.getBoundingClientRect().height).filter(h => h > 0))"
        )
        assert smallest >= 11, f"{name}: chart text {smallest}px tall at {width}px"
        assert page.evaluate("() => window.__xss === undefined")
        assert errors == []
    finally:
        context.close()
