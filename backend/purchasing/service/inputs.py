"""What the purchasing service takes and gives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from backend.kit.validation import UNCHANGED
from backend.purchasing.models import (
    CostSplit,
    Direction,
    GroupStatus,
    GroupVisibility,
    Pledge,
    PurchaseGroup,
)
from backend.purchasing.service.settlement import PriceTier

MAX_TIERS = 10
MAX_GROUP_LIFETIME_DAYS = 366
SUBJECT = "PURCHASE_GROUP"


@dataclass(frozen=True, slots=True)
class GroupDraft:
    """What an organiser sends to start a group; ``id`` may be the app's own UUID."""

    title: str
    item_name: str
    unit_code: str
    direction: Direction
    min_quantity: Decimal
    price_tiers: list[PriceTier]
    deadline: datetime
    visibility: GroupVisibility
    description: str = ""
    material_code: str | None = None
    max_quantity: Decimal | None = None
    currency: str | None = None
    shared_costs: Decimal = Decimal(0)
    cost_split: CostSplit = CostSplit.PRO_RATA
    counterpart_organisation_id: uuid.UUID | None = None
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class GroupChanges:
    """Fields left unset stay as they are. Once somebody has pledged, only the safe ones may
    change: title, description, a later deadline and a higher (or no) maximum."""

    title: str | None = None
    description: str | None = None
    item_name: str | None = None
    material_code: str | None = UNCHANGED
    unit_code: str | None = None
    direction: Direction | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = UNCHANGED
    price_tiers: list[PriceTier] | None = None
    currency: str | None = None
    shared_costs: Decimal | None = None
    cost_split: CostSplit | None = None
    deadline: datetime | None = None
    visibility: GroupVisibility | None = None
    counterpart_organisation_id: uuid.UUID | None = UNCHANGED


@dataclass(frozen=True, slots=True)
class GroupFilter:
    cluster_id: uuid.UUID | None = None
    status: GroupStatus | None = None
    direction: Direction | None = None
    material_code: str | None = None
    organisation_id: uuid.UUID | None = None
    participating: bool = False


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as one viewer sees it: its status as of now, their own pledge, and what they may
    see of the pledges (all of them for the organiser)."""

    group: PurchaseGroup
    status: GroupStatus
    my_pledge: Pledge | None = None
    # Active pledges in pledge order, when the settlement is due and the viewer may see them
    # (the organiser: all; a participant: all the same, since their amount depends on all).
    pledges: list[Pledge] = field(default_factory=list)
    viewer_may_join: bool = False


@dataclass(frozen=True, slots=True)
class PledgeView:
    pledge: Pledge
    group: GroupView
