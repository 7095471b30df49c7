"""scheduler: leader lease, schedules and runs

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", Text(length=50), nullable=False),
        sa.Column("owner", Text(length=100), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "tick_status",
        sa.Column("name", Text(length=50), nullable=False),
        sa.Column("owner", Text(length=100), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", Text(length=32), nullable=False),
        sa.Column("kind", Text(length=30), nullable=False),
        sa.Column("target_id", Text(length=64), nullable=False),
        sa.Column("rule", Text(length=300), nullable=False),
        sa.Column("timezone", Text(length=64), nullable=False),
        sa.Column("anchor_at", sa.BigInteger(), nullable=False),
        sa.Column("next_run_at", sa.BigInteger(), nullable=False),
        sa.Column("last_run_at", sa.BigInteger(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "target_id"),
    )
    op.create_index("ix_schedules_due", "schedules", ["paused", "next_run_at"])
    op.create_table(
        "schedule_runs",
        sa.Column("id", Text(length=32), nullable=False),
        sa.Column("schedule_id", Text(length=32), nullable=False),
        sa.Column("fire_time", sa.BigInteger(), nullable=False),
        sa.Column("status", Text(length=10), nullable=False),
        sa.Column("claimed_by", Text(length=100), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("delivered", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "fire_time"),
    )
    op.create_index("ix_schedule_runs_schedule", "schedule_runs", ["schedule_id", "fire_time"])
    op.create_index("ix_schedule_runs_lease", "schedule_runs", ["status", "lease_until"])
    op.create_table(
        "purged_sessions",
        sa.Column("id", Text(length=128), nullable=False),
        sa.Column("purged_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("purged_sessions")
    op.drop_index("ix_schedule_runs_lease", "schedule_runs")
    op.drop_index("ix_schedule_runs_schedule", "schedule_runs")
    op.drop_table("schedule_runs")
    op.drop_index("ix_schedules_due", "schedules")
    op.drop_table("schedules")
    op.drop_table("tick_status")
    op.drop_table("leases")
