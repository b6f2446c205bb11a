"""Account deletion: ``users.deleted_at`` marks an anonymised account, and ACCOUNT_DELETED is a
trust decision the audit records keep (who carried out an erasure request, and when).

Revision ID: e3a9c5d17b24
Revises: a7c4e91d2b60
Create Date: 2026-12-07 17:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a9c5d17b24"
down_revision: str | Sequence[str] | None = "a7c4e91d2b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("ACCOUNT_DISABLED", "ACCOUNT_ENABLED", "ORGANISATION_VERIFIED", "ORGANISATION_UNVERIFIED")
NEW = (*OLD, "ACCOUNT_DELETED")


def _allow(actions: tuple[str, ...]) -> None:
    # The CHECK is named by the models' naming convention, so batch mode (a table copy on
    # SQLite) carries it like any other constraint.
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_records_audit_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_records_audit_action"), sa.column("action").in_(actions)
        )


def upgrade() -> None:
    op.add_column("users", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    _allow(NEW)


def downgrade() -> None:
    # The records of deletions go with the value; the accounts stay anonymised.
    op.execute("DELETE FROM audit_records WHERE action = 'ACCOUNT_DELETED'")
    _allow(OLD)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
