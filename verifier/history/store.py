"""The run history's database: opening it, its schema's state and migrations, the
one-writer lock, and reading runs back.

Where it sits: after the report. `por reconcile` (verifier/history/schedule.py) opens a `Store`,
takes the writer lock (`Store.writer`), reconciles, and records the run with
`RunWriter.record_success` or `RunWriter.record_failure` (verifier/history/writer.py); `por history`
(verifier/history/view.py), the alerts (verifier/history/alerts.py) and the metrics
(verifier/history/metrics.py) read it back as `RunRecord` values (verifier/history/records.py).
The pieces beside it: the tables and their lossless column types (verifier/history/tables.py),
which database a command uses (verifier/history/db_url.py), what a database holds
(verifier/history/schema.py), the selects (verifier/history/queries.py).

Databases: SQLite (a file, the embedded default: ``por.db`` beside the config) and
PostgreSQL (by URL). The schema is owned by the alembic migrations in
verifier/history/migrations; `Store.upgrade` applies them (`por db upgrade`).

Invariants:

- One run is one transaction. The writer lock is taken when the run starts (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: ``pg_try_advisory_xact_lock``) and held until the run is
  committed, so two runs never both write; the second waits up to the lock timeout and then
  fails with `StoreError` (exit 4). A process killed midway leaves nothing.
- Nothing from the database reaches a message as SQL: a file that is not SQLite, a damaged
  or truncated file, or a database of something else is "not a por database: <path>"; an
  older schema is "run `por db upgrade`" (`StoreError`, exit 4). Every message and every
  stored error has its credentials masked (`verifier.base.redact`, and every secret registered
  with `verifier.base.logs.register_secret`).
- Reading never creates: `Store(url, create=False)` (`por history`, `por serve`) opens an
  existing SQLite file only, and writes nothing to it.
- Values read back are checked (status, times, digits): a row por did not write is a
  `StoreError`, never a crash further on.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from verifier.base import logs, safejson
from verifier.base.errors import PorError, StoreError, UsageError
from verifier.base.redact import mask_text, mask_url
from verifier.history import queries
from verifier.history.db_errors import SQLITE_DAMAGED, first_line, reason
from verifier.history.records import RunRecord, StressHistory
from verifier.history.schema import (
    HEAD,
    REVISIONS,
    alembic_config,
    sqlite_header_problem,
    stored_revision,
)
from verifier.history.writer import RunWriter

LOCK_KEY = 0x706F725F72756E  # "por_run": the PostgreSQL advisory lock of the run writer
MIGRATION_LOCK_KEY = 0x706F725F6D6967  # "por_mig"


class Store:
    """One database: migrations, the run writer, and queries.

    `create=False` (readers: `por history`, `por serve`) never creates a SQLite file or
    its directory and never changes its journal mode; `exists` says whether there is a
    file to read at all.
    """

    def __init__(self, url: str, *, lock_timeout: int = 30, create: bool = True) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self.create = create
        self.is_sqlite = url.startswith("sqlite")
        self.path: Path | None = None
        self._secrets: tuple[str, ...] = ()
        try:
            parsed = sa.engine.make_url(url)
        except (ValueError, SQLAlchemyError) as exc:
            raise StoreError(f"malformed database URL {mask_url(url)}: {first_line(exc)}") from exc
        try:
            if self.is_sqlite:
                if not parsed.database or parsed.database == ":memory:":
                    raise StoreError("a SQLite database must be a file, not :memory:")
                self.path = Path(parsed.database).absolute()
                self.engine = sa.create_engine(
                    "sqlite://", creator=self._sqlite_connect, poolclass=sa.pool.NullPool
                )
                _sqlite_transactions(self.engine)
            else:
                given = parsed.query.get("password") or ()
                query_passwords = (given,) if isinstance(given, str) else tuple(given)
                self._secrets = tuple(
                    str(s) for s in (parsed.password, *query_passwords) if isinstance(s, str) and s
                )
                # libpq waits for an unanswered TCP connect as long as the OS does (minutes):
                # a bad host must fail in seconds unless the URL says otherwise
                connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
                self.engine = sa.create_engine(
                    url, poolclass=sa.pool.NullPool, connect_args=connect_args
                )
        except ImportError as exc:
            # the PostgreSQL driver is an extra (docs/dependencies.md): SQLite needs none
            if exc.name is not None and exc.name.split(".")[0] == "psycopg":
                raise StoreError(
                    f"cannot open the database {self.describe()}: PostgreSQL needs the psycopg "
                    "driver, which is not installed: pip install 'por[postgres]'"
                ) from exc
            raise StoreError(
                f"cannot open the database {self.describe()}: {self.mask(first_line(exc))}"
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the database {self.describe()}: {self.mask(first_line(exc))}"
            ) from exc

    def _sqlite_connect(self) -> sqlite3.Connection:
        """The DB-API connection (a URI, so a reader opens only an existing file)."""
        assert self.path is not None
        if self.create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise sqlite3.OperationalError(
                    f"cannot create the directory {self.path.parent}: {exc.strerror or exc}"
                ) from exc
        mode = "rwc" if self.create else "rw"
        return sqlite3.connect(
            f"file:{quote(str(self.path))}?mode={mode}",
            uri=True,
            timeout=self.lock_timeout,
            check_same_thread=False,
        )

    def describe(self) -> str:
        """The database for messages: the SQLite file's path, or the URL with its
        credentials masked."""
        if self.path is not None:
            return str(self.path)
        url = self.url
        if url.startswith("postgresql+psycopg://"):
            url = "postgresql://" + url.split("://", 1)[1]
        return mask_url(url)

    def mask(self, text: str) -> str:
        """`text` with this database's password, every secret the process has read (node
        URLs from url_file/url_env, password files, cookies: `verifier.base.logs.secrets`) and
        any URL credentials masked. Every stored error passes through here, and every error
        read back (a database written before this masking may hold a node URL's userinfo)."""
        known = sorted({*self._secrets, *logs.secrets()}, key=len, reverse=True)
        return mask_text(text, known)  # longest first: a secret holding another goes whole

    def exists(self) -> bool:
        """False only for a SQLite file that is not there (a server database is asked)."""
        return self.path is None or self.path.exists()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except (DBAPIError, sqlite3.Error) as exc:  # sqlite3: raised by our own connector
            raise self._error(exc) from exc
        except UnicodeDecodeError as exc:  # a damaged file whose text no longer decodes
            raise StoreError(
                f"not a por database: {self.describe()} (damaged: text that is not UTF-8)"
            ) from exc

    def _error(self, exc: BaseException, doing: str = "") -> StoreError:
        """A database error as one line without SQL: damaged SQLite files are named as
        not por databases; everything else keeps the driver's first line, masked."""
        why = reason(exc)
        if self.is_sqlite and SQLITE_DAMAGED.search(why):
            return StoreError(f"not a por database: {self.describe()} ({why})")
        if self.is_sqlite and self.path is not None and self.path.is_dir():
            return StoreError(f"cannot open the database {self.describe()}: it is a directory")
        prefix = f"{doing} " if doing else ""
        return StoreError(self.mask(f"{prefix}database {self.describe()}: {why}"))

    # -------------------------------------------------------------- what is there

    def schema_state(self) -> str:
        """What the database holds: ``missing`` (no SQLite file), ``empty`` (no tables),
        ``current`` (por's schema at `HEAD`) or ``old`` (an older por's schema).

        Raises `StoreError` (exit 4) for anything else: not a database, a damaged or
        truncated file, a database of something else, a schema newer than this por's.
        """
        if self.path is not None:
            if not self.path.exists() and not self.path.is_symlink():
                return "missing"
            problem = sqlite_header_problem(self.path, self.describe())
            if problem is not None:
                raise StoreError(f"not a por database: {self.describe()} ({problem})")
        with self._connect() as conn:
            try:
                revision = stored_revision(conn, self.describe())
            except DBAPIError as exc:
                raise self._error(exc) from exc
        if revision is None:
            return "empty"
        return "current" if revision == HEAD else "old"

    def current_revision(self) -> str | None:
        """The schema revision stored in the database (None: missing or empty)."""
        state = self.schema_state()
        if state in {"missing", "empty"}:
            return None
        with self._connect() as conn:
            row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    # -------------------------------------------------------------- migrations

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply the migrations up to `revision`; returns (before, after).

        Refuses (`StoreError`) a database that is not por's or is newer, and
        (`UsageError`) a revision that is not one of por's or lies below the current one.
        Concurrent upgrades are serialised by the database lock, so the second one finds
        the schema current and does nothing.
        """
        from alembic import command
        from alembic.util import CommandError

        if revision != "head" and revision not in REVISIONS:
            raise UsageError(
                f"--revision: unknown schema revision {revision!r} "
                f"(por has {', '.join(REVISIONS)} and head)"
            )
        if not self.create and not self.exists():
            raise StoreError(f"no database at {self.describe()}")
        before = self.current_revision()
        if before is not None and revision != "head" and revision < before:
            raise UsageError(
                f"--revision {revision} is older than the database's {before}: por does not "
                "downgrade a history database"
            )
        try:
            if self.is_sqlite:
                self._sqlite_wal()
            with self._connect() as conn, conn.execution_options(sqlite_immediate=True).begin():
                if not self.is_sqlite:
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY}
                    )
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        except CommandError as exc:
            raise StoreError(
                self.mask(f"migration failed on {self.describe()}: {first_line(exc)}")
            ) from exc
        except SQLAlchemyError as exc:
            raise self._error(exc, "migration failed on") from exc
        return before, self.current_revision()

    def _sqlite_wal(self) -> None:
        """Put a por SQLite database in WAL mode (persistent in the file), so readers
        (`por history`) never wait for a run. Outside any transaction, as SQLite asks."""
        try:
            raw = self.engine.raw_connection()
        except (DBAPIError, sqlite3.Error) as exc:
            raise self._error(exc) from exc
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            raw.close()

    def ensure_ready(self) -> None:
        """Create the schema in an empty database; refuse an older one (run `por db upgrade`)
        and anything that is not a por database."""
        state = self.schema_state()
        if state in {"missing", "empty"}:
            self.upgrade()
        elif state == "old":
            raise self._old()

    def ensure_readable(self) -> bool:
        """For readers: True when there are por tables to read, False when there is no
        database yet (no file, or no tables); raises `StoreError` for an older schema
        (run `por db upgrade`) or anything that is not a por database."""
        state = self.schema_state()
        if state == "old":
            raise self._old()
        return state == "current"

    def _old(self) -> StoreError:
        revision = self.current_revision()
        return StoreError(
            f"the database {self.describe()} has schema revision {revision}, this por "
            f"needs {HEAD}: run `por db upgrade` first"
        )

    # -------------------------------------------------------------- writing

    @contextmanager
    def writer(self) -> Iterator[RunWriter]:
        """Hold the run writer lock for one run, and commit what the run recorded.

        Raises `StoreError` when another run holds the lock longer than the lock timeout.
        """
        with self._connect() as conn:
            try:
                transaction = conn.execution_options(sqlite_immediate=True).begin()
            except OperationalError as exc:
                if "locked" in reason(exc) or "busy" in reason(exc):
                    raise self._busy(exc) from exc
                raise self._error(exc) from exc
            writer = RunWriter(self, conn)
            try:
                if not self.is_sqlite:
                    self._advisory_lock(conn)
                yield writer
            except Exception:
                # a failed run recorded in place of a run that failed while it was being
                # written is kept; anything else is rolled back
                if writer.failure_recorded:
                    transaction.commit()
                else:
                    transaction.rollback()
                raise
            except BaseException:
                transaction.rollback()
                raise
            try:
                transaction.commit()
            except SQLAlchemyError as exc:
                raise self._error(exc, "cannot commit the run to") from exc

    def _advisory_lock(self, conn: Connection) -> None:
        deadline = time.monotonic() + self.lock_timeout
        while True:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}
            ).scalar()
            if got:
                return
            if time.monotonic() >= deadline:
                raise self._busy(None)
            time.sleep(0.2)

    def _busy(self, exc: Exception | None) -> StoreError:
        detail = "" if exc is None else f" ({reason(exc)})"
        return StoreError(
            f"another `por reconcile` is writing to {self.describe()}: waited "
            f"{self.lock_timeout} s for it to finish{detail}; try again later or raise "
            "--lock-timeout"
        )

    # -------------------------------------------------------------- reading

    def runs(
        self,
        *,
        since: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        status: str | None = None,
        conn: Connection | None = None,
    ) -> list[RunRecord]:
        """Stored runs, oldest first (or newest first), with their coverage and chains.

        Raises `StoreError` when the database cannot be read or holds a value por did not
        write (a damaged or foreign database)."""
        if conn is None:
            with self._connect() as own:
                return self.runs(
                    since=since, limit=limit, newest_first=newest_first, status=status, conn=own
                )
        try:
            return queries.read_runs(
                conn,
                since=since,
                limit=limit,
                newest_first=newest_first,
                status=status,
                mask=self.mask,
            )
        except DBAPIError as exc:
            raise self._error(exc, "cannot read runs from") from exc
        except (SQLAlchemyError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
            raise StoreError(
                f"not a por database: {self.describe()} (a stored run holds a value por did "
                f"not write: {self.mask(first_line(exc))[:200]})"
            ) from exc

    def last_run(self, conn: Connection | None = None) -> RunRecord | None:
        found = self.runs(limit=1, newest_first=True, conn=conn)
        return found[0] if found else None

    def last_success(self, conn: Connection | None = None) -> RunRecord | None:
        found = self.runs(limit=1, newest_first=True, status="succeeded", conn=conn)
        return found[0] if found else None

    def stress_history(self, run_id: int, conn: Connection) -> StressHistory:
        """The scenarios' state before run `run_id` (verifier/history/queries.py)."""
        try:
            return queries.stress_history(conn, run_id)
        except DBAPIError as exc:
            raise self._error(exc, "cannot read scenario outcomes from") from exc
        except (SQLAlchemyError, ValueError, TypeError) as exc:
            raise StoreError(
                f"not a por database: {self.describe()} (a stored scenario outcome holds a "
                f"value por did not write: {self.mask(first_line(exc))[:200]})"
            ) from exc

    def report(self, run_id: int) -> dict[str, Any] | None:
        """The report document stored with a run."""
        with self._connect() as conn:
            text = queries.report_text(conn, run_id)
        if text is None:
            return None
        try:
            document = safejson.loads(text, source=f"{self.describe()} run {run_id} report")
        except PorError as exc:
            raise StoreError(f"not a por database: {self.describe()} ({exc.message})") from exc
        if not isinstance(document, dict):
            raise StoreError(
                f"not a por database: {self.describe()} (run {run_id}'s report is not an object)"
            )
        return document

    def count_rows(self) -> dict[str, int]:
        """Rows per table (for tests and `por db upgrade --json`)."""
        with self._connect() as conn:
            return queries.count_rows(conn)


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLite transactions start as we say: ``BEGIN IMMEDIATE`` for the run writer
    (the database's write lock, taken at once), plain ``BEGIN`` for everything else.

    pysqlite's own transaction handling would defer BEGIN and break savepoints; this is
    SQLAlchemy's documented recipe for SQLite. The journal mode (WAL) is set by
    `Store.upgrade` when it creates or upgrades a por database, not here: opening a file
    must not write to it before it is known to be por's.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
