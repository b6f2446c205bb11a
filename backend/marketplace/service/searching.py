"""Searching listings: filters, visibility, the sort orders and their cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Row, and_, bindparam, func, or_, select

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue.models import Material
from backend.catalogue.service import is_material_code, unknown_material
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.money import MAX_AMOUNT, check_amount
from backend.kit.pagination import (
    Page,
    PageRequest,
    Sort,
    SortKey,
    after_parameters,
    after_values,
    count_statement,
    counted_total,
    page_from_rows,
    page_of,
)
from backend.kit.prepared import Prepared
from backend.kit.validation import Place, check_place, check_text
from backend.marketplace import policies, search
from backend.marketplace.models import (
    Listing,
    ListingStatus,
)
from backend.marketplace.service.common import listing_rows_records
from backend.marketplace.service.inputs import ListingFilter, ListingHit, ListingSort

MAX_RADIUS_KM = 500.0


def _status_condition(status: ListingStatus, now: Any) -> Any:
    """``now``: a time, or a parameter whose value is one."""
    live = or_(Listing.expires_at.is_(None), Listing.expires_at > now)
    if status is ListingStatus.ACTIVE:
        return and_(Listing.status == ListingStatus.ACTIVE, live)
    if status is ListingStatus.EXPIRED:
        return or_(
            Listing.status == ListingStatus.EXPIRED,
            and_(Listing.status == ListingStatus.ACTIVE, Listing.expires_at <= now),
        )
    return Listing.status == status


NEWEST_FIRST = Sort(
    "listings:newest",
    (
        SortKey(
            func.coalesce(Listing.published_at, Listing.created_at),
            descending=True,
            value_of=lambda item: _listing_of(item).published_at or _listing_of(item).created_at,
            python_type=datetime,
        ),
        SortKey(Listing.id, descending=True, value_of=lambda item: _listing_of(item).id),
    ),
)

# Listings without a price sort after every priced one, in both directions. Prices are below
# MAX_AMOUNT in size, and the placeholders still fit the column's Numeric(18, 4).
_NO_PRICE_LOW = -MAX_AMOUNT
_NO_PRICE_HIGH = MAX_AMOUNT


def _price_sort(descending: bool) -> Sort:
    missing = _NO_PRICE_LOW if descending else _NO_PRICE_HIGH
    return Sort(
        f"listings:price-{'desc' if descending else 'asc'}",
        (
            SortKey(
                func.coalesce(Listing.price_per_unit, missing),
                descending=descending,
                value_of=lambda item: (
                    p if (p := _listing_of(item).price_per_unit) is not None else missing
                ),
                python_type=Decimal,
            ),
            SortKey(Listing.id, descending=descending, value_of=lambda item: _listing_of(item).id),
        ),
    )


def _nearest(distance: ColumnElement[float]) -> Sort:
    return Sort(
        "listings:nearest",
        (
            SortKey(
                distance,
                value_of=lambda row: row.distance_km,
                python_type=float,
            ),
            SortKey(Listing.id, value_of=lambda row: row.id),
        ),
    )


def _listing_of(item: Any) -> Any:
    """A page's item: a row of a listing's columns (a ``ListingRow``, a ``Listing``), or a
    ``Row`` of a ``Listing`` and its distance."""
    return item[0] if isinstance(item, Row) else item


_PRICE_ASC = _price_sort(descending=False)
_PRICE_DESC = _price_sort(descending=True)


async def search_listings(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer | Anonymous,
    filter: ListingFilter,
    sort: ListingSort,
    page: PageRequest,
    with_total: bool = True,
    count_cap: int | None = None,
) -> Page[ListingHit]:
    """One page of the listings ``viewer`` may find. With ``count_cap`` the total counts that
    many matches at most (and says when more match)."""
    problems = Problems()
    near = filter.near
    if near is not None:
        check_place(problems, "filter.near", Place(near.lat, near.lon))
        if not 0 < near.radius_km <= MAX_RADIUS_KM:
            problems.add("filter.near.radiusKm", f"Must be more than 0 and at most {MAX_RADIUS_KM}")
    if sort is ListingSort.NEAREST and near is None:
        problems.add("sort", "Sorting by distance needs filter.near")
    if filter.search is not None:
        check_text(problems, "filter.search", filter.search, min_length=0, max_length=200)
    for name, value in (
        ("filter.priceMin", filter.price_min),
        ("filter.priceMax", filter.price_max),
    ):
        if value is not None:
            check_amount(problems, name, value, positive=False)
    problems.raise_if_any()

    point = None if near is None else search.Point(near.lat, near.lon, near.radius_km)
    terms = search.search_of(
        db.dialect, filter.search if filter.search and filter.search.strip() else None, point
    )
    key = _Key(
        dialect=db.dialect,
        viewer=policies.viewer_kind(viewer),
        status=filter.status,
        filters=tuple(getattr(filter, name) is not None for name in _FILTERS),
        material=filter.material_code is not None,
        shape=terms.shape,
        near=point is not None,
        sort=sort,
        after=page.after is not None,
        first=page.first,
        with_total=with_total,
        count_cap=count_cap,
    )
    values: dict[str, Any] = policies.listed_values(viewer) | terms.values()
    values["now"] = now
    for name in _FILTERS:
        if (value := getattr(filter, name)) is not None:
            values[f"filter_{name}"] = value

    async with db.read_rows() as connection:
        if filter.material_code is not None:
            code = filter.material_code
            found = (
                await _MATERIAL.rows(connection, {"code": code}) if is_material_code(code) else []
            )
            if not found:
                raise unknown_material("filter.materialCode")
            values["material_path"] = found[0].path
            values["material_path_below"] = found[0].path + "/%"
        statements = _statements(key, viewer)
        values |= after_values(statements.sort, page)
        total, at_least = None, False
        if statements.count is not None:
            counted = (await statements.count.rows(connection, values))[0][0]
            total, at_least = counted_total(counted, count_cap)
        exact = None if at_least else total
        tries: list[tuple[Prepared, dict[str, Any]]] = []
        if sort is ListingSort.NEAREST and not (
            exact is not None and page.after is None and exact <= page.first
        ):
            tries = statements.leading(terms, values, total=exact)
        rows: list[Any] = []
        for prepared, bound in (*tries, (statements.whole, values)):
            rows = await prepared.rows(connection, bound)
            if len(rows) > page.first:
                break
        result = page_from_rows(
            rows, sort=statements.sort, request=page, total=total, at_least=at_least
        )
        # The page's listings (a search reads rows, not entities) with their sellers,
        # materials and units, loaded for the page only.
        records = await listing_rows_records(connection, result.items)
    hits = [
        ListingHit(
            record.listing,
            record.organisation,
            record.material,
            record.unit,
            None if near is None else float(record.listing.distance_km),
        )
        for record in records
    ]
    return result.with_items(hits)


# The filters bound as values (``filter_<name>``); their conditions are in :func:`_conditions`.
_FILTERS = ("kind", "category", "cluster_id", "organisation_id", "price_min", "price_max")


@dataclass(frozen=True, slots=True)
class _Key:
    """What the SQL of a search depends on, apart from its values: its statements are built
    and prepared once per key (:func:`_statements`), and a request binds values only."""

    dialect: str
    viewer: tuple[bool, bool]  # policies.viewer_kind
    status: ListingStatus | None
    filters: tuple[bool, ...]  # which of _FILTERS are given
    material: bool
    shape: Any  # search.Search.shape
    near: bool
    sort: ListingSort
    after: bool
    first: int
    with_total: bool
    count_cap: int | None


def _conditions(key: _Key, viewer: Viewer | Anonymous) -> list[Any]:
    """The listing conditions of a search of ``key``, every value a parameter."""
    conditions: list[Any] = [policies.listed_listings(viewer, bound=True)]
    if key.status is not None:
        conditions.append(_status_condition(key.status, bindparam("now")))
    columns = (
        Listing.kind,
        Listing.category,
        Listing.cluster_id,
        Listing.organisation_id,
        Listing.price_per_unit,
        Listing.price_per_unit,
    )
    for name, column, given in zip(_FILTERS, columns, key.filters, strict=True):
        if not given:
            continue
        value: BindParameter[Any] = bindparam(f"filter_{name}")
        if name == "price_min":
            conditions.append(column >= value)
        elif name == "price_max":
            conditions.append(column <= value)
        else:
            conditions.append(column == value)
    if key.material:
        # catalogue.subtree of the material, its path a parameter
        # (tests/marketplace/test_search_statements.py holds the two together)
        subtree = or_(
            Material.path == bindparam("material_path"),
            Material.path.like(bindparam("material_path_below")),
        )
        conditions.append(Listing.material_code.in_(select(Material.code).where(subtree)))
    return conditions


# What catalogue.find_material sends (session.get of a Material), as a row.
_MATERIAL = Prepared(select(*Material.__table__.c).where(Material.code == bindparam("code")))


class _Statements:
    """The prepared statements of searches of one :class:`_Key`: the count, the whole search's
    page, and the cheaper ways to a nearest-first page (as ``paginate`` runs them, whose
    statements these are)."""

    def __init__(self, key: _Key, viewer: Viewer | Anonymous) -> None:
        plan = search.plan(
            key.shape,
            conditions=_conditions(key, viewer),
            near=key.near,
            active_only=key.status is ListingStatus.ACTIVE,
        )
        if key.sort is ListingSort.NEAREST:
            assert plan.distance is not None
            sort = _nearest(plan.distance)
        elif key.sort is ListingSort.PRICE_ASC:
            sort = _PRICE_ASC
        elif key.sort is ListingSort.PRICE_DESC:
            sort = _PRICE_DESC
        else:
            sort = NEWEST_FIRST
        self.key, self.plan, self.sort = key, plan, sort
        self.after = after_parameters(sort) if key.after else None
        self.count = (
            Prepared(count_statement(plan.statement, key.count_cap)) if key.with_total else None
        )
        self.whole = Prepared(page_of(plan.statement, sort, self.after, key.first))
        self.nearest = (
            Prepared(
                page_of(plan.nearest_bound(self.after, key.first), sort, self.after, key.first)
            )
            if key.sort is ListingSort.NEAREST and plan.nearest_conditions is not None
            else None
        )
        self._rings: dict[tuple[int, bool], Prepared] = {}

    def leading(
        self, terms: search.Search, values: dict[str, Any], *, total: int | None
    ) -> list[tuple[Prepared, dict[str, Any]]]:
        """The cheaper statements to a nearest-first page, each with its values (``paginate``'s
        ``leading``)."""
        if self.nearest is not None:
            return [(self.nearest, values)]
        if self.plan.ring_conditions is None:
            return []
        tries = []
        # after_values' first value (alternative 0, key 0): the cursor's distance
        radii = terms.ring_radii(
            after_distance=values.get("after0_0"), page_size=self.key.first, total=total
        )
        for index, radius in enumerate(radii):
            crosses = terms.crosses(radius)
            prepared = self._rings.get((index, crosses))
            if prepared is None:
                ring = self.plan.ring(index, crosses)
                prepared = Prepared(page_of(ring, self.sort, self.after, self.key.first))
                self._rings[index, crosses] = prepared
            tries.append((prepared, values | terms.ring_values(index, radius)))
        return tries


# Searches' statements by key; a few dozen keys in use, but a key holds the page size.
_BUILT: dict[_Key, _Statements] = {}
MAX_KEYS = 512


def _statements(key: _Key, viewer: Viewer | Anonymous) -> _Statements:
    built = _BUILT.get(key)
    if built is None:
        if len(_BUILT) >= MAX_KEYS:
            _BUILT.clear()
        built = _BUILT[key] = _Statements(key, viewer)
    return built


async def my_listings(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    status: ListingStatus | None,
    page: PageRequest,
    with_total: bool = True,
    count_cap: int | None = None,
) -> Page[ListingHit]:
    """Everything of the viewer's organisation, drafts and hidden ones included."""
    if viewer.organisation_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to have listings")
    return await search_listings(
        db=db,
        viewer=viewer,
        filter=ListingFilter(status=status, organisation_id=viewer.organisation_id),
        sort=ListingSort.NEWEST,
        page=page,
        with_total=with_total,
        count_cap=count_cap,
        now=now,
    )
