"""The metrics (verifier/history/metrics.py): families from stored runs, the textfile, the
/metrics and /healthz endpoint, and the loop's health (verifier/history/loop.py). Parsed with
prometheus_client's own parser, as a scraper reads them."""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import sample_report
from prom_fixtures import sample, samples
from prometheus_client import generate_latest

from verifier.base.errors import EXIT_INFRA, NodeUnavailable, PorError, StoreError
from verifier.history.loop import LiveMetrics, LoopHealth, Stop, run_loop
from verifier.history.metrics import MetricsServer, MetricsSnapshot, registry, write_metrics
from verifier.history.schedule import RunOptions, run_once

CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"

[ownership]
max_age_days = 30
max_age_blocks = { bitcoin = 4320 }
"""


def _epoch_report() -> dict[str, Any]:
    """The sample report with epoch proofs of every status (as the epochs helper reports
    them: `age` null for a point-in-time proof)."""
    report = sample_report(btc_ratio="1.10")
    epoch = {"id": "2026-q4", "height": 100, "hash": "ab" * 32, "expires": None}
    wallets: list[dict[str, Any]] = [
        {
            "chain": "bitcoin",
            "label": "cold",
            "address": "bcrt1qcold",
            "ownership": {
                "status": "proven",
                "scheme": "bip137",
                "reason": "",
                "epoch": epoch,
                "age": {"blocks": 401, "seconds": 240600},
            },
        },
        {
            "chain": "bitcoin",
            "label": "old",
            "address": "bcrt1qold",
            "ownership": {
                "status": "stale",
                "scheme": "bip137",
                "reason": "older than 30 days",
                "epoch": epoch,
                "age": {"blocks": 5000, "seconds": None},
            },
        },
        {
            "chain": "bitcoin",
            "label": "exchange-held",
            "address": "bcrt1qcust",
            "ownership": {"status": "custodial", "scheme": None, "reason": "", "epoch": None},
        },
        {
            "chain": "ethereum",
            "label": "hot",
            "address": "0x" + "22" * 20,
            "ownership": {
                "status": "unproven",
                "scheme": "eip191",
                "reason": "signs another block",
                "epoch": None,
                "age": None,
            },
        },
    ]
    for index, wallet in enumerate(wallets):
        asset = "ETH" if wallet["chain"] == "ethereum" else "BTC"
        wallet.update(
            wallet=f"{wallet['chain']}.wallets[{index}]",
            attribution="customer",
            balances={asset: {"base_units": "1", "amount": "x"}},
            **{"class": "cold"},
        )
    report["wallets"] = wallets
    return report


def _scrape(options: RunOptions, outcomes: list[Any]) -> list[MetricsSnapshot]:
    """Run `run_once` per outcome (a report or a PorError); the snapshots it hands on."""
    seen: list[MetricsSnapshot] = []
    options = RunOptions(**{**options.__dict__, "on_metrics": seen.append})

    def fake(_config: object) -> Any:
        item = outcomes.pop(0)
        if isinstance(item, PorError):
            raise item
        return SimpleNamespace(report=item, exit_code=0)

    for _ in range(len(outcomes)):
        run_once(options, fake)
    return seen


def test_every_family_from_stored_runs(tmp_path: Path) -> None:
    (tmp_path / "por.toml").write_text(CONFIG)
    metrics = tmp_path / "por.prom"
    options = RunOptions(config_file=tmp_path / "por.toml", metrics_file=metrics, env={})
    ok, failed = _scrape(options, [_epoch_report(), NodeUnavailable("node down")])
    text = metrics.read_text()
    assert text == generate_latest(registry(lambda: failed)).decode()
    every = samples(text)
    assert every and all(
        labels["exchange"] == "Demo" and labels["attestation"] == "a-1" for _, labels, _ in every
    )
    # the failed run flips the run gauges; the last known figures stay
    assert sample(text, "por_last_run_success") == 0
    assert sample(text, "por_last_run_exit_code") == EXIT_INFRA
    assert sample(text, "por_coverage_ratio", asset="BTC") == 1.1
    assert sample(text, "por_asset_covered", asset="ETH") == 1
    assert sample(text, "por_shortfall", asset="BTC") == 0
    assert sample(text, "por_combined_coverage_ratio") == 1.02
    assert sample(text, "por_reserve_required", currency="JPY") == 5520453201.8964376
    assert sample(text, "por_reserve_eligible", currency="JPY") == 6260226600.9482188
    assert sample(text, "por_pinned_height", chain="bitcoin", network="regtest") == 501
    assert sample(text, "por_runs_total", outcome="ok") == 1
    assert sample(text, "por_runs_total", outcome="failed") == 1
    assert sample(text, "por_runs_total", outcome="shortfall") == 0
    build = [labels for name, labels, _ in every if name == "por_build_info"]
    assert len(build) == 1 and build[0]["version"] and build[0]["python"].count(".") == 2
    # ownership: counts per chain and status, ages of epoch proofs only
    assert sample(text, "por_ownership_addresses", chain="bitcoin", status="proven") == 1
    assert sample(text, "por_ownership_addresses", chain="bitcoin", status="stale") == 1
    assert sample(text, "por_ownership_addresses", chain="bitcoin", status="custodial") == 1
    assert sample(text, "por_ownership_addresses", chain="bitcoin", status="unproven") == 0
    assert sample(text, "por_ownership_addresses", chain="ethereum", status="unproven") == 1
    assert sample(text, "por_ownership_proof_age_seconds", wallet="cold") == 240600
    assert sample(text, "por_ownership_proof_age_blocks", address="bcrt1qold") == 5000
    assert sample(text, "por_ownership_proof_age_seconds", address="bcrt1qold") is None
    ages = [n for n, labels, _ in every if n.startswith("por_ownership_proof_age")]
    assert len(ages) == 3  # no age for the custodial nor the point-in-time proof
    assert sample(text, "por_ownership_max_age_seconds") == 30 * 86400
    assert sample(text, "por_ownership_max_age_blocks", chain="bitcoin") == 4320
    assert ok.last is not None and ok.last.status == "ok"


def test_no_run_yet_shows_the_build_and_a_shortfall_in_whole_units(tmp_path: Path) -> None:
    text = generate_latest(registry(MetricsSnapshot)).decode()
    assert [n for n, _, _ in samples(text)] == ["por_build_info"]
    (tmp_path / "por.toml").write_text(CONFIG)
    report = sample_report()
    assets: Any = report["assets"]
    assets[0]["shortfall"] = {"base_units": "250000000", "amount": "2.5"}
    assets[0]["covered"] = False
    (snap,) = _scrape(RunOptions(config_file=tmp_path / "por.toml", env={}), [report])
    text = generate_latest(registry(lambda: snap)).decode()
    assert sample(text, "por_shortfall", asset="BTC") == 2.5
    assert sample(text, "por_asset_covered", asset="BTC") == 0


def test_write_metrics_is_atomic_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "por.prom"
    write_metrics(path, MetricsSnapshot(exchange="E", attestation="A"))
    first = path.read_text()
    assert sample(first, "por_build_info", exchange="E") == 1
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    write_metrics(path, MetricsSnapshot(exchange="F", attestation="A"))
    assert sample(path.read_text(), "por_build_info", exchange="F") == 1
    assert [p.name for p in path.parent.iterdir()] == ["por.prom"]  # no temp file left
    in_the_way = tmp_path / "dir.prom"
    in_the_way.mkdir()
    with pytest.raises(StoreError, match=r"dir\.prom"):
        write_metrics(in_the_way, MetricsSnapshot())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write the metrics file"):
        write_metrics(blocker / "por.prom", MetricsSnapshot())


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_endpoint_serves_metrics_and_health_and_stops() -> None:
    state = {"ok": True}
    snap = MetricsSnapshot(exchange="Demo", attestation="a-1")
    server = MetricsServer(
        registry(lambda: snap),
        lambda: (state["ok"], "the last run finished 9999 s ago"),
        "127.0.0.1",
        0,
    )
    try:
        assert server.port > 0 and server.url.endswith(f":{server.port}/metrics")
        status, text = _get(server.url)
        assert status == 200 and sample(text, "por_build_info", exchange="Demo") == 1
        base = f"http://127.0.0.1:{server.port}"
        assert _get(base + "/healthz") == (200, "ok\n")
        state["ok"] = False
        assert _get(base + "/healthz") == (503, "the last run finished 9999 s ago\n")
        assert _get(base + "/nothing")[0] == 404
    finally:
        server.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 2):
        pass


def test_a_busy_port_is_exit_4_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PorError) as caught:
            MetricsServer(registry(MetricsSnapshot), lambda: (True, ""), "127.0.0.1", port)
    assert caught.value.exit_code == EXIT_INFRA
    assert f"--metrics-port {port}" in caught.value.message
    assert "cannot listen on 127.0.0.1" in caught.value.message


class Clock:
    def __init__(self) -> None:
        self.now = 1000

    def __call__(self) -> int:
        return self.now


def test_loop_health_follows_runs() -> None:
    clock = Clock()
    health = LoopHealth(60, grace=30, clock=clock)  # limit: 2 x 60 + 30 = 150 s
    assert health.check() == (True, "ok")  # the first run has not started yet
    clock.now += 151
    ok, reason = health.check()
    assert not ok and "no run has finished in 151 s" in reason
    health.run_started()
    clock.now += 150
    assert health.check() == (True, "ok")  # running, within the limit
    clock.now += 1
    ok, reason = health.check()
    assert not ok and "running for 151 s" in reason and "150 s" in reason
    health.run_finished()
    clock.now += 150
    assert health.check() == (True, "ok")
    clock.now += 10
    ok, reason = health.check()
    assert not ok and reason.startswith("the last run finished 160 s ago")


def test_run_loop_tells_the_health_and_live_metrics_take_the_config_labels(
    tmp_path: Path,
) -> None:
    (tmp_path / "por.toml").write_text(CONFIG)
    live = LiveMetrics(3600, tmp_path / "por.toml")
    assert (live.snapshot.exchange, live.snapshot.attestation) == ("Demo", "a-1")
    seen: list[tuple[bool, bool]] = []

    def once() -> int:
        seen.append((live.health.running_since is not None, live.health.finished_at is None))
        raise PorError("database is down")  # the loop goes on; the health still learns

    assert run_loop(once, 1, Stop(), max_runs=2, health=live.health) == 0
    assert seen == [(True, True), (True, False)]
    assert live.health.running_since is None and live.health.finished_at is not None
    assert LiveMetrics(60, tmp_path / "missing.toml").snapshot == MetricsSnapshot()
