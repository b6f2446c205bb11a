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

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class Anonymous:
    """No usable token. ``problem`` says why a presented token was refused, for the app."""

    problem: ErrorCode | None = None
