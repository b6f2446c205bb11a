"""Who is asking: the identity carried by a verified access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from backend.kit.errors import ErrorCode


class Role(StrEnum):
    FIRM = "FIRM"
    COMMUNITY = "COMMUNITY"
    INSTITUTION = "INSTITUTION"
    ADMIN = "ADMIN"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person and the organisation they act for in this token."""

    user_id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID | None
    token_id: str
    # When the access token stops being valid: long-lived connections (WebSockets) end then.
    expires_at: datetime | None = None
    # The sign-in (refresh session) the token was issued with: signing out ends its access
    # tokens too. None for viewers the server makes for itself (demo data, jobs).
    session_id: uuid.UUID | None = None
    # Whether a platform admin has verified the organisation acted for. Read from the database
    # on every request (not carried in the token), so a verification or its withdrawal counts
    # on the next request.
    organisation_verified: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def reads_across_organisations(self) -> bool:
        """Platform admins, and verified institutions (universities, local government...)
        studying the cluster, read data other organisations keep from each other, such as
        their impact ledgers. An unverified institution reads what a firm reads."""
        return self.is_admin or (self.role is Role.INSTITUTION and self.organisation_verified)


@dataclass(frozen=True, slots=True)
class Anonymous:
    """No usable token. ``problem`` says why a presented token was refused, for the app;
    ``ended`` that it was valid but the access it carried has ended since (signed out, removed
    from the organisation, account disabled)."""

    problem: ErrorCode | None = None
    ended: bool = False
