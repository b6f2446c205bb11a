"""Listing search on each backend's own engines: the statements of one search.

Free text: FTS5 on SQLite, a stored ``tsvector`` (``search_document``) with GIN indexes on
PostgreSQL (both made by migrations), with every word matched as a prefix so "shav" finds
"shavings" as it is typed, and every word of the query required. Diacritics count ("mỡ" is not
"mở"). Scripts written without spaces between words (Japanese, Thai, Lao, Khmer, Burmese,
Chinese) form one long token per run in both engines, so a query term in them is matched as a
substring instead.

A term is also found in the name of the listing's material in every catalogue language
(``materials.search_text``): "wood" finds a listing titled 木質... of wood shavings, "แกลบ" a
rice husk listing written in English. The catalogue is small (about a thousand entries), so
each term's materials are one uncorrelated read of it per statement, and each listing is checked
against the few codes it names. Numbers are matched in the listing's own text only: the
catalogue's names hold its codes (EWC "03 01 05"), which no one searching "12" means.

Proximity: an indexed latitude/longitude bounding box first, then the exact great-circle
distance (``eic_distance_km``, the same formula and the same bits on both backends).

The statements are built once per shape of search (:class:`Search`'s ``shape``: how many
terms of each kind, whether there is a point and its box crosses the antimeridian) with every
value a parameter, and run with each search's values (:meth:`Search.values`):
``service.searching`` prepares them once (backend/kit/prepared.py).

Nearest first among ACTIVE listings, the apps' market page, has a faster way to its page than
sorting every match (docs/performance.md, "Search over many listings"); :class:`Plan` gives it
as statements tried before the whole search, as ``leading`` statements of
:func:`backend.kit.pagination.paginate`, which answer the same page as the whole search or give
way to it:

- PostgreSQL walks a partial GiST index of ACTIVE listings' points nearest first (``<->``),
  checks at most ``KNN_ROWS_PER_ITEM`` rows per item of the page against every condition of the
  search, and takes the distance of the last of the first page-size + 1 matches as a bound; the
  page is then read from the rows within that bound (the GiST index again). A planner left to
  itself sorts every match instead: the estimate for a prefix query is a fixed 2 %.
- SQLite reads the rows within a ring around the point first (1/8, then 1/2 of the radius),
  from ``listing_search``'s index of ACTIVE points; a ring that holds a full page holds the page.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import Select

from backend.catalogue.models import Material
from backend.kit.geo import bounding_box, distance_sql
from backend.marketplace.models import LISTING_ROW, Listing

# Letters and digits only: "_" is a word character to Python but a separator to both engines.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_UNSPACED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
MAX_SEARCH_TERMS = 8
# Marks PostgreSQL's parser would keep inside one word ("12.5", "v2.0", hosts, e-mail addresses),
# turned into spaces in its index expression; the same as SEPARATORS in the migrations.
SEPARATORS = "./@:_-+,"

# PostgreSQL: how many listings, nearest first, the bound may look at per item of the page
# before the search gives way to sorting every match (a word found in few listings).
KNN_ROWS_PER_ITEM = 20
# SQLite: the rings tried before the whole radius, as fractions of what is left of it.
RING_FRACTIONS = (1 / 8, 1 / 2)
# A cube point is a few 1e-12 km from where exact arithmetic puts it.
_CUBE_SLACK_KM = 1e-9

# SQLite only (migration c3f1e2a9d4b7), kept in step with `listings` by triggers: each listing's
# stable integer key (the FTS5 rowid), whether it is ACTIVE, and its public point. Not part of
# the models' metadata: the migrations own it.
listing_search = Table(
    "listing_search",
    MetaData(),
    Column("key", Integer, primary_key=True),
    Column("listing_id", Uuid),
    Column("active", Integer),
    Column("lat", Float),
    Column("lon", Float),
)
# PostgreSQL only: the stored tsvector of title and description.
_SEARCH_DOCUMENT: ColumnElement[Any] = literal_column("listings.search_document")


def _param(name: str, type_: Any = None) -> BindParameter[Any]:
    """A parameter of the search's statements, whose value :meth:`Search.values` gives (the
    statements are built once per shape and run with each request's values)."""
    return bindparam(name, type_=type_)


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _substring_match(name: str) -> ColumnElement[bool]:
    """``name``'s value (a term) anywhere in the title or the description."""
    return or_(
        Listing.title.ilike(_param(f"{name}_title"), escape="\\"),
        Listing.description.ilike(_param(f"{name}_description"), escape="\\"),
    )


def _names_hold(name: str, *, as_prefix: bool) -> ColumnElement[bool]:
    """A condition on materials: their code or names in any language hold ``name``'s value (a
    term), at the start of one of their words (``as_prefix``, as the full-text engines match
    words) or anywhere (scripts written without spaces). A word starts after a space or a hyphen
    ("wood-shavings", "waste-water"); not after "(" or "/", which start mostly "(except" and
    "(including" in the EWC's names: each further LIKE costs about 0.3 ms a statement over the
    thousand entries on SQLite (replace()-ing the marks first cost ~9 ms)."""
    if not as_prefix:
        return Material.search_text.like(_param(f"{name}_names"), escape="\\")
    # String: the type a str compared with the untyped concatenation gets (asyncpg casts to it).
    return or_(
        literal_column("' '")
        .op("||")(Material.search_text)
        .like(_param(f"{name}_start", type_=String), escape="\\"),
        Material.search_text.like(_param(f"{name}_hyphen"), escape="\\"),
    )


def _of_named_material(dialect: str, name: str, *, as_prefix: bool) -> ColumnElement[bool]:
    """A condition on listings: their material's names hold ``name``'s value (a term)."""
    named = _names_hold(name, as_prefix=as_prefix)
    if dialect == "postgresql":
        # = ANY of an array computed once per statement (an InitPlan), which the planner may
        # also use as an index condition on material_code. The cast makes ANY take an array,
        # not a subquery's rows.
        codes = select(func.array_agg(Material.code)).where(named).scalar_subquery()
        return Listing.material_code == func.any(cast(codes, ARRAY(String)))
    return Listing.material_code.in_(select(Material.code).where(named))


@dataclass(frozen=True, slots=True)
class _Terms:
    """What a free-text query asks: words for the full-text engine, substrings for the rest."""

    words: tuple[str, ...]
    substrings: tuple[str, ...]

    @property
    def numbers(self) -> list[str]:
        """Numbers, matched in the listing's own text only, together in one full-text match."""
        return [word for word in self.words if word.isdigit()]

    @property
    def lettered(self) -> list[str]:
        """Each other word, in the text or in the material's names."""
        return [word for word in self.words if not word.isdigit()]


def _terms(query: str | None) -> _Terms:
    words: list[str] = []
    substrings: list[str] = []
    if query:
        for term in query.lower().split()[:MAX_SEARCH_TERMS]:  # split() knows U+3000 too
            if _UNSPACED_SCRIPTS.search(term):
                substrings.append(term)
            else:
                words.extend(_WORD.findall(term))
    return _Terms(tuple(words[:MAX_SEARCH_TERMS]), tuple(substrings))


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a search's own conditions look like apart from their values (which :func:`_values`
    gives): how many terms of each kind, and whether the box crosses the antimeridian. Their
    SQL is built once per shape (``functools.cache``), and a request binds values only."""

    dialect: str
    substrings: int
    numbers: bool
    lettered: int
    crosses_antimeridian: bool = False


def _shape(dialect: str, terms: _Terms, crosses_antimeridian: bool = False) -> _Shape:
    return _Shape(
        dialect,
        len(terms.substrings),
        bool(terms.numbers),
        len(terms.lettered),
        crosses_antimeridian,
    )


def _term_values(dialect: str, terms: _Terms) -> dict[str, Any]:
    """The values of :func:`_term_conditions`' parameters for ``terms``."""
    values: dict[str, Any] = {}
    for i, term in enumerate(terms.substrings):
        pattern = f"%{_escaped(term)}%"
        values[f"search_sub{i}_title"] = values[f"search_sub{i}_description"] = pattern
        values[f"search_sub{i}_names"] = pattern
    numbers = terms.numbers
    if numbers:
        values["search_numbers"] = (
            " & ".join(f"{word}:*" for word in numbers)
            if dialect == "postgresql"
            else " ".join(f'"{word}"*' for word in numbers)
        )
    for i, word in enumerate(terms.lettered):
        values[f"search_word{i}"] = f"{word}:*" if dialect == "postgresql" else f'"{word}"*'
        values[f"search_word{i}_start"] = f"% {_escaped(word)}%"
        values[f"search_word{i}_hyphen"] = f"%-{_escaped(word)}%"
    return values


def _fts_keys(name: str) -> Select[Any]:
    """SQLite: the ``listing_search`` keys of listings holding every word (as a prefix) of
    ``name``'s value (an FTS5 query)."""
    return (
        select(literal_column("rowid"))
        .select_from(text("listing_fts"))
        .where(text(f"listing_fts MATCH :{name}").bindparams(_param(name, type_=String)))
    )


def _document_holds(name: str) -> ColumnElement[bool]:
    """PostgreSQL: every word (as a prefix) of ``name``'s value (a tsquery) in the title or
    the description."""
    # Words are letters and digits only, so tsquery syntax cannot be injected (and the query
    # is a bound value besides).
    tsquery = _param(name, type_=String)
    return _SEARCH_DOCUMENT.op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery))


def _term_conditions(
    shape: _Shape,
    keys_in: Callable[[Select[Any]], ColumnElement[bool]],
) -> list[ColumnElement[bool]]:
    """Every term in the title, the description or the names of the material. ``keys_in``
    (SQLite): the condition that a listing's ``listing_search`` key is among those selected."""
    dialect = shape.dialect
    conditions = [
        or_(
            _substring_match(f"search_sub{i}"),
            _of_named_material(dialect, f"search_sub{i}", as_prefix=False),
        )
        for i in range(shape.substrings)
    ]
    # Numbers in the text alone, together in one full-text match; each other word in the text
    # or in the material's names.
    if dialect == "postgresql":
        if shape.numbers:
            conditions.append(_document_holds("search_numbers"))
        conditions.extend(
            or_(
                _document_holds(f"search_word{i}"),
                _of_named_material(dialect, f"search_word{i}", as_prefix=True),
            )
            for i in range(shape.lettered)
        )
        return conditions
    if shape.numbers:
        conditions.append(keys_in(_fts_keys("search_numbers")))
    # The material's side is checked on each listing against the few codes named (a set built
    # once per statement): a set of the keys of every listing of those materials costs more
    # than it saves when a word names common materials ("rice", "wood").
    conditions.extend(
        or_(
            keys_in(_fts_keys(f"search_word{i}")),
            _of_named_material(dialect, f"search_word{i}", as_prefix=True),
        )
        for i in range(shape.lettered)
    )
    return conditions


@functools.cache
def _text_conditions(shape: _Shape) -> tuple[ColumnElement[bool], ...]:
    """Every term in the title, the description or the material's names, on ``listings``."""
    return tuple(
        _term_conditions(
            shape,
            lambda keys: Listing.id.in_(
                select(listing_search.c.listing_id).where(listing_search.c.key.in_(keys))
            ),
        )
    )


def _box(lat_column: Any, lon_column: Any, crosses_antimeridian: bool, prefix: str) -> Any:
    lon_condition = (
        or_(lon_column >= _param(f"{prefix}min_lon"), lon_column <= _param(f"{prefix}max_lon"))
        if crosses_antimeridian
        else lon_column.between(_param(f"{prefix}min_lon"), _param(f"{prefix}max_lon"))
    )
    return and_(
        lat_column.between(_param(f"{prefix}min_lat"), _param(f"{prefix}max_lat")),
        lon_condition,
    )


def _distance(dialect: str, lat_column: Any, lon_column: Any) -> ColumnElement[float]:
    """:func:`backend.kit.geo.distance_sql` from the point of ``search_lat``, ``search_lon``,
    bound rather than built in."""
    return distance_sql(
        dialect,
        _param("search_lat", type_=Float),
        _param("search_lon", type_=Float),
        lat_column,
        lon_column,
        lat_alone=_param("search_lat_radians", type_=Float),
    )


def _point_values(point: Point, radius_km: float, prefix: str) -> dict[str, Any]:
    """The values of :func:`_distance`'s parameters, and of the box and the radius of the
    statement whose parameters' names start with ``prefix``."""
    box = bounding_box(point.lat, point.lon, radius_km)
    return {
        "search_lat": point.lat,
        "search_lat_radians": point.lat,
        "search_lon": point.lon,
        f"{prefix}min_lat": box.min_lat,
        f"{prefix}max_lat": box.max_lat,
        f"{prefix}min_lon": box.min_lon,
        f"{prefix}max_lon": box.max_lon,
        f"{prefix}radius": radius_km,
    }


def _crosses(point: Point, radius_km: float) -> bool:
    return bounding_box(point.lat, point.lon, radius_km).crosses_antimeridian


@functools.cache
def _listing_distance(dialect: str) -> ColumnElement[float]:
    return _distance(dialect, Listing.public_lat, Listing.public_lon)


@functools.cache
def _place_distance(dialect: str) -> ColumnElement[float]:
    return _distance(dialect, listing_search.c.lat, listing_search.c.lon)


def _earth_point(lat: Any, lon: Any) -> ColumnElement[Any]:
    return func.eic_earth_point(lat, lon)


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class Search:
    """A search's terms and point, apart from the other filters: the shape its statements take
    (:attr:`shape`) and the values they bind (:meth:`values`)."""

    dialect: str
    terms: _Terms
    point: Point | None

    @property
    def shape(self) -> _Shape:
        point = self.point
        crosses = point is not None and _crosses(point, point.radius_km)
        return _shape(self.dialect, self.terms, crosses)

    def values(self) -> dict[str, Any]:
        """The values of the parameters of :func:`plan`'s statements."""
        values = _term_values(self.dialect, self.terms)
        if self.point is not None:
            values |= _point_values(self.point, self.point.radius_km, "search_")
        return values

    def ring_values(self, index: int, radius_km: float) -> dict[str, Any]:
        """The values of the box and radius of :meth:`Plan.ring` ``index`` of ``radius_km``."""
        assert self.point is not None
        return _point_values(self.point, radius_km, f"search_ring{index}_")

    def crosses(self, radius_km: float) -> bool:
        """Whether the box of ``radius_km`` around the point crosses the antimeridian."""
        assert self.point is not None
        return _crosses(self.point, radius_km)

    def ring_radii(
        self, *, after_distance: float | None, page_size: int, total: int | None
    ) -> list[float]:
        """SQLite: the radii of the rings tried before the whole radius, for a page after
        ``after_distance``; ``total``: how many match, when counted exactly."""
        assert self.point is not None
        start = after_distance or 0.0
        left = self.point.radius_km - start
        if left <= 0:
            return []
        fractions: tuple[float, ...] = RING_FRACTIONS
        if total is not None and after_distance is None:
            # A first page of a known number of matches: the ring that would hold twice a page
            # if they were spread evenly (a wider one than 1/8 when they are few).
            # Then only a ring at least twice as wide: a narrower one would fail as this did.
            first = max(RING_FRACTIONS[0], math.sqrt(2 * (page_size + 1) / max(total, 1)))
            if first >= 1:
                return []
            fractions = (first, *(f for f in RING_FRACTIONS if f >= 2 * first))
        return [start + left * fraction for fraction in fractions]


def search_of(dialect: str, query: str | None, point: Point | None) -> Search:
    return Search(dialect, _terms(query), point)


@dataclass(frozen=True)
class Plan:
    """The statements of searches of one shape. ``statement`` selects ``LISTING_ROW`` (and
    ``distance_km`` with a point) under every condition; ``distance`` is what nearest first
    sorts by. The cheaper ways to a nearest-first page of ACTIVE listings: :meth:`nearest_bound`
    on PostgreSQL, :meth:`ring` on SQLite. Their values: :class:`Search`."""

    dialect: str
    statement: Select[Any]
    shape: _Shape
    distance: ColumnElement[float] | None = None
    # PostgreSQL: every condition of ``statement``, for the nearest-first bound; set when the
    # search is of ACTIVE listings near a point.
    nearest_conditions: tuple[ColumnElement[bool], ...] | None = None
    # SQLite: the listing conditions, to read rings through ``listing_search``; set when the
    # search is of ACTIVE listings near a point.
    ring_conditions: tuple[ColumnElement[bool], ...] | None = None

    def nearest_bound(self, after: ColumnElement[bool] | None, page_size: int) -> Select[Any]:
        """PostgreSQL: a leading part of ``statement`` in nearest-first order (for
        ``paginate``'s ``leading``), for a page after ``after``."""
        assert self.distance is not None
        assert self.nearest_conditions is not None
        distance = self.distance
        every_condition = and_(*self.nearest_conditions, *([after] if after is not None else []))
        here = _earth_point(_param("search_lat", type_=Float), _param("search_lon", type_=Float))
        there = _earth_point(Listing.public_lat, Listing.public_lon)
        # Only the partial GiST index's own predicate in WHERE (a literal, so that the planner
        # sees it hold), and nothing it could look up another way: the scan goes nearest first
        # and stops at the page's worth of matches or the row budget.
        scanned = (
            select(distance.label("d"), every_condition.label("ok"))
            .where(Listing.status == literal_column("'ACTIVE'"))
            .order_by(there.op("<->")(here))
            .limit(KNN_ROWS_PER_ITEM * (page_size + 1))
            .subquery("nearest_first")
        )
        hits = select(scanned.c.d).where(scanned.c.ok).limit(page_size + 1).subquery("hits")
        # NULL when the scan found fewer than a page and one: then no row is within it.
        bound = (
            select(case((func.count() == page_size + 1, func.max(hits.c.d))).label("d"))
            .select_from(hits)
            .cte("bound")
        )
        within = select(bound.c.d).scalar_subquery()
        return self.statement.where(
            distance <= within,
            func.cube_enlarge(here, within + _CUBE_SLACK_KM, 3).op("@>")(there),
        )

    def ring(self, index: int, crosses_antimeridian: bool) -> Select[Any]:
        """SQLite: the ACTIVE listings within ring ``index`` (its box and radius bound as
        ``search_ring{index}_``...), a leading part of ``statement`` in nearest-first order."""
        assert self.ring_conditions is not None
        shape = dataclasses.replace(self.shape, crosses_antimeridian=crosses_antimeridian)
        statement, conditions = _places_parts(shape, f"search_ring{index}_", False)
        return statement.where(*self.ring_conditions, *conditions)


@functools.cache
def _places_parts(
    shape: _Shape, prefix: str, drive_by_text: bool
) -> tuple[Select[Any], tuple[Any, ...]]:
    """SQLite: the statement of ACTIVE listings reached through ``listing_search`` (its points
    and keys), and the conditions of the search's point, radius and terms on it (the box's and
    the radius's parameters named ``prefix``...)."""
    places = listing_search
    distance = _place_distance(shape.dialect)
    conditions = [
        places.c.active == 1,
        _box(places.c.lat, places.c.lon, shape.crosses_antimeridian, prefix),
        # Float: the type of a float compared with the untyped distance (asyncpg casts to it).
        distance <= _param(f"{prefix}radius", type_=Float),
    ]
    # Over the whole radius SQLite may start from the words (when few listings hold them; a
    # word also looked for in the materials' names is an OR, which leaves the places to lead)
    # or from the places; within a ring the places are fewer, and `+ 0` keeps the words from
    # leading.
    key = places.c.key if drive_by_text else places.c.key + 0
    conditions.extend(_term_conditions(shape, lambda keys: key.in_(keys)))
    columns: list[Any] = [LISTING_ROW, distance.label("distance_km")]
    statement: Select[Any] = select(*columns).join(places, places.c.listing_id == Listing.id)
    return statement, tuple(conditions)


def plan(
    shape: _Shape,
    *,
    conditions: Sequence[ColumnElement[bool]],
    near: bool,
    active_only: bool,
) -> Plan:
    """The statements of searches of ``shape`` (:attr:`Search.shape`) for listings under
    ``conditions`` (visibility, status and the other filters, on ``listings``), holding the
    terms, within the radius of a point when ``near``. ``active_only``: ``conditions`` keep to
    ACTIVE listings (the indexes of points are). Built once per shape and run with each
    search's values (:meth:`Search.values`)."""
    dialect = shape.dialect
    statement: Select[Any]
    if not near:
        statement = select(LISTING_ROW).where(*conditions, *_text_conditions(shape))
        return Plan(dialect, statement, shape)
    if dialect == "sqlite" and active_only:
        whole, places_conditions = _places_parts(shape, "search_", True)
        return Plan(
            dialect,
            whole.where(*conditions, *places_conditions),
            shape,
            _place_distance(dialect),
            ring_conditions=tuple(conditions),
        )
    distance = _listing_distance(dialect)
    every_condition = (*conditions, *_near_conditions(shape))
    columns: list[Any] = [LISTING_ROW, distance.label("distance_km")]
    statement = select(*columns).where(*every_condition)
    nearest = every_condition if dialect == "postgresql" and active_only else None
    return Plan(dialect, statement, shape, distance, nearest_conditions=nearest)


@functools.cache
def _near_conditions(shape: _Shape) -> tuple[ColumnElement[bool], ...]:
    """On ``listings``: the terms, the box and the radius of a search near a point."""
    distance = _listing_distance(shape.dialect)
    return (
        *_text_conditions(shape),
        _box(Listing.public_lat, Listing.public_lon, shape.crosses_antimeridian, "search_"),
        # Float: the type of a float compared with the untyped distance (asyncpg casts to it).
        distance <= _param("search_radius", type_=Float),
    )
