"""`por reconcile` with history, alerts and metrics, `por history`, and the `--every` loop,
end to end on real bcoin and anvil nodes (the demo's world) and real SQLite/PostgreSQL.

The loop test puts a TCP relay between por and the bcoin node: the relay going down is
the node going away (connection refused on the configured port), and the relay coming
back on the same port is the node coming back, with its chain intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_world import demo_world
from postgres_fixtures import WebhookReceiver, db_url, pg_server, wait_for  # noqa: F401
from prom_fixtures import sample

from verifier.cli.main import main
from verifier.history.store import Store

pytestmark = pytest.mark.node
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    work = tmp_path_factory.mktemp("history")
    with demo_world(work) as (_, nodes):
        yield work, nodes.bcoin.port


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reconcile_stores_runs_alerts_and_history(
    world: tuple[Path, int],
    db_url: str,  # noqa: F811 - the pytest fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work, _ = world
    poor = (work / "reserve.toml").read_text().replace('amount = "3500000000"', 'amount = "100"', 1)
    (work / "reserve-poor.toml").write_text(poor)
    config = (work / "por.toml").read_text()
    (work / "por-poor.toml").write_text(config.replace('"reserve.toml"', '"reserve-poor.toml"'))
    receiver = WebhookReceiver([500])
    metrics = tmp_path / "por.prom"
    common = ["--db", db_url, "--webhook", receiver.url, "--metrics-file", str(metrics), "--json"]
    try:
        code, out, err = run(capsys, "reconcile", "--config", str(work / "por.toml"), *common)
        assert code == 0, err
        assert json.loads(out)["verdict"]["covered"]
        assert receiver.received == []  # nothing to alert
        code, out, err = run(capsys, "reconcile", "--config", str(work / "por-poor.toml"), *common)
        assert code == 1, err
    finally:
        receiver.close()
    (alert,) = receiver.received
    assert receiver.attempts == 2  # a 500, then delivered
    assert "shortfall" in {a["kind"] for a in alert["alerts"]}  # type: ignore[index]
    prom = metrics.read_text()
    assert sample(prom, "por_coverage_ratio", asset="ETH") is not None
    assert sample(prom, "por_last_success_timestamp_seconds") is not None
    assert sample(prom, "por_runs_total", outcome="shortfall") == 1

    runs = Store(db_url).runs()
    assert [r.status for r in runs] == ["ok", "shortfall"]
    assert {c["chain"] for c in runs[0].chains} == {"bitcoin", "ethereum"}
    assert runs[0].coverage["ETH"].holdings > 2**64  # wei, stored without loss

    page = tmp_path / "history.html"
    code, out, _ = run(
        capsys, "history", "--db", db_url, "--asset", "btc", "--json", "--html", str(page)
    )
    assert code == 0
    doc = json.loads(out)
    assert [set(r["assets"]) for r in doc["runs"]] == [{"BTC"}, {"BTC"}]
    assert "<svg" in page.read_text() and "https://" not in page.read_text()
    code, out, _ = run(capsys, "history", "--db", db_url, "--since", "1h")
    assert code == 0 and "2 runs" in out


class Relay:
    """A TCP relay 127.0.0.1:port -> target that can be stopped and restarted on its port."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.server: socket.socket | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def test_loop_recovers_when_the_node_comes_back_and_stops_on_sigterm(
    world: tuple[Path, int], tmp_path: Path
) -> None:
    work, bcoin_port = world
    relay = Relay(bcoin_port)
    config = (
        (work / "por.toml")
        .read_text()
        .replace(f"http://127.0.0.1:{bcoin_port}", f"http://127.0.0.1:{relay.port}")
    )
    assert str(relay.port) in config
    (work / "por-relay.toml").write_text(config)
    db = tmp_path / "loop.db"
    store = Store(f"sqlite:///{db}")
    receiver = WebhookReceiver()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from verifier.cli.main import entrypoint; entrypoint()",
            "reconcile",
            "--config",
            str(work / "por-relay.toml"),
            "--db",
            str(db),
            "--every",
            "2s",
            "--webhook",
            receiver.url,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        # the node is away: the first run fails, is stored and alerted
        wait_for(lambda: db.exists() and store.runs() and store.runs()[0].status == "failed", 60)
        relay.start()  # the node is back on the same port
        wait_for(lambda: any(r.status == "ok" for r in store.runs()), 90)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        relay.stop()
        receiver.close()
    assert process.returncode == 0, err
    assert "stopped" in err
    statuses = [r.status for r in store.runs()]
    assert statuses[0] == "failed" and statuses[-1] == "ok"
    assert "failure" in {a["kind"] for d in receiver.received for a in d["alerts"]}  # type: ignore[index]
