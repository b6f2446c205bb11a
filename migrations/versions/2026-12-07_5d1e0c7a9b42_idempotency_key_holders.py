"""Idempotency keys name the app process that holds them and when their answer is due.

A key whose work committed but whose answer was never stored (the process was killed between the
two) is told apart from one still running by its holder's liveness and ``answer_due``; a retry
then answers IDEMPOTENCY_KEY_ANSWER_LOST at once instead of waiting. Rows from before this
migration have no holder: their requests are over, so they count as lost when still unanswered.

Revision ID: 5d1e0c7a9b42
Revises: a7d536ba8349
Create Date: 2026-12-10 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d1e0c7a9b42"
down_revision: str | Sequence[str] | None = "a7d536ba8349"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("answer_due", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("answer_due")
        batch_op.drop_column("holder")
