"""offers_trades_reviews_and_impact

Revision ID: 82feb9332efa
Revises: dd7118f10d90
Create Date: 2026-11-28 14:43:43.161218

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "82feb9332efa"
down_revision: str | Sequence[str] | None = "dd7118f10d90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    _add_committed_quantity()
    op.create_table(
        "impact_factors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("material_code", sa.String(length=64), nullable=False),
        sa.Column("method_version", sa.String(length=32), nullable=False),
        sa.Column("baseline", sa.String(length=200), nullable=False),
        sa.Column("co2e_kg_per_tonne", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("co2e_source", sa.Text(), nullable=False),
        sa.Column("disposal_cost_per_tonne", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("disposal_cost_currency", sa.String(length=3), nullable=True),
        sa.Column("disposal_cost_source", sa.Text(), nullable=False),
        sa.Column("kg_per_litre", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.CheckConstraint(
            "kg_per_litre IS NULL OR kg_per_litre > 0",
            name=op.f("ck_impact_factors_density_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_impact_factors_material_code_materials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_factors")),
        sa.UniqueConstraint(
            "material_code",
            "method_version",
            name=op.f("uq_impact_factors_material_code_method_version"),
        ),
    )
    op.create_table(
        "material_conversions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("input_code", sa.String(length=64), nullable=False),
        sa.Column("output_code", sa.String(length=64), nullable=False),
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_code"],
            ["materials.code"],
            name=op.f("fk_material_conversions_input_code_materials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["output_code"],
            ["materials.code"],
            name=op.f("fk_material_conversions_output_code_materials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_conversions")),
        sa.UniqueConstraint(
            "input_code", "output_code", name=op.f("uq_material_conversions_input_code_output_code")
        ),
    )
    with op.batch_alter_table("material_conversions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_material_conversions_input_code"), ["input_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_material_conversions_output_code"), ["output_code"], unique=False
        )

    op.create_table(
        "offers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("maker_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "COUNTERED",
                "ACCEPTED",
                "DECLINED",
                "WITHDRAWN",
                "EXPIRED",
                name="offer_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_code", sa.String(length=3), nullable=False),
        sa.Column("price_per_unit", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decline_reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("maker_id <> owner_id", name=op.f("ck_offers_not_own_listing")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_offers_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_offers_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_offers_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_offers_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["maker_id"],
            ["organisations.id"],
            name=op.f("fk_offers_maker_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organisations.id"],
            name=op.f("fk_offers_owner_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["units.code"],
            name=op.f("fk_offers_unit_code_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index("ix_offers_listing_id_status", ["listing_id", "status"], unique=False)
        batch_op.create_index(
            "ix_offers_maker_id_updated_at", ["maker_id", "updated_at"], unique=False
        )
        batch_op.create_index(
            "ix_offers_owner_id_updated_at", ["owner_id", "updated_at"], unique=False
        )

    op.create_table(
        "offer_terms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("proposed_by_id", sa.Uuid(), nullable=False),
        sa.Column("proposed_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("price_per_unit", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_offer_terms_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["organisations.id"],
            name=op.f("fk_offer_terms_proposed_by_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_user_id"],
            ["users.id"],
            name=op.f("fk_offer_terms_proposed_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_terms")),
        sa.UniqueConstraint("offer_id", "round", name=op.f("uq_offer_terms_offer_id_round")),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("cluster_id", sa.Uuid(), nullable=False),
        sa.Column("supplier_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "AGREED",
                "IN_TRANSIT",
                "DELIVERED",
                "COMPLETED",
                "CANCELLED",
                "DISPUTED",
                name="trade_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("material_code", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_code", sa.String(length=3), nullable=False),
        sa.Column("price_per_unit", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("delivered_quantity", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("delivered_by_id", sa.Uuid(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column(
            "status_before_dispute",
            sa.Enum(
                "AGREED",
                "IN_TRANSIT",
                "DELIVERED",
                "COMPLETED",
                "CANCELLED",
                "DISPUTED",
                name="trade_status_before_dispute",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "delivered_quantity IS NULL OR delivered_quantity >= 0",
            name=op.f("ck_trades_delivered"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_trades_quantity_positive")),
        sa.CheckConstraint("supplier_id <> receiver_id", name=op.f("ck_trades_two_parties")),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_trades_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["delivered_by_id"],
            ["organisations.id"],
            name=op.f("fk_trades_delivered_by_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_trades_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_trades_material_code_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_trades_offer_id_offers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["organisations.id"],
            name=op.f("fk_trades_receiver_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organisations.id"],
            name=op.f("fk_trades_supplier_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["units.code"],
            name=op.f("fk_trades_unit_code_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_trades_offer_id")),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index("ix_trades_listing_id", ["listing_id"], unique=False)
        batch_op.create_index(
            "ix_trades_receiver_id_created_at", ["receiver_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_trades_supplier_id_created_at", ["supplier_id", "created_at"], unique=False
        )

    op.create_table(
        "impact_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trade_id", sa.Uuid(), nullable=False),
        sa.Column("cluster_id", sa.Uuid(), nullable=False),
        sa.Column("supplier_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("material_code", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_code", sa.String(length=3), nullable=False),
        sa.Column("diverted_kg", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("co2e_avoided_kg", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("disposal_cost_avoided", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("transport_km", sa.Float(), nullable=True),
        sa.Column("method_version", sa.String(length=32), nullable=False),
        sa.Column("factor_material_code", sa.String(length=64), nullable=True),
        sa.Column("baseline", sa.String(length=200), nullable=False),
        sa.Column("co2e_kg_per_tonne", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("co2e_source", sa.Text(), nullable=False),
        sa.Column("disposal_cost_per_tonne", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("disposal_cost_source", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_impact_entries_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_impact_entries_material_code_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"],
            ["organisations.id"],
            name=op.f("fk_impact_entries_receiver_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organisations.id"],
            name=op.f("fk_impact_entries_supplier_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_impact_entries_trade_id_trades"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["units.code"],
            name=op.f("fk_impact_entries_unit_code_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_entries")),
        sa.UniqueConstraint("trade_id", name=op.f("uq_impact_entries_trade_id")),
    )
    with op.batch_alter_table("impact_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_impact_entries_cluster_id_recorded_at", ["cluster_id", "recorded_at"], unique=False
        )
        batch_op.create_index(
            "ix_impact_entries_receiver_id_recorded_at",
            ["receiver_id", "recorded_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_impact_entries_supplier_id_recorded_at",
            ["supplier_id", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trade_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("reviewee_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.CheckConstraint("reviewer_id <> reviewee_id", name=op.f("ck_reviews_not_self")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_reviews_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewee_id"],
            ["organisations.id"],
            name=op.f("fk_reviews_reviewee_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["organisations.id"],
            name=op.f("fk_reviews_reviewer_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("fk_reviews_trade_id_trades"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint(
            "trade_id", "reviewer_id", name=op.f("uq_reviews_trade_id_reviewer_id")
        ),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reviews_reviewee_id_created_at", ["reviewee_id", "created_at"], unique=False
        )

    op.create_table(
        "trade_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trade_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_trade_messages_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_trade_messages_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_trade_messages_trade_id_trades"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_messages")),
    )
    with op.batch_alter_table("trade_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trade_messages_trade_id_created_at", ["trade_id", "created_at"], unique=False
        )

    op.create_table(
        "trade_steps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trade_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "AGREED",
                "IN_TRANSIT",
                "DELIVERED",
                "COMPLETED",
                "CANCELLED",
                "DISPUTED",
                name="trade_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("by_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("by_user_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_trade_steps_by_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_trade_steps_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_trade_steps_trade_id_trades"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_steps")),
    )
    with op.batch_alter_table("trade_steps", schema=None) as batch_op:
        batch_op.create_index("ix_trade_steps_trade_id_at", ["trade_id", "at"], unique=False)

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trades_completed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reviews_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rating_total", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("rating_total")
        batch_op.drop_column("reviews_count")
        batch_op.drop_column("trades_completed")

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_listings_committed_in_range"), type_="check")
        batch_op.drop_column("quantity_committed")
    _recreate_sqlite_search_triggers()

    with op.batch_alter_table("trade_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_steps_trade_id_at")

    op.drop_table("trade_steps")
    with op.batch_alter_table("trade_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_messages_trade_id_created_at")

    op.drop_table("trade_messages")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_reviewee_id_created_at")

    op.drop_table("reviews")
    with op.batch_alter_table("impact_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_impact_entries_supplier_id_recorded_at")
        batch_op.drop_index("ix_impact_entries_receiver_id_recorded_at")
        batch_op.drop_index("ix_impact_entries_cluster_id_recorded_at")

    op.drop_table("impact_entries")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("ix_trades_supplier_id_created_at")
        batch_op.drop_index("ix_trades_receiver_id_created_at")
        batch_op.drop_index("ix_trades_listing_id")

    op.drop_table("trades")
    op.drop_table("offer_terms")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_owner_id_updated_at")
        batch_op.drop_index("ix_offers_maker_id_updated_at")
        batch_op.drop_index("ix_offers_listing_id_status")

    op.drop_table("offers")
    with op.batch_alter_table("material_conversions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_material_conversions_output_code"))
        batch_op.drop_index(batch_op.f("ix_material_conversions_input_code"))

    op.drop_table("material_conversions")
    op.drop_table("impact_factors")


# SQLite cannot add a CHECK to a table: batch mode copies `listings` into a new table, and the
# full-text triggers of the marketplace migration go with the old one. They are made again here
# (keep in step with SQLITE_SEARCH there).
SQLITE_SEARCH_TRIGGERS = [
    """CREATE TRIGGER listing_fts_after_insert AFTER INSERT ON listings BEGIN
        INSERT INTO listing_fts (listing_id, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    """CREATE TRIGGER listing_fts_after_update AFTER UPDATE OF title, description ON listings
    BEGIN
        DELETE FROM listing_fts WHERE listing_id = old.id;
        INSERT INTO listing_fts (listing_id, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    """CREATE TRIGGER listing_fts_after_delete AFTER DELETE ON listings BEGIN
        DELETE FROM listing_fts WHERE listing_id = old.id;
    END""",
]


def _add_committed_quantity() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "quantity_committed",
                sa.Numeric(precision=18, scale=4),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            "committed_in_range", "quantity_committed >= 0 AND quantity_committed <= quantity"
        )
    _recreate_sqlite_search_triggers()


def _recreate_sqlite_search_triggers() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for trigger in ("insert", "update", "delete"):
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS listing_fts_after_{trigger}")
    for statement in SQLITE_SEARCH_TRIGGERS:
        bind.exec_driver_sql(statement)
