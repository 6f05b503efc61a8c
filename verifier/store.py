"""Run history in a database: the table classes, their mapping and the one-writer lock.

Where it sits: after the report. `por reconcile` (verifier/schedule.py) opens a `Store`,
takes the writer lock (`Store.writer`), reconciles, and records the run with
`RunWriter.record_success` or `RunWriter.record_failure`; `por history`
(verifier/history.py), the alerts (verifier/alerts.py) and the metrics
(verifier/metrics.py) read it back as `RunRecord` values. The sqlmodel table classes below
are storage rows only; nothing outside this module sees them.

Databases: SQLite (a file, the embedded default: ``por.db`` beside the config) and
PostgreSQL (by URL). The schema is owned by the alembic migrations in
verifier/migrations; `Store.upgrade` applies them (`por db upgrade`).

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
"""

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Field, SQLModel

from verifier.errors import StoreError

HEAD = "0002"
"""The schema revision this version of por writes."""
LOCK_KEY = 0x706F725F72756E  # "por_run": the PostgreSQL advisory lock of the run writer
MIGRATION_LOCK_KEY = 0x706F725F6D6967  # "por_mig"
DEFAULT_DB_NAME = "por.db"


# ----------------------------------------------------------------------------- column types


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
        return None if value is None else int(value)


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
        return None if value is None else Decimal(value)


# ----------------------------------------------------------------------------- tables


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    started_at: str = Field(index=True)
    finished_at: str
    status: str  # ok | shortfall | failed
    exit_code: int
    error: str | None = Field(default=None, sa_type=sa.Text)
    config_hash: str | None = None
    tool_version: str
    report_id: str | None = None
    duration_ms: int = 0
    currency: str | None = None
    combined_ratio: Decimal | None = Field(default=None, sa_type=DecimalText)
    reserve_required: Decimal | None = Field(default=None, sa_type=DecimalText)
    reserve_eligible: Decimal | None = Field(default=None, sa_type=DecimalText)
    reserve_met: bool | None = None


class ChainSnapshotRow(SQLModel, table=True):
    __tablename__ = "chain_snapshots"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    chain: str
    network: str
    height: int = Field(sa_type=sa.BigInteger)
    block_hash: str


class WalletBalanceRow(SQLModel, table=True):
    __tablename__ = "wallet_balances"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    chain: str
    wallet: str
    label: str
    address: str
    wallet_class: str
    attribution: str
    ownership: str
    asset: str
    base_units: int = Field(sa_type=BaseUnits)


class ReserveComponentRow(SQLModel, table=True):
    __tablename__ = "reserve_components"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    kind: str
    name: str
    currency: str
    amount: Decimal = Field(sa_type=DecimalText)
    eligible: Decimal = Field(sa_type=DecimalText)


class AssetCoverageRow(SQLModel, table=True):
    __tablename__ = "asset_coverage"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    asset: str = Field(index=True)
    decimals: int
    liabilities: int = Field(sa_type=BaseUnits)
    holdings: int = Field(sa_type=BaseUnits)
    shortfall: int = Field(sa_type=BaseUnits)
    surplus: int = Field(sa_type=BaseUnits)
    coverage_ratio: Decimal | None = Field(default=None, sa_type=DecimalText)
    threshold: Decimal = Field(sa_type=DecimalText)
    covered: bool


class ReportRow(SQLModel, table=True):
    __tablename__ = "reports"

    run_id: int = Field(foreign_key="runs.id", primary_key=True)
    report_id: str
    document: str = Field(sa_type=sa.Text)


TABLES = (ChainSnapshotRow, WalletBalanceRow, ReserveComponentRow, AssetCoverageRow, ReportRow)


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


def database_url(
    flag: str | None,
    env: Mapping[str, str],
    configured: str | None,
    config_path: Path | None,
) -> str:
    """The database URL: `--db`, then ``POR_DATABASE_URL``, then [database] url, then
    ``por.db`` beside the config (SQLite). A plain path means a SQLite file."""
    for value in (flag, env.get("POR_DATABASE_URL") or None, configured):
        if value:
            return normalise_url(value, config_path)
    if config_path is None:
        raise StoreError("no database: give --db, POR_DATABASE_URL or --config")
    return normalise_url(str(config_path.parent / DEFAULT_DB_NAME), None)


def normalise_url(value: str, config_path: Path | None) -> str:
    """SQLAlchemy URL for `value` (postgresql:// uses psycopg 3; paths become sqlite)."""
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        return value
    path = Path(value)
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return f"sqlite:///{path.absolute()}"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL is shown as given, minus nothing secret to hide
        return url.rsplit("@", maxsplit=1)[-1]


# ----------------------------------------------------------------------------- the store


class Store:
    """One database: migrations, the run writer, and queries."""

    def __init__(self, url: str, *, lock_timeout: int = 30) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self.is_sqlite = url.startswith("sqlite")
        try:
            if self.is_sqlite:
                self._sqlite_dir()
                self.engine = sa.create_engine(
                    url, connect_args={"timeout": lock_timeout}, poolclass=sa.pool.NullPool
                )
                _sqlite_transactions(self.engine)
            else:
                self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open the database {redact(url)}: {exc}") from exc

    def _sqlite_dir(self) -> None:
        database = sa.engine.make_url(self.url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return redact(self.url)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreError(f"database {self.describe()}: {_reason(exc)}") from exc

    # -------------------------------------------------------------- migrations

    def current_revision(self) -> str | None:
        """The schema revision stored in the database (None: an empty database)."""
        with self._connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply the migrations up to `revision`; returns (before, after).

        Concurrent upgrades are serialised by the database lock, so the second one finds
        the schema current and does nothing.
        """
        from alembic import command

        before = self.current_revision()
        with self._connect() as conn, conn.execution_options(sqlite_immediate=True).begin():
            if not self.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, revision)
            except SQLAlchemyError as exc:
                raise StoreError(f"migration failed on {self.describe()}: {exc}") from exc
        return before, self.current_revision()

    def ensure_ready(self) -> None:
        """Create the schema in an empty database; refuse an older one (run `por db upgrade`)."""
        current = self.current_revision()
        if current is None:
            self.upgrade()
            return
        if current != HEAD:
            raise StoreError(
                f"the database {self.describe()} has schema revision {current}, this por "
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
                raise self._busy(exc) from exc
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
                raise StoreError(f"cannot commit the run to {self.describe()}: {exc}") from exc

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
        """Stored runs, oldest first (or newest first), with their coverage and chains."""
        if conn is None:
            with self._connect() as own:
                return self.runs(
                    since=since, limit=limit, newest_first=newest_first, status=status, conn=own
                )
        runs_t = RunRow.__table__  # type: ignore[attr-defined]
        query = sa.select(runs_t)
        if since is not None:
            query = query.where(runs_t.c.started_at >= since)
        if status == "succeeded":
            query = query.where(runs_t.c.status != "failed")
        order = runs_t.c.id.desc() if newest_first else runs_t.c.id.asc()
        query = query.order_by(order)
        if limit is not None:
            query = query.limit(limit)
        try:
            rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in rows]
            coverage: dict[int, dict[str, Coverage]] = {i: {} for i in ids}
            chains: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                cov_t = AssetCoverageRow.__table__  # type: ignore[attr-defined]
                for c in conn.execute(sa.select(cov_t).where(cov_t.c.run_id.in_(ids))).mappings():
                    coverage[c["run_id"]][c["asset"]] = Coverage(
                        c["asset"],
                        c["decimals"],
                        c["liabilities"],
                        c["holdings"],
                        c["shortfall"],
                        c["coverage_ratio"],
                        c["threshold"],
                        bool(c["covered"]),
                    )
                ch_t = ChainSnapshotRow.__table__  # type: ignore[attr-defined]
                query_chains = sa.select(ch_t).where(ch_t.c.run_id.in_(ids)).order_by(ch_t.c.id)
                for c in conn.execute(query_chains).mappings():
                    chains[c["run_id"]].append(
                        {
                            "chain": c["chain"],
                            "network": c["network"],
                            "height": c["height"],
                            "block_hash": c["block_hash"],
                        }
                    )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read runs from {self.describe()}: {exc}") from exc
        return [
            RunRecord(
                id=r["id"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                status=r["status"],
                exit_code=r["exit_code"],
                error=r["error"],
                duration_ms=r["duration_ms"],
                tool_version=r["tool_version"],
                config_hash=r["config_hash"],
                report_id=r["report_id"],
                currency=r["currency"],
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
        table = ReportRow.__table__  # type: ignore[attr-defined]
        with self._connect() as conn:
            row = conn.execute(sa.select(table.c.document).where(table.c.run_id == run_id)).first()
        return None if row is None else dict(json.loads(row[0]))

    def count_rows(self) -> dict[str, int]:
        """Rows per table (for tests and `por db upgrade --json`)."""
        out = {}
        with self._connect() as conn:
            for model in (RunRow, *TABLES):
                table: sa.Table = getattr(model, "__table__")  # noqa: B009 - set by sqlmodel
                out[table.name] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                )
        return out


class RunWriter:
    """Records one run inside the writer's transaction (see `Store.writer`)."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.failure_recorded = False

    def last_success(self) -> RunRecord | None:
        return self.store.last_success(conn=self.conn)

    def _insert(self, model: type[SQLModel], rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows into one table; returns the new primary keys (for single rows)."""
        if not rows:
            return []
        table = model.__table__  # type: ignore[attr-defined]
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
    ) -> int:
        """Store a completed run (covered or not) with all its rows; returns its id.

        On any failure while writing, the partial rows are rolled back, a failed run with
        the error is stored in their place, and `StoreError` is raised.
        """
        try:
            with self.conn.begin_nested():
                return self._write_report(
                    started_at=started_at,
                    finished_at=finished_at,
                    duration_ms=duration_ms,
                    report=report,
                    exit_code=exit_code,
                    config_hash=config_hash,
                )
        except Exception as exc:
            message = f"storing the run failed: {type(exc).__name__}: {exc}"
            self.record_failure(
                started_at=started_at,
                finished_at=finished_at,
                duration_ms=duration_ms,
                error=message,
                exit_code=4,
                config_hash=config_hash,
            )
            raise StoreError(message) from exc

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
        (run_id,) = self._insert(RunRow, [run])
        self._insert(
            ChainSnapshotRow,
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
            WalletBalanceRow,
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
            ReserveComponentRow,
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
            AssetCoverageRow,
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
            ReportRow,
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
        """Store a failed run: the run row with its error, nothing else."""
        try:
            (run_id,) = self._insert(
                RunRow,
                [
                    {
                        "started_at": started_at,
                        "finished_at": finished_at,
                        "status": "failed",
                        "exit_code": exit_code,
                        "error": error,
                        "config_hash": config_hash,
                        "tool_version": tool_version(),
                        "duration_ms": duration_ms,
                    }
                ],
            )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store the failed run: {exc}") from exc
        self.failure_recorded = True
        return run_id


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLite transactions start as we say: ``BEGIN IMMEDIATE`` for the run writer
    (the database's write lock, taken at once), plain ``BEGIN`` for everything else.

    pysqlite's own transaction handling would defer BEGIN and break savepoints; this is
    SQLAlchemy's documented recipe for SQLite.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (por history) never wait
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config() -> Any:
    """The alembic configuration of the packaged migrations (verifier/migrations)."""
    from alembic.config import Config

    config = Config()
    location = resources.files("verifier").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config
