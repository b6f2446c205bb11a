"""Listing search at scale gives what the search it replaced gave, page by page.

Thousands of generated listings (random words, places around a cluster, across the antimeridian
and near a pole, ties in distance, price and time, every status, expiries on both sides of now,
hidden ones), some changed and some deleted after they were made (the SQLite triggers), then
many searches (filters, sorts, viewers, page sizes) walked page by page with their cursors. Each
page is compared with the query search sent before (kept below as the reference, with its own
full-text table on SQLite and the expression it indexed on PostgreSQL): the same listings in the
same order, the same distances to the bit, the same cursors, and the total up to the cap.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.catalogue import service as catalogue
from backend.catalogue.models import Material
from backend.kit.db import Database
from backend.kit.geo import approximate, within_radius
from backend.kit.pagination import PageRequest, Sort, SortKey, decode_cursor, encode_cursor
from backend.marketplace import policies
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)
from backend.marketplace.service import searching
from backend.marketplace.service.inputs import ListingFilter, ListingSort, Near
from tests.conftest import CLOCK_START, GraphQL, count_statements
from tests.kit import app_operation

NOW = CLOCK_START
MANIWA = (35.07, 133.75)
FIJI = (-16.8, 179.95)  # across the antimeridian
SVALBARD = (79.0, 15.0)  # a search box near the pole spans every longitude
EMPTY_SEA = (-40.0, -120.0)
WORDS = [
    "cedar",
    "cypress",
    "shavings",
    "sawdust",
    "bark",
    "chips",
    "pellets",
    "dry",
    "fresh",
    "bulk",
    "weekly",
    "clean",
]
RARE = ["obsidian", "zelkova"]
MATERIALS = ["wood-shavings", "sawdust", "wood-trimmings", "bark", "rice-husk"]
COUNT_CAP = 40
STATUSES = [
    ListingStatus.ACTIVE,
    ListingStatus.DRAFT,
    ListingStatus.RESERVED,
    ListingStatus.CLOSED,
    ListingStatus.EXPIRED,
]


@dataclass
class Generated:
    organisations: list[uuid.UUID]
    cluster_id: uuid.UUID


def _place(rng: random.Random) -> tuple[float, float]:
    roll = rng.random()
    if roll < 0.75:
        lat, lon = MANIWA[0] + rng.gauss(0, 0.08), MANIWA[1] + rng.gauss(0, 0.08)
    elif roll < 0.87:
        lat, lon = FIJI[0] + rng.gauss(0, 0.15), FIJI[1] + rng.gauss(0, 0.15)
    elif roll < 0.93:
        lat, lon = SVALBARD[0] + rng.gauss(0, 0.5), SVALBARD[1] + rng.gauss(0, 3)
    else:
        lat, lon = rng.uniform(-80, 80), rng.uniform(-180, 180)
    lon = (lon + 180) % 360 - 180
    return max(-90.0, min(90.0, lat)), lon


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.sample(WORDS, rng.randint(low, high))
    if rng.random() < 0.03:
        words.append(rng.choice(RARE))
    if rng.random() < 0.05:
        words.append("おが粉")
    if rng.random() < 0.05:
        words.append("12.5")
    rng.shuffle(words)
    return " ".join(words)


def _rows(rng: random.Random, generated: Generated, count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    times = [
        NOW - timedelta(days=rng.randint(0, 100), minutes=rng.randint(0, 3)) for _ in range(80)
    ]
    for _ in range(count):
        if rows and rng.random() < 0.1:  # the same point as an earlier listing: ties
            earlier = rng.choice(rows)
            lat, lon = earlier["lat"], earlier["lon"]
        else:
            lat, lon = _place(rng)
        approximate_location = rng.random() < 0.3
        status = rng.choices(STATUSES, weights=[60, 10, 10, 10, 10])[0]
        created = rng.choice(times)
        quantity = Decimal(rng.randint(1, 50))
        rows.append(
            {
                "id": uuid.uuid4(),
                "organisation_id": rng.choice(generated.organisations),
                "cluster_id": generated.cluster_id,
                "created_by_id": None,
                "kind": rng.choice(list(ListingKind)),
                "category": rng.choice(list(ListingCategory)),
                "status": status,
                "title": _text(rng, 1, 3).capitalize(),
                "description": _text(rng, 2, 6),
                "language": "en",
                "material_code": rng.choice(MATERIALS),
                "quantity": quantity,
                "unit_code": "KGM",
                "quantity_base": quantity,
                "recurrence": Recurrence.ONE_OFF,
                "season_months": [],
                "price_per_unit": None if rng.random() < 0.15 else Decimal(rng.randint(0, 30)),
                "currency": "JPY",
                "delivery": Delivery.EITHER,
                "lat": lat,
                "lon": lon,
                "place_name": "",
                "location_approximate": approximate_location,
                "public_lat": approximate(lat) if approximate_location else lat,
                "public_lon": approximate(lon) if approximate_location else lon,
                "specs": [],
                "photos": [],
                "expires_at": None
                if rng.random() < 0.3
                else NOW + timedelta(days=rng.uniform(-30, 60)),
                "published_at": None if status is ListingStatus.DRAFT else created,
                "created_at": created,
                "updated_at": created,
                "hidden_at": NOW if rng.random() < 0.05 else None,
                "version": 1,
            }
        )
    return rows


async def _generate(db: Database, register: Any, cluster_id: str, count: int) -> Generated:
    accounts = [
        await register(f"firm{i}@scale.example", cluster_id, name=f"Firm {i}") for i in range(3)
    ]
    generated = Generated([uuid.UUID(a.organisation_id) for a in accounts], uuid.UUID(cluster_id))
    rng = random.Random(17)
    rows = _rows(rng, generated, count)
    async with db.write() as session:
        for start in range(0, len(rows), 500):
            await session.execute(insert(Listing), rows[start : start + 500])
    # Changes after the fact, so the triggers that keep SQLite's search tables in step run.
    changed = rng.sample(rows, 300)
    async with db.write() as session:
        for row in changed[:100]:
            await session.execute(
                update(Listing).where(Listing.id == row["id"]).values(title=_text(rng, 1, 3))
            )
        for row in changed[100:200]:
            await session.execute(
                update(Listing)
                .where(Listing.id == row["id"])
                .values(status=rng.choice(list(ListingStatus)))
            )
        for row in changed[200:260]:
            lat, lon = _place(rng)
            await session.execute(
                update(Listing)
                .where(Listing.id == row["id"])
                .values(public_lat=lat, public_lon=lon)
            )
        await session.execute(
            delete(Listing).where(Listing.id.in_([row["id"] for row in changed[260:]]))
        )
    return generated


# ---------------------------------------------------------------------------------------------
# The reference: the search as it was before (its statement and its keyset pagination)

SEPARATORS = "./@:_-+,"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_UNSPACED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)


def _named(materials: dict[str, list[str]], term: str, *, as_prefix: bool) -> Any:
    """Listings whose material has ``term`` in one of its names (any language), at the start
    of one of the name's words (after a space or a hyphen) or (``as_prefix`` false) anywhere;
    worked out here in Python."""
    codes = [
        code
        for code, names in materials.items()
        if any(
            any(word.startswith(term) for word in re.split(r"[ -]", name))
            if as_prefix
            else term in name
            for name in names
        )
    ]
    return Listing.material_code.in_(codes)


def _reference_text(
    dialect: str, query: str, materials: dict[str, list[str]]
) -> ColumnElement[bool]:
    conditions: list[Any] = []
    words: list[str] = []
    for term in query.lower().split()[:8]:
        if _UNSPACED_SCRIPTS.search(term):
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            conditions.append(
                or_(
                    Listing.title.ilike(pattern, escape="\\"),
                    Listing.description.ilike(pattern, escape="\\"),
                    _named(materials, term, as_prefix=False),
                )
            )
        else:
            words.extend(_WORD.findall(term))
    # every word in the text, or (unless it is a number) in the names of the material
    for word in words[:8]:
        in_text: Any
        if dialect == "postgresql":
            joined = Listing.title.op("||")(literal_column("' '")).op("||")(Listing.description)
            document = func.to_tsvector(
                literal_column("'simple'"),
                func.translate(
                    joined,
                    literal_column(f"'{SEPARATORS}'"),
                    literal_column(f"'{' ' * len(SEPARATORS)}'"),
                ),
            )
            in_text = document.op("@@")(func.to_tsquery(literal_column("'simple'"), f"{word}:*"))
        else:
            in_text = Listing.id.in_(
                select(literal_column("listing_id"))
                .select_from(text("reference_fts"))
                .where(
                    text("reference_fts MATCH :q").bindparams(
                        bindparam("q", f'"{word}"*', unique=True)
                    )
                )
            )
        conditions.append(
            in_text if word.isdigit() else or_(in_text, _named(materials, word, as_prefix=True))
        )
    return and_(*conditions) if conditions else true()


def _reference_status(status: ListingStatus, now: datetime) -> Any:
    live = or_(Listing.expires_at.is_(None), Listing.expires_at > now)
    if status is ListingStatus.ACTIVE:
        return and_(Listing.status == ListingStatus.ACTIVE, live)
    if status is ListingStatus.EXPIRED:
        return or_(
            Listing.status == ListingStatus.EXPIRED,
            and_(Listing.status == ListingStatus.ACTIVE, Listing.expires_at <= now),
        )
    return Listing.status == status


def _reference_sort(sort: ListingSort, near: Near | None) -> Sort:
    if sort is ListingSort.NEAREST:
        assert near is not None
        return Sort(
            "listings:nearest",
            (
                SortKey(
                    func.eic_distance_km(
                        near.lat, near.lon, Listing.public_lat, Listing.public_lon
                    ),
                    value_of=lambda row: row.distance_km,
                    python_type=float,
                ),
                SortKey(Listing.id, value_of=lambda row: row.Listing.id),
            ),
        )
    if sort is ListingSort.PRICE_ASC:
        return searching._price_sort(descending=False)
    if sort is ListingSort.PRICE_DESC:
        return searching._price_sort(descending=True)
    return searching.NEWEST_FIRST


def _bound(value: Any) -> Any:
    return literal(value) if isinstance(value, bool) else value


def _keyset(sort: Sort, values: list[Any]) -> Any:
    alternatives = []
    for i, key in enumerate(sort.keys):
        equal = [k.column == _bound(v) for k, v in zip(sort.keys[:i], values[:i], strict=True)]
        value = _bound(values[i])
        beyond = key.column < value if key.descending else key.column > value
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


@dataclass(frozen=True)
class Answer:
    hits: list[tuple[uuid.UUID, float | None]]
    cursors: list[str]
    has_next: bool
    total: int | None
    total_is_at_least: bool


async def _material_names(db: Database) -> dict[str, list[str]]:
    """Each material's code and its names in every language, lower-cased."""
    async with db.read() as session:
        rows = (
            await session.execute(select(Material.code, Material.name, Material.local_names))
        ).all()
    return {
        code: [n.lower() for n in (code, name, *local_names.values())]
        for code, name, local_names in rows
    }


async def reference_page(
    db: Database,
    *,
    viewer: Viewer | Anonymous,
    filter: ListingFilter,
    sort: ListingSort,
    first: int,
    after: str | None,
) -> Answer:
    columns: list[Any] = [Listing]
    near = filter.near
    if near is not None:
        columns.append(
            func.eic_distance_km(near.lat, near.lon, Listing.public_lat, Listing.public_lon).label(
                "distance_km"
            )
        )
    statement = select(*columns).where(policies.listed_listings(viewer))
    if filter.status is not None:
        statement = statement.where(_reference_status(filter.status, NOW))
    if filter.kind is not None:
        statement = statement.where(Listing.kind == filter.kind)
    if filter.organisation_id is not None:
        statement = statement.where(Listing.organisation_id == filter.organisation_id)
    if filter.price_min is not None:
        statement = statement.where(Listing.price_per_unit >= filter.price_min)
    if filter.price_max is not None:
        statement = statement.where(Listing.price_per_unit <= filter.price_max)
    if filter.search and filter.search.strip():
        statement = statement.where(
            _reference_text(db.dialect, filter.search, await _material_names(db))
        )
    if near is not None:
        statement = statement.where(
            within_radius(
                Listing.public_lat, Listing.public_lon, near.lat, near.lon, near.radius_km
            )
        )
    order = _reference_sort(sort, near)
    async with db.read() as session:
        if filter.material_code is not None:
            material = await catalogue.find_material(
                session, code=filter.material_code, field_name="filter.materialCode"
            )
            statement = statement.where(
                Listing.material_code.in_(select(Material.code).where(catalogue.subtree(material)))
            )
        total = None
        if after is None:
            counting = select(func.count()).select_from(statement.order_by(None).subquery())
            total = (await session.execute(counting)).scalar_one()
        if after is not None:
            statement = statement.where(_keyset(order, decode_cursor(order, after)))
        statement = statement.order_by(
            *(k.column.desc() if k.descending else k.column.asc() for k in order.keys)
        ).limit(first + 1)
        result = await session.execute(statement)
        rows = list(result.scalars().all() if near is None else result.all())
    items = rows[:first]
    return Answer(
        hits=[
            (item.id, None) if near is None else (item.Listing.id, item.distance_km)
            for item in items
        ],
        cursors=[encode_cursor(order, [k.value(item) for k in order.keys]) for item in items],
        has_next=len(rows) > first,
        total=None if total is None else min(total, COUNT_CAP),
        total_is_at_least=total is not None and total > COUNT_CAP,
    )


async def new_page(
    db: Database,
    *,
    viewer: Viewer | Anonymous,
    filter: ListingFilter,
    sort: ListingSort,
    first: int,
    after: str | None,
) -> tuple[Answer, list[str]]:
    with count_statements(db) as log:
        page = await searching.search_listings(
            now=NOW,
            db=db,
            viewer=viewer,
            filter=filter,
            sort=sort,
            page=PageRequest(first, after),
            with_total=after is None,
            count_cap=COUNT_CAP,
        )
    answer = Answer(
        hits=[(hit.listing.id, hit.distance_km) for hit in page.items],
        cursors=page.cursors,
        has_next=page.has_next_page,
        total=page.total_count,
        total_is_at_least=page.total_is_at_least,
    )
    return answer, log.statements


# ---------------------------------------------------------------------------------------------
# The searches


@dataclass(frozen=True)
class Case:
    viewer: Viewer | Anonymous
    filter: ListingFilter
    sort: ListingSort
    first: int


def _cases(generated: Generated, count: int) -> list[Case]:
    rng = random.Random(29)
    owner = Viewer(uuid.uuid4(), Role.FIRM, generated.organisations[0], "token")
    admin = Viewer(uuid.uuid4(), Role.ADMIN, None, "token")
    points = [
        (MANIWA, 25.0),
        (MANIWA, 5.0),
        ((MANIWA[0] + 0.05, MANIWA[1] - 0.04), 12.0),
        ((MANIWA[0] + 0.3, MANIWA[1]), 30.0),
        (MANIWA, 500.0),
        (FIJI, 60.0),
        (SVALBARD, 150.0),
        (EMPTY_SEA, 10.0),
    ]
    queries = [None, None, "cedar", "ced", "dry bark", "obsidian", "おが", "12.5", "nothing", "c"]
    cases = []
    for i in range(count):
        nearest = i % 2 == 0  # half of them the market's page: nearest first among ACTIVE
        point, radius = rng.choice(points)
        near = Near(point[0], point[1], radius) if nearest or rng.random() < 0.5 else None
        sort = (
            ListingSort.NEAREST
            if nearest or (near is not None and rng.random() < 0.3)
            else rng.choice([ListingSort.NEWEST, ListingSort.PRICE_ASC, ListingSort.PRICE_DESC])
        )
        status: ListingStatus | None = ListingStatus.ACTIVE
        if not nearest and rng.random() < 0.4:
            status = rng.choice([None, ListingStatus.CLOSED, ListingStatus.EXPIRED])
        filter = ListingFilter(
            search=rng.choice(queries),
            near=near,
            status=status,
            kind=rng.choice(list(ListingKind)) if rng.random() < 0.15 else None,
            price_min=Decimal(5) if rng.random() < 0.1 else None,
            price_max=Decimal(20) if rng.random() < 0.1 else None,
            material_code="ewc-03-01-05" if rng.random() < 0.1 else None,
            organisation_id=generated.organisations[1] if rng.random() < 0.05 else None,
        )
        viewer = rng.choice([Anonymous(), Anonymous(), owner, admin])
        cases.append(Case(viewer, filter, sort, rng.choice([1, 3, 7, 20, 20])))
    return cases


def _page_statements(statements: list[str]) -> list[str]:
    """The statements that read the page's listings (not the count, not the loads)."""
    return [
        s
        for s in statements
        if re.search(r"\bFROM\s+listings\b", s)
        and not s.lstrip().upper().startswith("SELECT COUNT")
    ]


def _led(statement: str) -> bool:
    """Whether a page statement is one of the cheaper leading ones (not the whole search)."""
    return "nearest_first" in statement or '"key" + ' in statement


@pytest.fixture
async def reference_fts(db: Database) -> Any:
    """SQLite: the full-text table as search had it (the listing's id in the FTS content)."""
    if db.dialect != "sqlite":
        yield
        return
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE VIRTUAL TABLE reference_fts USING fts5(listing_id UNINDEXED, title, "
                "description, tokenize = 'unicode61 remove_diacritics 0')"
            )
        )
    try:
        yield
    finally:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP TABLE reference_fts"))


async def _fill_reference_fts(db: Database) -> None:
    if db.dialect == "sqlite":
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO reference_fts (listing_id, title, description) "
                    "SELECT id, title, description FROM listings"
                )
            )


async def test_search_gives_the_pages_the_old_query_gave(
    db: Database, register: Any, cluster_id: str, reference_fts: Any
) -> None:
    # Given thousands of listings, some changed and some deleted since they were made
    generated = await _generate(db, register, cluster_id, 3000)
    await _fill_reference_fts(db)
    led = fell_back = pages = 0
    # when many searches are walked page by page with the new search's cursors
    for case in _cases(generated, 140):
        after = None
        for _ in range(3):
            new, statements = await new_page(
                db,
                viewer=case.viewer,
                filter=case.filter,
                sort=case.sort,
                first=case.first,
                after=after,
            )
            old = await reference_page(
                db,
                viewer=case.viewer,
                filter=case.filter,
                sort=case.sort,
                first=case.first,
                after=after,
            )
            # then each page is the old query's page: the same listings in the same order, the
            # same distances to the bit, the same cursors and flags, the total up to the cap
            assert new == old, case
            pages += 1
            reading = _page_statements(statements)
            led += _led(reading[-1])
            fell_back += len(reading) > 1
            if not new.has_next:
                break
            after = new.cursors[-1]
    # and the cheaper ways to a nearest-first page answered most of them, the whole search
    # the rest (both happened, so both were compared)
    assert pages > 250
    assert led > 60
    assert fell_back > 3


# ---------------------------------------------------------------------------------------------
# Statements of the apps' market page

MARKET_SEARCH = app_operation("MarketSearch")
MARKET_SEARCH_MORE = app_operation("MarketSearchMore")


def _listing_row(generated: Generated, title: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "organisation_id": generated.organisations[0],
        "cluster_id": generated.cluster_id,
        "kind": ListingKind.OFFER,
        "category": ListingCategory.BY_PRODUCT,
        "status": ListingStatus.ACTIVE,
        "title": title,
        "description": "",
        "language": "en",
        "material_code": "sawdust",
        "quantity": Decimal(1),
        "unit_code": "KGM",
        "quantity_base": Decimal(1),
        "recurrence": Recurrence.ONE_OFF,
        "season_months": [],
        "currency": "JPY",
        "delivery": Delivery.EITHER,
        "lat": lat,
        "lon": lon,
        "public_lat": lat,
        "public_lon": lon,
        "specs": [],
        "photos": [],
        "published_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def _kinds(statements: list[str]) -> list[str]:
    """What each statement of a search read (the transaction's BEGIN left out)."""
    kinds = []
    for statement in statements:
        head = statement.lstrip().upper()
        if head.startswith("BEGIN"):
            continue
        table = re.search(r"\bFROM\s+(\w+)", statement, re.IGNORECASE)
        assert table is not None, statement
        if head.startswith("SELECT COUNT"):
            kinds.append("count")
        # (a statement of listings may read the materials' names before it names listings, in
        # the columns of PostgreSQL's nearest-first scan)
        elif re.search(r"\bFROM\s+listings\b", statement):
            kinds.append("lead" if _led(statement) else "page")
        else:
            kinds.append(table[1])  # the loads
    return kinds


LOADS = sorted(["organisations", "materials", "units"])


async def _statements_of(db: Database, gql: GraphQL, query: str, variables: Any) -> list[str]:
    """The search's statements in order, then its loads sorted by table: the three loads are
    dataloaders dispatched in one tick, and which of them goes first is not part of the design."""
    with count_statements(db) as log:
        body = await gql(query, variables)
    assert "errors" not in body, body
    kinds = _kinds(log.statements)
    return [k for k in kinds if k not in LOADS] + sorted(k for k in kinds if k in LOADS)


async def test_a_nearest_first_market_page_costs_the_same_statements_whatever_its_size(
    db: Database, gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given sixty matching listings around a point
    accounts = [await register("firm@scale.example", cluster_id, name="Firm")]
    generated = Generated([uuid.UUID(accounts[0].organisation_id)], uuid.UUID(cluster_id))
    rng = random.Random(5)
    rows = [
        _listing_row(
            generated,
            f"Cedar sawdust {i}",
            MANIWA[0] + rng.gauss(0, 0.02),
            MANIWA[1] + rng.gauss(0, 0.02),
        )
        for i in range(60)
    ]
    async with db.write() as session:
        await session.execute(insert(Listing), rows)
    variables: dict[str, Any] = {
        "filter": {"search": "ced", "near": {"lat": MANIWA[0], "lon": MANIWA[1], "radiusKm": 25}},
        "sort": "NEAREST",
    }

    # when the apps' first page is read with its total, one card or twenty
    one = await _statements_of(db, gql, MARKET_SEARCH, {**variables, "first": 1})
    twenty = await _statements_of(db, gql, MARKET_SEARCH, {**variables, "first": 20})
    # and a next page without it
    body = await gql(MARKET_SEARCH, {**variables, "first": 20})
    after = body["data"]["listings"]["pageInfo"]["endCursor"]
    more = await _statements_of(
        db, gql, MARKET_SEARCH_MORE, {**variables, "first": 20, "after": after}
    )

    # then each costs the capped count (first pages), one page statement (the cheaper way
    # to it) and the three loads, whatever the page size
    assert one == twenty == ["count", "lead", *LOADS]
    assert more == ["lead", *LOADS]


async def test_a_nearest_first_page_the_cheaper_way_cannot_fill_runs_the_whole_search(
    db: Database, gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given thirty matching listings 20 km from a point, behind a hundred that do not match
    accounts = [await register("firm@scale.example", cluster_id, name="Firm")]
    generated = Generated([uuid.UUID(accounts[0].organisation_id)], uuid.UUID(cluster_id))
    rng = random.Random(6)
    near = [
        _listing_row(
            generated, "Bark", MANIWA[0] + rng.gauss(0, 0.01), MANIWA[1] + rng.gauss(0, 0.01)
        )
        for _ in range(100)
    ]
    far = [_listing_row(generated, f"Cedar {i}", MANIWA[0] + 0.18, MANIWA[1]) for i in range(30)]
    async with db.write() as session:
        await session.execute(insert(Listing), near + far)
    variables: dict[str, Any] = {
        "filter": {"search": "cedar", "near": {"lat": MANIWA[0], "lon": MANIWA[1], "radiusKm": 25}},
        "sort": "NEAREST",
        "first": 2,
    }

    # when the first page of two is read
    statements = await _statements_of(db, gql, MARKET_SEARCH, variables)

    # then the cheaper way found no row (so no loads for it), and the whole search ran:
    # PostgreSQL's nearest-first walk ran out of its 60 rows among the others, SQLite's ring
    # (11 km: two pages' worth of 30 matches spread evenly over 25 km) holds none of them
    assert statements == ["count", "lead", "page", *LOADS]
