"""The offline sync's change log, and thread followers (who has a thread in their offline copy).

People already follow the threads they started or replied in, as new threads and replies do.

Revision ID: 4c3baa90e570
Revises: 23f4d0311060
Create Date: 2026-11-28 17:03:28.556456

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4c3baa90e570"
down_revision: str | Sequence[str] | None = "23f4d0311060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sync_changes",
        sa.Column("scope_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "entity_type",
            sa.Enum(
                "LISTING",
                "OFFER",
                "TRADE",
                "PURCHASE_GROUP",
                "FORUM_THREAD",
                "EVENT",
                "NOTIFICATION",
                name="sync_change_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope_id", "sequence", "position", name=op.f("pk_sync_changes")),
    )
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index("ix_sync_changes_sequence", ["sequence"], unique=False)

    op.create_table(
        "sync_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sync_log_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_log_state")),
    )
    op.create_table(
        "forum_thread_followers",
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["forum_threads.id"],
            name=op.f("fk_forum_thread_followers_thread_id_forum_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_forum_thread_followers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", "user_id", name=op.f("pk_forum_thread_followers")),
    )
    with op.batch_alter_table("forum_thread_followers", schema=None) as batch_op:
        batch_op.create_index("ix_forum_thread_followers_user_id", ["user_id"], unique=False)
    op.execute(
        """
        INSERT INTO forum_thread_followers (thread_id, user_id, created_at)
        SELECT thread_id, user_id, MIN(at) FROM (
            SELECT id AS thread_id, author_id AS user_id, created_at AS at FROM forum_threads
            UNION ALL
            SELECT thread_id, author_id, created_at FROM forum_posts
        ) AS taking_part
        WHERE user_id IS NOT NULL
        GROUP BY thread_id, user_id
        """
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("forum_thread_followers", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_thread_followers_user_id")

    op.drop_table("forum_thread_followers")
    op.drop_table("sync_log_state")
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_changes_sequence")

    op.drop_table("sync_changes")
