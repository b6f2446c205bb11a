"""Joint purchasing groups and the pledges of their participants."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.catalogue.models import Material, Unit
from backend.identity.models import Cluster, Organisation, User
from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

Quantity = Numeric(18, 4)
Money = Numeric(18, 4)


class Direction(StrEnum):
    BUY = "BUY"  # members pool their purchases to reach a supplier's minimum or a better tier
    SELL = "SELL"  # producers pool a by-product to sell as one lot


class CostSplit(StrEnum):
    PRO_RATA = "PRO_RATA"  # in proportion to each participant's quantity
    EQUAL = "EQUAL"  # the same share for every participant


class GroupVisibility(StrEnum):
    MEMBERS = "MEMBERS"  # the organiser's members
    CLUSTER = "CLUSTER"  # members of organisations in the organiser's cluster
    PUBLIC = "PUBLIC"  # anyone signed in may join; anyone may read


class GroupStatus(StrEnum):
    OPEN = "OPEN"
    CONFIRMED = "CONFIRMED"
    ORDERED = "ORDERED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class PledgeStatus(StrEnum):
    ACTIVE = "ACTIVE"
    WITHDRAWN = "WITHDRAWN"


class PurchaseGroup(Base):
    __tablename__ = "purchase_groups"
    __table_args__ = (
        CheckConstraint("min_quantity > 0", name="min_quantity_positive"),
        CheckConstraint(
            "max_quantity IS NULL OR max_quantity >= min_quantity", name="max_not_below_min"
        ),
        # The pledged total is the maximum's guard: no transaction can commit more.
        CheckConstraint(
            "pledged_quantity >= 0 AND (max_quantity IS NULL OR pledged_quantity <= max_quantity)",
            name="pledged_within_max",
        ),
        CheckConstraint("participants_count >= 0", name="participants_not_negative"),
        CheckConstraint("shared_costs >= 0", name="shared_costs_not_negative"),
        Index("ix_purchase_groups_status_deadline", "status", "deadline"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="RESTRICT"), index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    counterpart_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    item_name: Mapped[str] = mapped_column(String(200))
    material_code: Mapped[str | None] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), nullable=True, index=True
    )
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "purchase_direction"))
    min_quantity: Mapped[Decimal] = mapped_column(Quantity)
    max_quantity: Mapped[Decimal | None] = mapped_column(Quantity, nullable=True)
    # [{"min_quantity": "100", "price_per_unit": "52.5"}], ascending by min_quantity
    price_tiers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    shared_costs: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    cost_split: Mapped[CostSplit] = mapped_column(enum_column(CostSplit, "cost_split"))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    visibility: Mapped[GroupVisibility] = mapped_column(
        enum_column(GroupVisibility, "group_visibility")
    )
    # Recorded status. An OPEN group past its deadline reads as CONFIRMED or FAILED at once
    # (see service.effective_status); the due-job runner records it and tells the participants.
    status: Mapped[GroupStatus] = mapped_column(enum_column(GroupStatus, "purchase_group_status"))
    pledged_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    participants_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancellation_reason: Mapped[str] = mapped_column(Text, default="")

    organisation: Mapped[Organisation] = relationship(lazy="raise", foreign_keys=[organisation_id])
    counterpart: Mapped[Organisation | None] = relationship(
        lazy="raise", foreign_keys=[counterpart_organisation_id]
    )
    cluster: Mapped[Cluster] = relationship(lazy="raise")
    material: Mapped[Material | None] = relationship(lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")


class Pledge(Base):
    """A participant's quantity in a group. One per participant; withdrawing keeps the row, and
    pledging again revives it."""

    __tablename__ = "pledges"
    __table_args__ = (
        UniqueConstraint("group_id", "participant_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index("ix_pledges_participant_id", "participant_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_groups.id", ondelete="CASCADE")
    )
    # The person the quantity is for.
    participant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The organisation they take part through (the one they, or their facilitator, acted for).
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    # Who pledged: the participant, or a facilitator of their community acting for them.
    acted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[PledgeStatus] = mapped_column(enum_column(PledgeStatus, "pledge_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    group: Mapped[PurchaseGroup] = relationship(lazy="raise")
    participant: Mapped[User] = relationship(lazy="raise", foreign_keys=[participant_id])
    acted_by: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[acted_by_id])
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")


# What the apps keep offline (backend/sync): the groups people pledged to (scope: the group), and
# the organiser's and the supplier's groups; a pledge is a change of its group for the people in it.
sync_log.track(
    PurchaseGroup,
    lambda row: [
        (
            ChangeType.PURCHASE_GROUP,
            row.id,
            [
                sync_log.group_participants(row.id),
                sync_log.organisation(row.organisation_id),
                sync_log.organisation(row.counterpart_organisation_id),
            ],
        )
    ],
)
sync_log.track(
    Pledge,
    lambda row: [
        (
            ChangeType.PURCHASE_GROUP,
            row.group_id,
            [sync_log.person(row.participant_id), sync_log.person(row.acted_by_id)],
        )
    ],
)
