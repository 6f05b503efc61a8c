"""The scenarios pages in headless Chromium at phone (390 px) and desktop (1280 px) width: the
stand-alone page (`render_stress_html`, as `por stress --html` writes it) and the site's
Scenarios page (`por publish --stress`), both from fixtures/stress/hand-made.json. Each must
not scroll sideways, nor hold a table, .scroll box or cell that does, must keep chart text at
least 11 px tall, and is saved as a full-page screenshot (the path is printed, for a person to
look at)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from chromium_fixtures import need_chromium

from verifier.site.publish import build_site
from verifier.stress.html import render_stress_html

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"phone": 390, "desktop": 1280}
PAGES = ("stress.html", "site/scenarios.html")
OVERFLOWING = """() => [...document.querySelectorAll('table, .scroll, td, th, dd, pre')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.scrollWidth}>${e.clientWidth} `
    + JSON.stringify(e.textContent.trim().slice(0, 40)))"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_chromium()
    root = tmp_path_factory.mktemp("stress-pages")
    doc = json.loads((ROOT / "fixtures" / "stress" / "hand-made.json").read_text())
    (root / "stress.html").write_text(render_stress_html(doc), encoding="utf-8")
    att_dir, _ = builder.make_attestation_dir(root / "work")
    doc["report_id"] = json.loads((att_dir / "report.json").read_text())["report_id"]
    (root / "stress.json").write_text(json.dumps(doc))
    build_site(att_dir, root / "site", stress=root / "stress.json")
    return root


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def base_url(pages: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(pages))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("width_name", sorted(WIDTHS))
@pytest.mark.parametrize("name", PAGES)
def test_scenarios_page_fits(
    browser: Any, base_url: str, pages: Path, name: str, width_name: str
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
        shot = pages / f"{name.replace('/', '-').removesuffix('.html')}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert "a model of one event, not a prediction" in page.inner_text("main")
        scroll, inner = page.evaluate(
            "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
        )
        assert scroll <= inner == width, f"{name} is {scroll}px wide at {inner}px"
        assert page.evaluate(OVERFLOWING) == []
        smallest = page.evaluate(
            "() => Math.min(999, ...[...document.querySelectorAll('svg text')]"
            ".map(t => t.getBoundingClientRect().height).filter(h => h > 0))"
        )
        assert smallest >= 11, f"{name}: chart text {smallest}px tall at {width}px"
        assert errors == []
    finally:
        context.close()
