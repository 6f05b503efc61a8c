"""What the browser suites share about a page people read: the two widths, a static server
for a directory of pages, where screenshots go, a browser context at a width, and the
checks that a page fits its viewport (no sideways scroll, no box wider than itself, chart
text a phone can read).

Used by test_pages_browser.py, test_stress_browser.py and test_insolvency_browser.py (this
directory is on `sys.path`, conftest.py), so the three measure a page the same way;
test_page_checks.py shows that each check fails on a page that breaks it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WIDTHS = {"phone": 390, "desktop": 1280}
"""A phone's and a desktop window's width, px (a context narrower than 500 px is mobile)."""
HEIGHT = 900


def overflowing(selectors: str) -> str:
    """JavaScript listing every element of `selectors` wider inside than its box
    (scrollWidth > clientWidth + 1), named by tag, class and the start of its text."""
    return f"""() => [...document.querySelectorAll('{selectors}')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => `${{e.tagName.toLowerCase()}}.${{e.className}} ${{e.scrollWidth}}>${{e.clientWidth}} `
    + JSON.stringify(e.textContent.trim().slice(0, 40)))"""


SMALLEST_CHART_TEXT = (
    "() => Math.min(999, ...[...document.querySelectorAll('svg text')]"
    ".map(t => t.getBoundingClientRect().height).filter(h => h > 0))"
)
"""JavaScript: the height on screen of the smallest chart label (999 without charts)."""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """`directory` served over loopback on a free port: yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def artefacts_dir(factory: pytest.TempPathFactory, name: str, fallback: str) -> Path:
    """Where screenshots go: $POR_ARTIFACTS/`name`, else a temporary directory."""
    env = os.environ.get("POR_ARTIFACTS")
    path = Path(env) / name if env else factory.mktemp(fallback)
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_context(browser: Any, width: int) -> Any:
    """A browser context `width` px wide (a phone, touch included, below 500 px)."""
    return browser.new_context(
        viewport={"width": width, "height": HEIGHT}, is_mobile=width < 500, has_touch=width < 500
    )


def open_page(browser: Any, url: str, width: int) -> tuple[Any, Any, list[str]]:
    """(context, page, the page's uncaught errors) of `url` loaded at `width`; the caller
    closes the context."""
    context = new_context(browser, width)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url, wait_until="load")
    except BaseException:
        context.close()
        raise
    return context, page, errors


def widths(page: Any) -> tuple[int, int]:
    """(the document's scroll width, the window's inner width), px."""
    scroll, inner = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    return scroll, inner


def assert_fits(page: Any, width: int, what: str, selectors: str) -> None:
    """The page is `width` px wide, does not scroll sideways, and no element of
    `selectors` is wider inside than its box (a table wider than its .scroll box hides
    its last columns)."""
    scroll, inner = widths(page)
    assert inner == width and scroll <= inner, f"{what}: {scroll}px wide at {inner}px"
    offenders = page.evaluate(overflowing(selectors))
    assert offenders == [], f"{what} at {width}px: boxes scroll sideways: {offenders}"


def assert_chart_text_readable(page: Any, width: int, what: str) -> None:
    """Chart labels stay at least 11 px tall on screen (a scaled-down SVG made them 6 px)."""
    smallest = page.evaluate(SMALLEST_CHART_TEXT)
    assert smallest >= 11, f"{what}: chart text {smallest}px tall at {width}px"
