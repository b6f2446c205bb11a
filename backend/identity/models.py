"""Clusters, organisations, people, their memberships, invites and refresh-token sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import true

from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow


class Sector(StrEnum):
    SERICULTURE = "SERICULTURE"
    WOOD = "WOOD"
    RICE = "RICE"
    FISH = "FISH"
    AGRICULTURE = "AGRICULTURE"
    FOOD_PROCESSING = "FOOD_PROCESSING"
    TEXTILES = "TEXTILES"
    OTHER = "OTHER"


class OrganisationKind(StrEnum):
    FIRM = "FIRM"
    COMMUNITY = "COMMUNITY"
    INSTITUTION = "INSTITUTION"


class OrganisationSubtype(StrEnum):
    # firms, by size
    MICRO_ENTERPRISE = "MICRO_ENTERPRISE"
    SMALL_ENTERPRISE = "SMALL_ENTERPRISE"
    MEDIUM_ENTERPRISE = "MEDIUM_ENTERPRISE"
    LARGE_ENTERPRISE = "LARGE_ENTERPRISE"
    # communities
    SHG = "SHG"
    NPO = "NPO"
    COOPERATIVE = "COOPERATIVE"
    # institutions
    UNIVERSITY = "UNIVERSITY"
    RESEARCH_INSTITUTE = "RESEARCH_INSTITUTE"
    INFORMATION_CENTRE = "INFORMATION_CENTRE"
    LOCAL_GOVERNMENT = "LOCAL_GOVERNMENT"
    NATIONAL_GOVERNMENT = "NATIONAL_GOVERNMENT"


SUBTYPES_BY_KIND: dict[OrganisationKind, frozenset[OrganisationSubtype]] = {
    OrganisationKind.FIRM: frozenset(
        {
            OrganisationSubtype.MICRO_ENTERPRISE,
            OrganisationSubtype.SMALL_ENTERPRISE,
            OrganisationSubtype.MEDIUM_ENTERPRISE,
            OrganisationSubtype.LARGE_ENTERPRISE,
        }
    ),
    OrganisationKind.COMMUNITY: frozenset(
        {OrganisationSubtype.SHG, OrganisationSubtype.NPO, OrganisationSubtype.COOPERATIVE}
    ),
    OrganisationKind.INSTITUTION: frozenset(
        {
            OrganisationSubtype.UNIVERSITY,
            OrganisationSubtype.RESEARCH_INSTITUTE,
            OrganisationSubtype.INFORMATION_CENTRE,
            OrganisationSubtype.LOCAL_GOVERNMENT,
            OrganisationSubtype.NATIONAL_GOVERNMENT,
        }
    ),
}


# Institutions that act as public authorities: they issue umbrella permits and waste licences.
GOVERNMENT_SUBTYPES = frozenset(
    {OrganisationSubtype.LOCAL_GOVERNMENT, OrganisationSubtype.NATIONAL_GOVERNMENT}
)


class MembershipRole(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class Cluster(Base):
    __tablename__ = "clusters"
    __table_args__ = (
        CheckConstraint("centre_lat BETWEEN -90 AND 90", name="centre_lat_range"),
        CheckConstraint("centre_lon BETWEEN -180 AND 180", name="centre_lon_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))
    sector: Mapped[Sector] = mapped_column(enum_column(Sector, "sector"))
    centre_lat: Mapped[float] = mapped_column(Float)
    centre_lon: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # Stored lower-cased, so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the account was deleted at its owner's request (backend/privacy): the row stays,
    # anonymised, so that what the person did for organisations (trades, posts) keeps its link.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        Index("ix_organisations_cluster_id_name", "cluster_id", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(
        enum_column(OrganisationKind, "organisation_kind")
    )
    subtype: Mapped[OrganisationSubtype | None] = mapped_column(
        enum_column(OrganisationSubtype, "organisation_subtype"), nullable=True
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id", ondelete="RESTRICT"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    place_name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every update; offline edits send the version they saw.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Its record as a trading partner, kept by the marketplace as trades complete and reviews
    # arrive, so the trust score is a read of this row (on every listing card) and not a
    # scan of the reviews.
    trades_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when a platform admin has checked that the organisation is who it says it is. Kinds
    # whose role reads other organisations' data (institutions) use that right only once
    # verified: registering as a university is open to anyone.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reviews_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What it does, as an ISIC Rev. 4 class ("1610" sawmilling): cluster insights tell links
    # within one activity (horizontal) from links across activities (vertical) by it.
    activity_code: Mapped[str | None] = mapped_column(
        ForeignKey("activities.code", ondelete="RESTRICT"), nullable=True
    )
    # False: cluster insights show it to the cluster's institutions as "a firm in activity X",
    # never by name (trade relationships are commercially sensitive).
    named_in_insights: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    cluster: Mapped[Cluster] = relationship(lazy="raise")

    @property
    def trust_score(self) -> int:
        """0-100, from reviews and completed trades; see :func:`trust_score`."""
        return trust_score(self.reviews_count, self.rating_total, self.trades_completed)


# A newcomer counts as this many reviews of 3 stars, so one 5-star review does not make a
# stranger the most trusted firm of the cluster (a Bayesian average).
PRIOR_REVIEWS = 5
PRIOR_RATING = 3
# Completed trades give experience, approaching 1 as they add up (half way at 5 trades).
EXPERIENCE_HALF_WAY = 5


def trust_score(reviews_count: int, rating_total: int, trades_completed: int) -> int:
    """0-100: 70 % the partners' ratings (a Bayesian average of 1-5 stars, mapped to 0-1) and
    30 % experience (completed trades). A newcomer scores 35; a firm with 20 completed trades,
    all rated 5 stars, 87.
    """
    average = (rating_total + PRIOR_RATING * PRIOR_REVIEWS) / (reviews_count + PRIOR_REVIEWS)
    rating_part = (average - 1) / 4
    experience = trades_completed / (trades_completed + EXPERIENCE_HALF_WAY)
    return round(100 * (0.7 * rating_part + 0.3 * experience))


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MembershipRole] = mapped_column(enum_column(MembershipRole, "membership_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")


class OrganisationInvite(Base):
    __tablename__ = "organisation_invites"
    __table_args__ = (
        CheckConstraint("max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_max"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the normalised code: a leaked table does not leak usable codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[MembershipRole] = mapped_column(enum_column(MembershipRole, "membership_role"))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshSession(Base):
    """One refresh token. Tokens of one sign-in form a family; rotation links them.

    Presenting a token that was already rotated means it was copied: the whole family is revoked.
    """

    __tablename__ = "refresh_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the token's jti
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditAction(StrEnum):
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    ACCOUNT_ENABLED = "ACCOUNT_ENABLED"
    ORGANISATION_VERIFIED = "ORGANISATION_VERIFIED"
    ORGANISATION_UNVERIFIED = "ORGANISATION_UNVERIFIED"
    # An account anonymised at its owner's request (by themselves, or by an operator's
    # ``eic delete-person``): the proof that an erasure request was carried out.
    ACCOUNT_DELETED = "ACCOUNT_DELETED"


class AuditRecord(Base):
    """A platform admin's decision about who is trusted: kept, never edited, so that a cluster
    can see who verified an institution or disabled an account, when and why."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_created_at_id", "created_at", "id"),
        Index("ix_audit_records_subject_organisation_id", "subject_organisation_id"),
        Index("ix_audit_records_subject_user_id", "subject_user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction, "audit_action"))
    # Who decided; kept as a name too, so the record still reads when the account is gone.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor_name: Mapped[str] = mapped_column(String(100))
    subject_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    subject_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
