"""Social capital and knowledge of a cluster over the insights' period: joint purchasing,
knowledge-transfer events and the forums, read in the domains that own them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.events import service as events
from backend.forums import service as forums
from backend.forums.service import ForumActivity
from backend.identity.models import OrganisationKind
from backend.insights.cache import cache_for
from backend.insights.policies import SMALLEST_CELL, Audience
from backend.insights.service.views import (
    SOCIAL_TABLES,
    ClusterInsights,
)
from backend.kit.db import Database
from backend.purchasing import service as purchasing


@dataclass(frozen=True, slots=True)
class Savings:
    """Joint purchasing (and selling) in one direction and currency: the group price against
    what one buyer alone would have paid (or one seller got). ``suppressed``: fewer than three
    organisations took part, so the public view shows no amounts (zeros)."""

    direction: str  # BUY or SELL
    currency: str
    groups: int
    organisations: int
    at_group_price: Decimal
    at_single_buyer_price: Decimal
    saved: Decimal
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Attendance:
    """Confirmed registrations at the period's published events, by the kind of organisation
    people registered for (None: for no organisation; then people count as the cells)."""

    kind: OrganisationKind | None
    registrations: int
    seats: int
    organisations: int
    people: int
    events: int
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class SocialCapital:
    savings: list[Savings]
    attendance: list[Attendance]
    events_held: int
    events_by_organiser_kind: dict[OrganisationKind, int]
    forums: ForumActivity | None  # None: fewer than three organisations wrote (public view)


async def social_capital(*, db: Database, insights: ClusterInsights) -> SocialCapital:
    """Joint-purchasing savings, event attendance by kind of organisation and forum activity
    across organisations over the insights' period (six statements, read when asked; kept until
    one of the tables they read is written)."""
    return await cache_for(db).get_or_compute(
        f"social:{insights.cluster.id}:{insights.period.key}:{insights.audience.value}",
        SOCIAL_TABLES,
        lambda: _social_capital(db, insights),
    )


async def _social_capital(db: Database, insights: ClusterInsights) -> SocialCapital:
    cluster_id, period = insights.cluster.id, insights.period
    public = insights.audience is Audience.PUBLIC
    starts_at, ends_at = period.starts_at, period.ends_at
    savings = await purchasing.joint_purchase_savings(
        db=db, cluster_id=cluster_id, starts_at=starts_at, ends_at=ends_at
    )
    attendance = await events.attendance_by_organisation_kind(
        db=db, cluster_id=cluster_id, starts_at=starts_at, ends_at=ends_at
    )
    held = await events.events_held(
        db=db, cluster_id=cluster_id, starts_at=starts_at, ends_at=ends_at
    )
    activity = await forums.forum_activity(
        db=db, cluster_id=cluster_id, starts_at=starts_at, ends_at=ends_at
    )

    def small(count: int) -> bool:
        return public and count < SMALLEST_CELL

    return SocialCapital(
        savings=[
            Savings(
                s.direction.value,
                s.currency,
                s.groups,
                s.organisations,
                s.at_group_price,
                s.at_single_buyer_price,
                s.saved,
            )
            if not small(s.organisations)
            else Savings(
                s.direction.value, s.currency, 0, 0, Decimal(0), Decimal(0), Decimal(0), True
            )
            for s in savings
        ],
        attendance=[
            Attendance(a.kind, a.registrations, a.seats, a.organisations, a.people, a.events)
            if not small(a.people if a.kind is None else a.organisations)
            else Attendance(a.kind, 0, 0, 0, 0, 0, suppressed=True)
            for a in attendance
        ],
        events_held=held.total,
        events_by_organiser_kind=held.by_kind,
        forums=None if small(activity.organisations) else activity,
    )
