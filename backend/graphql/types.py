"""Small building blocks every domain schema shares: the payload base, ids, the context."""

from __future__ import annotations

import uuid
from typing import cast

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.errors import ErrorCode, ServiceError
from backend.graphql.context import Context
from backend.graphql.errors import UserError


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
