"""Listing search at 100,000 listings: what finds the nearest page without visiting every match.

PostgreSQL: a stored ``tsvector`` column (``search_document``, generated from title and
description exactly as the old expression index was), a GIN index on it for every status and a
partial one for ACTIVE listings, and a partial GiST index on each ACTIVE listing's public point
as a 3-D ``cube`` (``eic_earth_point``), whose ``<->`` order is the great-circle order. ``cube``
is a trusted extension: a database owner may create it. A role that may not (where the provider
lists extensions) needs ``CREATE EXTENSION cube`` run once by someone who may; this migration then
finds it. ``earthdistance`` is not used: it is not trusted (it needs a superuser), and
``eic_earth_point`` is the only part of it search needs.

SQLite: ``listing_search`` gives every listing a stable integer ``key`` (an INTEGER PRIMARY KEY,
which VACUUM keeps; a table's implicit rowid it may renumber) with its ACTIVE flag and public
point, indexed by (active, lat, lon). The FTS5 table is rebuilt with that key as its rowid, so a
text match joins the places by integer instead of reading each match's listing id out of the
FTS content (45 ms for 16,000 matches). Triggers keep both in step with ``listings``; like the
old full-text triggers they go with the table when a batch migration copies ``listings``, and
such a migration must make them again (``SQLITE_TRIGGERS``).

Revision ID: c3f1e2a9d4b7
Revises: 5d1e0c7a9b42
Create Date: 2026-12-07 07:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c3f1e2a9d4b7"
down_revision: str | Sequence[str] | None = "5d1e0c7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with backend/marketplace/search.py.
SEPARATORS = "./@:_-+,"
_DOCUMENT = (
    f"to_tsvector('simple'::regconfig, translate(title || ' ' || description, '{SEPARATORS}', "
    f"'{' ' * len(SEPARATORS)}'))"
)
EARTH_RADIUS_KM = 6371.0088  # backend/kit/geo.py


def _postgresql_upgrade() -> list[str]:
    bind = op.get_bind()
    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS cube")
    # Qualified by the extension's schema so that the function (and the index on it) also
    # resolves under an empty search_path, as pg_restore rebuilds indexes.
    schema = bind.exec_driver_sql(
        "SELECT quote_ident(nspname) FROM pg_extension JOIN pg_namespace n "
        "ON n.oid = extnamespace WHERE extname = 'cube'"
    ).scalar_one()
    radius = EARTH_RADIUS_KM
    return [
        # A point on the sphere of the Earth's mean radius, in km: straight-line (chord) distance
        # between two of them grows with their great-circle distance, so `<->` sorts nearest
        # first; the exact distance is still eic_distance_km's.
        f"""CREATE FUNCTION eic_earth_point(lat float8, lon float8) RETURNS {schema}.cube
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT {schema}.cube(ARRAY[
                {radius} * cos(radians(lat)) * cos(radians(lon)),
                {radius} * cos(radians(lat)) * sin(radians(lon)),
                {radius} * sin(radians(lat))
            ]::float8[])
        $$""",
        # Rewrites the table (about 7 s for 100,000 listings) under an exclusive lock.
        f"ALTER TABLE listings ADD COLUMN search_document tsvector "
        f"GENERATED ALWAYS AS ({_DOCUMENT}) STORED",
        "DROP INDEX ix_listings_search_document",
        "CREATE INDEX ix_listings_search_document ON listings USING gin (search_document)",
        "CREATE INDEX ix_listings_active_search_document ON listings USING gin (search_document) "
        "WHERE status = 'ACTIVE'",
        "CREATE INDEX ix_listings_active_earth_point ON listings "
        "USING gist (eic_earth_point(public_lat, public_lon)) WHERE status = 'ACTIVE'",
        "ANALYZE listings",
    ]


POSTGRESQL_DOWNGRADE = [
    "DROP INDEX ix_listings_active_earth_point",
    "DROP INDEX ix_listings_active_search_document",
    "DROP INDEX ix_listings_search_document",
    "ALTER TABLE listings DROP COLUMN search_document",
    "DROP FUNCTION eic_earth_point(float8, float8)",
    # The cube extension stays: other objects may use it, and it holds no data.
    f"""CREATE INDEX ix_listings_search_document ON listings USING gin ({_DOCUMENT})""",
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER listing_search_after_insert AFTER INSERT ON listings BEGIN
        INSERT INTO listing_search (listing_id, active, lat, lon)
        VALUES (new.id, new.status = 'ACTIVE', new.public_lat, new.public_lon);
        INSERT INTO listing_fts (rowid, title, description)
        VALUES ((SELECT key FROM listing_search WHERE listing_id = new.id), new.title,
                new.description);
    END""",
    """CREATE TRIGGER listing_search_after_text AFTER UPDATE OF title, description ON listings
    BEGIN
        UPDATE listing_fts SET title = new.title, description = new.description
        WHERE rowid = (SELECT key FROM listing_search WHERE listing_id = new.id);
    END""",
    """CREATE TRIGGER listing_search_after_place AFTER UPDATE OF status, public_lat, public_lon
    ON listings BEGIN
        UPDATE listing_search
        SET active = new.status = 'ACTIVE', lat = new.public_lat, lon = new.public_lon
        WHERE listing_id = new.id;
    END""",
    """CREATE TRIGGER listing_search_after_delete AFTER DELETE ON listings BEGIN
        DELETE FROM listing_fts
        WHERE rowid = (SELECT key FROM listing_search WHERE listing_id = old.id);
        DELETE FROM listing_search WHERE listing_id = old.id;
    END""",
]

SQLITE_UPGRADE = [
    "DROP TRIGGER IF EXISTS listing_fts_after_insert",
    "DROP TRIGGER IF EXISTS listing_fts_after_update",
    "DROP TRIGGER IF EXISTS listing_fts_after_delete",
    "DROP TABLE listing_fts",
    """CREATE TABLE listing_search (
        key INTEGER PRIMARY KEY,
        listing_id CHAR(32) NOT NULL UNIQUE,
        active BOOLEAN NOT NULL,
        lat FLOAT NOT NULL,
        lon FLOAT NOT NULL
    )""",
    "CREATE INDEX ix_listing_search_active_lat_lon ON listing_search (active, lat, lon)",
    """CREATE VIRTUAL TABLE listing_fts USING fts5(
        title, description, tokenize = 'unicode61 remove_diacritics 0')""",
    """INSERT INTO listing_search (listing_id, active, lat, lon)
        SELECT id, status = 'ACTIVE', public_lat, public_lon FROM listings""",
    """INSERT INTO listing_fts (rowid, title, description)
        SELECT s.key, l.title, l.description
        FROM listings AS l JOIN listing_search AS s ON s.listing_id = l.id""",
    *SQLITE_TRIGGERS,
    "ANALYZE listing_search",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER listing_search_after_insert",
    "DROP TRIGGER listing_search_after_text",
    "DROP TRIGGER listing_search_after_place",
    "DROP TRIGGER listing_search_after_delete",
    "DROP TABLE listing_fts",
    "DROP TABLE listing_search",
    # As the marketplace migration made them.
    """CREATE VIRTUAL TABLE listing_fts USING fts5(
        listing_id UNINDEXED, title, description, tokenize = 'unicode61 remove_diacritics 0')""",
    """INSERT INTO listing_fts (listing_id, title, description)
        SELECT id, title, description FROM listings""",
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


def upgrade() -> None:
    """Upgrade schema."""
    bind = op.get_bind()
    statements = SQLITE_UPGRADE if bind.dialect.name == "sqlite" else _postgresql_upgrade()
    for statement in statements:
        # As the driver gets it: the separators' ":" is no bind parameter.
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    """Downgrade schema."""
    bind = op.get_bind()
    for statement in SQLITE_DOWNGRADE if bind.dialect.name == "sqlite" else POSTGRESQL_DOWNGRADE:
        bind.exec_driver_sql(statement)
