"""/metrics and /healthz scraped over HTTP from a real `por reconcile --every` process on
real bcoin and anvil nodes (the demo's world, ownership proofs signed for an epoch when the
demo can), and from a real `por serve` reading that run's database; both stop on SIGTERM.
Every metric the docs/examples rules and dashboard use must be in the real scrape."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from demo_world import demo_world
from postgres_fixtures import wait_for
from prom_fixtures import sample, samples
from test_monitoring_examples import METRIC, dashboard_expressions, rule_expressions

from verifier.tools.demo_funding import ATTESTATION

pytestmark = pytest.mark.node
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("metrics")
    with demo_world(work, epochs=True):
        yield work


class Por:
    """A `por` process whose stderr is collected line by line (stdout is discarded)."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from verifier.cli.main import entrypoint; entrypoint()", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def metrics_url(self) -> str:
        found: list[str] = []

        def announced() -> bool:
            found.extend(
                word
                for line in self.lines
                if "metrics on" in line
                for word in line.split()
                if word.startswith("http://")
            )
            return bool(found) or self.process.poll() is not None

        wait_for(announced, 60)
        assert found, "".join(self.lines)
        return found[0]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _closed(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), 2):
            return False
    except OSError:
        return True


def test_scrape_the_every_loop_and_por_serve(world: Path, tmp_path: Path) -> None:
    db = tmp_path / "loop.db"
    loop = Por(
        "reconcile",
        "--config",
        str(world / "por.toml"),
        "--db",
        str(db),
        "--every",
        "2s",
        "--metrics-port",
        "0",
    )
    try:
        url = loop.metrics_url()
        texts: list[str] = []

        def two_runs() -> bool:
            status, text = get(url)
            texts.append(text)
            return (
                status == 200 and sum(v for n, _, v in samples(text) if n == "por_runs_total") >= 2
            )

        wait_for(two_runs, 240)
        text = texts[-1]
        health = get(url.replace("/metrics", "/healthz"))
        code = loop.stop()
    finally:
        loop.kill()
    assert code == 0, "".join(loop.lines)
    assert _closed(url)  # the endpoint stopped with the loop

    assert health == (200, "ok\n")
    config = (world / "por.toml").read_text()
    every = samples(text)
    assert all(labels["attestation"] == ATTESTATION for _, labels, _ in every)
    assert all(labels["exchange"] and labels["exchange"] in config for _, labels, _ in every)
    assert sample(text, "por_last_run_success") == 1
    assert sample(text, "por_last_run_exit_code") == 0
    assert sample(text, "por_runs_total", outcome="ok") >= 2  # type: ignore[operator]
    heights = {labels["chain"]: v for n, labels, v in every if n == "por_pinned_height"}
    assert set(heights) == {"bitcoin", "ethereum"} and min(heights.values()) > 0
    assets = {labels["asset"] for n, labels, _ in every if n == "por_coverage_ratio"}
    assert len(assets) == 3 and all(
        sample(text, "por_asset_covered", asset=code) == 1 for code in assets
    )
    proven = sample(text, "por_ownership_addresses", chain="bitcoin", status="proven")
    assert proven is not None and proven > 0
    ages = [n for n, _, _ in every if n.startswith("por_ownership_proof_age")]
    # epoch proofs report their age; the demo's old epoch is stale
    assert ages and sample(text, "por_ownership_max_age_seconds") is not None
    stale = sample(text, "por_ownership_addresses", chain="bitcoin", status="stale")
    assert stale is not None and stale > 0

    # every metric the example rules and dashboard use is in this real scrape (the block
    # limit and proof ages only exist with epoch proofs and a configured limit; the
    # por_stress_* gauges only with a [stress] section, which this world has not:
    # tests/unit/test_monitoring_examples.py scrapes them from a real [stress] run)
    real = {n for n, _, _ in every}
    used = {
        n
        for _, expr in [*rule_expressions(), *dashboard_expressions()]
        for n in METRIC.findall(expr)
    }
    optional = {
        "por_ownership_max_age_blocks",
        "por_ownership_proof_age_blocks",
        "por_stress_made_whole",
        "por_stress_errors",
    }
    assert used - real <= optional, sorted(used - real)

    # por serve: the site's port and a metrics port reading the loop's database
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from site_builder import make_attestation_dir

    from verifier.site.publish import build_site

    attestation_dir, _ = make_attestation_dir(tmp_path / "att")
    build_site(attestation_dir, tmp_path / "site")
    server = Por(
        "serve",
        str(tmp_path / "site"),
        "--port",
        "0",
        "--metrics-port",
        "0",
        "--db",
        str(db),
    )
    try:
        url = server.metrics_url()
        wait_for(lambda: get(url.replace("/metrics", "/healthz")) == (200, "ok\n"), 60)
        status, served = get(url)
        code = server.stop()
    finally:
        server.kill()
    assert code == 0, "".join(server.lines)
    assert status == 200
    served_ok = sample(served, "por_runs_total", outcome="ok")
    assert served_ok is not None and served_ok >= 2  # the loop's runs, read from its database
    assert sample(served, "por_coverage_ratio", asset=sorted(assets)[0]) is not None
    assert sample(served, "por_build_info", attestation=ATTESTATION) == 1
    assert json.loads((tmp_path / "site" / "site.json").read_text())["attestation_id"]
    assert _closed(url)
