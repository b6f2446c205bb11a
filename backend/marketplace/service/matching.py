"""Match-making: the counterpart listings of a listing, ranked by a score whose parts are shown.

Candidates are ACTIVE, unexpired, visible listings of *other* organisations whose material is
related to the listing's:

- SAME material, on the other side (a WANT for an OFFER and the other way round);
- the other side's material is BELOW or ABOVE it in the catalogue (a WANT of "sawdust, shavings,
  cuttings" and an OFFER of sawdust);
- a known conversion (``material_conversions``): an OFFER of an input and an OFFER of what is
  made from it (the firm with shavings and the pellet maker), both ways; and a WANT of an input
  and an OFFER of another input of the same product (a pellet maker wanting shavings is shown
  sawdust).

The score is 0-100, the weighted sum of six parts, each 0-1 (``WEIGHTS``): material, quantity
fit, distance, availability (windows and recurrence), price (a free or negative price is best
for the taker) and the counterpart's trust score. At most ``MAX_CANDIDATES`` candidates are
scored (the newest within ``MATCH_RADIUS_KM``), so a request costs the same however big the
market grows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue
from backend.catalogue.models import Material, MaterialConversion
from backend.identity import service as identity_service
from backend.kit.clock import local_day
from backend.kit.db import Database
from backend.kit.errors import not_found
from backend.kit.geo import great_circle_km, within_radius
from backend.kit.pagination import Page, PageRequest, SortKey, decode_cursor, encode_cursor
from backend.kit.pagination import Sort as CursorSort
from backend.licences import service as licences
from backend.marketplace import policies
from backend.marketplace.models import Listing, ListingKind, ListingStatus, Recurrence
from backend.marketplace.service.common import attach_loads, effective_status, listing_loads
from backend.notifications import service as notifications
from backend.notifications.service import texts

# Scored per request: the newest candidates within MATCH_RADIUS_KM. 500 cost p99 0.7 s on SQLite
# with 20,000 listings (scripts/bench_trades.py); a counterpart further than a day's drive is
# rarely a trade for a small firm.
MAX_CANDIDATES = 200
MATCH_RADIUS_KM = 300.0
# Publishing a listing tells the organisations whose listings match it at least this well.
NOTIFY_THRESHOLD = 60.0
MAX_NOTIFIED = 20
DISTANCE_HALF_SCORE_KM = 25.0

WEIGHTS: dict[str, float] = {
    "material": 0.30,
    "quantity": 0.15,
    "distance": 0.20,
    "availability": 0.10,
    "price": 0.10,
    "trust": 0.15,
}


class Relation(StrEnum):
    SAME = "SAME"
    NARROWER = "NARROWER"  # the counterpart's material is below the listing's
    BROADER = "BROADER"  # above it
    CONVERSION = "CONVERSION"  # one is made from the other
    SUBSTITUTE = "SUBSTITUTE"  # both are inputs of one product


MATERIAL_SCORES = {
    Relation.SAME: 1.0,
    Relation.NARROWER: 0.8,
    Relation.BROADER: 0.6,
    Relation.CONVERSION: 0.7,
    Relation.SUBSTITUTE: 0.5,
}


@dataclass(frozen=True, slots=True)
class ScorePart:
    name: str
    value: float  # 0-1
    weight: float
    reason: str


@dataclass(frozen=True, slots=True)
class Match:
    listing: Listing
    score: float
    distance_km: float
    relation: Relation
    parts: list[ScorePart]
    # Whether the organisation that would receive the waste holds a licence for it today;
    # None when the waste is not hazardous (or not asked: only a page of matches is).
    receiver_licensed: bool | None = None

    @property
    def reasons(self) -> list[str]:
        return [part.reason for part in self.parts if part.reason]


# ---------------------------------------------------------------------------------------------
# Candidates


@dataclass(frozen=True, slots=True)
class _Wanted:
    """Which listings may match: materials by relation, for each kind."""

    by_kind: dict[ListingKind, dict[str, tuple[Relation, str]]]


def _other(kind: ListingKind) -> ListingKind:
    return ListingKind.WANT if kind is ListingKind.OFFER else ListingKind.OFFER


async def _related(session: AsyncSession, listing: Listing) -> _Wanted:
    material = await session.get(Material, listing.material_code)
    assert material is not None
    other = _other(listing.kind)
    wanted: dict[ListingKind, dict[str, tuple[Relation, str]]] = {other: {}, listing.kind: {}}
    same_side = wanted[other]
    same_side[material.code] = (Relation.SAME, f"Same material: {material.name}")
    ancestors = material.path.split("/")[:-1]
    # EWC chapters ("wastes from agriculture ...") are too broad to call a match
    for code in ancestors[1:]:
        same_side.setdefault(code, (Relation.BROADER, "A broader material that includes it"))
    below = await session.scalars(
        select(Material.code)
        .where(catalogue.subtree(material, include_material=False))
        .order_by(Material.path)
        .limit(200)
    )
    for code in below.all():
        same_side.setdefault(code, (Relation.NARROWER, "A kind of the material listed"))

    conversions = (
        await session.execute(
            select(MaterialConversion, Material.name)
            .join(Material, Material.code == MaterialConversion.output_code)
            .where(
                or_(
                    MaterialConversion.input_code == material.code,
                    MaterialConversion.output_code == material.code,
                )
            )
            .order_by(Material.name, MaterialConversion.input_code)
        )
    ).all()
    outputs = {c.output_code: (c, name) for c, name in conversions if c.input_code == material.code}
    inputs = [c for c, _ in conversions if c.output_code == material.code]
    if listing.kind is ListingKind.OFFER:
        # who makes something from it, and who has what it is made from
        for code, (conversion, name) in outputs.items():
            wanted[ListingKind.OFFER].setdefault(
                code,
                (Relation.CONVERSION, f"Makes {name} from {material.name} ({conversion.process})"),
            )
        for conversion in inputs:
            wanted[ListingKind.OFFER].setdefault(
                conversion.input_code,
                (
                    Relation.CONVERSION,
                    f"Has an input of your {material.name} ({conversion.process})",
                ),
            )
    elif outputs:
        # other inputs of the same products stand in for the wanted one
        substitutes = (
            await session.execute(
                select(MaterialConversion.input_code, Material.name)
                .join(Material, Material.code == MaterialConversion.output_code)
                .where(
                    MaterialConversion.output_code.in_(list(outputs)),
                    MaterialConversion.input_code != material.code,
                )
                # the first product named wins the reason: the same one every time
                .order_by(Material.name, MaterialConversion.input_code)
            )
        ).all()
        for code, product in substitutes:
            same_side.setdefault(code, (Relation.SUBSTITUTE, f"Also makes {product}"))
    return _Wanted({kind: codes for kind, codes in wanted.items() if codes})


async def _candidates(
    session: AsyncSession, listing: Listing, wanted: _Wanted, now: datetime
) -> list[Listing]:
    if not wanted.by_kind:
        return []
    sides = [
        and_(Listing.kind == kind, Listing.material_code.in_(list(codes)))
        for kind, codes in wanted.by_kind.items()
    ]
    statement = (
        select(Listing)
        .options(*listing_loads())
        .where(
            Listing.status == ListingStatus.ACTIVE,
            or_(Listing.expires_at.is_(None), Listing.expires_at > now),
            Listing.hidden_at.is_(None),
            Listing.organisation_id != listing.organisation_id,
            Listing.id != listing.id,
            or_(*sides),
            within_radius(
                Listing.public_lat,
                Listing.public_lon,
                listing.public_lat,
                listing.public_lon,
                MATCH_RADIUS_KM,
            ),
        )
        .order_by(Listing.published_at.desc(), Listing.id)
        .limit(MAX_CANDIDATES)
    )
    return list((await session.scalars(statement)).all())


# ---------------------------------------------------------------------------------------------
# Scoring


def _quantity_part(listing: Listing, other: Listing, relation: Relation) -> ScorePart:
    if relation in (Relation.CONVERSION, Relation.SUBSTITUTE):
        return ScorePart("quantity", 0.5, WEIGHTS["quantity"], "")
    if listing.unit.dimension is not other.unit.dimension:
        return ScorePart("quantity", 0.3, WEIGHTS["quantity"], "Quantities in other units")
    mine = listing.quantity_base - listing.quantity_committed * listing.unit.factor
    theirs = other.quantity_base - other.quantity_committed * other.unit.factor
    if mine <= 0 or theirs <= 0:
        return ScorePart("quantity", 0.0, WEIGHTS["quantity"], "")
    fit = float(min(mine, theirs) / max(mine, theirs))
    reason = "Quantities fit" if fit >= 0.8 else f"Covers {round(100 * fit)} % of the larger"
    return ScorePart("quantity", fit, WEIGHTS["quantity"], reason)


def _distance_part(distance_km: float) -> ScorePart:
    value = 1 / (1 + distance_km / DISTANCE_HALF_SCORE_KM)
    return ScorePart("distance", value, WEIGHTS["distance"], f"{distance_km:.1f} km away")


def _windows_overlap(a: Listing, b: Listing) -> bool:
    start = max((t for t in (a.available_from, b.available_from) if t), default=None)
    end = min((t for t in (a.available_until, b.available_until) if t), default=None)
    return start is None or end is None or start <= end


def _availability_part(a: Listing, b: Listing) -> ScorePart:
    weight = WEIGHTS["availability"]
    if not _windows_overlap(a, b):
        return ScorePart("availability", 0.0, weight, "Available at different times")
    if a.recurrence is Recurrence.SEASONAL and b.recurrence is Recurrence.SEASONAL:
        union = set(a.season_months) | set(b.season_months)
        common = set(a.season_months) & set(b.season_months)
        value = len(common) / len(union) if union else 0.0
        reason = "Same season" if value >= 0.5 else "Seasons barely overlap"
        return ScorePart("availability", value, weight, reason if common else "Other seasons")
    if a.recurrence is b.recurrence:
        return ScorePart(
            "availability", 1.0, weight, f"Both {a.recurrence.value.lower().replace('_', '-')}"
        )
    return ScorePart("availability", 0.7, weight, "Available at the same time")


def _price_part(listing: Listing, other: Listing) -> ScorePart:
    weight = WEIGHTS["price"]
    offered = listing if listing.kind is ListingKind.OFFER else other
    asked = other if offered is listing else listing
    price = offered.price_per_unit
    if price is not None and price <= 0:
        reason = "Free to take" if price == 0 else "The holder pays the taker"
        return ScorePart("price", 1.0, weight, reason)
    if asked.kind is ListingKind.OFFER or price is None or asked.price_per_unit is None:
        return ScorePart("price", 0.5, weight, "")
    if offered.currency != asked.currency or offered.unit_code != asked.unit_code:
        return ScorePart("price", 0.5, weight, "")
    budget = asked.price_per_unit
    if price <= budget:
        return ScorePart("price", 1.0, weight, "Within the buyer's price")
    value = float(budget / price) if budget > 0 else 0.0
    return ScorePart("price", value, weight, "Above the buyer's price")


def _trust_part(other: Listing) -> ScorePart:
    score = other.organisation.trust_score
    return ScorePart("trust", score / 100, WEIGHTS["trust"], f"Trust score {score}")


def _score(listing: Listing, other: Listing, relation: Relation, reason: str) -> Match:
    distance = great_circle_km(
        listing.public_lat, listing.public_lon, other.public_lat, other.public_lon
    )
    parts = [
        ScorePart("material", MATERIAL_SCORES[relation], WEIGHTS["material"], reason),
        _quantity_part(listing, other, relation),
        _distance_part(distance),
        _availability_part(listing, other),
        _price_part(listing, other),
        _trust_part(other),
    ]
    score = round(100 * sum(p.value * p.weight for p in parts), 1)
    return Match(other, score, round(distance, 3), relation, parts)


async def _matches(session: AsyncSession, listing: Listing, now: datetime) -> list[Match]:
    wanted = await _related(session, listing)
    matches = []
    for other in await _candidates(session, listing, wanted, now):
        relation, reason = wanted.by_kind[other.kind][other.material_code]
        matches.append(_score(listing, other, relation, reason))
    matches.sort(key=lambda m: (-m.score, str(m.listing.id)))
    return matches


async def matches_of(session: AsyncSession, listing: Listing, now: datetime) -> list[Match]:
    """The matches of ``listing`` (loaded with :func:`listing_loads`), best first, in the
    caller's session: cluster insights ask it for the best takers of unmatched offers."""
    return await _matches(session, listing, now)


# ---------------------------------------------------------------------------------------------
# Reading and telling

BY_SCORE = CursorSort(
    "matches:score",
    (
        SortKey(Listing.id, value_of=lambda m: m.score, python_type=float),
        SortKey(Listing.id, value_of=lambda m: str(m.listing.id), python_type=str),
    ),
)


async def listing_matches(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer | Anonymous,
    listing_id: uuid.UUID,
    page: PageRequest,
) -> Page[Match]:
    """Everybody who may read the listing sees its matches (they are public listings)."""
    async with db.read() as session:
        listing = await session.scalar(
            select(Listing).options(*listing_loads()).where(Listing.id == listing_id)
        )
        if listing is None or not policies.may_read(viewer, listing):
            raise not_found("Listing", "listingId")
        matches = await _matches(session, listing, now)
        start = 0
        if page.after is not None:
            score, last_id = decode_cursor(BY_SCORE, page.after)
            start = next(
                (
                    i
                    for i, m in enumerate(matches)
                    if (-m.score, str(m.listing.id)) > (-score, last_id)
                ),
                len(matches),
            )
        chosen = await _with_licences(session, listing, matches[start : start + page.first], now)
    return Page(
        items=chosen,
        cursors=[encode_cursor(BY_SCORE, [m.score, str(m.listing.id)]) for m in chosen],
        has_next_page=start + page.first < len(matches),
        has_previous_page=page.after is not None,
        total_count=len(matches),
    )


def _receiver_and_waste(listing: Listing, match: Match) -> tuple[uuid.UUID, Material]:
    """Who would receive which waste in a trade between the two listings: on an OFFER
    listing the candidate takes its material; on a WANT listing its organisation takes the
    candidate's (an OFFER)."""
    if listing.kind is ListingKind.OFFER:
        return match.listing.organisation_id, listing.material
    return listing.organisation_id, match.listing.material


async def _with_licences(
    session: AsyncSession, listing: Listing, page: list[Match], now: datetime
) -> list[Match]:
    """The page's matches with ``receiver_licensed``: one statement for the whole page, none
    when no waste on it is hazardous."""
    day = local_day(now, listing.organisation.cluster.timezone)
    pairs = [_receiver_and_waste(listing, match) for match in page]
    held = await licences.licensed_pairs(session, pairs, day)
    return [
        replace(
            match,
            receiver_licensed=((receiver_id, waste.code) in held if waste.hazardous else None),
        )
        for match, (receiver_id, waste) in zip(page, pairs, strict=True)
    ]


async def tell_matches(session: AsyncSession, listing: Listing, now: datetime) -> int:
    """On first publication: notify the organisations whose listings match the new one at
    least ``NOTIFY_THRESHOLD`` (their best-matching listing, at most ``MAX_NOTIFIED``
    organisations). Runs in the publishing transaction; returns how many were told."""
    if effective_status(listing, now) is not ListingStatus.ACTIVE or listing.hidden_at:
        return 0
    await attach_loads(session, listing)
    best: dict[uuid.UUID, Match] = {}
    for match in await _matches(session, listing, now):
        if match.score < NOTIFY_THRESHOLD:
            break
        best.setdefault(match.listing.organisation_id, match)
        if len(best) >= MAX_NOTIFIED:
            break
    for organisation_id, match in best.items():
        await notifications.add(
            session,
            user_ids=await identity_service.member_ids(session, organisation_id),
            text=texts.LISTING_MATCH(
                your_listing=match.listing.title,
                listing=listing.title,
                material=texts.MaterialRef(listing.material_code),
                score=f"{match.score:.0f}",
                distance=f"{match.distance_km:.0f}",
            ),
            subject_type="LISTING",
            subject_id=listing.id,
            details={"yourListingId": str(match.listing.id), "score": f"{match.score:.1f}"},
            now=now,
        )
    return len(best)
