"""The first schema: runs, chain snapshots, wallet balances, per-asset coverage, reports.

Revision ID: 0001
Revises:
Amounts are TEXT (decimal digits): never float, never a 64-bit integer for wei.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.String, nullable=False, index=True),
        sa.Column("finished_at", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("config_hash", sa.String),
        sa.Column("tool_version", sa.String, nullable=False),
        sa.Column("report_id", sa.String),
    )
    op.create_table(
        "chain_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("chain", sa.String, nullable=False),
        sa.Column("network", sa.String, nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String, nullable=False),
    )
    op.create_table(
        "wallet_balances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("chain", sa.String, nullable=False),
        sa.Column("wallet", sa.String, nullable=False),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("address", sa.String, nullable=False),
        sa.Column("wallet_class", sa.String, nullable=False),
        sa.Column("attribution", sa.String, nullable=False),
        sa.Column("ownership", sa.String, nullable=False),
        sa.Column("asset", sa.String, nullable=False),
        sa.Column("base_units", sa.Text, nullable=False),
    )
    op.create_table(
        "asset_coverage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("asset", sa.String, nullable=False, index=True),
        sa.Column("decimals", sa.Integer, nullable=False),
        sa.Column("liabilities", sa.Text, nullable=False),
        sa.Column("holdings", sa.Text, nullable=False),
        sa.Column("shortfall", sa.Text, nullable=False),
        sa.Column("surplus", sa.Text, nullable=False),
        sa.Column("coverage_ratio", sa.Text),
        sa.Column("threshold", sa.Text, nullable=False),
        sa.Column("covered", sa.Boolean, nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("report_id", sa.String, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("reports", "asset_coverage", "wallet_balances", "chain_snapshots", "runs"):
        op.drop_table(table)
