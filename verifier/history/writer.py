"""The run writer: one run's rows (or its failure) written inside the writer lock.

Where it sits: `por reconcile` (verifier/history/schedule.py) takes the lock with
`Store.writer` (verifier/history/store.py), which hands it a `RunWriter` on the locked
connection; the writer turns the por-report-v1 document into rows of the tables
(verifier/history/tables.py) and records a completed run (`record_success`) or a failed
one (`record_failure`).

Invariants: a run's rows are written under a savepoint, so a failure midway rolls them
back and a failed run with its error is stored in their place; every stored error has its
credentials masked (`Store.mask`). Amounts go in as int base units and exact decimals,
never floats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from verifier.base.errors import PorError, StoreError
from verifier.history.db_errors import reason
from verifier.history.records import RunRecord, tool_version
from verifier.history.tables import (
    ASSET_COVERAGE,
    CHAIN_SNAPSHOTS,
    REPORTS,
    RESERVE_COMPONENTS,
    RUNS,
    STRESS_OUTCOMES,
    WALLET_BALANCES,
)

if TYPE_CHECKING:
    # the store creates the writer (Store.writer); the writer only calls back into it
    from verifier.history.store import Store
    from verifier.jobs.stress_run import StressOutcome


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
        stress: Sequence[StressOutcome] = (),
    ) -> int:
        """Store a completed run (covered or not) with all its rows; returns its id.

        `stress`: the run's scenario outcomes (``[stress]``), stored in the same transaction.

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
                self._insert(STRESS_OUTCOMES, self._stress_rows(run_id, stress))
                if then is not None:
                    then(run_id)
                return run_id
        except PorError as exc:
            error: PorError = exc
            stored = f"{type(exc).__name__}: {exc.message}"
        except Exception as exc:
            error = StoreError(self.store.mask(f"storing the run failed: {reason(exc)}"))
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
        """The run's row, then one table's rows after another, all from the report."""
        run = _run_row(report, exit_code, config_hash)
        run.update(started_at=started_at, finished_at=finished_at, duration_ms=duration_ms)
        (run_id,) = self._insert(RUNS, [run])
        self._insert(CHAIN_SNAPSHOTS, _chain_rows(run_id, report))
        self._insert(WALLET_BALANCES, _wallet_rows(run_id, report))
        self._insert(RESERVE_COMPONENTS, _reserve_rows(run_id, report))
        self._insert(ASSET_COVERAGE, _coverage_rows(run_id, report))
        document = json.dumps(report, sort_keys=True, ensure_ascii=False)
        report_id = str(report.get("report_id", ""))
        self._insert(REPORTS, [{"run_id": run_id, "report_id": report_id, "document": document}])
        return run_id

    def _stress_rows(self, run_id: int, stress: Sequence[StressOutcome]) -> list[dict[str, Any]]:
        """One row per scenario outcome; errors masked like a run's."""
        return [
            {
                "run_id": run_id,
                "scenario_id": o.scenario_id,
                "title": o.title,
                "made_whole": o.made_whole,
                "uncovered_value": o.uncovered_value,
                "time_to_pay_days": o.time_to_pay_days,
                "error": None if o.error is None else self.store.mask(o.error),
            }
            for o in stress
        ]

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


# ----------------------------------------------------------------------------- report -> rows


def _run_row(report: Mapping[str, Any], exit_code: int, config_hash: str | None) -> dict[str, Any]:
    """The runs row of a completed run (its times are the caller's)."""
    reserve = report.get("reserve") or None
    combined = report.get("combined") or {}
    return {
        "status": "ok" if exit_code == 0 else "shortfall",
        "exit_code": exit_code,
        "error": None,
        "config_hash": config_hash,
        "tool_version": tool_version(),
        "report_id": report.get("report_id"),
        "currency": report.get("currency"),
        "combined_ratio": _dec(combined.get("ratio")),
        "reserve_required": _dec((reserve or {}).get("required", {}).get("amount")),
        "reserve_eligible": _dec((reserve or {}).get("eligible", {}).get("total")),
        "reserve_met": None if reserve is None else bool(reserve.get("met")),
    }


def _chain_rows(run_id: int, report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per chain: the block the run was pinned at."""
    return [
        {
            "run_id": run_id,
            "chain": c["chain"],
            "network": str(c["network"]),
            "height": int(c["height"]),
            "block_hash": c["block_hash"],
        }
        for c in report.get("chains", [])
    ]


def _wallet_rows(run_id: int, report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per wallet and asset: its balance in base units and its ownership status."""
    return [
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
    ]


def _reserve_rows(run_id: int, report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per component of the eligible reserve (none without a reserve statement)."""
    reserve = report.get("reserve") or {}
    return [
        {
            "run_id": run_id,
            "kind": str(c.get("kind", "")),
            "name": str(c.get("name", "")),
            "currency": str(reserve.get("currency", "")),
            "amount": _dec(c.get("amount")) or Decimal(0),
            "eligible": _dec(c.get("eligible")) or Decimal(0),
        }
        for c in reserve.get("eligible", {}).get("components", [])
    ]


def _coverage_rows(run_id: int, report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per asset: liabilities, holdings and the coverage between them."""
    return [
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
    ]
