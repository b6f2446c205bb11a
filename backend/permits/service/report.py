"""The authority's consolidated report of an umbrella permit for a period, and the short-lived
signed link that opens its printable page in a browser.

The report names a month by its first day: each condition reports for its own period holding
that day (a yearly cap, its year), with the members covered then, their figures against their
allocations, the consolidated totals against the caps, and the late and missing returns. It is
for those who read everything about the permit: its holder, the authority that issued it,
platform admins.

A browser opening the page sends no bearer token, so the app asks for a link: a JWT signed
with the app's secret, of its own ``typ``, valid 15 minutes, naming the person, the sign-in,
the organisation, the permit and the period. The page checks the signature, then the sign-in
and membership as they are now (the app's access check), then the standing again: a link
outlives neither a removed membership nor a withdrawn verification.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, forbidden
from backend.permits.models import Frequency, Permit, PermitCondition, PermitMember
from backend.permits.policies import Standing
from backend.permits.service import periods
from backend.permits.service.compliance import (
    ConditionCompliance,
    ConditionContext,
    compliance_in,
    cover_spans,
    organisation_names,
    permit_context,
)
from backend.permits.service.periods import Period
from backend.settings import Settings

LINK_TYPE = "permit_report"
LINK_TTL = timedelta(minutes=15)
ALGORITHM = "HS256"
LINK_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "typ", "sid", "org", "pmt", "per"]


@dataclass(frozen=True, slots=True)
class CoveredMember:
    organisation_id: uuid.UUID
    organisation_name: str
    spans: list[PermitMember]  # its cover sharing a day with the report's period


@dataclass(frozen=True, slots=True)
class PermitReport:
    permit: Permit
    holder_name: str
    authority_name: str
    period_start: date  # the month asked for
    starts_on: date  # the earliest of the conditions' periods
    ends_on: date  # the latest end of them
    members: list[CoveredMember]
    conditions: list[ConditionCompliance]
    generated_at: datetime

    @property
    def late(self) -> list[tuple[ConditionCompliance, str]]:
        return [(c, m.organisation_name) for c in self.conditions for m in c.members if m.late]

    @property
    def missing(self) -> list[tuple[ConditionCompliance, str]]:
        return [(c, m.organisation_name) for c in self.conditions for m in c.members if m.missing]


def read_report(standing: Standing) -> None:
    """permits:read_all — the report: holder, authority, platform admins (members get
    FORBIDDEN: they read the permit, not the others' figures)."""
    if not standing.reads:
        raise ServiceError.of(ErrorCode.NOT_FOUND, "Permit not found", "permitId")
    if not standing.reads_all:
        raise forbidden(
            "Only the holder, the issuing authority and platform admins read the report"
        )


def _report_month(permit: Permit, period_start: date, timezone: str) -> Period:
    return periods.named_period(permit, Frequency.MONTHLY, period_start, timezone)


async def _check(
    session: AsyncSession, viewer: Viewer | Anonymous, permit_id: uuid.UUID, period_start: date
) -> tuple[Permit, Standing, str, Period]:
    permit, standing, timezone = await permit_context(session, viewer, permit_id, "permitId")
    read_report(standing)
    return permit, standing, timezone, _report_month(permit, period_start, timezone)


async def permit_report(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    permit_id: uuid.UUID,
    period_start: date,
    now: datetime,
) -> PermitReport:
    """The consolidated report (see the module's docstring): a fixed number of statements per
    condition."""
    async with db.read() as session:
        permit, standing, timezone, month = await _check(session, viewer, permit_id, period_start)
        conditions = list(
            (
                await session.scalars(
                    select(PermitCondition)
                    .where(PermitCondition.permit_id == permit.id)
                    .order_by(PermitCondition.created_at, PermitCondition.id)
                )
            ).all()
        )
        compliances = []
        for condition in conditions:
            start = periods.containing(condition.frequency, period_start)
            period = periods.period_of(permit, condition.frequency, start, timezone)
            context = ConditionContext(condition, permit, standing, timezone)
            compliances.append(await compliance_in(session, context, period, now, everyone=True))
        starts_on = min([month.start, *(c.period.start for c in compliances)])
        ends_on = max([month.end, *(c.period.end for c in compliances)])
        whole = periods.Period(starts_on, ends_on, ends_on, month.starts_at, month.ends_at)
        spans = await cover_spans(session, permit.id, whole)
        names = await organisation_names(session, {*spans, permit.holder_id, permit.authority_id})
        members = sorted(
            (CoveredMember(org, names.get(org, ""), found) for org, found in spans.items()),
            key=lambda m: (m.organisation_name.casefold(), str(m.organisation_id)),
        )
        return PermitReport(
            permit=permit,
            holder_name=names.get(permit.holder_id, ""),
            authority_name=names.get(permit.authority_id, ""),
            period_start=month.start,
            starts_on=starts_on,
            ends_on=ends_on,
            members=members,
            conditions=compliances,
            generated_at=now,
        )


# ---------------------------------------------------------------------------------------------
# The signed link


@dataclass(frozen=True, slots=True)
class ReportLink:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkClaims:
    viewer: Viewer
    permit_id: uuid.UUID
    period_start: date


class ReportLinks:
    """Signs and reads report links with the app's JWT secret (HS256, every claim required,
    the ``typ`` checked: an access token is no link, and a link no access token). Times are the
    wall clock's, which PyJWT checks them against."""

    def __init__(self, *, secret: str, issuer: str, audience: str) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def of(cls, settings: Settings) -> ReportLinks:
        return cls(
            secret=settings.jwt_secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )

    def sign(self, viewer: Viewer, permit_id: uuid.UUID, period_start: date) -> ReportLink:
        now = datetime.now(UTC)
        expires_at = now + LINK_TTL
        claims = {
            "sub": str(viewer.user_id),
            "role": viewer.role.value,
            "sid": str(viewer.session_id),
            "org": str(viewer.organisation_id) if viewer.organisation_id else "",
            "pmt": str(permit_id),
            "per": period_start.isoformat(),
            "typ": LINK_TYPE,
            "jti": str(uuid.uuid4()),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return ReportLink(token, expires_at.replace(microsecond=0))

    def read(self, token: str) -> LinkClaims:
        """The link's claims, or FORBIDDEN (expired, forged, another kind of token)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": LINK_CLAIMS},
            )
            if claims["typ"] != LINK_TYPE:
                raise ValueError("not a report link")
            return LinkClaims(
                viewer=Viewer(
                    user_id=uuid.UUID(claims["sub"]),
                    role=Role(claims["role"]),
                    organisation_id=uuid.UUID(claims["org"]) if claims["org"] else None,
                    token_id=str(claims["jti"]),
                    session_id=uuid.UUID(claims["sid"]),
                ),
                permit_id=uuid.UUID(claims["pmt"]),
                period_start=date.fromisoformat(claims["per"]),
            )
        except jwt.ExpiredSignatureError as exc:
            raise forbidden("This report link has expired; ask the app for a new one") from exc
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise forbidden("This report link is not valid") from exc


async def report_link(
    *,
    db: Database,
    viewer: Viewer,
    links: ReportLinks,
    permit_id: uuid.UUID,
    period_start: date,
) -> ReportLink:
    """permits:read_all — a 15-minute link to the printable report, for the viewer only."""
    if viewer.session_id is None:
        raise forbidden("Sign in to open the report")
    async with db.read() as session:
        await _check(session, viewer, permit_id, period_start)
    return links.sign(viewer, permit_id, period_start)
