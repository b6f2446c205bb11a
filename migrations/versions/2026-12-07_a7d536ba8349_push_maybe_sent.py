"""Push messages SENDING (handed to the provider, answer not recorded) and MAYBE_SENT (the
provider may have them: never sent again).

Revision ID: a7d536ba8349
Revises: be97a4ae2c85
Create Date: 2026-12-07 03:58:17.349578

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a7d536ba8349"
down_revision: str | Sequence[str] | None = "be97a4ae2c85"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("PENDING", "SENT", "FAILED")
NEW = ("PENDING", "SENDING", "SENT", "MAYBE_SENT", "FAILED")


def _allow(statuses: tuple[str, ...]) -> None:
    # Autogenerate does not see a CHECK's values; the constraint is named by the models' naming
    # convention, so batch mode (a table copy on SQLite) carries it like any other.
    with op.batch_alter_table("push_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_push_messages_push_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_push_messages_push_status"),
            sa.column("status").in_(statuses),
        )


def upgrade() -> None:
    """Upgrade schema."""
    _allow(NEW)


def downgrade() -> None:
    """Downgrade schema."""
    # The older code would send these again: they are given up instead (FAILED keeps the reason).
    op.execute(
        "UPDATE push_messages SET status = 'FAILED', claimed_by = NULL, claimed_until = NULL "
        "WHERE status IN ('SENDING', 'MAYBE_SENT')"
    )
    _allow(OLD)
