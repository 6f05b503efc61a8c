"""A FIFO given as any input file is refused at once (exit 3 "not a regular file"), never
waited on (issue 14, a second outside tester: a scenario file that was a FIFO hung
`por stress`, `por config check` and every scheduled `por reconcile` for ever).

A plain ``open()`` of a FIFO with no writer blocks before any check can run, so every
shared reader (verifier/base/safejson.py `open_regular`, `read_input`, `load_path`;
verifier/base/safetoml.py `load_path`; the pipeline's and the scheduler's hashes) opens
with ``O_NONBLOCK`` first. Each test runs under an alarm: a regression fails with
an exception instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verifier.base import safejson, safetoml
from verifier.base.errors import InputError
from verifier.cli.main import main

DEADLINE = 10
"""Seconds any one test may take before it counts as hung (none needs a tenth of it)."""


class Hung(BaseException):
    """Not an OSError (a reader would take TimeoutError for an unreadable file and go on)."""


def _hung(signum: int, frame: FrameType | None) -> None:
    raise Hung(f"still blocked after {DEADLINE} s: a FIFO was opened blocking")


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _hung)
    # repeating: a blocked open that something swallows once is interrupted again
    signal.setitimer(signal.ITIMER_REAL, DEADLINE, 1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "input.toml"
    os.mkfifo(path, 0o600)
    return path


def _readers() -> list[tuple[str, Callable[[Path], Any]]]:
    from verifier.history.schedule import _config_hash
    from verifier.inputs.config import load_config
    from verifier.jobs.pipeline import sha256_file
    from verifier.reserve.statement import load_statement
    from verifier.stress.scenario import load_scenarios

    def hashed(path: Path) -> Any:
        if _config_hash(path) is None:  # the scheduler's hash says "none", never blocks
            raise InputError("not a regular file", file=str(path))

    return [
        ("safejson.open_regular", lambda p: safejson.open_regular(p, what="file")),
        ("safejson.read_input", lambda p: safejson.read_input(p, what="file")),
        ("safejson.load_path", lambda p: safejson.load_path(p, what="file")),
        ("safetoml.load_path", lambda p: safetoml.load_path(p, what="file")),
        ("pipeline.sha256_file", sha256_file),
        ("schedule._config_hash", hashed),
        ("load_scenarios", load_scenarios),
        ("load_config", load_config),
        ("load_statement", load_statement),
    ]


@pytest.mark.parametrize("name", [name for name, _ in _readers()])
def test_every_shared_reader_refuses_a_fifo_at_once(fifo: Path, name: str) -> None:
    reader = dict(_readers())[name]
    with pytest.raises(InputError, match="not a regular file") as caught:
        reader(fifo)
    assert caught.value.exit_code == 3


def test_a_directory_is_still_named_as_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory, not a file"):
        safejson.read_input(tmp_path, what="scenario file")


def test_a_regular_file_reads_as_before(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('x = "y"\n')
    assert safetoml.load_path(tmp_path / "a.toml", what="file") == {"x": "y"}
    with safejson.open_regular(tmp_path / "a.toml", what="file") as handle:
        assert os.get_blocking(handle.fileno())  # O_NONBLOCK cleared once checked
        assert handle.read() == b'x = "y"\n'


@pytest.mark.parametrize(
    "argv",
    [
        ["stress", "--scenario", "{fifo}", "--report", "{fifo}"],
        ["stress", "--scenario", "{scenario}", "--report", "{report}", "--statement", "{fifo}"],
        ["config", "check", "--config", "{fifo}"],
    ],
)
def test_commands_given_a_fifo_exit_3(
    tmp_path: Path, fifo: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import stress_fixture as fx

    from verifier.report.document import report_digest

    doc = fx.report()
    doc["report_id"] = report_digest(doc)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(doc))
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        '[[scenarios]]\nid = "a"\ntitle = "A"\ndescription = "B"\n'
        '[[scenarios.shocks]]\nkind = "loss"\nvendor = "vaultsoft"\n'
    )
    rc = main([a.format(fifo=fifo, report=report, scenario=scenario) for a in argv])
    captured = capsys.readouterr()
    assert rc == 3, captured
    assert "not a regular file" in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_reconcile_with_stress_pointing_at_a_fifo_keeps_the_run(tmp_path: Path) -> None:
    """`por reconcile` (a stored run) whose [stress] scenarios is a FIFO: the run is stored
    with its own exit code and the scenario file's error, at once."""
    import stress_fixture as fx
    from test_stress_scheduled import _fake, _world

    from verifier.history.schedule import run_once

    options, held = _world(tmp_path)
    (tmp_path / "scenarios.toml").unlink()
    os.mkfifo(tmp_path / "scenarios.toml", 0o600)
    held.append(110 * fx.BTC)
    result = run_once(options, _fake(held))
    assert result.exit_code == 0 and result.run is not None
    (only,) = result.run.stress
    assert only.scenario_id is None and "not a regular file" in (only.error or "")
    assert [a.kind for a in result.alerts] == ["stress_error"]
