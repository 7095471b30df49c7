"""segments.staged: a batch's compressed events, committed with its rows, until they are in
the blob store

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("staged", sa.LargeBinary(), nullable=True))
    op.create_index("ix_segments_staged", "segments", ["received_at"],
                    sqlite_where=sa.text("staged IS NOT NULL"),
                    postgresql_where=sa.text("staged IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_segments_staged", "segments")
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("staged")
