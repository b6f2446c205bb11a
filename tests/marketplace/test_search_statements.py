"""The search's statements are built once per shape, and a request binds values only."""

from __future__ import annotations

import contextvars

from sqlalchemy.dialects import postgresql, sqlite

from backend.kit.geo import distance_sql
from backend.marketplace import search


def _sql(element: object, dialect: object) -> str:
    return str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]


def test_the_bound_distance_is_the_geo_distance() -> None:
    point = search.Point(50.5, -3.25, 25.0)
    for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        plan = search.plan(name, conditions=[], query="wood", point=point, active_only=False)
        assert plan.distance is not None
        table = search.listing_search if name == "sqlite" else None
        lat = table.c.lat if table is not None else search.Listing.public_lat
        lon = table.c.lon if table is not None else search.Listing.public_lon
        expected = distance_sql(name, point.lat, point.lon, lat, lon)
        bound = search._distance(name, lat, lon)
        assert _sql(bound, dialect) == _sql(expected, dialect)


def test_one_shape_builds_its_statement_once() -> None:
    point = search.Point(1, 2, 25)
    search.plan("sqlite", conditions=[], query="a b", point=point, active_only=True)
    built = search._places_parts.cache_info().currsize
    first = search.plan(
        "sqlite", conditions=[], query="rice husk", point=search.Point(1, 2, 25), active_only=True
    )
    again = search.plan(
        "sqlite", conditions=[], query="wood pallets", point=search.Point(3, 4, 9), active_only=True
    )
    # Nothing built again, and one cache key (one compiled statement): only the values differ.
    assert search._places_parts.cache_info().currsize == built
    first_key, again_key = (
        first.statement._generate_cache_key(),
        again.statement._generate_cache_key(),
    )
    assert first_key is not None
    assert again_key is not None
    assert first_key.key == again_key.key
    assert first.values["search_word1"] == '"husk"*'
    assert again.values["search_word1"] == '"pallets"*'


def test_each_request_binds_its_own_values() -> None:
    def planned(query: str, lat: float) -> dict[str, object]:
        plan = search.plan(
            "sqlite", conditions=[], query=query, point=search.Point(lat, 2, 25), active_only=True
        )
        return plan.statement.compile(dialect=sqlite.dialect()).params

    one = contextvars.copy_context().run(planned, "rice", 10.0)
    other = contextvars.copy_context().run(planned, "wood", 20.0)
    assert (one["search_word0"], one["search_lat"]) == ('"rice"*', 10.0)
    assert (other["search_word0"], other["search_lat"]) == ('"wood"*', 20.0)
