"""Notifications keep their template and parameters, so each reader gets them in their language.

Rows from before keep no template (both columns null) and show their English title and body.

Revision ID: a7c4e91d2b60
Revises: a7c4e9f2b318
Create Date: 2026-12-07 14:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c4e91d2b60"
down_revision: str | Sequence[str] | None = "a7c4e9f2b318"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("text_template", sa.String(length=80), nullable=True))
    op.add_column("notifications", sa.Column("text_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("text_params")
        batch.drop_column("text_template")
