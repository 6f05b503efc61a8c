"""Reserve components, run duration and the combined/reserve figures on each run.

Revision ID: 0002
Revises: 0001
Older runs get duration 0 and no reserve figures (they were not recorded then).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("duration_ms", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("currency", sa.String))
        batch.add_column(sa.Column("combined_ratio", sa.Text))
        batch.add_column(sa.Column("reserve_required", sa.Text))
        batch.add_column(sa.Column("reserve_eligible", sa.Text))
        batch.add_column(sa.Column("reserve_met", sa.Boolean))
    op.create_table(
        "reserve_components",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("currency", sa.String, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
        sa.Column("eligible", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reserve_components")
    with op.batch_alter_table("runs") as batch:
        for name in (
            "reserve_met",
            "reserve_eligible",
            "reserve_required",
            "combined_ratio",
            "currency",
            "duration_ms",
        ):
            batch.drop_column(name)
