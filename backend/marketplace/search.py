"""Listing search on each backend's own engines, behind one function each.

Free text: FTS5 on SQLite, a ``tsvector`` GIN expression index on PostgreSQL (both created by the
marketplace migration), with every word matched as a prefix so "shav" finds "shavings" as it is
typed, and every word of the query required. Diacritics count ("mỡ" is not "mở"). Scripts
written without spaces between words (Japanese, Thai, Lao, Khmer, Burmese, Chinese) form one long
token per run in both engines, so a query term in them is matched as a substring instead.

Proximity: an indexed latitude/longitude bounding box first, then the exact great-circle
distance (``eic_distance_km``, the same formula on both backends).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, text, true
from sqlalchemy.sql.expression import Select

from backend.kit.geo import within_radius
from backend.marketplace.models import Listing

# Letters and digits only: "_" is a word character to Python but a separator to both engines.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_UNSPACED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
MAX_SEARCH_TERMS = 8
# Marks PostgreSQL's parser would keep inside one word ("12.5", "v2.0", hosts, e-mail addresses),
# turned into spaces in its index expression; the same as SEPARATORS in the migration.
SEPARATORS = "./@:_-+,"


def _substring_match(term: str) -> ColumnElement[bool]:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        Listing.title.ilike(pattern, escape="\\"), Listing.description.ilike(pattern, escape="\\")
    )


def _document() -> ColumnElement[Any]:
    # Spelt exactly as the GIN index expression (literals, not parameters), or the planner
    # cannot use the index.
    joined = Listing.title.op("||")(literal_column("' '")).op("||")(Listing.description)
    return func.to_tsvector(
        literal_column("'simple'"),
        func.translate(
            joined,
            literal_column(f"'{SEPARATORS}'"),
            literal_column(f"'{' ' * len(SEPARATORS)}'"),
        ),
    )


def _words_match(dialect: str, words: list[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # Words are letters and digits only, so tsquery syntax cannot be injected (and the
        # query is a bound value besides).
        tsquery = " & ".join(f"{word}:*" for word in words)
        return _document().op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery))
    fts_query = " ".join(f'"{word}"*' for word in words)
    matching: Select[Any] = (
        select(literal_column("listing_id"))
        .select_from(text("listing_fts"))
        .where(text("listing_fts MATCH :fts_query").bindparams(fts_query=fts_query))
    )
    return Listing.id.in_(matching)


def text_match(dialect: str, query: str) -> ColumnElement[bool]:
    """A condition on listings: every term of ``query`` is in the title or the description."""
    conditions: list[ColumnElement[bool]] = []
    words: list[str] = []
    for term in query.lower().split()[:MAX_SEARCH_TERMS]:  # split() knows U+3000 too
        if _UNSPACED_SCRIPTS.search(term):
            conditions.append(_substring_match(term))
        else:
            words.extend(_WORD.findall(term))
    if words:
        conditions.append(_words_match(dialect, words[:MAX_SEARCH_TERMS]))
    return and_(*conditions) if conditions else true()


def distance_km(lat: float, lon: float) -> ColumnElement[float]:
    """Great-circle distance from a point to each listing's public location."""
    return func.eic_distance_km(lat, lon, Listing.public_lat, Listing.public_lon)


def within(statement: Select[Any], lat: float, lon: float, radius_km: float) -> Select[Any]:
    return statement.where(
        within_radius(Listing.public_lat, Listing.public_lon, lat, lon, radius_km)
    )
