"""Payout reconciliations of an insolvency distribution (`por insolvency payouts`, issue 15).

Revision ID: 0003
Revises: 0002
Three new tables; nothing existing changes. Amounts are TEXT (decimal digits).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _run_id() -> sa.Column[int]:
    return sa.Column(
        "payout_run_id", sa.Integer, sa.ForeignKey("payout_runs.id"), nullable=False, index=True
    )


def upgrade() -> None:
    op.create_table(
        "payout_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.String, nullable=False, index=True),
        sa.Column("finished_at", sa.String, nullable=False),
        sa.Column("plan_id", sa.String, nullable=False, index=True),
        sa.Column("exchange", sa.String),
        sa.Column("paid_file", sa.String, nullable=False),
        sa.Column("paid_sha256", sa.String, nullable=False),
        sa.Column("payments", sa.Integer, nullable=False),
        sa.Column("consistent", sa.Boolean, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("tool_version", sa.String, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "payout_assets",
        sa.Column("id", sa.Integer, primary_key=True),
        _run_id(),
        sa.Column("asset", sa.String, nullable=False),
        sa.Column("decimals", sa.Integer, nullable=False),
        *(
            sa.Column(name, sa.Text, nullable=False)
            for name in ("due", "paid", "unpaid", "overpaid", "paid_unknown")
        ),
        *(
            sa.Column(f"accounts_{status}", sa.Integer, nullable=False)
            for status in ("paid", "partial", "unpaid", "overpaid", "unknown")
        ),
    )
    op.create_table(
        "payout_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        _run_id(),
        sa.Column("account_id", sa.String, nullable=False),
        sa.Column("asset", sa.String, nullable=False),
        sa.Column("due", sa.Text, nullable=False),
        sa.Column("paid", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("payout_accounts")
    op.drop_table("payout_assets")
    op.drop_table("payout_runs")
