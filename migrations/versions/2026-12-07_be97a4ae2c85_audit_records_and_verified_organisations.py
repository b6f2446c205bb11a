"""Audit records of platform admins' trust decisions, and verified organisations.

Organisations that exist already start unverified: institutions among them keep a firm's
reading rights until a platform admin verifies them (organisationVerify). The demo clusters'
institutions are verified when the demo is loaded.

Revision ID: be97a4ae2c85
Revises: bb27dd9d6bec
Create Date: 2026-12-07 03:22:03.962468

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "be97a4ae2c85"
down_revision: str | Sequence[str] | None = "bb27dd9d6bec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "ACCOUNT_DISABLED",
                "ACCOUNT_ENABLED",
                "ORGANISATION_VERIFIED",
                "ORGANISATION_UNVERIFIED",
                name="audit_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("subject_user_id", sa.Uuid(), nullable=True),
        sa.Column("subject_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_records_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_audit_records_subject_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_user_id"],
            ["users.id"],
            name=op.f("fk_audit_records_subject_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
    )
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.create_index("ix_audit_records_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_records_subject_organisation_id", ["subject_organisation_id"], unique=False
        )
        batch_op.create_index("ix_audit_records_subject_user_id", ["subject_user_id"], unique=False)

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verified_by_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_organisations_verified_by_id_users"),
            "users",
            ["verified_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organisations_verified_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("verified_by_id")
        batch_op.drop_column("verified_at")

    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_records_subject_user_id")
        batch_op.drop_index("ix_audit_records_subject_organisation_id")
        batch_op.drop_index("ix_audit_records_created_at_id")

    op.drop_table("audit_records")
