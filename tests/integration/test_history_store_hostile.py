"""The history database under hostile conditions on a real PostgreSQL server (the SQLite
cases are in tests/unit/test_store_hostile.py): another application's database, an older
or newer schema, rows por did not write, and passwords in the URL's userinfo and query
string, which never reach a message or a stored error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from postgres_fixtures import PostgresServer, pg_server, sample_report  # noqa: F401

from verifier.base.errors import StoreError
from verifier.cli.main import main
from verifier.history.schema import HEAD
from verifier.history.store import Store
from verifier.history.writer import RunWriter

pytestmark = pytest.mark.postgres
SECRET = "hunter2-supersecret"
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


@pytest.fixture(autouse=True)
def _no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("por serve started on a database it should have refused")

    monkeypatch.setattr("verifier.site.serve.run", refuse)


def _commands(url: str, tmp_path: Path) -> dict[str, list[str]]:
    config = tmp_path / "por.toml"
    config.write_text(CONFIG)
    return {
        "reconcile": ["reconcile", "--config", str(config), "--db", url],
        "history": ["history", "--db", url],
        "db upgrade": ["db", "upgrade", "--db", url],
        "serve": ["serve", str(tmp_path), "--db", url, "--port", "0"],
    }


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _sql(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    return names


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["CREATE TABLE customers (id integer, name text)"], "not a por database"),
        (
            [
                "CREATE TABLE alembic_version (version_num varchar(32))",
                "INSERT INTO alembic_version VALUES ('ae1027a6acf')",
            ],
            "not a por database",
        ),
        (
            [
                "CREATE TABLE alembic_version (version_num varchar(32))",
                "INSERT INTO alembic_version VALUES ('0099')",
            ],
            "newer than this por",
        ),
    ],
    ids=["other tables", "another application's alembic", "a newer schema"],
)
def test_a_database_of_something_else_is_named_and_left_alone(
    pg_server: PostgresServer,  # noqa: F811 - the pytest fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    statements: list[str],
    expected: str,
) -> None:
    url = pg_server.create_database()
    _sql(url, *statements)
    before = _tables(url)
    for name, args in _commands(url, tmp_path).items():
        code, output = _run(capsys, args)
        assert code == 4, (name, output)
        assert expected in output and "postgresql://por@127.0.0.1" in output, (name, output)
        assert not any(word in output for word in SQL_WORDS), (name, output)
    assert _tables(url) == before  # db upgrade and reconcile created nothing in it


def test_an_older_schema_asks_for_db_upgrade(
    pg_server: PostgresServer,  # noqa: F811 - the pytest fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = pg_server.create_database()
    Store(url).upgrade("0001")
    commands = _commands(url, tmp_path)
    for name in ("reconcile", "history", "serve"):
        code, output = _run(capsys, commands[name])
        assert code == 4 and "run `por db upgrade`" in output, (name, output)
    assert _run(capsys, commands["db upgrade"])[0] == 0
    code, output = _run(capsys, commands["history"])
    assert code == 0 and "no runs yet" in output


def test_an_empty_database_is_no_runs_yet_and_stays_empty(
    pg_server: PostgresServer,  # noqa: F811 - the pytest fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = pg_server.create_database()
    code, output = _run(capsys, ["history", "--db", url])
    assert code == 0 and "no runs yet" in output
    assert _tables(url) == set()  # a reader creates no schema


def test_rows_por_did_not_write_are_refused(
    pg_server: PostgresServer,  # noqa: F811 - the pytest fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = pg_server.create_database()
    store = Store(url)
    store.ensure_ready()
    with store.writer() as writer:
        writer.record_success(
            started_at="2026-01-01T00:00:00.000Z",
            finished_at="2026-01-01T00:00:01.000Z",
            duration_ms=1,
            report=sample_report(),
            exit_code=0,
            config_hash=None,
        )
    _sql(url, "UPDATE asset_coverage SET holdings = 'lots' WHERE asset = 'BTC'")
    code, output = _run(capsys, ["history", "--db", url, "--json"])
    assert code == 4 and "value por did not write" in output, output
    assert not any(word in output for word in SQL_WORDS), output


def test_passwords_in_userinfo_and_query_never_reach_a_message_or_the_database(
    pg_server: PostgresServer,  # noqa: F811 - the pytest fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = pg_server.create_database()  # trust auth: the password is accepted and unused
    name = plain.rsplit("/", 1)[1]
    url = f"postgresql://por:{SECRET}@127.0.0.1:{pg_server.port}/{name}?password={SECRET}"
    assert _run(capsys, ["db", "upgrade", "--db", url]) == (
        0,
        f"postgresql://por:***@127.0.0.1:{pg_server.port}/{name}?password=***: schema "
        f"upgraded from empty to {HEAD}\n",
    )
    original = RunWriter._insert

    def failing(self: RunWriter, model: Any, rows: list[dict[str, Any]]) -> list[int]:
        if model.name == "wallet_balances":  # a Table (verifier.history.tables.WALLET_BALANCES)
            raise RuntimeError(f"connection to {url} lost; password {SECRET} rejected")
        return original(self, model, rows)

    monkeypatch.setattr(RunWriter, "_insert", failing)
    store = Store(url.replace("postgresql://", "postgresql+psycopg://"))
    with pytest.raises(StoreError) as caught, store.writer() as writer:
        writer.record_success(
            started_at="2026-01-01T00:00:00.000Z",
            finished_at="2026-01-01T00:00:01.000Z",
            duration_ms=1,
            report=sample_report(),
            exit_code=0,
            config_hash=None,
        )
    assert SECRET not in caught.value.message
    engine = sa.create_engine(plain, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT error FROM runs")).scalar_one()
    engine.dispose()
    assert SECRET not in stored and "storing the run failed" in stored
    code, output = _run(capsys, ["history", "--db", url, "--json"])
    assert code == 0 and SECRET not in output and "password=***" in output
    missing = url.replace(f"/{name}?", "/no_such_database?")
    for args in _commands(missing, tmp_path).values():
        code, output = _run(capsys, args)
        assert code == 4 and SECRET not in output and "no_such_database" in output, output
