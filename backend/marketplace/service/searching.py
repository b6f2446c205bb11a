"""Searching listings: filters, visibility, the sort orders and their cursors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue
from backend.catalogue.models import Material
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.money import MAX_AMOUNT, check_amount
from backend.kit.pagination import (
    Page,
    PageRequest,
    Sort,
    SortKey,
    after_condition,
    decode_cursor,
    paginate,
)
from backend.kit.validation import Place, check_place, check_text
from backend.marketplace import policies, search
from backend.marketplace.models import (
    Listing,
    ListingStatus,
)
from backend.marketplace.service.common import listing_records
from backend.marketplace.service.inputs import ListingFilter, ListingHit, ListingSort

MAX_RADIUS_KM = 500.0


def _status_condition(status: ListingStatus, now: datetime) -> Any:
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
            SortKey(Listing.id, value_of=lambda row: row.listing.id),
        ),
    )


def _listing_of(item: Any) -> Any:
    """A page's item: a ``ListingRow`` (or a ``Listing``), or a row of one and its distance."""
    return item[0] if isinstance(item, Row) else item


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

    conditions: list[Any] = [policies.listed_listings(viewer)]
    if filter.status is not None:
        conditions.append(_status_condition(filter.status, now))
    if filter.kind is not None:
        conditions.append(Listing.kind == filter.kind)
    if filter.category is not None:
        conditions.append(Listing.category == filter.category)
    if filter.cluster_id is not None:
        conditions.append(Listing.cluster_id == filter.cluster_id)
    if filter.organisation_id is not None:
        conditions.append(Listing.organisation_id == filter.organisation_id)
    if filter.price_min is not None:
        conditions.append(Listing.price_per_unit >= filter.price_min)
    if filter.price_max is not None:
        conditions.append(Listing.price_per_unit <= filter.price_max)

    async with db.read() as session:
        if filter.material_code is not None:
            material = await catalogue.find_material(
                session, code=filter.material_code, field_name="filter.materialCode"
            )
            conditions.append(
                Listing.material_code.in_(select(Material.code).where(catalogue.subtree(material)))
            )
        plan = search.plan(
            db.dialect,
            conditions=conditions,
            query=filter.search if filter.search and filter.search.strip() else None,
            point=None if near is None else search.Point(near.lat, near.lon, near.radius_km),
            active_only=filter.status is ListingStatus.ACTIVE,
        )
        leading = None
        if sort is ListingSort.NEAREST and plan.distance is not None:
            order = _nearest(plan.distance)
            after = after_condition(order, page)
            after_distance = decode_cursor(order, page.after)[0] if page.after else None

            def leading(total: int | None) -> list[Any]:
                return plan.leading(
                    after=after, after_distance=after_distance, page_size=page.first, total=total
                )

        elif sort is ListingSort.PRICE_ASC:
            order = _price_sort(descending=False)
        elif sort is ListingSort.PRICE_DESC:
            order = _price_sort(descending=True)
        else:
            order = NEWEST_FIRST
        result = await paginate(
            session,
            plan.statement,
            sort=order,
            request=page,
            with_total=with_total,
            count_cap=count_cap,
            leading=leading,
        )
        # The page's listings (a search reads rows, not entities) with their sellers,
        # materials and units, loaded for the page only.
        records = await listing_records(session, [_listing_of(item) for item in result.items])
    hits = [
        ListingHit(
            record.listing,
            record.organisation,
            record.material,
            record.unit,
            None if near is None else float(item.distance_km),
        )
        for record, item in zip(records, result.items, strict=True)
    ]
    return result.with_items(hits)


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
