"""Scheduled `[stress]` runs over time, as a second outside tester drove them (issue 14): a bad
scenario file never changes a run's exit code; a file error is alerted once, not run after
run; fixing the file while the scenario is still short raises nothing (it was short before
the file broke); recovering and falling short again is a second flip, alerted again.

The harness is tests/unit/test_stress_scheduled.py's: the scenarios are evaluated for real
(hand figures there: BTC held 110 made whole, 105 short by JPY 5,000), the reconciliation is
a stand-in whose exit code the test sets.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stress_fixture as fx
from postgres_fixtures import sample_report
from test_stress_scheduled import CONFIG, SCENARIOS, _stress

from verifier.history.schedule import RunOptions, run_once

BAD = '[[scenarios]]\nid = "x"\nkind = 1\n'
HOT_ONLY = SCENARIOS[: SCENARIOS.index('[[scenarios]]\nid = "ghost"')]
"""The hot-btc scenario alone (no ghost: every error below is the file's)."""


def _reconcile(exit_code: int, btc: int) -> Any:
    def reconcile(config: Any) -> Any:
        stress = None if config.stress is None else _stress(config.stress, btc * fx.BTC)
        return SimpleNamespace(report=sample_report(), exit_code=exit_code, stress=stress)

    return reconcile


@pytest.mark.parametrize("exit_code", [0, 1])
def test_a_bad_scenario_file_keeps_the_runs_exit_code(tmp_path: Path, exit_code: int) -> None:
    codes = {}
    for name, config in (("without", CONFIG.split("[stress]")[0]), ("bad file", CONFIG)):
        work = tmp_path / name.replace(" ", "-")
        work.mkdir()
        (work / "por.toml").write_text(config)
        (work / "scenarios.toml").write_text(BAD)
        options = RunOptions(config_file=work / "por.toml", env={})
        result = run_once(options, _reconcile(exit_code, 110))
        assert result.run is not None
        codes[name] = (result.exit_code, result.run.status, result.run.exit_code)
    assert codes["bad file"] == codes["without"]
    assert codes["without"][0] == exit_code


def test_alerts_over_a_break_a_fix_a_recovery_and_a_second_flip(tmp_path: Path) -> None:
    (tmp_path / "por.toml").write_text(CONFIG)
    scenarios = tmp_path / "scenarios.toml"
    options = RunOptions(config_file=tmp_path / "por.toml", env={})
    steps = [
        # (scenario file, BTC held, the alerts expected)
        (HOT_ONLY, 105, [("stress", "hot-btc")]),  # new and short
        (BAD, 105, [("stress_error", "scenarios")]),  # the file breaks
        (BAD, 105, []),  # still broken: no repeated stress_error
        (BAD, 110, []),
        (HOT_ONLY, 105, []),  # fixed, still short (as before the break): nothing new
        (HOT_ONLY, 110, []),  # recovered: no alert
        (HOT_ONLY, 105, [("stress", "hot-btc")]),  # short again: a second flip
        (HOT_ONLY, 105, []),  # stays short: silent
        (BAD, 105, [("stress_error", "scenarios")]),  # a new break after a good run
    ]
    seen = []
    for text, btc, _ in steps:
        scenarios.write_text(text)
        result = run_once(options, _reconcile(1 if btc == 105 else 0, btc))
        seen.append([(a.kind, a.subject) for a in result.alerts if a.kind.startswith("stress")])
        assert result.exit_code == (1 if btc == 105 else 0)  # the stand-in's, always
    assert seen == [expected for *_, expected in steps]
