"""joint purchasing groups and their pledges

Revision ID: 1a087526f875
Revises: 02eee2927341
Create Date: 2026-11-28 12:27:03.151722

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "1a087526f875"
down_revision: str | Sequence[str] | None = "02eee2927341"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "purchase_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("cluster_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("counterpart_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("material_code", sa.String(length=64), nullable=True),
        sa.Column("unit_code", sa.String(length=3), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "BUY",
                "SELL",
                name="purchase_direction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("min_quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("max_quantity", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("price_tiers", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shared_costs", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "cost_split",
            sa.Enum(
                "PRO_RATA",
                "EQUAL",
                name="cost_split",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum(
                "MEMBERS",
                "CLUSTER",
                "PUBLIC",
                name="group_visibility",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "CONFIRMED",
                "ORDERED",
                "DELIVERED",
                "FAILED",
                "CANCELLED",
                name="purchase_group_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("pledged_quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("participants_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "max_quantity IS NULL OR max_quantity >= min_quantity",
            name=op.f("ck_purchase_groups_max_not_below_min"),
        ),
        sa.CheckConstraint(
            "min_quantity > 0", name=op.f("ck_purchase_groups_min_quantity_positive")
        ),
        sa.CheckConstraint(
            "participants_count >= 0", name=op.f("ck_purchase_groups_participants_not_negative")
        ),
        sa.CheckConstraint(
            "pledged_quantity >= 0 AND (max_quantity IS NULL OR pledged_quantity <= max_quantity)",
            name=op.f("ck_purchase_groups_pledged_within_max"),
        ),
        sa.CheckConstraint(
            "shared_costs >= 0", name=op.f("ck_purchase_groups_shared_costs_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_purchase_groups_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["counterpart_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_purchase_groups_counterpart_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_purchase_groups_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_purchase_groups_material_code_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_purchase_groups_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["units.code"],
            name=op.f("fk_purchase_groups_unit_code_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_groups")),
    )
    with op.batch_alter_table("purchase_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_groups_cluster_id"), ["cluster_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_groups_material_code"), ["material_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_groups_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(
            "ix_purchase_groups_status_deadline", ["status", "deadline"], unique=False
        )

    op.create_table(
        "pledges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("acted_by_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ACTIVE",
                "WITHDRAWN",
                name="pledge_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_pledges_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["acted_by_id"],
            ["users.id"],
            name=op.f("fk_pledges_acted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["purchase_groups.id"],
            name=op.f("fk_pledges_group_id_purchase_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pledges_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["users.id"],
            name=op.f("fk_pledges_participant_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledges")),
        sa.UniqueConstraint(
            "group_id", "participant_id", name=op.f("uq_pledges_group_id_participant_id")
        ),
    )
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.create_index("ix_pledges_participant_id", ["participant_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.drop_index("ix_pledges_participant_id")

    op.drop_table("pledges")
    with op.batch_alter_table("purchase_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_groups_status_deadline")
        batch_op.drop_index(batch_op.f("ix_purchase_groups_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_groups_material_code"))
        batch_op.drop_index(batch_op.f("ix_purchase_groups_cluster_id"))

    op.drop_table("purchase_groups")
