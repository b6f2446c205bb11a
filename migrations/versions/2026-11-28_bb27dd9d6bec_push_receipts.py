"""Push receipts: the provider's ticket of a sent message, and when its receipt was read.

Revision ID: bb27dd9d6bec
Revises: 4c3baa90e570
Create Date: 2026-11-28 17:21:44.819064

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "bb27dd9d6bec"
down_revision: str | Sequence[str] | None = "4c3baa90e570"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("push_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_id", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("receipt_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_push_messages_status_receipt_checked_at_sent_at",
            ["status", "receipt_checked_at", "sent_at"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("push_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_push_messages_status_receipt_checked_at_sent_at")
        batch_op.drop_column("receipt_checked_at")
        batch_op.drop_column("ticket_id")
