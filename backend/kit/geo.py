"""Great-circle distances and bounding boxes, shared by every "near a point" search.

The same formula runs in Python (registered as an SQLite function) and in PostgreSQL (the SQL
function ``eic_distance_km`` created by the marketplace migration), so both backends agree.
:func:`distance_sql` spells it in SQLite's own math functions where SQLite has them: the same
operations in the same order on the same C library, so the same bits as the Python function,
without a call into Python per row.
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, func, literal, or_

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres (:func:`distance_sql` mirrors it operation by
    operation: change both together)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = math.radians(lat2 - lat1)
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _sqlite_has_math() -> bool:
    """Whether the SQLite library Python links (aiosqlite uses the same) was built with its math
    functions (SQLITE_ENABLE_MATH_FUNCTIONS, SQLite 3.35 or later)."""
    try:
        with closing(sqlite3.connect(":memory:")) as connection:
            connection.execute("SELECT asin(1), sin(1), cos(1), sqrt(1), power(1, 2), radians(1)")
    except sqlite3.OperationalError:
        return False
    return True


SQLITE_HAS_MATH = _sqlite_has_math()


def distance_sql(
    dialect: str,
    lat: Any,
    lon: Any,
    lat_column: Any,
    lon_column: Any,
    *,
    lat_alone: Any = None,
) -> ColumnElement[float]:
    """The distance in km from a point to each row's point, as SQL (``eic_distance_km``).

    PostgreSQL inlines its SQL function. SQLite gets the haversine written in its built-in math
    functions, which give the very bits :func:`great_circle_km` gives (tests hold them together):
    registered Python functions cost about 2 us a call, and a search over thousands of
    candidates made thousands of them. Without the math functions, the registered function.

    The point is two floats, or two bound parameters for a statement built once (the search's);
    then ``lat_alone`` is the latitude where it stands alone (``cos(radians(lat))``), a
    parameter of its own as ``literal(lat)`` gives a float one.
    """
    if dialect != "sqlite" or not SQLITE_HAS_MATH:
        return func.eic_distance_km(lat, lon, lat_column, lon_column)
    # Left to right as in great_circle_km: a = sin(d_phi / 2) ** 2 + cos(phi1) * cos(phi2) *
    # sin(d_lambda / 2) ** 2, then 2 * R * asin(min(1, sqrt(a))).
    two, half = literal(2), literal(2.0)
    # op("/"): SQLAlchemy's own division adds "+ 0.0" to the divisor on SQLite.
    a = func.power(func.sin(func.radians(lat_column - lat).op("/")(half)), two) + func.cos(
        func.radians(literal(lat) if lat_alone is None else lat_alone)
    ) * func.cos(func.radians(lat_column)) * func.power(
        func.sin(func.radians(lon_column - lon).op("/")(half)), two
    )
    diameter = two * literal(EARTH_RADIUS_KM)
    return cast("ColumnElement[float]", diameter * func.asin(func.min(literal(1.0), func.sqrt(a))))


@dataclass(frozen=True, slots=True)
class BoundingBox:
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.min_lon > self.max_lon


def bounding_box(lat: float, lon: float, radius_km: float) -> BoundingBox:
    """The smallest latitude/longitude box holding every point within ``radius_km``.

    Used as an indexed pre-filter; the exact distance then decides. Near a pole the box spans
    all longitudes; across the antimeridian ``min_lon > max_lon``.
    """
    d_lat = math.degrees(radius_km / EARTH_RADIUS_KM)
    min_lat, max_lat = lat - d_lat, lat + d_lat
    if min_lat <= -90 or max_lat >= 90:
        return BoundingBox(max(min_lat, -90), min(max_lat, 90), -180, 180)
    d_lon = math.degrees(
        math.asin(min(1.0, math.sin(radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(lat))))
    )
    min_lon, max_lon = lon - d_lon, lon + d_lon
    if min_lon < -180:
        min_lon += 360
    if max_lon > 180:
        max_lon -= 360
    return BoundingBox(min_lat, max_lat, min_lon, max_lon)


def approximate(value: float) -> float:
    """A coordinate rounded to 0.01 degree (about 1.1 km): where a yard is, not which one."""
    return round(value, 2)


def within_radius(
    lat_column: Any, lon_column: Any, lat: float, lon: float, radius_km: float
) -> ColumnElement[bool]:
    """Rows whose point is within ``radius_km``: an indexable box first, then the exact distance
    (``eic_distance_km``, the same haversine on both backends)."""
    box = bounding_box(lat, lon, radius_km)
    lon_condition = (
        or_(lon_column >= box.min_lon, lon_column <= box.max_lon)
        if box.crosses_antimeridian
        else lon_column.between(box.min_lon, box.max_lon)
    )
    return and_(
        lat_column.between(box.min_lat, box.max_lat),
        lon_condition,
        func.eic_distance_km(lat, lon, lat_column, lon_column) <= radius_km,
    )
