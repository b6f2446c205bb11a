"""What the licences service takes and gives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from backend.catalogue.models import Material
from backend.identity.models import Organisation
from backend.kit.validation import UNCHANGED
from backend.licences.models import LicensedOperation, WasteLicence

SUBJECT = "WASTE_LICENCE"
MAX_COVERED_CODES = 200
# A verified licence whose last day is this close is told to its holder, once.
EXPIRY_NOTICE_DAYS = 30


class LicenceStatus(StrEnum):
    """Where today (the holder's cluster time zone) falls in the licence's period."""

    NOT_YET_VALID = "NOT_YET_VALID"
    VALID = "VALID"
    EXPIRED = "EXPIRED"


def status_on(licence: WasteLicence, day: date) -> LicenceStatus:
    if day < licence.valid_from:
        return LicenceStatus.NOT_YET_VALID
    if day > licence.valid_to:
        return LicenceStatus.EXPIRED
    return LicenceStatus.VALID


@dataclass(frozen=True, slots=True)
class LicenceDraft:
    """A licence as its holder's admin records it; ``id`` may be the app's own UUID."""

    issuer_name: str
    number: str
    material_codes: list[str]
    operations: list[LicensedOperation]
    valid_from: date
    valid_to: date
    authority_id: uuid.UUID | None = None
    note: str = ""
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class LicenceChanges:
    """Fields left unset stay. A change of any term (all but the note) withdraws the
    verification: the licence must be checked again."""

    issuer_name: str | None = None
    number: str | None = None
    material_codes: list[str] | None = None
    operations: list[LicensedOperation] | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    authority_id: uuid.UUID | None = UNCHANGED
    note: str | None = None


@dataclass(frozen=True, slots=True)
class LicenceFilter:
    """Every given condition must hold."""

    verified: bool | None = None
    holder_id: uuid.UUID | None = None
    authority_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class LicenceView:
    """A licence with what its screen shows: holder and authority (with their clusters), the
    covered materials (in code order) and its status today in the holder's time zone."""

    licence: WasteLicence
    holder: Organisation
    authority: Organisation | None
    materials: list[Material]
    status: LicenceStatus
