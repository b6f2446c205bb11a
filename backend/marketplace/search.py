"""Listing search on each backend's own engines, behind one function each.

Free text: FTS5 on SQLite, a ``tsvector`` GIN expression index on PostgreSQL (both created by the
marketplace migration), with every word matched as a prefix so "shav" finds "shavings" as it is
typed. Scripts written without spaces between words (Japanese, Thai, Lao, Khmer, Burmese, Chinese)
tokenise into one long token per run, so a query in them falls back to a substring match.

Proximity: an indexed latitude/longitude bounding box first, then the exact great-circle
distance (``eic_distance_km``, the same formula on both backends).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, text
from sqlalchemy.sql.expression import Select

from backend.geo import bounding_box
from backend.marketplace.models import Listing

_WORD = re.compile(r"\w+", re.UNICODE)
_UNSPACED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
MAX_SEARCH_WORDS = 8


def search_words(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:MAX_SEARCH_WORDS]


def _substring_match(query: str) -> ColumnElement[bool]:
    pattern = "%" + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern += "%"
    return or_(
        Listing.title.ilike(pattern, escape="\\"), Listing.description.ilike(pattern, escape="\\")
    )


def text_match(dialect: str, query: str) -> ColumnElement[bool]:
    """A condition on listings: title or description match ``query`` (all words, as prefixes)."""
    if _UNSPACED_SCRIPTS.search(query):
        return _substring_match(query)
    words = search_words(query)
    if not words:
        return literal_column("1") == literal_column("1")
    if dialect == "postgresql":
        # Words are \w+ only, so the tsquery syntax cannot be injected; it is a bound value too.
        tsquery = " & ".join(f"{word}:*" for word in words)
        # Spelt exactly as the GIN index expression (literals, not parameters), or the planner
        # cannot use the index.
        document = func.to_tsvector(
            literal_column("'simple'"),
            Listing.title.op("||")(literal_column("' '")).op("||")(Listing.description),
        )
        return document.op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery))
    fts_query = " ".join(f'"{word}"*' for word in words)
    matching: Select[Any] = (
        select(literal_column("listing_id"))
        .select_from(text("listing_fts"))
        .where(text("listing_fts MATCH :fts_query").bindparams(fts_query=fts_query))
    )
    return Listing.id.in_(matching)


def distance_km(lat: float, lon: float) -> ColumnElement[float]:
    """Great-circle distance from a point to each listing's public location."""
    return func.eic_distance_km(lat, lon, Listing.public_lat, Listing.public_lon)


def within(statement: Select[Any], lat: float, lon: float, radius_km: float) -> Select[Any]:
    box = bounding_box(lat, lon, radius_km)
    lon_condition = (
        or_(Listing.public_lon >= box.min_lon, Listing.public_lon <= box.max_lon)
        if box.crosses_antimeridian
        else Listing.public_lon.between(box.min_lon, box.max_lon)
    )
    return statement.where(
        and_(Listing.public_lat.between(box.min_lat, box.max_lat), lon_condition),
        distance_km(lat, lon) <= radius_km,
    )
