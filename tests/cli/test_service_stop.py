"""The long-running commands as a supervisor sees them: `por serve --json` announces its
URLs as one JSON line on stdout once listening (logs stay on stderr), and both `por serve`
and `por reconcile --every` stop on SIGTERM with exit 0 and their ports closed. No timing
is asserted: a process must exit within a generous timeout; that they exit promptly (no
0.5 s poll sat out) is the metrics endpoint's `close`, tested directly below."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import wait_for
from prometheus_client import CollectorRegistry
from site_builder import make_attestation_dir

from verifier.history.metrics import MetricsServer
from verifier.site.publish import build_site

REPO = Path(__file__).resolve().parents[2]
GENEROUS = 60
"""Seconds a process may take to stop: a deadline for a hung process, not a measurement."""

CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"
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
"""Valid (with `por init`'s input files beside it); its node is not there."""


class Por:
    """A real `por` process; stdout and stderr collected line by line as written."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from verifier.cli.main import entrypoint; entrypoint()", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(REPO), "POR_LOG_LEVEL": "", "COLUMNS": "500"},
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=GENEROUS)
        for reader in self._readers:
            reader.join(GENEROUS)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)


@pytest.fixture
def running() -> Iterator[list[Por]]:
    started: list[Por] = []
    yield started
    for process in started:
        process.kill()


def _closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), 2):
            return False
    except OSError:
        return True


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as reply:
        reply.read()
        return int(reply.status)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("serve")
    attestation_dir, _ = make_attestation_dir(work / "att")
    return build_site(attestation_dir, work / "site").out_dir


@pytest.mark.parametrize("with_metrics", [True, False])
def test_serve_json_is_one_line_with_its_urls_and_sigterm_stops_it(
    site: Path, tmp_path: Path, running: list[Por], with_metrics: bool
) -> None:
    metrics = ["--metrics-port", "0"] if with_metrics else []
    por = Por("serve", str(site), "--port", "0", *metrics, "--json", cwd=tmp_path)
    running.append(por)
    wait_for(lambda: por.out or por.process.poll() is not None, GENEROUS)
    assert por.out, por.text()
    announced = json.loads(por.out[0])
    assert set(announced) == {"format", "url", "metrics_url"}
    assert announced["format"] == "por-serve-v1"
    assert announced["url"].startswith("http://127.0.0.1:") and announced["url"].endswith("/")
    assert _get(announced["url"]) == 200
    if with_metrics:
        assert announced["metrics_url"].endswith("/metrics")
        assert _get(announced["metrics_url"]) == 200
        assert any(announced["metrics_url"] in line for line in por.err)  # stderr says it too
    else:
        assert announced["metrics_url"] is None

    assert por.stop() == 0, por.text()
    assert len(por.out) == 1, por.out  # one document: nothing else on stdout
    assert "Traceback" not in por.text()
    assert _closed(announced["url"])
    if with_metrics:
        assert _closed(announced["metrics_url"])


def test_serve_without_json_prints_the_sentence(
    site: Path, tmp_path: Path, running: list[Por]
) -> None:
    por = Por("serve", str(site), "--port", "0", cwd=tmp_path)
    running.append(por)
    wait_for(lambda: por.out or por.process.poll() is not None, GENEROUS)
    assert por.out and por.out[0].startswith(f"serving {site} on http://127.0.0.1:"), por.text()
    assert por.stop() == 0, por.text()


def test_every_loop_with_a_metrics_port_stops_on_sigterm(
    tmp_path: Path, running: list[Por]
) -> None:
    init = Por("init", "--dir", str(tmp_path), cwd=tmp_path)
    assert init.process.wait(GENEROUS) == 0
    (tmp_path / "por.toml").write_text(CONFIG)
    por = Por(
        "reconcile",
        "--config",
        "por.toml",
        "--db",
        str(tmp_path / "loop.db"),
        "--every",
        "1h",
        "--metrics-port",
        "0",
        cwd=tmp_path,
    )
    running.append(por)
    # the node is not there: the first run fails (stored, exit 4) and the loop waits
    wait_for(
        lambda: any("run finished" in line for line in por.err) or por.process.poll() is not None,
        GENEROUS,
    )
    assert por.process.poll() is None, por.text()
    url = next(w for line in por.err if "metrics on" in line for w in line.split() if "//" in w)
    assert _get(url) == 200
    assert por.stop() == 0, por.text()
    assert "stopped" in por.err[-1], por.text()
    assert "Traceback" not in por.text()
    assert _closed(url)


def test_metrics_endpoint_close_stops_its_thread_and_port() -> None:
    server = MetricsServer(CollectorRegistry(), lambda: (True, "ok"), "127.0.0.1", 0)
    url = server.url
    assert _get(url) == 200
    assert _get(url.replace("/metrics", "/healthz")) == 200
    server.close()
    assert not server._thread.is_alive()  # woken, not left to a poll
    assert _closed(url)
    server.close()  # twice is harmless (a finally after an error path)
