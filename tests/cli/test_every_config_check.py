"""`por reconcile --every` checks its config once before the loop: a config invalid at
start is exit 3 at once with one message naming the file and key (not a failed run every
interval, forever); one that becomes invalid while the loop runs (edited in place) fails
that run, which is stored and printed with exit 3, and the loop goes on.

No node is needed: the config's Ethereum node is port 9 (connection refused), so every run
of a valid config fails with exit 4 and is stored as failed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

BIN = Path(sys.executable).parent

CONFIG = """
[exchange]
name = "Acme KK"
attestation_id = "acme-2026-q4"

[ethereum]
url = "http://127.0.0.1:9"
chain_id = 31337
timeout = 1

[liabilities]
file = "liabilities.csv"
assets = "assets.toml"

[prices]
file = "prices.toml"

[reserve]
statement = "reserve.toml"
pack = "jp-fsa-2026"
"""
"""Valid, with every input `por init` writes beside it (the `inputs` fixture)."""


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """`por init`'s input files in tmp_path (its por.toml replaced by CONFIG's)."""
    done = por("init", "--dir", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "por.toml").write_text(CONFIG)
    return tmp_path / "por.toml"


def por(*args: Any, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "por"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,  # a guard against a hang, not a timing assertion
        check=False,
    )


@pytest.mark.parametrize("as_json", [True, False])
def test_a_config_invalid_at_start_ends_the_loop_at_once(
    tmp_path: Path, inputs: Path, as_json: bool
) -> None:
    config = inputs
    config.write_text(CONFIG.replace("chain_id = 31337", 'chain_id = "x"'))
    done = por(
        "reconcile", "--config", config, "--every", "1s", *(["--json"] if as_json else []),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    flat = " ".join(done.stderr.split())
    assert str(config) in flat and "ethereum.chain_id" in flat
    if as_json:
        doc = json.loads(done.stdout)  # one document, no run lines
        assert doc["exit_code"] == 3 and doc["key"] == "ethereum.chain_id"
    else:
        assert done.stdout == ""
    assert not (tmp_path / "por.db").exists()  # nothing ran, nothing was stored


def test_a_missing_config_ends_the_loop_at_once(tmp_path: Path) -> None:
    done = por("reconcile", "--config", tmp_path / "nowhere.toml", "--every", "1s", cwd=tmp_path)
    assert done.returncode == 3 and "nowhere.toml" in " ".join(done.stderr.split())


def test_a_config_without_the_inputs_of_a_run_ends_the_loop_at_once(
    tmp_path: Path, inputs: Path
) -> None:
    """Valid for `load_config`, but no run can do without [reserve] statement."""
    inputs.write_text(CONFIG.replace('statement = "reserve.toml"\n', ""))
    done = por("reconcile", "--config", inputs, "--every", "1s", "--json", cwd=tmp_path)
    assert done.returncode == 3, done.stdout
    assert json.loads(done.stdout)["key"] == "reserve.statement"
    assert not (tmp_path / "por.db").exists()


def test_a_config_edited_wrong_while_running_fails_that_run_and_the_loop_goes_on(
    tmp_path: Path, inputs: Path
) -> None:
    config = inputs
    process = subprocess.Popen(
        [str(BIN / "por"), "reconcile", "--config", str(config), "--every", "1s", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: Queue[str] = Queue()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=reader, daemon=True).start()

    def next_line() -> dict[str, Any]:
        try:
            run: dict[str, Any] = json.loads(lines.get(timeout=120))
        except Empty:
            process.kill()
            pytest.fail(f"no run line: {process.communicate()[1][-2000:]}")
        return run

    try:
        first = next_line()
        assert first["exit_code"] == 4  # valid config, no node: a failed run, stored
        config.write_text(CONFIG.replace("chain_id = 31337", 'chain_id = "x"'))
        runs = [next_line() for _ in range(3)]
        invalid = [r for r in runs if r["exit_code"] == 3]
        assert invalid, runs  # the edited config fails its run...
        config.write_text(CONFIG)
        for _ in range(5):  # ...and the loop goes on: fixed again, runs go back to exit 4
            if next_line()["exit_code"] == 4:
                break
        else:
            pytest.fail("the loop did not pick up the fixed config")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
