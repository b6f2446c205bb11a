"""The sync log's epoch: which history its commit numbers belong to.

Empty for every database so far (their apps' cursors stay valid); ``eic restore`` sets a new
random one, so that cursors given out before a restore are answered RESYNC_REQUIRED.

Revision ID: 0b5e7d3c9a14
Revises: e3a9c5d17b24
Create Date: 2026-12-07 17:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0b5e7d3c9a14"
down_revision: str | Sequence[str] | None = "e3a9c5d17b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sync_log_state",
        sa.Column("epoch", sa.String(length=32), server_default="", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("sync_log_state") as batch:
        batch.drop_column("epoch")
