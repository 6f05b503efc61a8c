"""The history database under hostile and unlucky conditions, on real SQLite files through
the CLI: files that are not por databases (random bytes, text, a truncated por.db, another
application's database, an older or newer schema, rows por did not write) are named with
exit 4 and never SQL text or a traceback, for every command that opens the database;
`--db` values that are not a database (a libpq keyword DSN, other schemes, malformed URLs)
are refused with exit 3 naming their source, with credentials masked; `por history`
never creates a database; a run whose --html or --metrics-file cannot be written is
stored as failed. (PostgreSQL: tests/integration/test_history_store_hostile.py.)"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from postgres_fixtures import WebhookReceiver, sample_report
from prom_fixtures import sample

import verifier.history.schedule
from verifier.base.errors import NodeUnavailable
from verifier.cli.main import main
from verifier.history.schedule import RunOptions, run_once
from verifier.history.schema import HEAD
from verifier.history.store import Store

REPO = Path(__file__).resolve().parents[2]
OLD_SCHEMA = REPO / "fixtures" / "db" / "por-0001.sqlite"
SQL_WORDS = ("SELECT", "INSERT", "[SQL", "sqlalche.me", "Traceback", "internal error")

CONFIG = """
[exchange]
name = "Demo"
attestation_id = "a-1"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:9"
network = "regtest"
"""


STDOUT: dict[str, str] = {}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code and everything printed (stdout, then stderr); stdout alone in STDOUT."""
    code = main(list(args))
    captured = capsys.readouterr()
    STDOUT["last"] = captured.out
    return code, captured.out + captured.err


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "por.toml"
    config.write_text(CONFIG + extra)
    return config


def _real_db(path: Path, runs: int = 30) -> Path:
    """A por.db as `por reconcile` leaves it (closed, the WAL checkpointed)."""
    store = Store(f"sqlite:///{path}")
    store.ensure_ready()
    for _ in range(runs):
        with store.writer() as writer:
            writer.record_success(
                started_at="2026-01-01T00:00:00.000Z",
                finished_at="2026-01-01T00:00:01.000Z",
                duration_ms=1,
                report=sample_report(),
                exit_code=0,
                config_hash=None,
            )
    return path


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(5000))


def _text(path: Path) -> None:
    path.write_text("these are my notes, not a database\n")


def _truncated_half(path: Path) -> None:
    data = _real_db(path.with_name("whole.db")).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncated_at_a_page(path: Path) -> None:
    data = _real_db(path.with_name("whole.db")).read_bytes()
    path.write_bytes(data[: len(data) // 2 // 4096 * 4096])


def _other_tables(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")


def _foreign_alembic(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")


def _newer_revision(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('0099')")


def _current_revision_without_tables(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute(f"INSERT INTO alembic_version VALUES ('{HEAD}')")
        conn.execute("CREATE TABLE runs (id INTEGER)")


def _flipped_page(path: Path) -> None:
    data = bytearray(_real_db(path.with_name("whole.db")).read_bytes())
    for offset in range(4096, len(data), 4096):  # every page header but the first
        data[offset] = 0xEE
    path.write_bytes(bytes(data))


BAD_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "random bytes": (_random_bytes, "not a por database"),
    "text file": (_text, "not a por database"),
    "truncated in half": (_truncated_half, "not a por database"),
    "truncated at a page": (_truncated_at_a_page, "not a por database"),
    "damaged pages": (_flipped_page, "not a por database"),
    "another application's tables": (_other_tables, "not a por database"),
    "another application's alembic": (_foreign_alembic, "not a por database"),
    "a newer por's schema": (_newer_revision, "newer than this por"),
    "por's revision without its tables": (_current_revision_without_tables, "not a por database"),
}
COMMANDS = ("reconcile", "history", "db upgrade", "serve")


def _command(name: str, db: str, config: Path, site: Path) -> list[str]:
    if name == "reconcile":
        return ["reconcile", "--config", str(config), "--db", db, "--json"]
    if name == "serve":
        return ["serve", str(site), "--db", db, "--port", "0"]
    return [*name.split(), "--db", db]


@pytest.fixture(autouse=True)
def _no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """`por serve` must refuse before it serves; if it got that far, fail instead of
    blocking the test run."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("por serve started on a database it should have refused")

    monkeypatch.setattr("verifier.site.serve.run", refuse)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_file_that_is_not_a_por_database_is_named_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, command: str
) -> None:
    make, expected = BAD_FILES[kind]
    db = tmp_path / "por.db"
    make(db)
    before = db.read_bytes()
    code, output = _run(capsys, *_command(command, str(db), _config(tmp_path), tmp_path))
    assert code == 4, output
    assert expected in output and str(db) in output, output
    assert not any(word in output for word in SQL_WORDS), output
    assert db.read_bytes() == before  # nothing written into someone else's file
    if command == "reconcile":
        assert json.loads(STDOUT["last"])["exit_code"] == 4


@pytest.mark.parametrize("command", ["reconcile", "history", "serve"])
def test_an_older_schema_asks_for_db_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    db = tmp_path / "old.sqlite"
    shutil.copy(OLD_SCHEMA, db)
    code, output = _run(capsys, *_command(command, str(db), _config(tmp_path), tmp_path))
    assert code == 4, output
    assert "run `por db upgrade`" in output and str(db) in output
    assert not any(word in output for word in SQL_WORDS), output
    assert db.read_bytes() == OLD_SCHEMA.read_bytes()
    assert _run(capsys, "db", "upgrade", "--db", str(db))[0] == 0
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and "2 runs" in output


def test_a_directory_in_place_of_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in COMMANDS:
        code, output = _run(capsys, *_command(command, str(tmp_path), _config(tmp_path), tmp_path))
        assert code == 4 and "it is a directory" in output, (command, output)


def test_rows_por_did_not_write_are_refused_by_readers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for column, value in [
        ("status", "'pwned'"),
        ("started_at", "'yesterday'"),
        ("exit_code", "'four'"),
        ("combined_ratio", "'NaN'"),
        ("combined_ratio", "'1e999999999'"),
    ]:
        db = _real_db(tmp_path / f"{column}-{len(value)}.db", runs=2)
        with sqlite3.connect(db) as conn:
            conn.execute(f"UPDATE runs SET {column} = {value} WHERE id = 2")
        code, output = _run(capsys, "history", "--db", str(db), "--json")
        assert code == 4, output
        assert "not a por database" in output and "value por did not write" in output
        assert not any(word in output for word in SQL_WORDS), output
    db = _real_db(tmp_path / "units.db", runs=1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE asset_coverage SET holdings = '9' || printf('%.5000d', 1)")
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 4 and "value por did not write" in output, output


def test_history_never_creates_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "not" / "yet" / "por.db"
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and "no runs yet" in output
    assert not (tmp_path / "not").exists()  # neither the file nor its directory
    code, output = _run(capsys, "history", "--db", str(db), "--json")
    assert code == 0
    doc = json.loads(STDOUT["last"])
    assert doc["format"] == "por-history-v1" and doc["runs"] == [] and doc["summary"]["runs"] == 0
    config = _config(tmp_path)  # default: por.db beside the config
    assert _run(capsys, "history", "--config", str(config))[0] == 0
    assert not (tmp_path / "por.db").exists()
    assert not (tmp_path / "not").exists()


def test_an_empty_history_is_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "por.db"
    db.touch()  # SQLite's empty database
    assert _run(capsys, "history", "--db", str(db)) == (0, f"no runs yet in {db}\n")
    assert db.read_bytes() == b""  # a reader changes nothing, not even the journal mode
    assert _run(capsys, "db", "upgrade", "--db", str(db))[0] == 0
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and "no runs yet" in output
    page = tmp_path / "history.html"
    code, output = _run(capsys, "history", "--db", str(db), "--json", "--html", str(page))
    assert code == 0 and json.loads(STDOUT["last"])["runs"] == []
    assert "0 runs" in page.read_text()


SECRET = "hunter2-supersecret"
BAD_URLS = {
    f"host=db.internal dbname=por user=por password={SECRET}": "libpq keyword DSN",
    f"dbname=por password='{SECRET}'": "libpq keyword DSN",
    "postgresql://[::1": "malformed database URL",
    f"postgresql://por:{SECRET}@db:notaport/por": "malformed database URL",
    f"mysql://por:{SECRET}@db/por": "unsupported database URL scheme 'mysql'",
    "file:///etc/passwd": "unsupported database URL scheme 'file'",
    "sqlite://": "must name a file",
    "sqlite:///:memory:": "must name a file",
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", list(BAD_URLS))
def test_a_bad_db_setting_is_refused_naming_its_source(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    code, output = _run(capsys, *_command(command, value, config, tmp_path))
    assert code == 3, output
    assert BAD_URLS[value] in output and "'--db'" in output, output
    assert SECRET not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["por.toml"]  # no file by that name
    monkeypatch.setenv("POR_DATABASE_URL", value)
    args = [a for a in _command(command, "x", config, tmp_path) if a not in {"--db", "x"}]
    code, output = _run(capsys, *args)
    assert code == 3 and "POR_DATABASE_URL" in output and SECRET not in output, output
    if command != "serve":  # serve reads no config
        monkeypatch.delenv("POR_DATABASE_URL")
        toml_value = value.replace("\\", "\\\\").replace('"', '\\"')
        config = _config(tmp_path, f'\n[database]\nurl = "{toml_value}"\n')
        args = [*command.split(), "--config", str(config)]
        code, output = _run(capsys, *args)
        assert code == 3 and "database.url" in output and str(config) in output, output
        assert SECRET not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["por.toml"]


def test_db_passwords_are_masked_in_query_strings_and_userinfo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://por:{SECRET}@127.0.0.1:9/por?password={SECRET}&sslpassword={SECRET}"
    config = _config(tmp_path)
    for command in COMMANDS:
        code, output = _run(capsys, *_command(command, url, config, tmp_path))
        assert code == 4, output
        assert SECRET not in output and "127.0.0.1:9" in output, output
        assert "password=***" in output


def _fake_reconcile(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> None:
    def reconcile(_options: RunOptions) -> Callable[[object], Any]:
        def go(_config: object) -> Any:
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return go

    monkeypatch.setattr(verifier.history.schedule, "_reconcile", reconcile)


@pytest.mark.parametrize(
    "where",
    ["html: a directory in the way", "html: under a file", "metrics: a directory in the way"],
)
def test_a_run_whose_files_cannot_be_written_is_stored_as_failed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    _fake_reconcile(monkeypatch, SimpleNamespace(report=sample_report(), exit_code=0))
    config = _config(tmp_path)
    html = tmp_path / "report.html"
    metrics = tmp_path / "por.prom"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    if where == "html: a directory in the way":
        html.mkdir()
    elif where == "html: under a file":
        html = blocker / "report.html"
    else:
        metrics.mkdir()
    db = tmp_path / "por.db"
    receiver = WebhookReceiver()
    try:
        code, output = _run(
            capsys,
            "reconcile",
            "--config",
            str(config),
            "--db",
            str(db),
            "--html",
            str(html),
            "--metrics-file",
            str(metrics),
            "--webhook",
            receiver.url,
            "--json",
        )
    finally:
        receiver.close()
    flag = "--html" if where.startswith("html") else "--metrics-file"
    assert code == 4, output
    assert f"{flag} {html if flag == '--html' else metrics}" in output, output
    (run,) = Store(f"sqlite:///{db}").runs()
    assert run.status == "failed" and run.exit_code == 4
    assert flag in (run.error or "") and run.coverage == {}
    assert Store(f"sqlite:///{db}").count_rows()["reports"] == 0  # no ok figures kept
    (alert,) = receiver.received
    assert alert["alerts"][0]["kind"] == "failure" and flag in alert["run"]["error"]  # type: ignore[index]
    if flag == "--html":  # the metrics file could be written: it shows the failure
        text = metrics.read_text()
        assert sample(text, "por_last_run_success") == 0
        assert sample(text, "por_last_run_exit_code") == 4
        assert "por_coverage_ratio" not in text


def test_outputs_are_written_before_the_run_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_reconcile(monkeypatch, SimpleNamespace(report=sample_report(), exit_code=0))
    html = tmp_path / "out" / "report.html"
    metrics = tmp_path / "prom" / "por.prom"
    db = tmp_path / "por.db"
    args = ["reconcile", "--config", str(_config(tmp_path)), "--db", str(db), "--json"]
    code, output = _run(capsys, *args, "--html", str(html), "--metrics-file", str(metrics))
    assert code == 0, output
    assert "<html" in html.read_text() and sample(metrics.read_text(), "por_last_run_success") == 1
    assert [r.status for r in Store(f"sqlite:///{db}").runs()] == ["ok"]


def test_stored_and_printed_errors_are_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_reconcile(
        monkeypatch,
        NodeUnavailable(
            f"bitcoin node http://rpc:{SECRET}@10.0.0.5:8332/ and "
            f"https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef: refused"
        ),
    )
    db = tmp_path / "por.db"
    code, output = _run(capsys, "reconcile", "--config", str(_config(tmp_path)), "--db", str(db))
    assert code == 4 and SECRET not in output and "0123456789abcdef0123" not in output
    (run,) = Store(f"sqlite:///{db}").runs()
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT error FROM runs").fetchone()
    for text in (stored, run.error or ""):
        assert SECRET not in text and "0123456789abcdef0123" not in text
        assert "10.0.0.5:8332" in text and "NodeUnavailable" in text
    code, output = _run(capsys, "history", "--db", str(db), "--json")
    assert code == 0 and SECRET not in output


def test_a_store_failure_midway_is_stored_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifier.history.writer import RunWriter

    original = RunWriter._insert

    def failing(self: RunWriter, model: Any, rows: list[dict[str, Any]]) -> list[int]:
        if model.name == "wallet_balances":  # a Table (verifier.history.tables.WALLET_BALANCES)
            raise RuntimeError(f"disk full writing for http://admin:{SECRET}@backup.internal/")
        return original(self, model, rows)

    monkeypatch.setattr(RunWriter, "_insert", failing)
    (tmp_path / "por.toml").write_text(CONFIG)
    _fake_reconcile(monkeypatch, SimpleNamespace(report=sample_report(), exit_code=0))
    result = run_once(RunOptions(config_file=tmp_path / "por.toml", env={}))
    assert result.exit_code == 4 and result.run is not None and result.run.status == "failed"
    assert result.error is not None and SECRET not in result.error.message
    assert "disk full" in (result.run.error or "") and SECRET not in (result.run.error or "")
    assert [a.kind for a in result.alerts] == ["failure"]


@pytest.mark.parametrize(
    ("revision", "expected"), [("zzz", "unknown schema revision"), ("0001", "does not downgrade")]
)
def test_db_upgrade_refuses_revisions_it_cannot_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], revision: str, expected: str
) -> None:
    db = tmp_path / "por.db"
    assert _run(capsys, "db", "upgrade", "--db", str(db))[0] == 0
    code, output = _run(capsys, "db", "upgrade", "--db", str(db), "--revision", revision)
    assert code == 2 and expected in output, output


def test_no_database_setting_at_all_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POR_DATABASE_URL", raising=False)
    code, output = _run(capsys, "history")
    assert code == 2 and "give --db, POR_DATABASE_URL or --config" in output


def test_readers_open_a_database_without_creating_or_changing_it(tmp_path: Path) -> None:
    db = _real_db(tmp_path / "por.db", runs=1)
    before = db.read_bytes()
    store = Store(f"sqlite:///{db}", create=False)
    assert store.ensure_readable() and len(store.runs()) == 1
    assert db.read_bytes() == before
    missing = Store(f"sqlite:///{tmp_path / 'gone' / 'x.db'}", create=False)
    assert not missing.exists() and not missing.ensure_readable()
    assert not (tmp_path / "gone").exists()
    assert os.listdir(tmp_path) == ["por.db"]


def test_outputs_never_replace_the_config_the_database_or_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_reconcile(monkeypatch, SimpleNamespace(report=sample_report(), exit_code=0))
    secret = tmp_path / "rpc-password.txt"
    secret.write_text("hunter2\n")
    config = tmp_path / "por.toml"
    config.write_text(CONFIG + 'password_file = "rpc-password.txt"\n')
    db = _real_db(tmp_path / "por.db", runs=1)
    kept = {p: p.read_bytes() for p in (config, db, secret)}
    base = ["reconcile", "--config", str(config), "--db", str(db)]
    for flags, expected in [
        (["--html", str(config)], "is the config file"),
        (["--metrics-file", str(db)], "is the database"),
        (["--html", str(tmp_path / "por.db-wal")], "is the database"),
        (["--metrics-file", str(secret)], "named in the config"),
        (["--html", str(tmp_path / "x"), "--metrics-file", str(tmp_path / "x")], "also --html"),
    ]:
        code, output = _run(capsys, *base, *flags)
        assert code == 2 and expected in output, (flags, output)
    assert {p: p.read_bytes() for p in kept} == kept
    assert len(Store(f"sqlite:///{db}").runs()) == 1  # a usage error is not a run


def test_a_fifo_or_a_device_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "por.db"
    os.mkfifo(fifo)
    for db in (str(fifo), "/dev/zero"):
        for command in COMMANDS:
            code, output = _run(capsys, *_command(command, db, _config(tmp_path), tmp_path))
            assert code == 4 and "not a regular file" in output, (command, output)


@pytest.mark.parametrize("value", ["   ", "por\n.db", "por\x1b[2J.db"])
def test_a_blank_or_control_character_db_setting_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _run(capsys, "history", "--db", value)
    assert code == 3 and "'--db'" in output and "\x1b" not in output, output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "since", ["99999999999d", "9999999999999d", "²d", "0001-01-01T00:00:00+01:00", "yesterday"]
)
def test_since_out_of_range_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    db = _real_db(tmp_path / "por.db", runs=1)
    code, output = _run(capsys, "history", "--db", str(db), "--since", since)
    assert code == 3 and "--since" in output, output


def test_huge_ratios_and_hostile_text_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _real_db(tmp_path / "por.db", runs=1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE asset_coverage SET coverage_ratio = '1E+300'")
        conn.execute("UPDATE runs SET reserve_required = '1E+350', reserve_eligible = '1E+390'")
        conn.execute("UPDATE asset_coverage SET asset = '[bold]X\x1b[2J' WHERE asset = 'BTC'")
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and "\x1b" not in output, output
    page = tmp_path / "h.html"
    assert _run(capsys, "history", "--db", str(db), "--html", str(page))[0] == 0


def test_a_file_name_with_url_characters_is_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs?mode=memory#x%20y.db"
    assert _run(capsys, "db", "upgrade", "--db", str(db))[0] == 0
    assert db.is_file() and sorted(p.name for p in tmp_path.iterdir())[0] == db.name
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and f"no runs yet in {db}" in output


def test_a_database_under_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("x")
    db = tmp_path / "a-file" / "por.db"
    code, output = _run(capsys, "db", "upgrade", "--db", str(db))
    assert code == 4 and "cannot create the directory" in output, output
    code, output = _run(capsys, "reconcile", "--config", str(_config(tmp_path)), "--db", str(db))
    assert code == 4 and "cannot create the directory" in output, output
    code, output = _run(capsys, "history", "--db", str(db))
    assert code == 0 and "does not exist" in output


@pytest.mark.parametrize(
    ("flags", "code", "expected"),
    [
        (["--db", "/"], 4, "it is a directory"),
        (["--every", "99999999999999999999d"], 2, "--every"),
        (["--every", "9" * 5001], 2, "--every"),
        (["--every", "400d"], 2, "at most 366d"),
        (["--webhook", "http://[::1"], 3, "unclosed"),
        (["--webhook", "ftp://127.0.0.1/"], 3, "http:// or https://"),
        (["--webhook", ""], 3, "blank"),
        (["--webhook", "http://127.0.0.1:1/\r\nX-Injected: 1"], 3, "control characters"),
        (["--webhook", f"http://u:{SECRET}@127.0.0.1:99999/"], 3, "port"),
    ],
)
def test_reconcile_settings_are_refused_before_the_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    code: int,
    expected: str,
) -> None:
    _fake_reconcile(monkeypatch, AssertionError("the run must not start"))
    db = tmp_path / "por.db"
    args = ["reconcile", "--config", str(_config(tmp_path)), "--db", str(db), *flags]
    got, output = _run(capsys, *args)
    assert got == code and expected in output, output
    assert SECRET not in output and "internal error" not in output
    assert not db.exists()  # refused before the database is touched


def test_a_bad_webhook_from_the_environment_or_the_config_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POR_WEBHOOK_URL", "javascript:alert(1)")
    config = _config(tmp_path)
    code, output = _run(capsys, "reconcile", "--config", str(config))
    assert code == 3 and "POR_WEBHOOK_URL" in output, output
    monkeypatch.delenv("POR_WEBHOOK_URL")
    config = _config(tmp_path, '\n[alerts]\nwebhook = "unix:///tmp/x.sock"\n')
    code, output = _run(capsys, "reconcile", "--config", str(config))
    assert code == 3 and "alerts.webhook" in output and str(config) in output, output
