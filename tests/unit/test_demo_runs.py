"""The demo's one-line summary of a scheduled run (verifier/tools/demo.py `run_line`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rich.text import Text

from verifier.base.errors import ChainError
from verifier.tools.demo import run_line


def _wallet(chain: str, label: str, status: str, epoch: str | None, blocks: int | None) -> Any:
    return {
        "chain": chain,
        "label": label,
        "ownership": {
            "status": status,
            "epoch": None if epoch is None else {"id": epoch, "height": 1, "hash": "00" * 32},
            "age": None if blocks is None else {"blocks": blocks, "seconds": None},
        },
    }


REPORT = {
    "chains": [
        {"chain": "bitcoin", "height": 513, "block_hash": "aa" * 32},
        {"chain": "ethereum", "height": 11, "block_hash": "bb" * 32},
    ],
    "assets": [
        {"code": "BTC", "coverage_ratio": "1.0099"},
        {"code": "ETH", "coverage_ratio": "0.5"},
    ],
    "wallets": [
        _wallet("bitcoin", "cold", "proven", "e1", 12),
        _wallet("ethereum", "cold", "proven", "e1", 6),
        _wallet("bitcoin", "old", "stale", "e0", 512),  # not proven: no age shown
        _wallet("bitcoin", "wrong-block", "unproven", None, None),
    ],
}


def _plain(markup: str) -> str:
    return Text.from_markup(markup).plain


def test_a_covered_run_names_heights_coverage_proofs_and_ages() -> None:
    result = SimpleNamespace(run=SimpleNamespace(id=3), report=REPORT, error=None, exit_code=0)
    line = _plain(run_line(2, 3, result, "0.13"))
    assert line.startswith("2/3 run 3 at bitcoin 513, ethereum 11: ")
    assert "BTC 100.99% ETH 50.00%" in line
    assert "proofs 2 proven, 1 stale, 1 unproven" in line
    assert "proof age (epoch e1): bitcoin 12, ethereum 6 blocks" in line
    assert "e0" not in line  # a stale proof's age is not a proven one's
    assert line.endswith("covered in 0.13 s")


def test_a_shortfall_and_a_failed_run_say_so() -> None:
    short = SimpleNamespace(run=SimpleNamespace(id=4), report=REPORT, error=None, exit_code=1)
    assert "not covered (exit 1)" in _plain(run_line(1, 1, short, "0.1"))
    failed = SimpleNamespace(
        run=SimpleNamespace(id=5), report=None, error=ChainError("node [gone]"), exit_code=4
    )
    line = _plain(run_line(1, 1, failed, "0.1"))
    assert line == "1/1 run 5: failed (exit 4) node [gone]"  # markup in a message is text
