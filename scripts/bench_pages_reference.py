"""Hand-built reference endpoints for scripts/bench_pages.py: the apps' hot pages without the
ORM and the GraphQL machinery.

One bare ASGI app on the product's own engine set-up (``backend.kit.db.make_engine``: the same
driver, pool, SQLite connection set-up and BEGINs). For each page it sends the same SQL
statements as the product sends for that request, in the same units of work (the per-request
access check in one of its own, as the product does), reads the rows as the driver gives them
and writes the same JSON with orjson. It answers only the requests the benchmark sends: the
page's persisted operation (``{"id": ..., "variables": ...}`` by POST, or by GET with
``extensions`` and ``variables``), with the variables the benchmark uses.

The SQL of each page lives in one function named ``<page>_sql`` (``market_search_sql`` ...):
when the product's SQL for a page changes, update that function. At start-up
scripts/bench_pages.py checks, page by page, that the reference's ``data`` equals the product's
and that both send the same number of statements, and says which statements read differently.

    .venv/bin/python scripts/bench_pages_reference.py --database-url URL --port 8001
"""

# Every statement is built from this file's own column lists and markers; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import base64
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import OperationDefinitionNode, parse
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backend.auth.security import Security
from backend.auth.tokens import TokenError
from backend.auth.viewer import Viewer
from backend.graphql.operations import load_manifest
from backend.kit.db import make_engine
from backend.kit.geo import bounding_box
from backend.settings import Settings

# ---------------------------------------------------------------------------------------------
# SQL with positional parameters, spelt per dialect as SQLAlchemy spells the product's


class Sql:
    """One statement's parameters: ``p(value)`` gives the marker (``$n::TYPE`` on PostgreSQL,
    ``?`` on SQLite) and keeps the value, converted as the product's column types convert it."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def p(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        if not self.postgres:
            return "?"
        return f"${len(self.values)}::{cast}" if cast else f"${len(self.values)}"

    def uuid(self, value: uuid.UUID | str) -> str:
        value = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
        return self.p(value, "UUID") if self.postgres else self.p(value.hex)

    def uuids(self, values: Iterable[uuid.UUID | str]) -> str:
        return ", ".join(self.uuid(v) for v in values)

    def text(self, value: str) -> str:
        return self.p(value, "VARCHAR")

    def texts(self, values: Iterable[str]) -> str:
        return ", ".join(self.text(v) for v in values)

    def enum(self, value: str) -> str:  # enums are VARCHARs with a CHECK: no cast
        return self.p(value)

    def enums(self, values: Iterable[str]) -> str:
        return ", ".join(self.enum(v) for v in values)

    def float(self, value: float) -> str:
        return self.p(value, "FLOAT")

    def int(self, value: int) -> str:
        return self.p(value, "INTEGER")

    def bigint(self, value: int) -> str:
        return self.p(value, "BIGINT")

    def moment(self, value: datetime) -> str:
        if self.postgres:
            return self.p(value, "TIMESTAMP WITH TIME ZONE")
        return self.p(value.astimezone(UTC).replace(tzinfo=None).isoformat(" "))

    def limit(self, count: int) -> str:
        """LIMIT (and SQLite's OFFSET 0), as the ORM writes a first page."""
        if self.postgres:
            return f"LIMIT {self.int(count)}"
        return f"LIMIT {self.p(count)} OFFSET {self.p(0)}"


def columns(table: str, names: str, alias: str | None = None, labelled: bool = False) -> str:
    """``table.a, table.b ...`` (or ``table.a AS a ...``) for a space-separated list of names."""
    prefix = alias or table
    return ", ".join(f"{prefix}.{n} AS {n}" if labelled else f"{prefix}.{n}" for n in names.split())


LISTING = (
    "id organisation_id cluster_id created_by_id kind category status title description "
    "language material_code quantity unit_code quantity_base quantity_committed recurrence "
    "season_months available_from available_until price_per_unit currency delivery lat lon "
    "place_name location_approximate public_lat public_lon specs photos expires_at published_at "
    "closed_at hidden_at hidden_reason created_at updated_at version"
)
ORGANISATION = (
    "id name kind subtype cluster_id lat lon place_name description created_at updated_at "
    "version trades_completed verified_at verified_by_id reviews_count rating_total"
)
CLUSTER = (
    "id slug name region country sector centre_lat centre_lon currency languages timezone "
    "description created_at"
)
MATERIAL = (
    "code parent_code path name local_names ewc_code hs_code hazardous description search_text "
    "from_catalogue created_at"
)
UNIT = "code name symbol dimension factor"
L = {name: index for index, name in enumerate(LISTING.split())}
O = {name: index for index, name in enumerate(ORGANISATION.split())}  # noqa: E741
M = {name: index for index, name in enumerate(MATERIAL.split())}
U = {name: index for index, name in enumerate(UNIT.split())}

# The product's text search index expression (backend/marketplace/search.py, the migration).
TSVECTOR = (
    "to_tsvector('simple', translate((listings.title || ' ') || listings.description, "
    "'./@:_-+,', '        '))"
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


# ---------------------------------------------------------------------------------------------
# Values as the driver gives them, to JSON as the product writes them


@dataclass
class Values:
    """Reading the driver's values: asyncpg gives UUIDs, aware datetimes and Decimals; SQLite
    gives hex text, naive UTC text and floats."""

    postgres: bool

    def id(self, value: Any) -> str | None:
        if value is None:
            return None
        if self.postgres:
            return str(value)
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"

    def moment(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if self.postgres:
            return value.astimezone(UTC) if value.tzinfo is not UTC else value
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def iso(self, value: Any) -> str | None:
        moment = self.moment(value)
        return None if moment is None else moment.isoformat()

    def number(self, value: Any, scale: int = 4) -> str | None:
        """A Numeric column as the API shows it (backend.kit.money.plain_number, as text)."""
        if value is None:
            return None
        decimal = value if self.postgres else Decimal(f"{value:.{scale}f}")
        return plain(decimal)

    def decimal(self, value: Any, scale: int = 4) -> Decimal:
        return value if self.postgres else Decimal(f"{value:.{scale}f}")

    def json(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value


ONE = Decimal(1)


def plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(ONE))
    return str(value.normalize())


def cursor(sort: str, values: Sequence[Any]) -> str:
    raw = orjson.dumps({"s": sort, "v": list(values)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------
# A request


@dataclass
class Request:
    engine: AsyncEngine
    values: Values
    viewer: Viewer | None
    now: datetime
    statements: list[str] = field(default_factory=list)

    @property
    def postgres(self) -> bool:
        return self.values.postgres

    def sql(self) -> Sql:
        return Sql(self.postgres)


async def rows(connection: AsyncConnection, statement: str, sql: Sql) -> list[Any]:
    result = await connection.exec_driver_sql(statement, tuple(sql.values))
    return list(result.all())


# ---------------------------------------------------------------------------------------------
# The access check of every signed-in request (backend/identity/service/access.py)


def access_check_sql(request: Request, viewer: Viewer) -> tuple[str, Sql]:
    sql = request.sql()
    statement = (
        "SELECT users.is_active, users.is_platform_admin, organisations.kind, "
        "organisations.verified_at  FROM users JOIN refresh_sessions ON refresh_sessions.id = "
        f"{sql.uuid(viewer.session_id)} AND refresh_sessions.user_id = users.id AND "  # type: ignore[arg-type]
        "refresh_sessions.revoked_at IS NULL LEFT OUTER JOIN memberships ON memberships.user_id "
        f"= users.id AND memberships.organisation_id = {sql.uuid(viewer.organisation_id)} "  # type: ignore[arg-type]
        "LEFT OUTER JOIN organisations ON organisations.id = memberships.organisation_id  "
        f"WHERE users.id = {sql.uuid(viewer.user_id)}"
    )
    return statement, sql


async def access_check(request: Request) -> None:
    viewer = request.viewer
    assert viewer is not None
    statement, sql = access_check_sql(request, viewer)
    async with request.engine.connect() as connection:
        found = await rows(connection, statement, sql)
    if not found or not found[0][0] or found[0][2] is None:
        raise RefusedError("access ended")


class RefusedError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# MarketSearch: listings(filter: {search, near}, sort: NEAREST, first: 20) with totalCount


def market_search_sql(
    request: Request, *, search: str, lat: float, lon: float, radius_km: float, first: int
) -> tuple[tuple[str, Sql], tuple[str, Sql]]:
    """The count and the page (backend/marketplace/service/searching.py, kit/pagination.py)."""
    words = [w for term in search.lower().split()[:8] for w in _WORD.findall(term)][:8]
    box = bounding_box(lat, lon, radius_km)

    def text_match(sql: Sql) -> str:
        if request.postgres:
            tsquery = sql.text(" & ".join(f"{w}:*" for w in words))
            return f"({TSVECTOR} @@ to_tsquery('simple', {tsquery}))"
        fts = sql.p(" ".join(f'"{w}"*' for w in words))
        return (
            f"listings.id IN (SELECT listing_id  FROM listing_fts  WHERE listing_fts MATCH {fts})"
        )

    def where(sql: Sql, distance: str) -> str:
        # (markers are numbered in the order they are made: build the text left to right)
        return (
            f"SELECT {{columns}}, {distance} AS distance_km  FROM listings  WHERE "
            f"listings.status != {sql.enum('DRAFT')} AND listings.hidden_at IS NULL AND "
            f"listings.status IN ({sql.enums(['ACTIVE', 'RESERVED', 'CLOSED'])}) AND "
            f"listings.status = {sql.enum('ACTIVE')} AND (listings.expires_at IS NULL OR "
            f"listings.expires_at > {sql.moment(request.now)}) AND {text_match(sql)} AND "
            f"listings.public_lat BETWEEN {sql.float(box.min_lat)} AND "
            f"{sql.float(box.max_lat)} AND listings.public_lon BETWEEN "
            f"{sql.float(box.min_lon)} AND {sql.float(box.max_lon)} AND "
            f"eic_distance_km({sql.float(lat)}, {sql.float(lon)}, listings.public_lat, "
            f"listings.public_lon) <= {sql.float(radius_km)}"
        )

    def distance(sql: Sql) -> str:
        return (
            f"eic_distance_km({sql.float(lat)}, {sql.float(lon)}, listings.public_lat, "
            "listings.public_lon)"
        )

    count_sql = request.sql()
    inner = where(count_sql, distance(count_sql)).format(
        columns=columns("listings", LISTING, labelled=True)
    )
    count = (f"SELECT count(*) AS count_1  FROM ({inner}) AS anon_1", count_sql)
    page_sql = request.sql()
    body = where(page_sql, distance(page_sql)).format(columns=columns("listings", LISTING))
    order = distance(page_sql)
    page = (
        f"{body} ORDER BY {order} ASC, listings.id ASC  {page_sql.limit(first + 1)}",
        page_sql,
    )
    if request.postgres:  # the ORM's statement has two spaces before LIMIT on PostgreSQL only
        page = (page[0].replace(" ASC  LIMIT", " ASC   LIMIT"), page_sql)
    return count, page


def listing_loads_sql(
    request: Request, organisation_ids: list[Any], material_codes: list[str], unit_codes: list[str]
) -> list[tuple[str, Sql]]:
    """What every listing carries (marketplace.service.common.listing_loads): its organisation
    with its cluster, its material and its unit, one statement each."""
    organisations, materials, units = request.sql(), request.sql(), request.sql()
    return [
        (
            f"SELECT {columns('organisations', ORGANISATION)}, "
            f"{columns('clusters', CLUSTER, alias='clusters_1')}  FROM organisations LEFT OUTER "
            "JOIN clusters AS clusters_1 ON clusters_1.id = organisations.cluster_id  WHERE "
            f"organisations.id IN ({organisations.uuids(organisation_ids)})",
            organisations,
        ),
        (
            f"SELECT {columns('materials', MATERIAL)}  FROM materials  WHERE materials.code IN "
            f"({materials.texts(material_codes)})",
            materials,
        ),
        (
            f"SELECT {columns('units', UNIT)}  FROM units  WHERE units.code IN "
            f"({units.texts(unit_codes)})",
            units,
        ),
    ]


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


async def load_listing_relations(
    request: Request, connection: AsyncConnection, listings: list[Any]
) -> tuple[dict[Any, Any], dict[str, Any], dict[str, Any]]:
    statements = listing_loads_sql(
        request,
        _unique(row[L["organisation_id"]] for row in listings),
        _unique(row[L["material_code"]] for row in listings),
        _unique(row[L["unit_code"]] for row in listings),
    )
    organisations = {r[0]: r for r in await rows(connection, *statements[0])}
    materials = {r[0]: r for r in await rows(connection, *statements[1])}
    units = {r[0]: r for r in await rows(connection, *statements[2])}
    return organisations, materials, units


def listing_card(
    request: Request,
    row: Any,
    organisation: Any,
    material: Any,
    unit: Any,
    distance: float | None,
) -> dict[str, Any]:
    """The ListingCard fragment (marketplace.schema.types.ListingType.of)."""
    v = request.values
    viewer = request.viewer
    owner = viewer is not None and str(viewer.organisation_id) == v.id(row[L["organisation_id"]])
    approximate = bool(row[L["location_approximate"]])
    exact = not approximate or owner
    status = row[L["status"]]
    expires_at = v.moment(row[L["expires_at"]])
    if status == "ACTIVE" and expires_at is not None and expires_at <= request.now:
        status = "EXPIRED"
    quantity = v.decimal(row[L["quantity"]])
    committed = v.decimal(row[L["quantity_committed"]])
    price = row[L["price_per_unit"]]
    return {
        "id": v.id(row[L["id"]]),
        "kind": row[L["kind"]],
        "category": row[L["category"]],
        "status": status,
        "title": row[L["title"]],
        "quantity": plain(quantity),
        "quantityRemaining": plain(max(Decimal(0), quantity - committed)),
        "unit": {"code": unit[U["code"]], "symbol": unit[U["symbol"]]},
        "pricePerUnit": v.number(price),
        "currency": row[L["currency"]],
        "location": {
            "lat": row[L["lat"]] if exact else row[L["public_lat"]],
            "lon": row[L["lon"]] if exact else row[L["public_lon"]],
            "placeName": row[L["place_name"]] if exact else "",
        },
        "locationApproximate": approximate,
        "distanceKm": None if distance is None else round(distance, 3),
        "material": {
            "code": material[M["code"]],
            "name": material[M["name"]],
            "ewcCode": material[M["ewc_code"]],
            "hazardous": bool(material[M["hazardous"]]),
        },
        "organisation": {
            "id": v.id(organisation[O["id"]]),
            "name": organisation[O["name"]],
            "kind": organisation[O["kind"]],
        },
        "publishedAt": v.iso(row[L["published_at"]]),
        "expiresAt": None if expires_at is None else expires_at.isoformat(),
    }


async def market_search(request: Request, variables: dict[str, Any]) -> dict[str, Any]:
    given = variables["filter"]
    near = given["near"]
    if (
        variables.get("sort") != "NEAREST"
        or variables.get("after")
        or set(given)
        != {
            "search",
            "near",
        }
    ):
        raise RefusedError("the reference answers the benchmark's MarketSearch only")
    first = variables.get("first") or 20
    (count_statement, count_sql), (page_statement, page_sql) = market_search_sql(
        request,
        search=given["search"],
        lat=near["lat"],
        lon=near["lon"],
        radius_km=near["radiusKm"],
        first=first,
    )
    async with request.engine.connect() as connection:
        total = (await rows(connection, count_statement, count_sql))[0][0]
        found = await rows(connection, page_statement, page_sql)
        page = found[:first]
        organisations, materials, units = (
            await load_listing_relations(request, connection, page) if page else ({}, {}, {})
        )
    v = request.values
    edges = []
    for row in page:
        distance = row[len(L)]
        edges.append(
            {
                "cursor": cursor("listings:nearest", [distance, v.id(row[L["id"]])]),
                "node": listing_card(
                    request,
                    row,
                    organisations[row[L["organisation_id"]]],
                    materials[row[L["material_code"]]],
                    units[row[L["unit_code"]]],
                    distance,
                ),
            }
        )
    return {
        "listings": {
            "totalCount": total,
            "pageInfo": {
                "hasNextPage": len(found) > first,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }
    }


# ---------------------------------------------------------------------------------------------
# The app

Handler = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]
# operation name -> (handler, signed in)
PAGES: dict[str, tuple[Handler, bool]] = {
    "MarketSearch": (market_search, False),
}


def operation_ids(manifest: dict[str, str] | None = None) -> dict[str, str]:
    """The apps' operations by name: ``{name: sha256}`` of clients/operations/manifest.json."""
    found = {}
    for sha, document in (manifest or load_manifest()).items():
        for definition in parse(document, no_location=True).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                found[definition.name.value] = sha
    return found


JSON_HEADERS = [(b"content-type", b"application/json")]
PUBLIC_GET = [(b"cache-control", b"public, max-age=60"), (b"vary", b"Authorization")]


class ReferenceApp:
    """The reference endpoints as one ASGI app: POST and GET /graphql, persisted ids only."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.values = Values(self.engine.dialect.name == "postgresql")
        self.tokens = Security.from_settings(settings).tokens
        ids = operation_ids()
        self.handlers = {ids[name]: page for name, page in PAGES.items()}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.engine.dispose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        extra: list[tuple[bytes, bytes]] = []
        if scope["method"] == "GET":
            query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
            body = {
                "extensions": orjson.loads(query.get("extensions", "{}")),
                "variables": orjson.loads(query.get("variables", "{}")),
            }
        else:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = orjson.loads(b"".join(chunks))
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value.decode("latin-1").partition(" ")[2].strip()
        if scope["method"] == "GET":
            extra = PUBLIC_GET if token is None else []
        status, answer = await self.answer(body, token)
        await send(
            {"type": "http.response.start", "status": status, "headers": JSON_HEADERS + extra}
        )
        await send({"type": "http.response.body", "body": answer})

    async def answer(self, body: dict[str, Any], token: str | None) -> tuple[int, bytes]:
        sha = body.get("id") or body.get("extensions", {}).get("persistedQuery", {}).get(
            "sha256Hash"
        )
        if sha not in self.handlers:
            return 400, orjson.dumps({"errors": [{"message": "not a benchmark page"}]})
        handler, signed_in = self.handlers[sha]
        viewer = None
        if token is not None:
            try:
                viewer = self.tokens.read_access(token)
            except TokenError:
                return 401, orjson.dumps({"errors": [{"message": "bad token"}]})
        if signed_in and viewer is None:
            return 401, orjson.dumps({"errors": [{"message": "sign in"}]})
        request = Request(self.engine, self.values, viewer, datetime.now(UTC))
        try:
            if viewer is not None:
                await access_check(request)
            data = await handler(request, body.get("variables") or {})
        except RefusedError as refused:
            return 400, orjson.dumps({"errors": [{"message": str(refused)}]})
        return 200, orjson.dumps({"data": data})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings()  # EIC_* from the environment, as `eic serve` reads them
    uvicorn.run(
        ReferenceApp(settings),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


if __name__ == "__main__":
    main()
