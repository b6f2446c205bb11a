"""The search's statements are built once per shape, and a request binds values only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.catalogue import service as catalogue
from backend.catalogue.models import Material
from backend.kit.geo import distance_sql
from backend.kit.pagination import (
    PageRequest,
    after_condition,
    after_parameters,
    after_values,
    encode_cursor,
)
from backend.marketplace import policies, search
from backend.marketplace.models import Listing, ListingStatus
from backend.marketplace.service import searching
from backend.marketplace.service.inputs import ListingSort


def _sql(element: Any, dialect: Any, values: dict[str, Any] | None = None) -> str:
    """``element`` (in a SELECT, or a statement) with ``values`` as literals."""
    statement = element if isinstance(element, Select) else select(element)
    if values:
        statement = statement.params(values)
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def test_the_bound_distance_is_the_geo_distance() -> None:
    point = search.Point(50.5, -3.25, 25.0)
    for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        table = search.listing_search if name == "sqlite" else None
        lat = table.c.lat if table is not None else search.Listing.public_lat
        lon = table.c.lon if table is not None else search.Listing.public_lon
        expected = distance_sql(name, point.lat, point.lon, lat, lon)
        bound = search._distance(name, lat, lon)
        values = search.search_of(name, "wood", point).values()
        assert _sql(bound, dialect, values) == _sql(expected, dialect)


def _key(query: str, point: search.Point, first: int = 20) -> searching._Key:
    return searching._Key(
        dialect="sqlite",
        viewer=(False, False),
        status=ListingStatus.ACTIVE,
        filters=(False,) * len(searching._FILTERS),
        material=False,
        shape=search.search_of("sqlite", query, point).shape,
        near=True,
        sort=ListingSort.NEAREST,
        after=False,
        first=first,
        with_total=True,
        count_cap=1000,
    )


def test_one_shape_builds_its_statements_once() -> None:
    one = searching._statements(_key("rice husk", search.Point(1, 2, 25)), Anonymous())
    again = searching._statements(_key("wood pallets", search.Point(3, 4, 9)), Anonymous())
    # The same statements (compiled once per dialect), only the values differ.
    assert again is one
    assert searching._statements(_key("rice", search.Point(1, 2, 25)), Anonymous()) is not one
    assert searching._statements(_key("a b", search.Point(1, 2, 25), 5), Anonymous()) is not one


def test_each_search_binds_its_own_values() -> None:
    one = search.search_of("sqlite", "rice husk", search.Point(10.0, 2, 25)).values()
    other = search.search_of("sqlite", "wood pallets", search.Point(20.0, 2, 25)).values()
    assert (one["search_word1"], one["search_lat"]) == ('"husk"*', 10.0)
    assert (other["search_word1"], other["search_lat"]) == ('"pallets"*', 20.0)
    again = search.search_of("postgresql", "rice 12", search.Point(1, 2, 25)).values()
    assert (again["search_word0"], again["search_numbers"]) == ("rice:*", "12:*")


def test_the_bound_listing_rule_is_the_listing_rule_for_every_viewer() -> None:
    def person(role: Role, organisation_id: uuid.UUID | None) -> Viewer:
        return Viewer(
            user_id=uuid.uuid4(), role=role, organisation_id=organisation_id, token_id="rules"
        )

    for viewer in (
        Anonymous(),
        person(Role.FIRM, uuid.uuid4()),
        person(Role.FIRM, None),
        person(Role.ADMIN, None),
        person(Role.ADMIN, uuid.uuid4()),
    ):
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            bound = select(Listing.id).where(policies.listed_listings(viewer, bound=True))
            expected = select(Listing.id).where(policies.listed_listings(viewer))
            values = policies.listed_values(viewer)
            assert _sql(bound, dialect, values) == _sql(expected, dialect)


def test_the_bound_material_subtree_is_the_catalogues() -> None:
    material = Material(code="ewc-03", path="ewc/ewc-03")
    values = {"material_path": "ewc/ewc-03", "material_path_below": "ewc/ewc-03/%"}
    key = searching._Key(
        dialect="postgresql",
        viewer=(False, False),
        status=None,
        filters=(False,) * len(searching._FILTERS),
        material=True,
        shape=search.search_of("postgresql", None, None).shape,
        near=False,
        sort=ListingSort.NEWEST,
        after=False,
        first=20,
        with_total=False,
        count_cap=None,
    )
    bound = searching._conditions(key, Anonymous())[-1]
    expected = Listing.material_code.in_(select(Material.code).where(catalogue.subtree(material)))
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert _sql(bound, dialect, values) == _sql(expected, dialect)


def test_the_bound_cursor_condition_is_the_cursors() -> None:
    sort = searching.NEWEST_FIRST
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    row = Listing(id=uuid.uuid4(), published_at=when, created_at=when)
    page = PageRequest(20, encode_cursor(sort, [k.value(row) for k in sort.keys]))
    expected = after_condition(sort, page)
    assert expected is not None
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert _sql(after_parameters(sort), dialect, after_values(sort, page)) == _sql(
            expected, dialect
        )
