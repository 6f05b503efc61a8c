"""Run history in a database: the table classes, their mapping and the one-writer lock.

Where it sits: after the report. `por reconcile` (verifier/history/schedule.py) opens a `Store`,
takes the writer lock (`Store.writer`), reconciles, and records the run with
`RunWriter.record_success` or `RunWriter.record_failure`; `por history`
(verifier/history/view.py), the alerts (verifier/history/alerts.py) and the metrics
(verifier/history/metrics.py) read it back as `RunRecord` values. The SQLAlchemy Core tables below
are storage only; other modules read them through `Store` (metrics.py's gauges select
from `RUNS` and `REPORTS` directly).

Databases: SQLite (a file, the embedded default: ``por.db`` beside the config) and
PostgreSQL (by URL). The schema is owned by the alembic migrations in
verifier/history/migrations; `Store.upgrade` applies them (`por db upgrade`).

Invariants:

- Amounts are stored without loss: base units as decimal digits in TEXT behind one type
  (`BaseUnits`), fiat amounts and ratios as exact decimal strings (`DecimalText`); never a
  float, never a 64-bit integer (STYLE.md 8; SQLite's NUMERIC would turn long values into
  REAL).
- One run is one transaction. The writer lock is taken when the run starts (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: ``pg_try_advisory_xact_lock``) and held until the run is
  committed, so two runs never both write; the second waits up to the lock timeout and then
  fails with `StoreError` (exit 4). A run's rows are written under a savepoint: a failure
  midway rolls them back and a failed run with its error is stored instead; a process
  killed midway leaves nothing.
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

import json
import re
import sqlite3
import stat
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from verifier.base import logs, safejson
from verifier.base.errors import InputError, PorError, StoreError, UsageError
from verifier.base.redact import mask_text, mask_url

HEAD = "0002"
"""The schema revision this version of por writes."""
REVISIONS = ("0001", "0002")
"""Every schema revision por has had, oldest first (verifier/history/migrations/versions)."""
LOCK_KEY = 0x706F725F72756E  # "por_run": the PostgreSQL advisory lock of the run writer
MIGRATION_LOCK_KEY = 0x706F725F6D6967  # "por_mig"
DEFAULT_DB_NAME = "por.db"


# ----------------------------------------------------------------------------- column types

_DIGITS = re.compile(r"-?[0-9]{1,100}")


class BaseUnits(sa.types.TypeDecorator[int]):
    """An integer amount in base units, stored as its decimal digits (TEXT): no float,
    no 64-bit limit (wei)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"base units must be an int, not {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        # a value por did not write (ValueError, reported by the reader as a damaged
        # database); the length cap keeps int() linear and far from max_str_digits
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise ValueError(f"base units must be decimal digits, not {str(value)[:40]!r}")
        return int(value)


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """An exact decimal (fiat amount, ratio), stored as its string (TEXT)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected a Decimal, not {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        try:
            number = Decimal(value) if isinstance(value, str) and len(value) <= 200 else None
        except InvalidOperation:
            number = None
        # NaN, Infinity or an exponent no ratio or amount has: not written by por
        if number is None or not number.is_finite() or abs(number.adjusted()) > 400:
            raise ValueError(f"expected an exact decimal, not {str(value)[:40]!r}")
        return number


# ----------------------------------------------------------------------------- tables


# Plain SQLAlchemy Core tables: rows go in as dicts and come back as tuples, so a class per
# row would add nothing (sqlmodel was dropped for this: docs/dependencies.md). The schema
# itself is owned by the migrations; tests/integration/test_store_schema.py checks that a
# migrated database has exactly these tables, columns, types, nullability and indexes.
METADATA = sa.MetaData()


def _id_column() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _run_id_column() -> sa.Column[int]:
    return sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True)


def _string(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String, nullable=nullable)


RUNS = sa.Table(
    "runs",
    METADATA,
    _id_column(),
    sa.Column("started_at", sa.String, nullable=False, index=True),
    _string("finished_at"),
    _string("status"),  # ok | shortfall | failed
    sa.Column("exit_code", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    _string("config_hash", nullable=True),
    _string("tool_version"),
    _string("report_id", nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False, server_default="0"),
    _string("currency", nullable=True),
    sa.Column("combined_ratio", DecimalText, nullable=True),
    sa.Column("reserve_required", DecimalText, nullable=True),
    sa.Column("reserve_eligible", DecimalText, nullable=True),
    sa.Column("reserve_met", sa.Boolean, nullable=True),
)

CHAIN_SNAPSHOTS = sa.Table(
    "chain_snapshots",
    METADATA,
    _id_column(),
    _run_id_column(),
    _string("chain"),
    _string("network"),
    sa.Column("height", sa.BigInteger, nullable=False),
    _string("block_hash"),
)

WALLET_BALANCES = sa.Table(
    "wallet_balances",
    METADATA,
    _id_column(),
    _run_id_column(),
    *(
        _string(name)
        for name in (
            "chain",
            "wallet",
            "label",
            "address",
            "wallet_class",
            "attribution",
            "ownership",
            "asset",
        )
    ),
    sa.Column("base_units", BaseUnits, nullable=False),
)

RESERVE_COMPONENTS = sa.Table(
    "reserve_components",
    METADATA,
    _id_column(),
    _run_id_column(),
    _string("kind"),
    _string("name"),
    _string("currency"),
    sa.Column("amount", DecimalText, nullable=False),
    sa.Column("eligible", DecimalText, nullable=False),
)

ASSET_COVERAGE = sa.Table(
    "asset_coverage",
    METADATA,
    _id_column(),
    _run_id_column(),
    sa.Column("asset", sa.String, nullable=False, index=True),
    sa.Column("decimals", sa.Integer, nullable=False),
    sa.Column("liabilities", BaseUnits, nullable=False),
    sa.Column("holdings", BaseUnits, nullable=False),
    sa.Column("shortfall", BaseUnits, nullable=False),
    sa.Column("surplus", BaseUnits, nullable=False),
    sa.Column("coverage_ratio", DecimalText, nullable=True),
    sa.Column("threshold", DecimalText, nullable=False),
    sa.Column("covered", sa.Boolean, nullable=False),
)

REPORTS = sa.Table(
    "reports",
    METADATA,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    _string("report_id"),
    sa.Column("document", sa.Text, nullable=False),
)


TABLES = (CHAIN_SNAPSHOTS, WALLET_BALANCES, RESERVE_COMPONENTS, ASSET_COVERAGE, REPORTS)
"""The tables a run's rows go into besides `RUNS`."""


# ----------------------------------------------------------------------------- domain values


@dataclass(frozen=True)
class Coverage:
    """One asset's coverage in one run."""

    asset: str
    decimals: int
    liabilities: int
    holdings: int
    shortfall: int
    ratio: Decimal | None
    threshold: Decimal
    covered: bool


@dataclass(frozen=True)
class RunRecord:
    """One stored run, as history, alerts and metrics see it."""

    id: int
    started_at: str
    finished_at: str
    status: str
    exit_code: int
    error: str | None
    duration_ms: int
    tool_version: str
    config_hash: str | None
    report_id: str | None
    currency: str | None
    combined_ratio: Decimal | None
    reserve_required: Decimal | None
    reserve_eligible: Decimal | None
    reserve_met: bool | None
    coverage: dict[str, Coverage] = field(default_factory=dict)
    chains: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """The run completed (covered or not); a failed run has no figures."""
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "tool_version": self.tool_version,
            "config_hash": self.config_hash,
            "report_id": self.report_id,
            "currency": self.currency,
            "combined_ratio": _str(self.combined_ratio),
            "reserve": {
                "required": _str(self.reserve_required),
                "eligible": _str(self.reserve_eligible),
                "met": self.reserve_met,
            },
            "chains": self.chains,
            "assets": {
                code: {
                    "decimals": c.decimals,
                    "liabilities": str(c.liabilities),
                    "holdings": str(c.holdings),
                    "shortfall": str(c.shortfall),
                    "coverage_ratio": _str(c.ratio),
                    "threshold": str(c.threshold),
                    "covered": c.covered,
                }
                for code, c in sorted(self.coverage.items())
            },
        }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tool_version() -> str:
    try:
        return metadata.version("por")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


# ----------------------------------------------------------------------------- URLs

_LIBPQ_KEYWORD = re.compile(
    r"(^|\s)(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|sslcert|sslkey|"
    r"sslrootcert|sslpassword|options|application_name|connect_timeout|target_session_attrs|"
    r"channel_binding|gssencmode|requiressl|krbsrvname)\s*=",
    re.IGNORECASE,
)
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_SQLITE_SYSTEM_TABLES = re.compile(r"sqlite_(sequence|stat\d)")


@dataclass(frozen=True)
class _Source:
    """Where a database setting came from, for the message that refuses it."""

    key: str
    file: str | None = None

    def refuse(self, message: str, value: str) -> InputError:
        return InputError(message, file=self.file, key=self.key, value=value)


def database_url(
    flag: str | None,
    env: Mapping[str, str],
    configured: str | None,
    config_path: Path | None,
) -> str:
    """The database URL: `--db`, then ``POR_DATABASE_URL``, then [database] url, then
    ``por.db`` beside the config (SQLite). A plain path means a SQLite file.

    Raises `InputError` (exit 3) naming the setting for a value that is not a usable
    database (a libpq keyword DSN, a malformed URL, another scheme), and `UsageError`
    (exit 2) when there is no setting and no config to put ``por.db`` beside.
    """
    sources = (
        (flag, _Source("--db")),
        (env.get("POR_DATABASE_URL") or None, _Source("POR_DATABASE_URL")),
        (
            configured,
            _Source("database.url", str(config_path) if config_path is not None else None),
        ),
    )
    for value, source in sources:
        if value:
            return normalise_url(value, config_path, source=source)
    if config_path is None:
        raise UsageError(
            "no database: give --db, POR_DATABASE_URL or --config, or run where ./por.toml is"
        )
    return normalise_url(str(config_path.parent / DEFAULT_DB_NAME), None)


def normalise_url(value: str, config_path: Path | None, *, source: _Source | None = None) -> str:
    """SQLAlchemy URL for `value`: postgresql:// (and postgres://) use psycopg 3; a path is
    a SQLite file (relative to the config's directory when there is one).

    Anything else is refused (`InputError` naming `source`): a libpq keyword DSN (it would
    otherwise become a SQLite file named after the password), a scheme por does not
    store into, a URL that does not parse. The value is shown masked.
    """
    where = source or _Source("--db")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        shown = mask_url(value) if "://" in value else value
        raise where.refuse("the database setting contains a control character", shown)
    if not value.strip():
        raise where.refuse("the database setting is blank", value)
    if "://" not in value:
        if _LIBPQ_KEYWORD.search(value):
            from verifier.base.redact import mask_dsn

            raise where.refuse(
                "a libpq keyword DSN (host=... dbname=...) is not accepted: give a "
                "postgresql://USER@HOST/DBNAME URL (the password from PGPASSWORD or "
                "~/.pgpass) or the path of a SQLite file",
                mask_dsn(value),
            )
        path = Path(value)
        if not path.is_absolute() and config_path is not None:
            path = config_path.parent / path
        return _sqlite_url(path)
    scheme, _, rest = value.partition("://")
    scheme = scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        url = "postgresql+psycopg://" + rest
    elif scheme in _SQLITE_SCHEMES:
        url = "sqlite://" + rest
    else:
        raise where.refuse(
            f"unsupported database URL scheme {scheme!r}: por keeps its history in PostgreSQL "
            "(postgresql://USER@HOST/DBNAME) or in a SQLite file (its path)",
            mask_url(value),
        )
    try:
        urlsplit(url).port  # noqa: B018 - raises on a malformed host or port
        parsed = sa.engine.make_url(url)
    except (ValueError, SQLAlchemyError) as exc:
        raise where.refuse(f"malformed database URL ({_first_line(exc)})", mask_url(value)) from exc
    if parsed.drivername.startswith("sqlite"):
        if not parsed.database or parsed.database == ":memory:" or parsed.query:
            raise where.refuse(
                "a sqlite URL must name a file, with no options (or give the file's path)",
                mask_url(value),
            )
        path = Path(parsed.database)
        if not path.is_absolute() and config_path is not None:
            path = config_path.parent / path
        return _sqlite_url(path)
    return url


def _sqlite_url(path: Path) -> str:
    # quoted: a file name may hold "?", "#" or "%", which a URL would take as its query
    return "sqlite:///" + quote(str(path.absolute()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- the store


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
            raise StoreError(f"malformed database URL {mask_url(url)}: {_first_line(exc)}") from exc
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
                f"cannot open the database {self.describe()}: {self.mask(_first_line(exc))}"
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the database {self.describe()}: {self.mask(_first_line(exc))}"
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
        reason = _reason(exc)
        if self.is_sqlite and _SQLITE_DAMAGED.search(reason):
            return StoreError(f"not a por database: {self.describe()} ({reason})")
        if self.is_sqlite and self.path is not None and self.path.is_dir():
            return StoreError(f"cannot open the database {self.describe()}: it is a directory")
        prefix = f"{doing} " if doing else ""
        return StoreError(self.mask(f"{prefix}database {self.describe()}: {reason}"))

    # -------------------------------------------------------------- what is there

    def _sqlite_problem(self) -> str | None:
        """Why the SQLite file cannot be a por database, from its header alone (None: it
        may be one, or it is empty). Catches text files, random bytes and truncation
        before SQLite reads a page; raises `StoreError` for a file that cannot be read."""
        assert self.path is not None
        try:
            info = self.path.stat()
            if stat.S_ISDIR(info.st_mode):
                raise StoreError(f"cannot open the database {self.describe()}: it is a directory")
            if not stat.S_ISREG(info.st_mode):
                # a FIFO would block the read below forever; a device is no history
                return "not a regular file"
            size = info.st_size
            with self.path.open("rb") as handle:
                header = handle.read(100)
        except OSError as exc:
            raise StoreError(
                f"cannot read the database {self.describe()}: {exc.strerror or exc}"
            ) from exc
        if size == 0:
            return None  # SQLite's empty database: nothing written yet
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return "not an SQLite database file"
        (page_size,) = struct.unpack(">H", header[16:18])
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512 or page_size & (page_size - 1):
            return "damaged: an impossible page size in its header"
        if size % page_size:
            return f"damaged or truncated: {size} bytes is not a whole number of pages"
        change_counter, pages, valid_for = (
            struct.unpack(">I", header[24:28])[0],
            struct.unpack(">I", header[28:32])[0],
            struct.unpack(">I", header[92:96])[0],
        )
        wal = self.path.with_name(self.path.name + "-wal")
        wal_pending = wal.exists() and wal.stat().st_size > 0
        # the header's page count is authoritative only when it is marked valid, and the
        # file may lag it while a write-ahead log still holds the newest pages
        if pages and change_counter == valid_for and not wal_pending and size < pages * page_size:
            return f"truncated: {size} of {pages * page_size} bytes"
        return None

    def schema_state(self) -> str:
        """What the database holds: ``missing`` (no SQLite file), ``empty`` (no tables),
        ``current`` (por's schema at `HEAD`) or ``old`` (an older por's schema).

        Raises `StoreError` (exit 4) for anything else: not a database, a damaged or
        truncated file, a database of something else, a schema newer than this por's.
        """
        if self.path is not None:
            if not self.path.exists() and not self.path.is_symlink():
                return "missing"
            problem = self._sqlite_problem()
            if problem is not None:
                raise StoreError(f"not a por database: {self.describe()} ({problem})")
        with self._connect() as conn:
            try:
                inspector = sa.inspect(conn)
                tables = {
                    t for t in inspector.get_table_names() if not _SQLITE_SYSTEM_TABLES.fullmatch(t)
                }
                if not tables:
                    return "empty"
                if "alembic_version" not in tables:
                    shown = ", ".join(sorted(tables)[:5])
                    raise StoreError(
                        f"not a por database: {self.describe()} (it holds other tables: {shown})"
                    )
                versions = [
                    str(row[0])
                    for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                ]
                revision = versions[0] if len(versions) == 1 else None
                if revision is not None and revision not in REVISIONS:
                    if re.fullmatch(r"[0-9]{4}", revision) and revision > HEAD:
                        raise StoreError(
                            f"the database {self.describe()} has schema revision {revision}, "
                            f"newer than this por's {HEAD}: upgrade por to read it"
                        )
                    revision = None
                if revision is None:
                    raise StoreError(
                        f"not a por database: {self.describe()} (its alembic_version "
                        f"{', '.join(v[:40] for v in versions) or 'is empty'} is not a por "
                        "schema revision)"
                    )
                missing = _missing_columns(inspector, tables, revision)
                if missing:
                    raise StoreError(
                        f"not a por database: {self.describe()} (revision {revision} but {missing})"
                    )
            except DBAPIError as exc:
                raise self._error(exc) from exc
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
                self.mask(f"migration failed on {self.describe()}: {_first_line(exc)}")
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
    def writer(self) -> Iterator["RunWriter"]:
        """Hold the run writer lock for one run, and commit what the run recorded.

        Raises `StoreError` when another run holds the lock longer than the lock timeout.
        """
        with self._connect() as conn:
            try:
                transaction = conn.execution_options(sqlite_immediate=True).begin()
            except OperationalError as exc:
                if "locked" in _reason(exc) or "busy" in _reason(exc):
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
        detail = "" if exc is None else f" ({_reason(exc)})"
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
            return self._read_runs(conn, since, limit, newest_first, status)
        except DBAPIError as exc:
            raise self._error(exc, "cannot read runs from") from exc
        except (SQLAlchemyError, ValueError, TypeError, ArithmeticError, KeyError) as exc:
            raise StoreError(
                f"not a por database: {self.describe()} (a stored run holds a value por did "
                f"not write: {self.mask(_first_line(exc))[:200]})"
            ) from exc

    def _read_runs(
        self,
        conn: Connection,
        since: str | None,
        limit: int | None,
        newest_first: bool,
        status: str | None,
    ) -> list[RunRecord]:
        runs_t = RUNS
        query = sa.select(runs_t)
        if since is not None:
            query = query.where(runs_t.c.started_at >= since)
        if status == "succeeded":
            query = query.where(runs_t.c.status != "failed")
        order = runs_t.c.id.desc() if newest_first else runs_t.c.id.asc()
        query = query.order_by(order)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).mappings().all()
        ids = [_int(r["id"], "runs.id") for r in rows]
        coverage: dict[int, dict[str, Coverage]] = {i: {} for i in ids}
        chains: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            cov_t = ASSET_COVERAGE
            for c in conn.execute(sa.select(cov_t).where(cov_t.c.run_id.in_(ids))).mappings():
                coverage[c["run_id"]][_text(c["asset"], "asset_coverage.asset")] = Coverage(
                    c["asset"],
                    _int(c["decimals"], "asset_coverage.decimals"),
                    c["liabilities"],
                    c["holdings"],
                    c["shortfall"],
                    c["coverage_ratio"],
                    c["threshold"],
                    bool(c["covered"]),
                )
            ch_t = CHAIN_SNAPSHOTS
            query_chains = sa.select(ch_t).where(ch_t.c.run_id.in_(ids)).order_by(ch_t.c.id)
            for c in conn.execute(query_chains).mappings():
                chains[c["run_id"]].append(
                    {
                        "chain": _text(c["chain"], "chain_snapshots.chain"),
                        "network": _text(c["network"], "chain_snapshots.network"),
                        "height": _int(c["height"], "chain_snapshots.height"),
                        "block_hash": _text(c["block_hash"], "chain_snapshots.block_hash"),
                    }
                )
        return [
            RunRecord(
                id=_int(r["id"], "runs.id"),
                started_at=_time(r["started_at"], "runs.started_at"),
                finished_at=_time(r["finished_at"], "runs.finished_at"),
                status=_status(r["status"]),
                exit_code=_int(r["exit_code"], "runs.exit_code", 0, 255),
                error=None if r["error"] is None else self.mask(_text(r["error"], "runs.error")),
                duration_ms=_int(r["duration_ms"], "runs.duration_ms"),
                tool_version=_text(r["tool_version"], "runs.tool_version"),
                config_hash=_opt_text(r["config_hash"], "runs.config_hash"),
                report_id=_opt_text(r["report_id"], "runs.report_id"),
                currency=_opt_text(r["currency"], "runs.currency"),
                combined_ratio=r["combined_ratio"],
                reserve_required=r["reserve_required"],
                reserve_eligible=r["reserve_eligible"],
                reserve_met=None if r["reserve_met"] is None else bool(r["reserve_met"]),
                coverage=coverage[r["id"]],
                chains=chains[r["id"]],
            )
            for r in rows
        ]

    def last_run(self, conn: Connection | None = None) -> RunRecord | None:
        found = self.runs(limit=1, newest_first=True, conn=conn)
        return found[0] if found else None

    def last_success(self, conn: Connection | None = None) -> RunRecord | None:
        found = self.runs(limit=1, newest_first=True, status="succeeded", conn=conn)
        return found[0] if found else None

    def report(self, run_id: int) -> dict[str, Any] | None:
        """The report document stored with a run."""
        table = REPORTS
        with self._connect() as conn:
            row = conn.execute(sa.select(table.c.document).where(table.c.run_id == run_id)).first()
        if row is None:
            return None
        try:
            document = safejson.loads(row[0], source=f"{self.describe()} run {run_id} report")
        except PorError as exc:
            raise StoreError(f"not a por database: {self.describe()} ({exc.message})") from exc
        if not isinstance(document, dict):
            raise StoreError(
                f"not a por database: {self.describe()} (run {run_id}'s report is not an object)"
            )
        return document

    def count_rows(self) -> dict[str, int]:
        """Rows per table (for tests and `por db upgrade --json`)."""
        out = {}
        with self._connect() as conn:
            for table in (RUNS, *TABLES):
                out[table.name] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
        return out


_SQLITE_DAMAGED = re.compile(
    r"file is not a database|database disk image is malformed|file is encrypted|"
    r"malformed database schema|database corrupt",
    re.IGNORECASE,
)
_STATUSES = frozenset({"ok", "shortfall", "failed"})


def _missing_columns(inspector: Any, tables: set[str], revision: str) -> str | None:
    """What por's schema at `revision` has and the database lacks (None: nothing)."""
    models = [RUNS, *TABLES]
    wanted = {table.name for table in models}
    if revision == "0001":
        wanted.discard("reserve_components")
    absent = sorted(wanted - tables)
    if absent:
        return f"no table {', '.join(absent)}"
    if revision != HEAD:
        return None  # the migration checks the rest
    for table in models:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        lacking = sorted(set(table.c.keys()) - have)
        if lacking:
            return f"table {table.name} has no column {', '.join(lacking)}"
    return None


def _int(value: Any, column: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{column} is {str(value)[:40]!r}, not an integer in {low}..{high}")
    return value


def _text(value: Any, column: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{column} is {str(value)[:40]!r}, not text")
    return value


def _opt_text(value: Any, column: str) -> str | None:
    return None if value is None else _text(value, column)


def _time(value: Any, column: str) -> str:
    text = _text(value, column)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{column} is {text[:40]!r}, not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{column} is {text[:40]!r}, a time without its zone")
    return text


def _status(value: Any) -> str:
    if value not in _STATUSES:
        raise ValueError(f"runs.status is {str(value)[:40]!r}, not ok, shortfall or failed")
    return str(value)


class RunWriter:
    """Records one run inside the writer's transaction (see `Store.writer`)."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.failure_recorded = False
        self.failed_run_id: int | None = None
        """The failed run stored in place of a run (`record_failure`)."""

    def last_success(self) -> RunRecord | None:
        return self.store.last_success(conn=self.conn)

    def _insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows into one table; returns the new primary keys (for single rows)."""
        if not rows:
            return []
        if len(rows) == 1 and "id" in table.c:
            result = self.conn.execute(sa.insert(table).returning(table.c.id), rows[0])
            return [int(result.scalar_one())]
        self.conn.execute(sa.insert(table), rows)
        return []

    def record_success(
        self,
        *,
        started_at: str,
        finished_at: str,
        duration_ms: int,
        report: Mapping[str, Any],
        exit_code: int,
        config_hash: str | None,
        then: Callable[[int], None] | None = None,
    ) -> int:
        """Store a completed run (covered or not) with all its rows; returns its id.

        `then(run_id)` runs after the rows are written and before they are kept: the run's
        outputs (HTML report, metrics file). When it raises a `PorError`, or anything fails
        while writing, the partial rows are rolled back, a failed run with the error is
        stored in their place (`failed_run_id`), and the error is raised (`StoreError` for
        the database, the `then` error as it was).
        """
        try:
            with self.conn.begin_nested():
                run_id = self._write_report(
                    started_at=started_at,
                    finished_at=finished_at,
                    duration_ms=duration_ms,
                    report=report,
                    exit_code=exit_code,
                    config_hash=config_hash,
                )
                if then is not None:
                    then(run_id)
                return run_id
        except PorError as exc:
            error: PorError = exc
            stored = f"{type(exc).__name__}: {exc.message}"
        except Exception as exc:
            error = StoreError(self.store.mask(f"storing the run failed: {_reason(exc)}"))
            stored = f"StoreError: {error.message}"
            error.__cause__ = exc
        self.record_failure(
            started_at=started_at,
            finished_at=finished_at,
            duration_ms=duration_ms,
            error=stored,
            exit_code=error.exit_code,
            config_hash=config_hash,
        )
        raise error

    def _write_report(
        self,
        *,
        started_at: str,
        finished_at: str,
        duration_ms: int,
        report: Mapping[str, Any],
        exit_code: int,
        config_hash: str | None,
    ) -> int:
        reserve = report.get("reserve") or None
        combined = report.get("combined") or {}
        run = {
            "started_at": started_at,
            "finished_at": finished_at,
            "status": "ok" if exit_code == 0 else "shortfall",
            "exit_code": exit_code,
            "error": None,
            "config_hash": config_hash,
            "tool_version": tool_version(),
            "report_id": report.get("report_id"),
            "duration_ms": duration_ms,
            "currency": report.get("currency"),
            "combined_ratio": _dec(combined.get("ratio")),
            "reserve_required": _dec((reserve or {}).get("required", {}).get("amount")),
            "reserve_eligible": _dec((reserve or {}).get("eligible", {}).get("total")),
            "reserve_met": None if reserve is None else bool(reserve.get("met")),
        }
        (run_id,) = self._insert(RUNS, [run])
        self._insert(
            CHAIN_SNAPSHOTS,
            [
                {
                    "run_id": run_id,
                    "chain": c["chain"],
                    "network": str(c["network"]),
                    "height": int(c["height"]),
                    "block_hash": c["block_hash"],
                }
                for c in report.get("chains", [])
            ],
        )
        self._insert(
            WALLET_BALANCES,
            [
                {
                    "run_id": run_id,
                    "chain": w["chain"],
                    "wallet": w["wallet"],
                    "label": w.get("label") or "",
                    "address": w["address"],
                    "wallet_class": w["class"],
                    "attribution": w["attribution"],
                    "ownership": w["ownership"]["status"],
                    "asset": code,
                    "base_units": int(balance["base_units"]),
                }
                for w in report.get("wallets", [])
                for code, balance in sorted(w["balances"].items())
            ],
        )
        components = (reserve or {}).get("eligible", {}).get("components", [])
        self._insert(
            RESERVE_COMPONENTS,
            [
                {
                    "run_id": run_id,
                    "kind": str(c.get("kind", "")),
                    "name": str(c.get("name", "")),
                    "currency": str((reserve or {}).get("currency", "")),
                    "amount": _dec(c.get("amount")) or Decimal(0),
                    "eligible": _dec(c.get("eligible")) or Decimal(0),
                }
                for c in components
            ],
        )
        self._insert(
            ASSET_COVERAGE,
            [
                {
                    "run_id": run_id,
                    "asset": a["code"],
                    "decimals": int(a["decimals"]),
                    "liabilities": int(a["liabilities"]["base_units"]),
                    "holdings": int(a["holdings"]["base_units"]),
                    "shortfall": int(a["shortfall"]["base_units"]),
                    "surplus": int(a["surplus"]["base_units"]),
                    "coverage_ratio": _dec(a.get("coverage_ratio")),
                    "threshold": _dec(a.get("threshold")) or Decimal(1),
                    "covered": bool(a["covered"]),
                }
                for a in report.get("assets", [])
            ],
        )
        self._insert(
            REPORTS,
            [
                {
                    "run_id": run_id,
                    "report_id": str(report.get("report_id", "")),
                    "document": json.dumps(report, sort_keys=True, ensure_ascii=False),
                }
            ],
        )
        return run_id

    def record_failure(
        self,
        *,
        started_at: str,
        finished_at: str,
        duration_ms: int,
        error: str,
        exit_code: int,
        config_hash: str | None,
    ) -> int:
        """Store a failed run: the run row with its error (credentials masked), nothing
        else."""
        try:
            (run_id,) = self._insert(
                RUNS,
                [
                    {
                        "started_at": started_at,
                        "finished_at": finished_at,
                        "status": "failed",
                        "exit_code": exit_code,
                        "error": self.store.mask(error),
                        "config_hash": config_hash,
                        "tool_version": tool_version(),
                        "duration_ms": duration_ms,
                    }
                ],
            )
        except SQLAlchemyError as exc:
            raise self.store._error(exc, "cannot store the failed run in") from exc
        self.failure_recorded = True
        self.failed_run_id = run_id
        return run_id


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _reason(exc: BaseException) -> str:
    """The driver's own first line (SQLAlchemy's text would add the SQL statement)."""
    orig = getattr(exc, "orig", None)
    return _first_line(orig if isinstance(orig, BaseException) else exc)


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


def alembic_config() -> Any:
    """The alembic configuration of the packaged migrations (verifier/history/migrations)."""
    from alembic.config import Config

    config = Config()
    location = resources.files("verifier.history").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config
