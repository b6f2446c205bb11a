"""Umbrella permits: one environmental permit held by a cluster association for its members,
with caps per reporting period that the members share out and trade among themselves.

Quantities of a condition (its cap, allocations, transfers, returns) are kept in the condition's
own unit, a UN/ECE Rec 20 mass unit (KGM, TNE ...); what members type in another mass unit is
converted as the marketplace converts (``units.factor``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow

Quantity = Numeric(18, 4)


class TransferRule(StrEnum):
    """How members may pass allocation to one another: the self-regulating part."""

    FREE = "FREE"  # a transfer between covered members takes effect at once
    HOLDER_APPROVAL = "HOLDER_APPROVAL"  # it waits for an admin of the holder to approve it


class Parameter(StrEnum):
    """What a condition caps."""

    WASTE_TO_LANDFILL = "WASTE_TO_LANDFILL"  # a waste stream (an EWC code) sent to landfill
    WASTE_TO_OPEN_BURNING = "WASTE_TO_OPEN_BURNING"  # ... burnt in the open
    BOD = "BOD"  # biochemical oxygen demand of the effluent discharged
    COD = "COD"  # chemical oxygen demand of the effluent discharged
    TOTAL_NITROGEN = "TOTAL_NITROGEN"  # total nitrogen of the effluent discharged
    CO2E = "CO2E"  # greenhouse gases emitted, as CO2 equivalent


WASTE_PARAMETERS = frozenset({Parameter.WASTE_TO_LANDFILL, Parameter.WASTE_TO_OPEN_BURNING})


class Frequency(StrEnum):
    """The reporting period of a condition: its cap holds per period, a return is due for each."""

    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"


class LedgerReason(StrEnum):
    ALLOCATED = "ALLOCATED"  # the holder set a member's allocation
    TRANSFER_OUT = "TRANSFER_OUT"  # a member passed allocation to another
    TRANSFER_IN = "TRANSFER_IN"  # ... and the other received it
    MEMBER_REMOVED = "MEMBER_REMOVED"  # a member's cover ended: its allocation went back


class TransferStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the holder's approval
    DONE = "DONE"
    REFUSED = "REFUSED"  # the holder refused it
    CANCELLED = "CANCELLED"  # the sender took it back before a decision


class Permit(Base):
    """An umbrella permit: issued by an authority (a verified local-government institution) to a
    cluster association (a community organisation or an institution) for a period."""

    __tablename__ = "permits"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_period"),
        CheckConstraint("return_due_days BETWEEN 0 AND 120", name="return_due_days_range"),
        UniqueConstraint("authority_id", "reference"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="RESTRICT"), index=True
    )
    holder_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    authority_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    # the authority's number for it, unique per authority
    reference: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # calendar days in the cluster's time zone, both included
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    transfer_rule: Mapped[TransferRule] = mapped_column(
        enum_column(TransferRule, "permit_transfer_rule")
    )
    # a period's return is due this many days after the period ends, then it is late
    return_due_days: Mapped[int] = mapped_column(Integer, default=15)
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PermitMember(Base):
    """One span of an organisation's cover by a permit. Removing a member closes its span
    (``covered_to``); adding it again opens a new one, so who was covered on any day stays
    exact."""

    __tablename__ = "permit_members"
    __table_args__ = (
        CheckConstraint("covered_to IS NULL OR covered_to >= covered_from", name="cover_period"),
        # one open span per organisation and permit
        Index(
            "uq_permit_members_open",
            "permit_id",
            "organisation_id",
            unique=True,
            sqlite_where=text("covered_to IS NULL"),
            postgresql_where=text("covered_to IS NULL"),
        ),
        Index("ix_permit_members_organisation_id", "organisation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    permit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permits.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    covered_from: Mapped[date] = mapped_column(Date)
    # the last day covered; null while the cover lasts
    covered_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    removed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PermitCondition(Base):
    """A cap per reporting period on one parameter. ``allocated`` is the sum of the members'
    allocations, kept by the same transaction that changes one: the CHECK makes an
    over-allocated cap impossible to commit, whatever runs at the same time."""

    __tablename__ = "permit_conditions"
    __table_args__ = (
        CheckConstraint("cap > 0", name="cap_positive"),
        CheckConstraint("allocated >= 0 AND allocated <= cap", name="allocated_within_cap"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    permit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permits.id", ondelete="CASCADE"), index=True
    )
    parameter: Mapped[Parameter] = mapped_column(enum_column(Parameter, "permit_parameter"))
    # the waste stream's EWC entry (or chapter, sub-chapter) for waste parameters; null else
    material_code: Mapped[str | None] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(200))
    cap: Mapped[Decimal] = mapped_column(Quantity)
    # a mass unit (UN/ECE Rec 20): the cap, allocations, transfers and returns are in it
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    frequency: Mapped[Frequency] = mapped_column(enum_column(Frequency, "permit_frequency"))
    allocated: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Allocation(Base):
    """A member's standing share of a condition's cap (per period), in the condition's unit."""

    __tablename__ = "permit_allocations"
    __table_args__ = (
        UniqueConstraint("condition_id", "organisation_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    condition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permit_conditions.id", ondelete="CASCADE")
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Quantity)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AllocationEntry(Base):
    """The append-only ledger of allocations: every change, with who made it and when, and the
    member's balance after it (so the allocation on any past day is one lookup)."""

    __tablename__ = "permit_allocation_entries"
    __table_args__ = (
        Index(
            "ix_permit_allocation_entries_condition_org_at",
            "condition_id",
            "organisation_id",
            "created_at",
        ),
        CheckConstraint("balance_after >= 0", name="balance_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    condition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permit_conditions.id", ondelete="CASCADE")
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    reason: Mapped[LedgerReason] = mapped_column(enum_column(LedgerReason, "permit_ledger_reason"))
    change: Mapped[Decimal] = mapped_column(Quantity)  # signed
    balance_after: Mapped[Decimal] = mapped_column(Quantity)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("permit_transfers.id", ondelete="RESTRICT"), nullable=True
    )
    acted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # the organisation the person acted for (the holder, or the sending member)
    acting_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AllocationTransfer(Base):
    """A member passing part of its allocation of one condition to another covered member."""

    __tablename__ = "permit_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("from_organisation_id <> to_organisation_id", name="two_members"),
        Index("ix_permit_transfers_condition_id_status", "condition_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    condition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permit_conditions.id", ondelete="CASCADE")
    )
    from_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    to_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[TransferStatus] = mapped_column(
        enum_column(TransferStatus, "permit_transfer_status")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PermitReturn(Base):
    """One version of a member's return for one condition and period. A return is never edited:
    an amendment is the next version, and the highest version is the one that counts.

    Figures are in the condition's unit. ``sent_through_marketplace`` is not typed by the
    member: it is what the impact ledger holds for the member's completed trades of the
    condition's waste stream in the period, computed when the version is filed."""

    __tablename__ = "permit_returns"
    __table_args__ = (
        UniqueConstraint("condition_id", "organisation_id", "period_start", "version"),
        CheckConstraint(
            "generated >= 0 AND treated_on_site >= 0 AND sent_to_members >= 0 "
            "AND sent_through_marketplace >= 0 AND sent_to_disposal >= 0",
            name="figures_not_negative",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_permit_returns_condition_period", "condition_id", "period_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    condition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permit_conditions.id", ondelete="CASCADE")
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    # the first day of the reporting period (cluster time zone)
    period_start: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    generated: Mapped[Decimal] = mapped_column(Quantity)
    treated_on_site: Mapped[Decimal] = mapped_column(Quantity)
    # sent to other members outside the marketplace (typed by the member)
    sent_to_members: Mapped[Decimal] = mapped_column(Quantity)
    # sent through the marketplace's completed trades (computed, see the class)
    sent_through_marketplace: Mapped[Decimal] = mapped_column(Quantity)
    # landfilled, burnt or discharged: the figure the cap limits
    sent_to_disposal: Mapped[Decimal] = mapped_column(Quantity)
    note: Mapped[str] = mapped_column(Text, default="")
    filed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
