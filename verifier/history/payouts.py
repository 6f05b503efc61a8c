"""Payout runs in the history database: `por insolvency payouts` stores each reconciliation.

Where it sits: beside the run writer (verifier/history/writer.py), at the storage end of the
insolvency flow. verifier/insolvency/payouts.py reconciles a paid file against a plan (pure);
the CLI (verifier/cli/insolvency.py) hands the result here, which writes it into the payout
tables (verifier/history/tables.py, migration 0003) and reads runs back.

Invariants: one payout run is one transaction, taken under the same writer lock as a
reconciliation run (`Store.writer`), so a run killed midway leaves nothing and two writers
never interleave; amounts go in as int base units (TEXT digits), never floats; the stored
document is the run's por-payouts-v1 summary (per asset, exceptions and duplicates).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from verifier.base.errors import StoreError
from verifier.history.db_errors import first_line
from verifier.history.records import tool_version
from verifier.history.store import Store
from verifier.history.tables import PAYOUT_ACCOUNTS, PAYOUT_ASSETS, PAYOUT_RUNS
from verifier.insolvency.payouts import PayoutResult

_BATCH = 10_000
"""Account rows per INSERT batch: bounded memory for a plan of millions of customers."""


@dataclass(frozen=True, slots=True)
class PayoutRun:
    """A stored payout run, as read back."""

    id: int
    started_at: str
    plan_id: str
    exchange: str | None
    paid_file: str
    payments: int
    consistent: bool
    exit_code: int
    document: dict[str, Any]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_payouts(
    store: Store,
    result: PayoutResult,
    *,
    paid_file: str,
    exchange: str | None,
    exit_code: int,
    started_at: str | None = None,
) -> int:
    """Store one payout run (its summary, per asset totals and every account row) in one
    transaction; returns its id. Creates the schema in an empty database; refuses an older
    one (`por db upgrade`) with `StoreError` (exit 4)."""
    store.ensure_ready()
    document = result.to_json()
    with store.writer() as writer:
        conn = writer.conn
        try:
            inserted = conn.execute(
                PAYOUT_RUNS.insert().values(
                    started_at=started_at or _now(),
                    finished_at=_now(),
                    plan_id=result.plan_id,
                    exchange=exchange,
                    paid_file=paid_file,
                    paid_sha256=result.paid_sha256,
                    payments=result.payments,
                    consistent=result.consistent,
                    exit_code=exit_code,
                    tool_version=tool_version(),
                    document=json.dumps(document, sort_keys=True),
                )
            ).inserted_primary_key
            assert inserted is not None
            run_id = int(inserted[0])
            conn.execute(
                PAYOUT_ASSETS.insert(),
                [
                    {
                        "payout_run_id": run_id,
                        "asset": a.code,
                        "decimals": a.decimals,
                        "due": a.due,
                        "paid": a.paid,
                        "unpaid": a.unpaid,
                        "overpaid": a.overpaid,
                        "paid_unknown": a.paid_unknown,
                        **{f"accounts_{s}": n for s, n in a.accounts.items()},
                    }
                    for a in result.assets
                ],
            )
            for start in range(0, len(result.rows), _BATCH):
                conn.execute(
                    PAYOUT_ACCOUNTS.insert(),
                    [
                        {
                            "payout_run_id": run_id,
                            "account_id": r.account_id,
                            "asset": r.asset,
                            "due": r.due,
                            "paid": r.paid,
                            "status": r.status,
                        }
                        for r in result.rows[start : start + _BATCH]
                    ],
                )
        except SQLAlchemyError as exc:
            raise StoreError(
                store.mask(f"cannot store the payout run in {store.describe()}: {first_line(exc)}")
            ) from exc
    return run_id


def payout_runs(store: Store, *, limit: int | None = None) -> list[PayoutRun]:
    """Stored payout runs, newest first (none when there is no database yet)."""
    if not store.ensure_readable():
        return []
    query = sa.select(PAYOUT_RUNS).order_by(PAYOUT_RUNS.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    try:
        with store.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
    except DBAPIError as exc:
        raise StoreError(
            store.mask(f"cannot read payout runs from {store.describe()}: {first_line(exc)}")
        ) from exc
    runs = []
    for row in rows:
        try:
            document = json.loads(row["document"])
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"not a por database: {store.describe()} (payout run {row['id']}'s document "
                "is not JSON)"
            ) from exc
        runs.append(
            PayoutRun(
                id=int(row["id"]),
                started_at=str(row["started_at"]),
                plan_id=str(row["plan_id"]),
                exchange=row["exchange"],
                paid_file=str(row["paid_file"]),
                payments=int(row["payments"]),
                consistent=bool(row["consistent"]),
                exit_code=int(row["exit_code"]),
                document=document,
            )
        )
    return runs


def payout_accounts(store: Store, run_id: int) -> list[tuple[str, str, int, int, str]]:
    """(account, asset, due, paid, status) of one stored payout run."""
    table = PAYOUT_ACCOUNTS
    query = (
        sa.select(table.c.account_id, table.c.asset, table.c.due, table.c.paid, table.c.status)
        .where(table.c.payout_run_id == run_id)
        .order_by(table.c.id)
    )
    try:
        with store.engine.connect() as conn:
            return [
                (str(a), str(s), int(d), int(p), str(st)) for a, s, d, p, st in conn.execute(query)
            ]
    except (DBAPIError, ValueError) as exc:
        raise StoreError(
            store.mask(f"cannot read payout run {run_id} from {store.describe()}: {exc}")
        ) from exc


__all__ = ["PayoutRun", "payout_accounts", "payout_runs", "record_payouts"]
