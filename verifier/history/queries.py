"""Reading the run history back: stored runs as checked `RunRecord` values, and row counts.

Where it sits: under the store (verifier/history/store.py), whose `runs`, `last_run`,
`last_success`, `report` and `count_rows` open a connection, call these and turn a database error
into a `StoreError`. Plain SQLAlchemy Core selects over verifier/history/tables.py.

Invariant: values read back are checked (status, times, digits): a row por did not write
raises `ValueError` (or `TypeError`, `KeyError`), which the store reports as "not a por
database", never a crash further on. Stored errors are masked again on the way out.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from verifier.history.records import Coverage, RunRecord, StressHistory
from verifier.history.tables import (
    ASSET_COVERAGE,
    CHAIN_SNAPSHOTS,
    REPORTS,
    RUNS,
    STRESS_OUTCOMES,
    TABLES,
)
from verifier.jobs.stress_run import StressOutcome

_STATUSES = frozenset({"ok", "shortfall", "failed"})


def read_runs(
    conn: Connection,
    *,
    since: str | None,
    limit: int | None,
    newest_first: bool,
    status: str | None,
    mask: Callable[[str], str],
) -> list[RunRecord]:
    """Stored runs, oldest first (or newest first), with their coverage and chains; only
    the succeeded ones for ``status="succeeded"``. `mask` masks each stored error's
    credentials."""
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
    coverage = _coverage(conn, ids)
    chains = _chains(conn, ids)
    stress = _stress(conn, ids, mask)
    return [
        RunRecord(
            id=_int(r["id"], "runs.id"),
            started_at=_time(r["started_at"], "runs.started_at"),
            finished_at=_time(r["finished_at"], "runs.finished_at"),
            status=_status(r["status"]),
            exit_code=_int(r["exit_code"], "runs.exit_code", 0, 255),
            error=None if r["error"] is None else mask(_text(r["error"], "runs.error")),
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
            stress=tuple(stress[r["id"]]),
        )
        for r in rows
    ]


def _coverage(conn: Connection, ids: list[int]) -> dict[int, dict[str, Coverage]]:
    """Each run's coverage per asset."""
    coverage: dict[int, dict[str, Coverage]] = {i: {} for i in ids}
    if not ids:
        return coverage
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
    return coverage


def _chains(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each run's pinned blocks, in the order they were stored."""
    chains: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return chains
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
    return chains


def _stress(
    conn: Connection, ids: list[int], mask: Callable[[str], str]
) -> dict[int, list[StressOutcome]]:
    """Each run's scenario outcomes, in the order they were stored (the file's)."""
    out: dict[int, list[StressOutcome]] = {i: [] for i in ids}
    if not ids:
        return out
    table = STRESS_OUTCOMES
    query = sa.select(table).where(table.c.run_id.in_(ids)).order_by(table.c.id)
    for row in conn.execute(query).mappings():
        made_whole = row["made_whole"]
        days = row["time_to_pay_days"]
        out[row["run_id"]].append(
            StressOutcome(
                scenario_id=_opt_text(row["scenario_id"], "stress_outcomes.scenario_id"),
                title=_opt_text(row["title"], "stress_outcomes.title"),
                made_whole=None if made_whole is None else bool(made_whole),
                uncovered_value=row["uncovered_value"],
                time_to_pay_days=None
                if days is None
                else _int(days, "stress_outcomes.time_to_pay_days"),
                error=None
                if row["error"] is None
                else mask(_text(row["error"], "stress_outcomes.error")),
            )
        )
    return out


def stress_history(conn: Connection, run_id: int) -> StressHistory:
    """The scenarios' state before run `run_id`: each scenario's latest evaluated outcome
    and the errors of the previous run that has scenario rows."""
    table = STRESS_OUTCOMES
    latest = (
        sa.select(sa.func.max(table.c.id))
        .where(
            table.c.run_id < run_id,
            table.c.made_whole.is_not(None),
            table.c.scenario_id.is_not(None),
        )
        .group_by(table.c.scenario_id)
    )
    last = {
        _text(r["scenario_id"], "stress_outcomes.scenario_id"): bool(r["made_whole"])
        for r in conn.execute(sa.select(table).where(table.c.id.in_(latest))).mappings()
    }
    previous = conn.execute(
        sa.select(sa.func.max(table.c.run_id)).where(table.c.run_id < run_id)
    ).scalar()
    errors: frozenset[str | None] = frozenset()
    if previous is not None:
        query = sa.select(table.c.scenario_id).where(
            table.c.run_id == previous, table.c.error.is_not(None)
        )
        errors = frozenset(row[0] for row in conn.execute(query))
    return StressHistory(last, errors)


def report_text(conn: Connection, run_id: int) -> str | None:
    """The report document stored with a run, as its JSON text (None: no such run)."""
    table = REPORTS
    row = conn.execute(sa.select(table.c.document).where(table.c.run_id == run_id)).first()
    return None if row is None else row[0]


def count_rows(conn: Connection) -> dict[str, int]:
    """Rows per table (for tests and `por db upgrade --json`)."""
    out = {}
    for table in (RUNS, *TABLES):
        out[table.name] = int(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        )
    return out


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
