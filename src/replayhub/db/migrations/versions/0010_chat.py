"""chat: chat messages and threads mapped to replays

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("ts", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("alert_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("comment_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector", "channel", "ts"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_session", ["session_id"], unique=False)
        batch_op.create_index("ix_chat_messages_comment", ["comment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_comment")
        batch_op.drop_index("ix_chat_messages_session")

    op.drop_table("chat_messages")
