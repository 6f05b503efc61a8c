"""The shared page checks (tests/browser/page_checks.py) can fail: a page that scrolls
sideways, a table wider than its .scroll box, or 6 px chart text each fail their check, and
a page that fits passes, served by `serve_directory` at phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from page_checks import (
    WIDTHS,
    assert_chart_text_readable,
    assert_fits,
    open_page,
    serve_directory,
)

pytestmark = pytest.mark.browser

HEAD = '<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">'
PAGES = {
    "fits.html": "<p>fits</p><svg width='200' height='40'><text y='20'>label</text></svg>",
    "wide.html": "<div style='width:2000px'>wide</div>",
    "table.html": (
        "<div class='scroll' style='overflow-x:auto'><table><tr>"
        + "<td>cell-with-a-long-unbroken-name</td>" * 20
        + "</tr></table></div>"
    ),
    "tiny.html": (
        "<svg viewBox='0 0 2000 100' style='width:100%'>"
        "<text y='50' font-size='12'>label</text></svg>"
    ),
}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("checks")
    for name, body in PAGES.items():
        (root / name).write_text(HEAD + body, encoding="utf-8")
    with serve_directory(root) as url:
        yield url


def _check(browser: Any, base_url: str, name: str) -> None:
    width = WIDTHS["phone"]
    context, page, errors = open_page(browser, f"{base_url}/{name}", width)
    try:
        assert_fits(page, width, name, "table, .scroll, td")
        assert_chart_text_readable(page, width, name)
        assert errors == []
    finally:
        context.close()


def test_a_page_that_fits_passes(browser: Any, base_url: str) -> None:
    _check(browser, base_url, "fits.html")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("wide.html", r"wide\.html: \d+px wide at"),
        ("table.html", "boxes scroll sideways"),
        ("tiny.html", "chart text"),
    ],
)
def test_each_check_fails_on_a_page_that_breaks_it(
    browser: Any, base_url: str, name: str, fragment: str
) -> None:
    with pytest.raises(AssertionError, match=fragment):
        _check(browser, base_url, name)
