"""`[stress]` scenarios in the run history (issue 14): the migration to 0004 on SQLite and
PostgreSQL, outcomes written in the run's transaction and read back, and a real
`por reconcile --every` on bcoin and anvil whose scenario flips from made whole to short
when the reserve statement loses its cash between runs: exactly one `stress` alert.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_world import demo_world
from postgres_fixtures import WebhookReceiver, db_url, pg_server, sample_report, wait_for  # noqa: F401

from verifier.base.errors import StoreError
from verifier.history.schema import HEAD
from verifier.history.store import Store
from verifier.jobs.stress_run import StressOutcome
from verifier.stress.scenario import example_path

REPO = Path(__file__).resolve().parents[2]


def _store_run(store: Store, stress: tuple[StressOutcome, ...] = ()) -> int:
    with store.writer() as writer:
        return writer.record_success(
            started_at="2026-06-01T00:00:00.000Z",
            finished_at="2026-06-01T00:00:01.000Z",
            duration_ms=1000,
            report=sample_report(),
            exit_code=0,
            config_hash=None,
            stress=stress,
        )


def test_a_0003_database_upgrades_to_0004_and_keeps_its_runs(db_url: str) -> None:  # noqa: F811
    assert HEAD == "0004"
    store = Store(db_url)
    store.upgrade("0003")
    _store_run(store)  # a run of the older por: no scenario rows
    assert store.schema_state() == "old"
    with pytest.raises(StoreError, match="por db upgrade"):
        store.ensure_ready()
    assert store.upgrade() == ("0003", "0004")
    (old,) = store.runs()
    assert old.stress == () and old.status == "ok"
    outcomes = (
        StressOutcome("dmm-2024", "DMM", True, Decimal(0), 0),
        StressOutcome("bybit-2025", "Bybit", False, Decimal("123456789.123456789012"), None),
        StressOutcome(None, None, None, None, None, "s.toml: key 'x': unknown key"),
    )
    run_id = _store_run(store, outcomes)
    assert store.runs()[-1].stress == outcomes  # exact decimals, NULLs and order kept
    assert store.count_rows()["stress_outcomes"] == 3
    with store.engine.connect() as conn:
        history = store.stress_history(run_id + 1, conn)
        assert history.last_made_whole == {"dmm-2024": True, "bybit-2025": False}
        assert history.previous_errors == frozenset({None})
        assert store.stress_history(run_id, conn).last_made_whole == {}


def test_a_failed_write_rolls_the_outcomes_back(db_url: str) -> None:  # noqa: F811
    """The outcomes are in the run's transaction: a run whose output fails is stored as
    failed, without its scenario rows."""
    store = Store(db_url)
    store.upgrade()

    def fail(_run_id: int) -> None:
        raise StoreError("--html x: the report was not written")

    with pytest.raises(StoreError), store.writer() as writer:
        writer.record_success(
            started_at="2026-06-01T00:00:00.000Z",
            finished_at="2026-06-01T00:00:01.000Z",
            duration_ms=1,
            report=sample_report(),
            exit_code=0,
            config_hash=None,
            then=fail,
            stress=(StressOutcome("a", "A", True, Decimal(0), 0),),
        )
    assert [r.status for r in store.runs()] == ["failed"]
    assert store.count_rows()["stress_outcomes"] == 0


# ----------------------------------------------------------------------------- real nodes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("stress-history")
    with demo_world(work) as (config, _):
        shutil.copyfile(example_path("dmm-2024.toml"), work / "scenarios.toml")
        with config.open("a") as handle:
            handle.write('\n[stress]\nscenarios = "scenarios.toml"\n')
        yield config


def _poor_statement(work: Path) -> None:
    """The reserve statement without its cash (100 yen), replaced atomically between runs."""
    text = (work / "reserve.toml").read_text()
    poor = text.replace('amount = "3500000000"', 'amount = "100"', 1)
    assert poor != text
    (work / "reserve.tmp").write_text(poor)
    os.replace(work / "reserve.tmp", work / "reserve.toml")


@pytest.mark.node
def test_every_fires_one_stress_alert_when_a_scenario_stops_being_covered(
    world: Path, tmp_path: Path
) -> None:
    work = world.parent
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
            str(world),
            "--db",
            str(db),
            "--every",
            "1s",
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
        wait_for(lambda: db.exists() and len(store.runs()) >= 2, 120)
        _poor_statement(work)
        wait_for(lambda: sum(1 for r in store.runs() if r.stress[0].made_whole is False) >= 2, 120)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        receiver.close()
    assert process.returncode in (0, 1), err[-3000:]
    runs = store.runs()
    assert all(r.status != "failed" for r in runs), [r.error for r in runs]
    flags = [r.stress[0].made_whole for r in runs]
    assert all(len(r.stress) == 1 and r.stress[0].scenario_id == "dmm-2024" for r in runs)
    first_short = flags.index(False)
    assert first_short >= 2 and all(flags[:first_short]) and not any(flags[first_short:])
    short = runs[first_short].stress[0]
    assert short.uncovered_value is not None and short.uncovered_value > 0
    stress_alerts = [
        a
        for document in receiver.received
        for a in document["alerts"]  # type: ignore[index]
        if a["kind"] == "stress"
    ]
    assert [a["subject"] for a in stress_alerts] == ["dmm-2024"]
    assert "no longer makes every customer whole" in stress_alerts[0]["message"]
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["format"] for line in lines] == ["por-run-v1"] * len(lines)
    assert [line["stress"]["made_whole"] for line in lines] == flags[: len(lines)]
    assert lines[0]["stress"]["scenarios"][0]["scenario_id"] == "dmm-2024"


@pytest.mark.node
def test_a_bad_scenario_file_does_not_lose_the_run(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from verifier.cli.main import main

    bad = world.parent / "por-bad-stress.toml"
    (world.parent / "bad-scenarios.toml").write_text('[[scenarios]]\nid = "x"\nkind = 1\n')
    bad.write_text(world.read_text().replace('"scenarios.toml"', '"bad-scenarios.toml"'))
    db = tmp_path / "bad.db"
    code = main(["reconcile", "--config", str(bad), "--db", str(db), "--json"])
    capsys.readouterr()
    (run,) = Store(f"sqlite:///{db}").runs()
    assert run.status != "failed" and code == run.exit_code
    (outcome,) = run.stress
    assert outcome.scenario_id is None and "bad-scenarios.toml" in (outcome.error or "")
