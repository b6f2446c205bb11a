"""The role gates: the only permission classes of the project.

Each gate answers one question about the viewer's token. On a query field it is a Strawberry
permission class (``permission_classes=[IsAuthenticated]``) and a denial is a GraphQL error with
``extensions.code``; on a mutation (``payload_mutation(gates=(IsFirmOrCommunity,))``) the
same gate's denial is a typed error in the payload. Rules about particular objects live in each
domain's ``policies.py``.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.kit.errors import ErrorCode, Problem


def viewer_of(info: strawberry.Info) -> Viewer | Anonymous:
    viewer: Viewer | Anonymous = info.context.viewer
    return viewer


def _unauthenticated(anonymous: Anonymous) -> Problem:
    if anonymous.ended:
        return Problem(
            ErrorCode.UNAUTHENTICATED,
            "This sign-in no longer gives access (signed out, removed from the organisation or "
            "account disabled); sign in again",
        )
    if anonymous.problem is ErrorCode.TOKEN_EXPIRED:
        return Problem(
            ErrorCode.TOKEN_EXPIRED, "The access token has expired; refresh it and try again"
        )
    if anonymous.problem is not None:
        return Problem(ErrorCode.UNAUTHENTICATED, "The access token is not valid; sign in again")
    return Problem(ErrorCode.UNAUTHENTICATED, "Sign in to do this")


class Gate(BasePermission):
    """A role gate. Subclasses set ``roles`` (None: any signed-in viewer) and ``requirement``."""

    roles: frozenset[Role] | None = None
    requirement: str = "signed in"

    @classmethod
    def denial(cls, info: strawberry.Info) -> Problem | None:
        viewer = viewer_of(info)
        if isinstance(viewer, Anonymous):
            return _unauthenticated(viewer)
        if cls.roles is not None and viewer.role not in cls.roles:
            return Problem(ErrorCode.FORBIDDEN, f"Only {cls.requirement} may do this")
        return None

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        problem = self.denial(info)
        if problem is None:
            return True
        # Raised here rather than through on_unauthorized so the message can say why.
        raise GraphQLError(problem.message, extensions={"code": problem.code.value})


class IsAuthenticated(Gate):
    requirement = "signed in"


class IsAdmin(Gate):
    roles = frozenset({Role.ADMIN})
    requirement = "platform admins"


class IsFirmOrCommunity(Gate):
    """Those who trade materials: firms, and communities selling their members' eco-products."""

    roles = frozenset({Role.FIRM, Role.COMMUNITY})
    requirement = "firms and communities"


class IsInstitutionOrCommunity(Gate):
    """Those who hold events: institutions, and communities holding their meetings."""

    roles = frozenset({Role.INSTITUTION, Role.COMMUNITY})
    requirement = "institutions and communities"
