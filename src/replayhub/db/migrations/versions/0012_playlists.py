"""playlists: collections and saved searches

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "playlists",
        sa.Column("id", Text(length=32), nullable=False),
        sa.Column("name", Text(length=200), nullable=False),
        sa.Column("kind", Text(length=20), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("owner", Text(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.BigInteger(), nullable=True),
        sa.Column("counted_at", sa.BigInteger(), nullable=True),
        sa.Column("seen_until", sa.BigInteger(), nullable=True),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("count_capped", sa.Boolean(), nullable=False),
        sa.Column("new_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_playlists_kind", "playlists", ["kind", "refreshed_at"])
    # A refresh looks for the sessions stored since the last one.
    op.create_index("ix_sessions_created", "sessions", ["created_at"])
    op.create_table(
        "playlist_items",
        sa.Column("playlist_id", Text(length=32), nullable=False),
        sa.Column("session_id", Text(length=128), nullable=False),
        sa.Column("t", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_by", Text(length=200), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["playlist_id"], ["playlists.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("playlist_id", "session_id"),
    )
    op.create_index("ix_playlist_items_session", "playlist_items", ["session_id"])
    op.create_index("ix_playlist_items_added", "playlist_items", ["playlist_id", "added_at"])
    op.create_table(
        "playlist_watchers",
        sa.Column("playlist_id", Text(length=32), nullable=False),
        sa.Column("watcher", Text(length=320), nullable=False),
        sa.Column("unwatched", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["playlist_id"], ["playlists.id"]),
        sa.PrimaryKeyConstraint("playlist_id", "watcher"),
    )


def downgrade() -> None:
    op.drop_table("playlist_watchers")
    op.drop_index("ix_playlist_items_added", "playlist_items")
    op.drop_index("ix_playlist_items_session", "playlist_items")
    op.drop_table("playlist_items")
    op.drop_index("ix_sessions_created", "sessions")
    op.drop_index("ix_playlists_kind", "playlists")
    op.drop_table("playlists")
