"""reports: scheduled reports and what each run said

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", Text(length=32), nullable=False),
        sa.Column("name", Text(length=200), nullable=False),
        sa.Column("owner", Text(length=320), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("playlist_id", Text(length=32), nullable=True),
        sa.Column("schedule", Text(length=300), nullable=False),
        sa.Column("timezone", Text(length=64), nullable=False),
        sa.Column("period", Text(length=32), nullable=False),
        sa.Column("deliver", sa.Text(), nullable=False),
        sa.Column("unsubscribed", sa.Text(), nullable=False),
        sa.Column("skip_empty", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "report_runs",
        sa.Column("run_id", Text(length=32), nullable=False),
        sa.Column("report_id", Text(length=32), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("chart_svg", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_report_runs_report", "report_runs", ["report_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_report_runs_report", "report_runs")
    op.drop_table("report_runs")
    op.drop_table("reports")
