"""Devices say which push provider issued their token: EXPO, FCM or APNS.

Every device registered before is an Expo one (Expo was the only provider), so the column is
added with that default; the CHECK keeps the values to the three providers, as ``enum_column``
makes it for new tables.

Revision ID: a7c4e9f2b318
Revises: 7c4d2b9e1f60
Create Date: 2026-12-07 14:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c4e9f2b318"
down_revision: str | Sequence[str] | None = "7c4d2b9e1f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "provider IN ('EXPO', 'FCM', 'APNS')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK in place; a batch copy of the table would delete
        # every push message with it (ON DELETE CASCADE on the dropped original).
        op.execute(
            "ALTER TABLE devices ADD COLUMN provider VARCHAR(32) DEFAULT 'EXPO' NOT NULL "
            f"CONSTRAINT ck_devices_push_provider CHECK ({CHECK})"
        )
        return
    op.add_column(
        "devices",
        sa.Column("provider", sa.String(length=32), nullable=False, server_default="EXPO"),
    )
    op.create_check_constraint(op.f("ck_devices_push_provider"), "devices", CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE devices DROP COLUMN provider")  # SQLite 3.35+, in place
        return
    op.drop_constraint(op.f("ck_devices_push_provider"), "devices", type_="check")
    op.drop_column("devices", "provider")
