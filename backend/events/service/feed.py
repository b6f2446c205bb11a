"""The events feed (``events(filter, first, after)``), the apps' hot events read, on Core rows.

The feed reads its page and what the cards show (topics with their materials, the cluster, the
organiser with its cluster, the viewer's registrations) as Core rows rather than ORM entities,
with statements built once per filter shape: identity-map bookkeeping and attribute
instrumentation cost about three times the SQL on this page, and building the search's SQL
again for every request about a fifth of the resolver. The statements are the ones the ORM's
loads (``event_loads``) sent, as many, reading only the columns the cards show; other reads of
events (one event, the organisers' lists, registrations) and every write keep the ORM.
"""

from __future__ import annotations

import base64
import functools
import uuid
from collections import namedtuple
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import BindParameter, Select, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Material
from backend.events.models import Event, EventRegistration, EventStatus, EventTopic
from backend.events.service.checks import _aware
from backend.events.service.inputs import (
    MAX_RADIUS_KM,
    EventCard,
    EventFilter,
    RegistrationView,
)
from backend.events.service.loading import WAITLIST_POSITIONS, waitlisted
from backend.identity.models import Cluster, Organisation, trust_score
from backend.kit.db import Database
from backend.kit.errors import Problems
from backend.kit.geo import within_radius
from backend.kit.pagination import (
    Page,
    PageRequest,
    Sort,
    SortKey,
    after_condition,
)
from backend.kit.prepared import Prepared
from backend.kit.validation import Place, check_language, check_place

_events = Event.__table__.c
_topics = EventTopic.__table__.c
_clusters = Cluster.__table__.c
_organisations = Organisation.__table__.c
_materials = Material.__table__.c
_registrations = EventRegistration.__table__.c


def _row_type(name: str, columns: Iterable[Any]) -> Any:
    """A named tuple of these columns. The cards read their rows by name, and reading a
    SQLAlchemy ``Row`` by name costs about 30 times reading a named tuple's field (2.3 us against
    75 ns measured: some 700 reads a page)."""
    return namedtuple(name, [column.key for column in columns])


# What the cards read of each table: every column EventType, OrganisationType and MaterialType
# show, not the bookkeeping ones (an event's author, queue counter and calendar sequence, a
# topic's id and position, who verified an organisation, a material's path, search text and
# catalogue flags), which cost their conversions (UUIDs, times) for nothing.
_EVENT_COLUMNS = [
    c for c in Event.__table__.c if c.key not in {"created_by_id", "queue_counter", "sequence"}
]
_ORGANISATION_COLUMNS = [c for c in Organisation.__table__.c if c.key != "verified_by_id"]
_MATERIAL_COLUMNS = [
    c
    for c in Material.__table__.c
    if c.key not in {"path", "search_text", "from_catalogue", "created_at"}
]
_TOPIC_COLUMNS = [_topics.event_id, _topics.material_code, _topics.tag]
_EventRow = _row_type("EventRow", _EVENT_COLUMNS)
_TopicRow = _row_type("TopicRow", _TOPIC_COLUMNS)
_ClusterRow = _row_type("ClusterRow", Cluster.__table__.c)
_OrganisationRow = _row_type("OrganisationRow", _ORGANISATION_COLUMNS)
_MaterialRow = _row_type("MaterialRow", _MATERIAL_COLUMNS)
_RegistrationRow = _row_type("RegistrationRow", EventRegistration.__table__.c)

# Soonest first; the cursor's name is the one the feed's cursors always had.
UPCOMING = Sort(
    "events:starts",
    (
        SortKey(_events.starts_at, value_of=lambda row: row.starts_at),
        SortKey(_events.id, value_of=lambda row: row.id),
    ),
)
_ORDER = (_events.starts_at.asc(), _events.id.asc())

_ids: BindParameter[Any] = bindparam("ids", expanding=True)
# What the cards show, one statement each whatever the page size (as event_loads' selectinloads:
# the organisers' clusters are read apart from the events', by the organisations' cluster ids).
# They, and the searches' first pages and counts, run as Prepared statements (compiled once,
# sent as the driver's SQL): SQLAlchemy's execution of a Core statement (its cache key, the
# compiled-cache lookup, the execution context's parameter processing) cost more than the
# driver's work on this page's eight small statements.
_TOPICS = Prepared(
    select(*_TOPIC_COLUMNS).where(_topics.event_id.in_(_ids)).order_by(_topics.position)
)
_CLUSTERS = Prepared(select(*Cluster.__table__.c).where(_clusters.id.in_(_ids)))
_ORGANISATIONS = Prepared(select(*_ORGANISATION_COLUMNS).where(_organisations.id.in_(_ids)))
_MATERIALS = Prepared(select(*_MATERIAL_COLUMNS).where(_materials.code.in_(_ids)))
_MY_REGISTRATIONS = Prepared(
    select(*EventRegistration.__table__.c).where(
        _registrations.user_id == bindparam("user_id"), _registrations.event_id.in_(_ids)
    )
)
_WAITLIST_POSITIONS = Prepared(WAITLIST_POSITIONS)


class _Shape(NamedTuple):
    """Which of the filter's conditions a search has: one prebuilt statement per shape."""

    upcoming: bool
    starts_after: bool
    starts_before: bool
    cluster: bool
    organisation: bool
    format: bool
    kind: bool
    language: bool
    topic: bool


@functools.cache
def _matching(shape: _Shape) -> Select[Any]:
    """The events a search of this shape lists, its values left as parameters."""
    statement = select(*_EVENT_COLUMNS).where(
        _events.status.in_(bindparam("statuses", expanding=True)),
        _events.published_at.is_not(None),
    )
    if shape.upcoming:
        statement = statement.where(_events.ends_at > bindparam("now"))  # not yet ended
    if shape.starts_after:
        statement = statement.where(_events.starts_at >= bindparam("starts_after"))
    if shape.starts_before:
        statement = statement.where(_events.starts_at < bindparam("starts_before"))
    if shape.cluster:
        statement = statement.where(_events.cluster_id == bindparam("cluster_id"))
    if shape.organisation:
        statement = statement.where(_events.organisation_id == bindparam("organisation_id"))
    if shape.format:
        statement = statement.where(_events.format == bindparam("format"))
    if shape.kind:
        statement = statement.where(_events.kind == bindparam("kind"))
    if shape.language:
        statement = statement.where(_events.language == bindparam("language"))
    if shape.topic:
        statement = statement.where(
            exists().where(
                _topics.event_id == _events.id,
                or_(_topics.tag == bindparam("topic"), _topics.material_code == bindparam("topic")),
            )
        )
    return statement


@functools.cache
def _counted(shape: _Shape) -> Prepared:
    return Prepared(select(func.count()).select_from(_matching(shape).subquery()))


@functools.lru_cache(maxsize=256)
def _first_page(shape: _Shape, first: int) -> Prepared:
    """The first page of a search of this shape (the feed's most read page), built once."""
    return Prepared(_matching(shape).order_by(*_ORDER).limit(first + 1))


async def _material_condition(session: AsyncSession, code: str) -> Any:
    """Events about this material, anything below it, or anything above it in the catalogue
    (a workshop on agricultural wastes is for the rice-husk firm too)."""
    material = await catalogue_service.find_material(
        session, code=code, field_name="filter.materialCode"
    )
    lineage = material.path.split("/")
    below = select(Material.code).where(catalogue_service.subtree(material, include_material=False))
    return exists().where(
        _topics.event_id == _events.id,
        or_(_topics.material_code.in_(lineage), _topics.material_code.in_(below)),
    )


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# An organisation's row as the identity domain's ``OrganisationType.of`` reads an ORM
# organisation: its columns, its cluster (a row too) and its trust score, all plain fields. (A
# wrapper answering the columns from ``__getattr__`` cost half of building the cards: each of
# its twenty reads per organisation first fails an ordinary lookup, raising AttributeError.)
OrganiserRow = namedtuple(  # type: ignore[misc]
    "OrganiserRow", [*_OrganisationRow._fields, "cluster", "trust_score"]
)


def _organiser(row: Any, cluster: Any) -> Any:
    score = trust_score(row.reviews_count, row.rating_total, row.trades_completed)
    return OrganiserRow._make((*row, cluster, score))


def _cursor(row: Any) -> str:
    """``encode_cursor(UPCOMING, [row.starts_at, row.id])`` to the character (compact JSON of
    ASCII text, unpadded URL-safe base64), with orjson: json.dumps cost 1.5 % of the page."""
    raw = orjson.dumps({"s": UPCOMING.name, "v": [row.starts_at.isoformat(), str(row.id)]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _cards(
    connection: AsyncConnection,
    viewer: Viewer | Anonymous,
    listed: list[Any],
    page: list[Any],
    *,
    distances: list[float] | None,
) -> list[EventCard]:
    """The cards of ``page`` with what they show; the topics (and their materials) are read for
    every listed row, as the ORM's loads of the page statement's rows did."""
    if not listed:
        return []
    topics: dict[uuid.UUID, list[Any]] = {}
    for topic in await _TOPICS.rows(connection, {"ids": [row.id for row in listed]}):
        topics.setdefault(topic.event_id, []).append(topic)
    clusters = {
        row.id: row
        for row in await _CLUSTERS.rows(
            connection, {"ids": _unique(row.cluster_id for row in listed)}
        )
    }
    organisations = await _ORGANISATIONS.rows(
        connection, {"ids": _unique(row.organisation_id for row in listed)}
    )
    codes = _unique(
        t.material_code for found in topics.values() for t in found if t.material_code is not None
    )
    materials = (
        {row.code: row for row in await _MATERIALS.rows(connection, {"ids": codes})}
        if codes
        else {}
    )
    organiser_clusters = {
        row.id: row
        for row in await _CLUSTERS.rows(
            connection, {"ids": _unique(row.cluster_id for row in organisations)}
        )
    }
    organisers = {
        row.id: _organiser(row, organiser_clusters[row.cluster_id]) for row in organisations
    }
    mine = await _my_registrations(connection, viewer, [row.id for row in page])
    return [
        EventCard(
            event=row,
            cluster=clusters[row.cluster_id],
            organiser=organisers[row.organisation_id],
            topics=[
                (
                    topic.tag,
                    None if topic.material_code is None else materials[topic.material_code],
                )
                for topic in topics.get(row.id, ())
            ],
            my_registration=mine.get(row.id),
            distance_km=None if distances is None else distances[index],
        )
        for index, row in enumerate(page)
    ]


async def _my_registrations(
    connection: AsyncConnection,
    viewer: Viewer | Anonymous,
    event_ids: list[uuid.UUID],
) -> dict[uuid.UUID, RegistrationView]:
    """The viewer's registrations for these events (rows), with waiting-list places."""
    if not isinstance(viewer, Viewer) or not event_ids:
        return {}
    rows = await _MY_REGISTRATIONS.rows(connection, {"user_id": viewer.user_id, "ids": event_ids})
    waiting = waitlisted(rows)
    positions = (
        {
            row[0]: int(row[1])
            for row in await _WAITLIST_POSITIONS.rows(connection, {"ids": waiting})
        }
        if waiting
        else {}
    )
    return {r.event_id: RegistrationView(r, positions.get(r.id)) for r in rows}


async def search_events(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    filter: EventFilter,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[EventCard]:
    problems = Problems()
    _aware(problems, "filter.startsAfter", filter.starts_after)
    _aware(problems, "filter.startsBefore", filter.starts_before)
    near = filter.near
    if near is not None:
        check_place(problems, "filter.near", Place(near.lat, near.lon))
        if not 0 < near.radius_km <= MAX_RADIUS_KM:
            problems.add("filter.near.radiusKm", f"Must be more than 0 and at most {MAX_RADIUS_KM}")
    if filter.language is not None:
        check_language(problems, "filter.language", filter.language)
    if filter.material_code is not None and not catalogue_service.is_material_code(
        filter.material_code
    ):
        problems.add("filter.materialCode", "Not a material code")
    problems.raise_if_any()
    after = after_condition(UPCOMING, page)
    if filter.material_code is None:
        # No ORM session: the catalogue's lookup of a material is the only read that needs one.
        async with db.read_rows() as connection:
            return await _search(connection, None, viewer, filter, page, after, now, with_total)
    async with db.read() as session:
        material = await _material_condition(session, filter.material_code)
        return await _search(
            await session.connection(), material, viewer, filter, page, after, now, with_total
        )


async def _search(
    connection: AsyncConnection,
    material: Any,
    viewer: Viewer | Anonymous,
    filter: EventFilter,
    page: PageRequest,
    after: Any,
    now: datetime,
    with_total: bool,
) -> Page[EventCard]:
    """The page of a checked search, with ``material`` the condition of its material's lineage
    (None without one)."""
    upcoming = filter.starts_after is None and filter.starts_before is None
    shape = _Shape(
        upcoming=upcoming,
        starts_after=filter.starts_after is not None,
        starts_before=filter.starts_before is not None,
        cluster=filter.cluster_id is not None,
        organisation=filter.organisation_id is not None,
        format=filter.format is not None,
        kind=filter.kind is not None,
        language=filter.language is not None,
        topic=filter.topic is not None,
    )
    values: dict[str, Any] = {
        "statuses": (
            [EventStatus.PUBLISHED, EventStatus.CANCELLED]
            if filter.include_cancelled
            else [EventStatus.PUBLISHED]
        )
    }
    if upcoming:
        values["now"] = now
    for name in ("starts_after", "starts_before", "format", "kind", "language"):
        if getattr(filter, name) is not None:
            values[name] = getattr(filter, name)
    if filter.cluster_id is not None:
        values["cluster_id"] = filter.cluster_id
    if filter.organisation_id is not None:
        values["organisation_id"] = filter.organisation_id
    if filter.topic is not None:
        values["topic"] = " ".join(filter.topic.split()).lower()
    near = filter.near
    distances = None
    total = None
    if near is None and material is None:
        # The statements of this shape are prebuilt: a first page's too.
        if with_total:
            total = (await _counted(shape).rows(connection, values))[0][0]
        if after is None:
            listed = await _first_page(shape, page.first).rows(connection, values)
        else:
            listing = _matching(shape).where(after).order_by(*_ORDER).limit(page.first + 1)
            found = (await connection.execute(listing, values)).all()
            listed = list(map(_EventRow._make, found))
    else:
        # A distance or a material's lineage depend on the values: those searches are built here.
        matching = _matching(shape)
        if near is not None:
            matching = matching.add_columns(
                func.eic_distance_km(near.lat, near.lon, _events.lat, _events.lon).label("d")
            ).where(
                _events.lat.is_not(None),
                within_radius(_events.lat, _events.lon, near.lat, near.lon, near.radius_km),
            )
        if material is not None:
            matching = matching.where(material)
        if with_total:
            counted = select(func.count()).select_from(matching.subquery())
            total = (await connection.execute(counted, values)).scalar_one()
        if after is not None:
            matching = matching.where(after)
        listing = matching.order_by(*_ORDER).limit(page.first + 1)
        found = (await connection.execute(listing, values)).all()
        if near is None:
            listed = list(map(_EventRow._make, found))
        else:  # the events' columns, then the distance
            listed = [_EventRow._make(row[:-1]) for row in found]
            distances = [float(row[-1]) for row in found[: page.first]]
    rows = listed[: page.first]
    cards = await _cards(connection, viewer, listed, rows, distances=distances)
    return Page(
        items=cards,
        cursors=[_cursor(row) for row in rows],
        has_next_page=len(listed) > page.first,
        has_previous_page=page.after is not None,
        total_count=total,
    )
