"""Great-circle distances and bounding boxes, shared by every "near a point" search.

The same formula runs in Python (registered as an SQLite function) and in PostgreSQL (the SQL
function ``eic_distance_km`` created by the marketplace migration), so both backends agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = math.radians(lat2 - lat1)
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


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
