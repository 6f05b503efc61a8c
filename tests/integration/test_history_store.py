"""The history database on real SQLite and PostgreSQL: migrations (from empty, from an
older schema, from the committed fixture database), lossless amounts, one transaction per
run (a failure or a kill midway leaves no partial rows) and the one-writer lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_fixtures import db_url, pg_server, sample_report, wait_for  # noqa: F401

from verifier.base.errors import StoreError
from verifier.cli.main import main
from verifier.history.schema import HEAD
from verifier.history.store import Store
from verifier.history.writer import RunWriter

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DB = REPO / "fixtures" / "db" / "por-0001.sqlite"


def _record(store: Store, **report_args: object) -> int:
    with store.writer() as w:
        return w.record_success(
            started_at="2026-01-01T00:00:00.000Z",
            finished_at="2026-01-01T00:00:01.000Z",
            duration_ms=1000,
            report=sample_report(**report_args),  # type: ignore[arg-type]
            exit_code=int(str(report_args.get("exit_code", 0))),
            config_hash="00" * 32,
        )


def test_migrations_from_empty_and_round_trip(db_url: str) -> None:  # noqa: F811 - the pytest fixture
    store = Store(db_url)
    assert store.current_revision() is None
    assert store.upgrade() == (None, HEAD)
    assert store.upgrade() == (HEAD, HEAD)  # idempotent
    wei = 2**200 + 12345  # far beyond int64
    run_id = _record(store, eth_units=wei)
    (run,) = store.runs()
    assert run.id == run_id and run.status == "ok"
    assert run.coverage["ETH"].holdings == wei
    assert str(run.coverage["ETH"].ratio) == "1.000000000000000000000000333"
    assert str(run.reserve_eligible) == "6260226600.9482188"
    assert [c["height"] for c in run.chains] == [501, 5]
    assert store.report(run_id)["report_id"] == sample_report(eth_units=wei)["report_id"]
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT base_units FROM wallet_balances")).scalar_one()
    assert stored == str(wei)  # digits in the database, not a float or a truncated int


def test_upgrade_from_an_older_schema_keeps_its_runs(db_url: str) -> None:  # noqa: F811 - the pytest fixture
    store = Store(db_url)
    store.upgrade("0001")
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO runs (started_at, finished_at, status, exit_code, tool_version) "
                "VALUES ('2025-12-01T00:00:00.000Z', '2025-12-01T00:00:02.000Z', 'ok', 0, '0.0.9')"
            )
        )
    with pytest.raises(StoreError, match="por db upgrade"):
        store.ensure_ready()
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert store.current_revision() == HEAD
    (old,) = store.runs()
    assert old.tool_version == "0.0.9" and old.duration_ms == 0 and old.reserve_met is None
    _record(store)
    assert [r.status for r in store.runs()] == ["ok", "ok"]


def test_the_committed_fixture_database_upgrades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE_DB, db)
    assert Store(f"sqlite:///{db}").current_revision() == "0001"
    assert main(["db", "upgrade", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["from"] == "0001"
    assert main(["history", "--db", str(db), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["status"] for r in runs] == ["ok", "failed"]
    assert runs[0]["assets"]["ETH"]["holdings"] == str(2**70 + 1)
    assert "NodeUnavailable" in runs[1]["error"]


def test_a_failure_midway_stores_a_failed_run_and_no_partial_rows(
    db_url: str,  # noqa: F811 - the pytest fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store(db_url)
    store.ensure_ready()
    original = RunWriter._insert
    calls = {"n": 0}

    def failing(self: RunWriter, model: object, rows: list[dict[str, object]]) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 4:  # after the run, chain and wallet rows
            raise RuntimeError("disk on fire")
        return original(self, model, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(RunWriter, "_insert", failing)
    with pytest.raises(StoreError, match="disk on fire"):
        _record(store)
    counts = store.count_rows()
    assert counts == {**dict.fromkeys(counts, 0), "runs": 1}
    (run,) = store.runs()
    assert run.status == "failed" and "disk on fire" in (run.error or "")


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {fixtures!r})
    from postgres_fixtures import sample_report
    from verifier.history.store import Store
    from verifier.history.writer import RunWriter

    mode, url, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    original = RunWriter._insert

    def slow(self, model, rows):
        out = original(self, model, rows)
        if model.name == "wallet_balances":  # a Table (verifier.history.tables.WALLET_BALANCES)
            marker.write_text("midway")
            time.sleep(float(sys.argv[4]))  # float-ok: seconds
        return out

    RunWriter._insert = slow
    store = Store(url)
    with store.writer() as w:
        w.record_success(started_at="2026-01-01T00:00:00.000Z",
                         finished_at="2026-01-01T00:00:01.000Z", duration_ms=1,
                         report=sample_report(), exit_code=0, config_hash=None)
    print("committed")
    """
)


def _holder(tmp_path: Path, db_url: str, hold: str) -> tuple[subprocess.Popen[str], Path]:  # noqa: F811 - the pytest fixture
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER.format(fixtures=str(Path(__file__).resolve().parent)))
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, str(script), "hold", db_url, str(marker), hold],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    wait_for(marker.exists, 60)
    return process, marker


def test_a_run_killed_midway_leaves_no_rows(db_url: str, tmp_path: Path) -> None:  # noqa: F811 - the pytest fixture
    store = Store(db_url)
    store.ensure_ready()
    process, _ = _holder(tmp_path, db_url, "600")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    assert set(store.count_rows().values()) == {0}
    _record(store)  # the lock died with the process
    assert store.count_rows()["runs"] == 1


def test_concurrent_runs_never_both_write(db_url: str, tmp_path: Path) -> None:  # noqa: F811 - the pytest fixture
    store = Store(db_url)
    store.ensure_ready()
    process, _ = _holder(tmp_path, db_url, "4")
    impatient = Store(db_url, lock_timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreError, match="another `por reconcile` is writing"):
        _record(impatient)
    assert time.monotonic() - started < 15
    patient = Store(db_url, lock_timeout=60)
    _record(patient, btc_ratio="0.9")  # waits for the holder, then writes after it
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    runs = store.runs()
    assert [str(r.coverage["BTC"].ratio) for r in runs] == ["1.01", "0.9"]
    assert store.count_rows()["reports"] == 2
