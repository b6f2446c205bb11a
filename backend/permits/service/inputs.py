"""What the permit services take."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backend.permits.models import Frequency, Parameter, TransferRule

DEFAULT_RETURN_DUE_DAYS = 15
MAX_RETURN_DUE_DAYS = 120


@dataclass(frozen=True, slots=True)
class PermitDraft:
    """What an authority sends to issue a permit; ``id`` may be the app's own UUID."""

    holder_id: uuid.UUID
    reference: str
    title: str
    valid_from: date
    valid_to: date
    transfer_rule: TransferRule = TransferRule.FREE
    description: str = ""
    return_due_days: int = DEFAULT_RETURN_DUE_DAYS
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PermitChanges:
    """Fields left None stay. The holder's admins change the first four, the authority the
    validity dates."""

    title: str | None = None
    description: str | None = None
    transfer_rule: TransferRule | None = None
    return_due_days: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    @property
    def holder_part(self) -> bool:
        return any(
            v is not None
            for v in (self.title, self.description, self.transfer_rule, self.return_due_days)
        )

    @property
    def authority_part(self) -> bool:
        return self.valid_from is not None or self.valid_to is not None


@dataclass(frozen=True, slots=True)
class ConditionDraft:
    permit_id: uuid.UUID
    parameter: Parameter
    title: str
    cap: Decimal
    unit_code: str
    frequency: Frequency
    material_code: str | None = None
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    condition_id: uuid.UUID
    to_organisation_id: uuid.UUID
    amount: Decimal
    note: str = ""
    id: uuid.UUID | None = None
