"""marketplace catalogue and listings

Revision ID: 4cc453269b5a
Revises: f04517155ecf
Create Date: 2026-11-28 10:14:11.883449

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4cc453269b5a"
down_revision: str | Sequence[str] | None = "f04517155ecf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "materials",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("local_names", sa.JSON(), nullable=False),
        sa.Column("ewc_code", sa.String(length=8), nullable=True),
        sa.Column("hs_code", sa.String(length=10), nullable=True),
        sa.Column("hazardous", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("from_catalogue", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["materials.code"],
            name=op.f("fk_materials_parent_code_materials"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_materials")),
    )
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_materials_ewc_code"), ["ewc_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_parent_code"), ["parent_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_materials_path"), ["path"], unique=False)

    op.create_table(
        "units",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("symbol", sa.String(length=12), nullable=False),
        sa.Column(
            "dimension",
            sa.Enum(
                "MASS",
                "VOLUME",
                "COUNT",
                "ENERGY",
                "BAG",
                name="dimension",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("factor", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.CheckConstraint("factor > 0", name=op.f("ck_units_factor_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("cluster_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "OFFER",
                "WANT",
                name="listing_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "BY_PRODUCT",
                "ECO_PRODUCT",
                name="listing_category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "ACTIVE",
                "RESERVED",
                "CLOSED",
                "EXPIRED",
                name="listing_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("material_code", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_code", sa.String(length=3), nullable=False),
        sa.Column("quantity_base", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column(
            "recurrence",
            sa.Enum(
                "ONE_OFF",
                "WEEKLY",
                "MONTHLY",
                "SEASONAL",
                name="recurrence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("season_months", sa.JSON(), nullable=False),
        sa.Column("available_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("price_per_unit", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "delivery",
            sa.Enum(
                "PICKUP",
                "DELIVERY",
                "EITHER",
                name="delivery",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("place_name", sa.String(length=200), nullable=False),
        sa.Column("location_approximate", sa.Boolean(), nullable=False),
        sa.Column("public_lat", sa.Float(), nullable=False),
        sa.Column("public_lon", sa.Float(), nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("lat BETWEEN -90 AND 90", name=op.f("ck_listings_lat_range")),
        sa.CheckConstraint("lon BETWEEN -180 AND 180", name=op.f("ck_listings_lon_range")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_listings_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_listings_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_listings_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["material_code"],
            ["materials.code"],
            name=op.f("fk_listings_material_code_materials"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_listings_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["units.code"],
            name=op.f("fk_listings_unit_code_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_listings_cluster_id_created_at", ["cluster_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_listings_material_code"), ["material_code"], unique=False
        )
        batch_op.create_index(
            "ix_listings_organisation_id_created_at",
            ["organisation_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_listings_public_lat_public_lon", ["public_lat", "public_lon"], unique=False
        )
        batch_op.create_index(
            "ix_listings_status_expires_at", ["status", "expires_at"], unique=False
        )

    _create_search_and_distance()


def downgrade() -> None:
    """Downgrade schema."""
    _drop_search_and_distance()
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_status_expires_at")
        batch_op.drop_index("ix_listings_public_lat_public_lon")
        batch_op.drop_index("ix_listings_organisation_id_created_at")
        batch_op.drop_index(batch_op.f("ix_listings_material_code"))
        batch_op.drop_index("ix_listings_cluster_id_created_at")

    op.drop_table("listings")
    op.drop_table("units")
    with op.batch_alter_table("materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_materials_path"))
        batch_op.drop_index(batch_op.f("ix_materials_parent_code"))
        batch_op.drop_index(batch_op.f("ix_materials_ewc_code"))

    op.drop_table("materials")


# Full text and distance, per backend (see backend/marketplace/search.py). Listings are searched
# on title and description with the database's own engine: FTS5 kept in step by triggers on
# SQLite, a GIN expression index on PostgreSQL. "simple" tokenising on both (no stemming), so
# that the same words match in every language the clusters write in.

# Keep in step with backend/marketplace/search.py.
SEPARATORS = "./@:_-+,"

SQLITE_SEARCH = [
    """CREATE VIRTUAL TABLE listing_fts USING fts5(
        listing_id UNINDEXED, title, description, tokenize = 'unicode61 remove_diacritics 0')""",
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

POSTGRESQL_SEARCH = [
    # translate(): PostgreSQL's parser keeps "12.5", "v2.0", hosts and e-mail addresses as one
    # word where SQLite splits them; spaces instead of those marks make both split alike.
    f"""CREATE INDEX ix_listings_search_document ON listings
        USING gin (to_tsvector('simple', translate(title || ' ' || description, '{SEPARATORS}',
        '{" " * len(SEPARATORS)}')))""",
    # Not STRICT: a plain SQL function is inlined into the query, a strict one is called per row.
    """CREATE FUNCTION eic_distance_km(lat1 float8, lon1 float8, lat2 float8, lon2 float8)
        RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT 2 * 6371.0088 * asin(least(1.0, sqrt(
            power(sin(radians(lat2 - lat1) / 2), 2)
            + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2)
        )))
    $$""",
]


def _create_search_and_distance() -> None:
    bind = op.get_bind()
    for statement in SQLITE_SEARCH if bind.dialect.name == "sqlite" else POSTGRESQL_SEARCH:
        # As the driver gets it: the separators' ":" is no bind parameter.
        bind.exec_driver_sql(statement)


def _drop_search_and_distance() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS listing_fts_after_{trigger}")
        op.execute("DROP TABLE IF EXISTS listing_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_listings_search_document")
        op.execute("DROP FUNCTION IF EXISTS eic_distance_km(float8, float8, float8, float8)")
