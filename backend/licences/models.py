"""Waste licences: what an organisation is licensed to receive and do with waste. Hazardous
entries of the EWC may only go to organisations holding a verified licence that covers them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.kit.db import Base, UTCDateTime, new_id, utcnow


class LicensedOperation(StrEnum):
    """What a licence allows to be done with the waste it covers (after the R and D operations
    of the EU Waste Framework Directive, grouped as permits usually name them)."""

    COLLECTION = "COLLECTION"
    TRANSPORT = "TRANSPORT"
    STORAGE = "STORAGE"
    TREATMENT = "TREATMENT"
    RECOVERY = "RECOVERY"
    DISPOSAL = "DISPOSAL"


class WasteLicence(Base):
    """A licence an organisation holds. It counts for the marketplace's hazardous-waste check
    only once verified (by a platform admin or the issuing authority's institution account) and
    only on the days from ``valid_from`` to ``valid_to`` (cluster time zone, both included)."""

    __tablename__ = "waste_licences"
    __table_args__ = (
        CheckConstraint("valid_to >= valid_from", name="valid_period"),
        UniqueConstraint("organisation_id", "issuer_name", "number"),
        Index("ix_waste_licences_organisation_id_valid_to", "organisation_id", "valid_to"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    # The issuing authority: its institution account when it has one on the platform (it may
    # then verify the licence), and its name as printed on the licence in every case.
    authority_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    issuer_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(100))
    # ["TREATMENT", "STORAGE"]: LicensedOperation values
    operations: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    # when its holder was told it expires within 30 days (once per licence)
    expiry_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LicenceCoverage(Base):
    """One EWC code a licence covers: an entry, or a chapter or sub-chapter (then every entry
    below it), as the catalogue's material codes (``ewc-19``, ``ewc-19-08``, ``ewc-19-08-11``)."""

    __tablename__ = "waste_licence_coverage"
    __table_args__ = (UniqueConstraint("licence_id", "material_code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    licence_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("waste_licences.id", ondelete="CASCADE"), index=True
    )
    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code", ondelete="RESTRICT"))
