"""The run history's schema as SQLAlchemy Core tables, and its lossless column types.

Where it sits: storage only, at the bottom of verifier/history. The run writer
(verifier/history/writer.py) inserts into these tables, the queries
(verifier/history/queries.py) and the metrics (verifier/history/metrics.py) select from them;
the alembic migrations (verifier/history/migrations) own the schema itself, and
tests/integration/test_store_schema.py checks that a migrated database has exactly these
tables, columns, types, nullability and indexes.

Invariant: amounts are stored without loss: base units as decimal digits in TEXT behind one
type (`BaseUnits`), fiat amounts and ratios as exact decimal strings (`DecimalText`); never a
float, never a 64-bit integer (STYLE.md 8; SQLite's NUMERIC would turn long values into REAL).
"""

import re
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

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


# `por insolvency payouts` (issue 15): one row per reconciliation of a paid file against a
# distribution plan, its per-asset totals and every (account, asset) due or paid, written by
# verifier/history/payouts.py in one transaction (migration 0003).
PAYOUT_RUNS = sa.Table(
    "payout_runs",
    METADATA,
    _id_column(),
    sa.Column("started_at", sa.String, nullable=False, index=True),
    _string("finished_at"),
    sa.Column("plan_id", sa.String, nullable=False, index=True),
    _string("exchange", nullable=True),
    _string("paid_file"),
    _string("paid_sha256"),
    sa.Column("payments", sa.Integer, nullable=False),
    sa.Column("consistent", sa.Boolean, nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=False),
    _string("tool_version"),
    sa.Column("document", sa.Text, nullable=False),
)


def _payout_run_id_column() -> sa.Column[int]:
    return sa.Column(
        "payout_run_id", sa.Integer, sa.ForeignKey("payout_runs.id"), nullable=False, index=True
    )


PAYOUT_ASSETS = sa.Table(
    "payout_assets",
    METADATA,
    _id_column(),
    _payout_run_id_column(),
    _string("asset"),
    sa.Column("decimals", sa.Integer, nullable=False),
    *(
        sa.Column(name, BaseUnits, nullable=False)
        for name in ("due", "paid", "unpaid", "overpaid", "paid_unknown")
    ),
    *(
        sa.Column(f"accounts_{status}", sa.Integer, nullable=False)
        for status in ("paid", "partial", "unpaid", "overpaid", "unknown")
    ),
)

PAYOUT_ACCOUNTS = sa.Table(
    "payout_accounts",
    METADATA,
    _id_column(),
    _payout_run_id_column(),
    _string("account_id"),
    _string("asset"),
    sa.Column("due", BaseUnits, nullable=False),
    sa.Column("paid", BaseUnits, nullable=False),
    _string("status"),  # paid | partial | unpaid | overpaid | unknown
)

PAYOUT_TABLES = (PAYOUT_RUNS, PAYOUT_ASSETS, PAYOUT_ACCOUNTS)
"""The payout reconciliations' tables (schema revision 0003 on)."""

# `[stress]` (issue 14): each stored run's scenario outcomes, written by the run writer in
# the run's transaction (migration 0004). A scenario file that could not be evaluated is one
# row with no scenario_id and the error.
STRESS_OUTCOMES = sa.Table(
    "stress_outcomes",
    METADATA,
    _id_column(),
    _run_id_column(),
    sa.Column("scenario_id", sa.String, nullable=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("made_whole", sa.Boolean, nullable=True),
    sa.Column("uncovered_value", DecimalText, nullable=True),
    sa.Column("time_to_pay_days", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)

TABLES = (
    CHAIN_SNAPSHOTS,
    WALLET_BALANCES,
    RESERVE_COMPONENTS,
    ASSET_COVERAGE,
    REPORTS,
    *PAYOUT_TABLES,
    STRESS_OUTCOMES,
)
"""Every table besides `RUNS` (a reconciliation run's rows go into the first five and
`STRESS_OUTCOMES`)."""
