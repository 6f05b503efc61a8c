"""Debian's headless Chromium for the browser tests: where it is, how it is started, and the
rule that under CI a missing browser fails rather than skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # without these Chromium keeps dialling Google's hosts, which this machine refuses
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail("/usr/bin/chromium is required under CI (Debian package chromium)")
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
