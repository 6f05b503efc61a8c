"""The scenarios pages in headless Chromium at phone (390 px) and desktop (1280 px) width: the
stand-alone page (`render_stress_html`, as `por stress --html` writes it) and the site's
Scenarios page (`por publish --stress`), both from fixtures/stress/hand-made.json. Each must
not scroll sideways, nor hold a table, .scroll box or cell that does, must keep chart text at
least 11 px tall, and is saved as a full-page screenshot (the path is printed, for a person to
look at)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import site_builder as builder
from chromium_fixtures import need_chromium
from page_checks import (
    WIDTHS,
    assert_chart_text_readable,
    assert_fits,
    open_page,
    serve_directory,
)

from verifier.site.publish import build_site
from verifier.stress.html import render_stress_html

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("stress.html", "site/scenarios.html")
BOXES = "table, .scroll, td, th, dd, pre"


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


@pytest.fixture(scope="module")
def base_url(pages: Path) -> Iterator[str]:
    with serve_directory(pages) as url:
        yield url


@pytest.mark.parametrize("width_name", sorted(WIDTHS))
@pytest.mark.parametrize("name", PAGES)
def test_scenarios_page_fits(
    browser: Any, base_url: str, pages: Path, name: str, width_name: str
) -> None:
    width = WIDTHS[width_name]
    context, page, errors = open_page(browser, f"{base_url}/{name}", width)
    try:
        shot = pages / f"{name.replace('/', '-').removesuffix('.html')}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert "a model of one event, not a prediction" in page.inner_text("main")
        assert_fits(page, width, name, BOXES)
        assert_chart_text_readable(page, width, name)
        assert errors == []
    finally:
        context.close()
