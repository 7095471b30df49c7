"""frustration signals by time: an incident's window reads its signals directly

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_frustrations_t", "frustrations", ["t", "session_id"])


def downgrade() -> None:
    op.drop_index("ix_frustrations_t", "frustrations")
