"""Incident scenarios evaluated by every stored run (``[stress]``, issue 14).

Revision ID: 0004
Revises: 0003
One new table, one row per scenario per run; nothing existing changes. A scenario file that
could not be evaluated is one row with no scenario_id and the error. uncovered_value is TEXT
(an exact decimal in the reporting currency).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stress_outcomes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("scenario_id", sa.String, nullable=True),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("made_whole", sa.Boolean, nullable=True),
        sa.Column("uncovered_value", sa.Text, nullable=True),
        sa.Column("time_to_pay_days", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("stress_outcomes")
