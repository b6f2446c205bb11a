"""Small building blocks every domain schema shares: the payload base, ids, the context."""

from __future__ import annotations

import uuid
from typing import Any, cast

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.graphql.context import Context
from backend.graphql.errors import UserError
from backend.kit.errors import ErrorCode, ServiceError
from backend.kit.validation import UNCHANGED, Place


@strawberry.type(description="What every mutation returns besides its result.")
class Payload:
    errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Expected failures; empty when the mutation succeeded. When not empty, "
        "nothing was changed and the other fields are null.",
    )


def context_of(info: strawberry.Info) -> Context:
    return cast(Context, info.context)


def signed_in(info: strawberry.Info) -> Viewer:
    """The viewer of a field behind a gate (the gate has already refused anonymous callers)."""
    viewer = context_of(info).viewer
    if isinstance(viewer, Anonymous):
        raise ServiceError.of(ErrorCode.UNAUTHENTICATED, "Sign in to do this")
    return viewer


def parse_id(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise ServiceError.of(ErrorCode.VALIDATION, "Not a valid id", field) from exc


def parse_optional_id(value: str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)


@strawberry.type(description="A point on the earth (WGS 84).")
class GeoPoint:
    lat: float = strawberry.field(description="Latitude in degrees, -90 to 90.")
    lon: float = strawberry.field(description="Longitude in degrees, -180 to 180.")


@strawberry.type(description="A place: a point and the name people use for it.")
class Location:
    lat: float = strawberry.field(description="Latitude in degrees, -90 to 90.")
    lon: float = strawberry.field(description="Longitude in degrees, -180 to 180.")
    place_name: str = strawberry.field(description="Village, town or address, as written locally.")


@strawberry.input(description="A place given by an app.")
class LocationInput:
    lat: float = strawberry.field(description="Latitude in degrees, -90 to 90.")
    lon: float = strawberry.field(description="Longitude in degrees, -180 to 180.")
    place_name: str = strawberry.field(default="", description="Name of the place, optional.")

    def to_service(self) -> Place:
        return Place(lat=self.lat, lon=self.lon, place_name=self.place_name)


def given(value: Any) -> Any:
    """Strawberry's UNSET (the app left the field out) as the services' UNCHANGED."""
    return UNCHANGED if value is strawberry.UNSET else value
