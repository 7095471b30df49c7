"""alerts: alert rules' state and cool-downs

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "alert_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", _string(200), nullable=False),
        sa.Column("subject", _string(300), nullable=False),
        sa.Column("kind", _string(40), nullable=False),
        sa.Column("fingerprint", _string(32), nullable=False),
        sa.Column("app_id", _string(32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("needs_post", sa.Boolean(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("thread_of", _string(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "subject"),
    )
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.create_index("ix_alert_states_work", ["needs_post", "dirty"], unique=False)
        batch_op.create_index("ix_alert_states_fingerprint", ["fingerprint"], unique=False)

    op.create_table(
        "alert_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("target", _string(300), nullable=False),
        sa.Column("fingerprint", _string(32), nullable=False),
        sa.Column("delivery_id", _string(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["state_id"], ["alert_states.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_id", "episode", "target"),
    )
    with op.batch_alter_table("alert_messages", schema=None) as batch_op:
        batch_op.create_index("ix_alert_messages_fingerprint", ["fingerprint", "target"],
                              unique=False)

    op.create_table(
        "alert_cursors",
        sa.Column("name", _string(50), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "alert_digests",
        sa.Column("rule", _string(200), nullable=False),
        sa.Column("schedule", _string(300), nullable=False),
        sa.Column("timezone", _string(100), nullable=False),
        sa.Column("next_run_at", sa.BigInteger(), nullable=False),
        sa.Column("last_run_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("rule"),
    )
    op.create_table(
        "error_resolutions",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", _string(32), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", _string(200), nullable=False),
        sa.Column("regressed_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["error_groups.id"]),
        sa.PrimaryKeyConstraint("group_id"),
    )
    with op.batch_alter_table("error_resolutions", schema=None) as batch_op:
        batch_op.create_index("ix_error_resolutions_fingerprint", ["fingerprint"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("error_resolutions", schema=None) as batch_op:
        batch_op.drop_index("ix_error_resolutions_fingerprint")
    op.drop_table("error_resolutions")
    op.drop_table("alert_digests")
    op.drop_table("alert_cursors")
    with op.batch_alter_table("alert_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_messages_fingerprint")
    op.drop_table("alert_messages")
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_states_fingerprint")
        batch_op.drop_index("ix_alert_states_work")
    op.drop_table("alert_states")
