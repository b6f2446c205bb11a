"""Cluster insights: ISIC Rev. 4 activities, and what organisations do and whether insights
name them.

``activities`` holds the UN's classification (loaded by ``eic migrate`` from
``backend/catalogue/data``). Organisations that exist already have no activity until they say
(their links count as neither horizontal nor vertical) and are named in insights to the
cluster's verified institutions until they opt out.

Revision ID: 8fc960eb1ee2
Revises: c3f1e2a9d4b7
Create Date: 2026-12-07 08:46:21.587048

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8fc960eb1ee2"
down_revision: str | Sequence[str] | None = "c3f1e2a9d4b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "activities",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "SECTION",
                "DIVISION",
                "GROUP",
                "CLASS",
                name="activity_level",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("parent_code", sa.String(length=4), nullable=True),
        sa.Column("section", sa.String(length=1), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["activities.code"],
            name=op.f("fk_activities_parent_code_activities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_parent_code"), ["parent_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_section"), ["section"], unique=False)

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activity_code", sa.String(length=4), nullable=True))
        batch_op.add_column(
            sa.Column("named_in_insights", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organisations_activity_code_activities"),
            "activities",
            ["activity_code"],
            ["code"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organisations_activity_code_activities"), type_="foreignkey"
        )
        batch_op.drop_column("named_in_insights")
        batch_op.drop_column("activity_code")

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_section"))
        batch_op.drop_index(batch_op.f("ix_activities_parent_code"))

    op.drop_table("activities")
