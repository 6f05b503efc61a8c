"""`por reconcile --every 1s --json --report-dir DIR` on real bcoin and anvil nodes: stdout
is NDJSON (one compact por-run-v1 document per run, parsed line by line while the loop
runs), each run's full report is in DIR with DIR/latest.json always parseable (replaced
atomically), logs are JSON lines on stderr, and SIGTERM stops the loop with exit 0. A run
against a node that is away prints its error line and writes its error document."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_world import demo_world

pytestmark = pytest.mark.node
REPO = Path(__file__).resolve().parents[2]
RUNS = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("scheduled")
    with demo_world(work):
        yield work


def start_loop(config: Path, db: Path, report_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from verifier.cli.main import entrypoint; entrypoint()",
            "--log-format",
            "json",
            "reconcile",
            "--config",
            str(config),
            "--db",
            str(db),
            "--every",
            "1s",
            "--json",
            "--report-dir",
            str(report_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "POR_LOG_LEVEL": ""},
    )


def read_lines(process: subprocess.Popen[str], count: int, timeout: int) -> list[str]:
    """The first `count` stdout lines, each as soon as it is written (the loop flushes)."""
    lines: list[str] = []

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if len(lines) >= count:
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return lines


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_every_json_is_ndjson_with_reports_in_the_report_dir(world: Path, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    process = start_loop(world / "por.toml", tmp_path / "loop.db", report_dir)
    latest_seen: list[dict[str, Any]] = []
    try:
        lines = read_lines(process, RUNS, timeout=300)
        # latest.json parses whenever it is read: it is replaced by a rename, never rewritten
        for _ in range(20):
            if (report_dir / "latest.json").exists():
                latest_seen.append(json.loads((report_dir / "latest.json").read_text()))
        rest, err = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert len(lines) == RUNS, err
    assert process.returncode == 0, err
    runs = [json.loads(line) for line in lines + rest.splitlines()]
    for line in lines:
        assert line.endswith("\n") and line.count("\n") == 1 and ": " not in line  # compact
    for run in runs:
        assert run["format"] == "por-run-v1"
        assert run["exit_code"] == 0 and run["status"] == "ok" and "error" not in run
        assert run["verdict"]["covered"] is True
        assert {c["chain"] for c in run["chains"]} == {"bitcoin", "ethereum"}
        assert all(len(c["hash"]) == 64 and c["height"] >= 0 for c in run["chains"])
        assert set(run["coverage"]) == {"BTC", "ETH", "USDT"}
        assert run["combined"] is not None
        report = json.loads(Path(run["report"]).read_text())
        assert report["report"] == "por-report-v1"
        assert Path(run["report"]).parent == report_dir
        assert run["started_at"] <= run["finished_at"]
    assert len({run["run_id"] for run in runs}) == len(runs)
    latest = json.loads((report_dir / "latest.json").read_text())
    assert latest == json.loads(Path(runs[-1]["report"]).read_text())
    assert all(doc["report"] == "por-report-v1" for doc in latest_seen)
    assert not [p for p in report_dir.iterdir() if p.name.startswith(".")]  # no temp left
    # logs: JSON lines on stderr, the loop's run lines at INFO by default
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert any(m == "run started" for m in messages)
    assert any(m.startswith("run finished with exit code 0") for m in messages)
    assert any(r.get("run_id") == runs[0]["run_id"] for r in records)
    assert "stopped" in messages


def test_a_failed_run_prints_its_error_line_and_writes_its_error_document(
    world: Path, tmp_path: Path
) -> None:
    config = (world / "por.toml").read_text()
    # the Bitcoin node is away: a privileged port nobody listens on
    broken = re.sub(
        r'(\[bitcoin\]\n(?:.*\n)*?)url = "[^"]*"', r'\1url = "http://127.0.0.1:1"', config, count=1
    )
    assert 'url = "http://127.0.0.1:1"' in broken
    (world / "por-away.toml").write_text(broken)
    report_dir = tmp_path / "reports"
    process = start_loop(world / "por-away.toml", tmp_path / "away.db", report_dir)
    try:
        (line,) = read_lines(process, 1, timeout=300)
        _, err = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    run = json.loads(line)
    assert run["format"] == "por-run-v1" and run["status"] == "failed"
    assert run["exit_code"] == 4 and "verdict" not in run
    assert run["error"]["format"] == "por-error-v1" and run["error"]["exit_code"] == 4
    assert run["chains"] == [] and run["coverage"] == {} and run["combined"] is None
    document = json.loads(Path(run["report"]).read_text())
    assert document["format"] == "por-error-v1" and document["run_id"] == run["run_id"]
    assert json.loads((report_dir / "latest.json").read_text())["format"] == "por-error-v1"
