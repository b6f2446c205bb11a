"""Offers: one organisation proposes terms on another's listing; the two negotiate until one
accepts (a trade starts), the answering side declines, or the maker withdraws.

``marketplace:offer_*`` rules:

- Anybody acting for a firm or community makes an offer on a published, active listing of
  another organisation (never on their own).
- The side whose turn it is (the listing's organisation for a PENDING offer, the maker for a
  COUNTERED one) accepts, declines or counters.
- The maker withdraws while the offer is open.
- Only the two organisations read an offer; everybody else gets NOT_FOUND.

Acceptance commits the quantity on the listing (``common.move_committed``): the listing row is
locked, then the offer, in that order everywhere, so many acceptances at once can never take
more than the listing has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from backend.auth.viewer import Viewer
from backend.catalogue.models import Material
from backend.identity import service as identity_service
from backend.identity.models import Organisation
from backend.kit.db import Database, attach, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.geo import great_circle_km
from backend.kit.money import check_amount, plain
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text, check_utc
from backend.licences import service as licences
from backend.marketplace import policies
from backend.marketplace.models import (
    OPEN_OFFER,
    Listing,
    ListingKind,
    ListingStatus,
    Offer,
    OfferStatus,
    OfferTerms,
    Trade,
)
from backend.marketplace.service import trades
from backend.marketplace.service.common import (
    attach_loads,
    effective_status,
    move_committed,
    remaining,
)
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

DEFAULT_OFFER_LIFETIME = timedelta(days=7)
MAX_OFFER_LIFETIME = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Terms:
    quantity: Decimal
    price_per_unit: Decimal
    message: str = ""
    expires_at: datetime | None = None


def offer_status(offer: Offer, now: datetime) -> OfferStatus:
    """An open offer past its expiry reads as EXPIRED at once; no job has to run first."""
    if offer.status in OPEN_OFFER and offer.expires_at <= now:
        return OfferStatus.EXPIRED
    return offer.status


def _check_terms(problems: Problems, terms: Terms, now: datetime) -> datetime:
    check_amount(problems, "quantity", terms.quantity, positive=True)
    check_amount(problems, "pricePerUnit", terms.price_per_unit, positive=False)
    check_text(problems, "message", terms.message, min_length=0, max_length=2000, multiline=True)
    expires_at = terms.expires_at
    if expires_at is None:
        return now + DEFAULT_OFFER_LIFETIME
    expires_at = check_utc(problems, "expiresAt", expires_at)
    if expires_at is None:
        return now
    if expires_at <= now:
        problems.add("expiresAt", "Must be in the future")
    elif expires_at > now + MAX_OFFER_LIFETIME:
        problems.add("expiresAt", "Must be within 90 days")
    return expires_at


def _whose_turn(offer: Offer) -> uuid.UUID:
    return offer.owner_id if offer.status is OfferStatus.PENDING else offer.maker_id


def _party(viewer: Viewer, offer: Offer) -> uuid.UUID | None:
    if viewer.organisation_id in (offer.maker_id, offer.owner_id):
        return viewer.organisation_id
    return None


def _does_not_fit(listing: Listing, asked: Decimal) -> ServiceError:
    return ServiceError.of(
        ErrorCode.CAPACITY_REACHED,
        f"Only {plain(remaining(listing))} {listing.unit_code} of the listing are left; "
        f"{plain(asked)} does not fit",
        "quantity",
    )


def _check_listing_open(listing: Listing, now: datetime) -> None:
    status = effective_status(listing, now)
    if status is ListingStatus.RESERVED and listing.hidden_at is None:
        # sold out: the same answer as an offer that does not fit, which apps already handle
        raise ServiceError.of(
            ErrorCode.CAPACITY_REACHED,
            f"Nothing is left of the listing: all {plain(listing.quantity)} {listing.unit_code} "
            "are taken by trades",
            "quantity",
        )
    if status is not ListingStatus.ACTIVE or listing.hidden_at is not None:
        shown = status.value if listing.hidden_at is None else "hidden"
        raise ServiceError.of(
            ErrorCode.CONFLICT, f"The listing is {shown}: it takes no offers now", "listingId"
        )


def _check_terms_still_listed(offer: Offer, listing: Listing) -> None:
    """An offer is on the listing's unit and currency as they were; after a change (listing
    edits decline open offers, this is the guard behind that) it cannot be answered."""
    if (offer.unit_code, offer.currency) != (listing.unit_code, listing.currency):
        raise ServiceError.of(
            ErrorCode.CONFLICT,
            "The listing's unit or currency changed since this offer was made; make a new offer",
            "id",
        )


async def decline_open_offers(
    session: AsyncSession, listing: Listing, cause: texts.Template, now: datetime
) -> int:
    """Decline every open offer on a listing (closed, hidden, or its terms changed) and tell
    the makers, in the caller's transaction; the caller holds the listing's lock. ``cause``
    is one of the texts.OFFER_DECLINED_LISTING_* templates: its English body is the offers'
    decline reason."""
    reason = cause.body
    declined = (
        await session.execute(
            update(Offer)
            # expired ones stay as they are: their makers were not waiting any more
            .where(
                Offer.listing_id == listing.id,
                Offer.status.in_(OPEN_OFFER),
                Offer.expires_at > now,
            )
            .values(
                status=OfferStatus.DECLINED,
                decline_reason=reason,
                decided_at=now,
                updated_at=now,
                version=Offer.version + 1,
            )
            .returning(Offer.id, Offer.maker_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for offer_id, maker_id in declined:
        sync_log.note(
            session,
            ChangeType.OFFER,
            offer_id,
            [sync_log.organisation(maker_id), sync_log.organisation(listing.organisation_id)],
        )
        await notifications.add(
            session,
            user_ids=await identity_service.member_ids(session, maker_id),
            text=cause(listing=listing.title),
            subject_type="OFFER",
            subject_id=offer_id,
            details={"listingId": str(listing.id)},
            now=now,
        )
    return len(declined)


def offer_loads() -> tuple[ExecutableOption, ...]:
    return (
        # the listing's own relations, as listing_loads() spells them
        selectinload(Offer.listing)
        .selectinload(Listing.organisation)
        .joinedload(Organisation.cluster),
        selectinload(Offer.listing).selectinload(Listing.material),
        selectinload(Offer.listing).selectinload(Listing.unit),
        selectinload(Offer.maker).joinedload(Organisation.cluster),
        selectinload(Offer.owner).joinedload(Organisation.cluster),
        selectinload(Offer.terms),
        selectinload(Offer.unit),
    )


async def _tell(
    session: AsyncSession,
    offer: Offer,
    organisation_id: uuid.UUID,
    text: texts.Text,
    now: datetime,
) -> None:
    await notifications.add(
        session,
        user_ids=await identity_service.member_ids(session, organisation_id),
        text=text,
        subject_type="OFFER",
        subject_id=offer.id,
        details={"listingId": str(offer.listing_id)},
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Making and answering


async def create_offer(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    listing_id: uuid.UUID,
    terms: Terms,
    offer_id: uuid.UUID | None = None,
) -> Offer:
    """See ``_create``; a concurrent twin with the same id is answered as a retry."""
    return await once_more_on_clash(
        lambda: _create(
            db=db, viewer=viewer, listing_id=listing_id, terms=terms, offer_id=offer_id, now=now
        )
    )


async def _create(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    listing_id: uuid.UUID,
    terms: Terms,
    offer_id: uuid.UUID | None,
) -> Offer:
    """A PENDING offer on someone else's active listing, for at most what is left of it. One
    open offer per organisation and listing: a second is a CONFLICT (counter or withdraw)."""
    maker_id = viewer.organisation_id
    if maker_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to make offers")
    problems = Problems()
    expires_at = _check_terms(problems, terms, now)
    problems.raise_if_any()
    async with db.write() as session:
        # Locked: one open offer per maker and listing, checked and made as one step.
        listing = await session.get(
            Listing, listing_id, with_for_update=True, populate_existing=True
        )
        # After the lock: a twin that waited for it finds the offer its sibling made.
        if offer_id is not None:
            existing = await session.get(Offer, offer_id, populate_existing=True)
            if existing is not None:
                if existing.maker_id != maker_id or existing.listing_id != listing_id:
                    raise ServiceError.of(
                        ErrorCode.CONFLICT, "This id belongs to another offer", "id"
                    )
                assert listing is not None  # the offer's listing, locked
                return await _attach_loads(session, existing, listing)
        if listing is None or not policies.may_read(viewer, listing):
            raise not_found("Listing", "listingId")
        if listing.organisation_id == maker_id:
            raise ServiceError.of(
                ErrorCode.FORBIDDEN, "You cannot make an offer on your own listing", "listingId"
            )
        _check_listing_open(listing, now)
        if terms.quantity > remaining(listing):
            raise _does_not_fit(listing, terms.quantity)
        # Hazardous waste is offered only to licensed hands: the maker receives it on an OFFER
        # listing, the listing's organisation on a WANT listing.
        offered_to_maker = listing.kind is ListingKind.OFFER
        # kept: the answer below takes the listing's material from the session
        _material = await licences.require_licence(
            session,
            receiver_id=maker_id if offered_to_maker else listing.organisation_id,
            receiver="your organisation" if offered_to_maker else "the listing's organisation",
            material_code=listing.material_code,
            cluster_id=listing.cluster_id,
            now=now,
            field="listingId",
        )
        open_one = await session.scalar(
            select(Offer.id).where(
                Offer.listing_id == listing.id,
                Offer.maker_id == maker_id,
                Offer.status.in_(OPEN_OFFER),
                Offer.expires_at > now,
            )
        )
        if open_one is not None:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                "You have an open offer on this listing: counter or withdraw it",
                "listingId",
            )
        offer = Offer(
            listing_id=listing.id,
            maker_id=maker_id,
            owner_id=listing.organisation_id,
            created_by_id=viewer.user_id,
            status=OfferStatus.PENDING,
            quantity=terms.quantity,
            unit_code=listing.unit_code,
            price_per_unit=terms.price_per_unit,
            currency=listing.currency,
            message=terms.message.strip(),
            expires_at=expires_at,
            rounds=1,
            created_at=now,
            updated_at=now,
            version=1,
        )
        if offer_id is not None:
            offer.id = offer_id
        session.add(offer)
        await session.flush()
        first_terms = _terms(offer, maker_id, viewer, now)
        session.add(first_terms)
        await _tell(
            session,
            offer,
            listing.organisation_id,
            texts.OFFER_RECEIVED(
                listing=listing.title,
                quantity=terms.quantity,
                unit=listing.unit_code,
                material=texts.MaterialRef(listing.material_code),
                price=terms.price_per_unit,
                currency=listing.currency,
            ),
            now,
        )
        # The answer from the rows this unit of work holds, as in accept_offer: not read back.
        await _attach_loads(session, offer, listing, [first_terms])
        await session.flush()
        return offer


async def _attach_loads(
    session: AsyncSession, offer: Offer, listing: Listing, terms: list[OfferTerms] | None = None
) -> Offer:
    """The offer and its listing, rows of the caller's unit of work, with what ``offer_loads``
    gives them, from the session or one statement each: both parties with the clusters their
    cards show (one statement), the listing's material and unit, and the offer's proposals
    (``terms`` when the caller holds them all)."""
    await attach(session, [(offer, "owner"), (offer, "maker")], joinedload(Organisation.cluster))
    await attach(session, [(offer.owner, "cluster"), (offer.maker, "cluster")])
    set_committed_value(offer, "listing", listing)
    await attach_loads(session, listing)
    await attach(session, [(offer, "unit")])
    if terms is None:
        terms = list(
            await session.scalars(
                select(OfferTerms).where(OfferTerms.offer_id == offer.id).order_by(OfferTerms.round)
            )
        )
    set_committed_value(offer, "terms", terms)
    return offer


def _terms(offer: Offer, by: uuid.UUID, viewer: Viewer, now: datetime) -> OfferTerms:
    return OfferTerms(
        offer_id=offer.id,
        round=offer.rounds,
        proposed_by_id=by,
        proposed_by_user_id=viewer.user_id,
        quantity=offer.quantity,
        price_per_unit=offer.price_per_unit,
        message=offer.message,
        expires_at=offer.expires_at,
        created_at=now,
    )


async def _answerable(
    session: AsyncSession, viewer: Viewer, offer_id: uuid.UUID
) -> tuple[Offer, Listing]:
    """The offer and its listing, both locked (listing first), if it is the viewer's turn."""
    first = await session.get(Offer, offer_id)
    if first is None or _party(viewer, first) is None:
        raise not_found("Offer")
    listing = await session.get(
        Listing, first.listing_id, with_for_update=True, populate_existing=True
    )
    offer = await session.get(Offer, offer_id, with_for_update=True, populate_existing=True)
    assert listing is not None
    assert offer is not None
    return offer, listing


def _check_turn(viewer: Viewer, offer: Offer, now: datetime) -> None:
    status = offer_status(offer, now)
    if status is OfferStatus.EXPIRED:
        raise ServiceError.of(ErrorCode.DEADLINE_PASSED, "The offer has expired", "id")
    if status not in OPEN_OFFER:
        raise ServiceError.of(ErrorCode.CONFLICT, f"The offer is {status.value}", "id")
    if _whose_turn(offer) != viewer.organisation_id:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "It is the other party's turn to answer")


async def counter_offer(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    offer_id: uuid.UUID,
    terms: Terms,
    expected_version: int | None = None,
) -> Offer:
    """New terms from the side whose turn it is; then it is the other side's turn."""
    problems = Problems()
    expires_at = _check_terms(problems, terms, now)
    problems.raise_if_any()
    async with db.write() as session:
        offer, listing = await _answerable(session, viewer, offer_id)
        if offer.rounds > 1 and offer_status(offer, now) in OPEN_OFFER:
            latest = await session.scalar(
                select(OfferTerms).where(
                    OfferTerms.offer_id == offer.id, OfferTerms.round == offer.rounds
                )
            )
            if (
                latest is not None
                and latest.proposed_by_id == viewer.organisation_id
                and (latest.quantity, latest.price_per_unit, latest.message)
                == (terms.quantity, terms.price_per_unit, terms.message.strip())
            ):
                return await _attach_loads(session, offer, listing)  # a retry of this very counter
        if expected_version is not None and expected_version != offer.version:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"The offer was changed meanwhile (now version {offer.version}); reload it",
                "expectedVersion",
            )
        _check_turn(viewer, offer, now)
        _check_listing_open(listing, now)
        _check_terms_still_listed(offer, listing)
        if terms.quantity > remaining(listing):
            raise _does_not_fit(listing, terms.quantity)
        assert viewer.organisation_id is not None
        offer.quantity = terms.quantity
        offer.price_per_unit = terms.price_per_unit
        offer.message = terms.message.strip()
        offer.expires_at = expires_at
        offer.rounds += 1
        offer.status = (
            OfferStatus.COUNTERED if offer.status is OfferStatus.PENDING else OfferStatus.PENDING
        )
        offer.version += 1
        offer.updated_at = now
        session.add(_terms(offer, viewer.organisation_id, viewer, now))
        await _tell(
            session,
            offer,
            _whose_turn(offer),
            texts.OFFER_COUNTERED(
                listing=listing.title,
                quantity=terms.quantity,
                unit=listing.unit_code,
                material=texts.MaterialRef(listing.material_code),
                price=terms.price_per_unit,
                currency=listing.currency,
            ),
            now,
        )
        await session.flush()
        return await _attach_loads(session, offer, listing)


@dataclass(frozen=True, slots=True)
class Acceptance:
    offer: Offer
    trade: trades.TradeView


async def accept_offer(
    *, now: datetime, db: Database, viewer: Viewer, offer_id: uuid.UUID
) -> Acceptance:
    """The side whose turn it is accepts: the quantity is committed on the listing and an
    AGREED trade starts. Accepting an accepted offer again returns its trade (a retry)."""
    async with db.write() as session:
        offer, listing = await _answerable(session, viewer, offer_id)
        if offer.status is OfferStatus.ACCEPTED:
            return await _acceptance(session, offer, listing)
        _check_turn(viewer, offer, now)
        _check_listing_open(listing, now)
        _check_terms_still_listed(offer, listing)
        # kept: the answer below takes the listing's material from the session
        _material = await _check_receiver_licensed(session, viewer, offer, listing, now)
        if not await move_committed(session, listing, offer.quantity, now):
            raise _does_not_fit(listing, offer.quantity)
        offer.status = OfferStatus.ACCEPTED
        offer.decided_at = now
        offer.decided_by_id = viewer.user_id
        offer.version += 1
        offer.updated_at = now
        # The answer is built from the rows this unit of work holds (locked or just written)
        # rather than read back: only the offer's earlier proposals are not in the session.
        await _attach_loads(session, offer, listing)
        owner, maker = offer.owner, offer.maker
        # The listing's side is at the listing's point, the maker at its organisation's.
        supplier, receiver = (owner, maker) if listing.kind is ListingKind.OFFER else (maker, owner)
        distance = great_circle_km(listing.lat, listing.lon, maker.lat, maker.lon)
        trade = await trades.start_trade(
            session,
            viewer=viewer,
            listing=listing,
            offer_id=offer.id,
            supplier=supplier,
            receiver=receiver,
            quantity=offer.quantity,
            unit_code=offer.unit_code,
            price_per_unit=offer.price_per_unit,
            currency=offer.currency,
            distance_km=round(distance, 3),
            now=now,
        )
        told = offer.maker_id if viewer.organisation_id == offer.owner_id else offer.owner_id
        await _tell(
            session,
            offer,
            told,
            texts.OFFER_ACCEPTED(listing=listing.title),
            now,
        )
        await session.flush()
        return Acceptance(offer, trade)


async def _check_receiver_licensed(
    session: AsyncSession, viewer: Viewer, offer: Offer, listing: Listing, now: datetime
) -> Material | None:
    """Hazardous waste is traded only with licensed hands, on the day of the trade: the
    receiver is the maker on an OFFER listing, the listing's organisation on a WANT one."""
    receiver_id = offer.maker_id if listing.kind is ListingKind.OFFER else offer.owner_id
    if receiver_id == viewer.organisation_id:
        receiver = "your organisation"
    elif receiver_id == offer.maker_id:
        receiver = "the offer's maker"
    else:
        receiver = "the listing's organisation"
    return await licences.require_licence(
        session,
        receiver_id=receiver_id,
        receiver=receiver,
        material_code=listing.material_code,
        cluster_id=listing.cluster_id,
        now=now,
        field="id",
    )


async def _acceptance(session: AsyncSession, offer: Offer, listing: Listing) -> Acceptance:
    """A retry: the offer (locked) and its trade as they are now (the trade may have moved
    on)."""
    trade = await session.scalar(select(Trade).where(Trade.offer_id == offer.id))
    assert trade is not None
    view = await trades.view(session, trade)
    return Acceptance(await _attach_loads(session, offer, listing), view)


async def decline_offer(
    *, now: datetime, db: Database, viewer: Viewer, offer_id: uuid.UUID, reason: str = ""
) -> Offer:
    """The side whose turn it is declines. Declining a declined offer again changes nothing."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=500, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        offer, listing = await _answerable(session, viewer, offer_id)
        if offer.status is OfferStatus.DECLINED and offer.decided_by_id == viewer.user_id:
            return await _attach_loads(session, offer, listing)
        _check_turn(viewer, offer, now)
        offer.status = OfferStatus.DECLINED
        offer.decline_reason = reason.strip()
        offer.decided_at = now
        offer.decided_by_id = viewer.user_id
        offer.version += 1
        offer.updated_at = now
        told = offer.maker_id if viewer.organisation_id == offer.owner_id else offer.owner_id
        await _tell(session, offer, told, texts.OFFER_DECLINED(reason=reason.strip()), now)
        await session.flush()
        return await _attach_loads(session, offer, listing)


async def withdraw_offer(
    *, now: datetime, db: Database, viewer: Viewer, offer_id: uuid.UUID
) -> Offer:
    """The maker takes an open offer back. Withdrawing again changes nothing."""
    async with db.write() as session:
        offer, listing = await _answerable(session, viewer, offer_id)
        if viewer.organisation_id != offer.maker_id:
            raise ServiceError.of(ErrorCode.FORBIDDEN, "Only the maker withdraws an offer")
        if offer.status is OfferStatus.WITHDRAWN:
            return await _attach_loads(session, offer, listing)
        status = offer_status(offer, now)
        if status not in OPEN_OFFER:
            raise ServiceError.of(ErrorCode.CONFLICT, f"The offer is {status.value}", "id")
        offer.status = OfferStatus.WITHDRAWN
        offer.decided_at = now
        offer.decided_by_id = viewer.user_id
        offer.version += 1
        offer.updated_at = now
        await _tell(session, offer, offer.owner_id, texts.OFFER_WITHDRAWN(), now)
        await session.flush()
        return await _attach_loads(session, offer, listing)


# ---------------------------------------------------------------------------------------------
# Reading


class OfferRole(StrEnum):
    MADE = "MADE"  # by the viewer's organisation
    RECEIVED = "RECEIVED"  # on the viewer's organisation's listings


@dataclass(frozen=True, slots=True)
class OfferFilter:
    role: OfferRole | None = None
    status: OfferStatus | None = None
    listing_id: uuid.UUID | None = None
    awaiting_me: bool = False


RECENT_OFFERS = Sort(
    "offers:recent",
    (SortKey(Offer.updated_at, descending=True), SortKey(Offer.id, descending=True)),
)


async def get_offer(*, db: Database, viewer: Viewer, offer_id: uuid.UUID) -> Offer | None:
    async with db.read() as session:
        offer = await session.scalar(
            select(Offer).options(*offer_loads()).where(Offer.id == offer_id)
        )
    if offer is None or _party(viewer, offer) is None:
        return None
    return offer


async def offers_for_sync(
    *, db: Database, viewer: Viewer, offer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Offer]:
    """Of these offers, those of the viewer's organisation (the offline sync's upserts)."""
    async with db.read() as session:
        found = await session.scalars(
            select(Offer).options(*offer_loads()).where(Offer.id.in_(offer_ids))
        )
        return {offer.id: offer for offer in found if _party(viewer, offer) is not None}


def _status_condition(status: OfferStatus, now: datetime) -> Any:
    if status is OfferStatus.EXPIRED:
        return or_(
            Offer.status == OfferStatus.EXPIRED,
            (Offer.status.in_(OPEN_OFFER)) & (Offer.expires_at <= now),
        )
    if status in OPEN_OFFER:
        return (Offer.status == status) & (Offer.expires_at > now)
    return Offer.status == status


async def list_offers(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    filter: OfferFilter,
    page: PageRequest,
    with_total: bool,
) -> Page[Offer]:
    """Offers the viewer's organisation made or received, most recently changed first."""
    organisation_id = viewer.organisation_id
    if organisation_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to have offers")
    statement: Select[Any]
    if filter.role is OfferRole.MADE:
        statement = select(Offer).where(Offer.maker_id == organisation_id)
    elif filter.role is OfferRole.RECEIVED:
        statement = select(Offer).where(Offer.owner_id == organisation_id)
    else:
        statement = select(Offer).where(
            or_(Offer.maker_id == organisation_id, Offer.owner_id == organisation_id)
        )
    if filter.status is not None:
        statement = statement.where(_status_condition(filter.status, now))
    if filter.listing_id is not None:
        statement = statement.where(Offer.listing_id == filter.listing_id)
    if filter.awaiting_me:
        statement = statement.where(
            Offer.expires_at > now,
            or_(
                (Offer.status == OfferStatus.PENDING) & (Offer.owner_id == organisation_id),
                (Offer.status == OfferStatus.COUNTERED) & (Offer.maker_id == organisation_id),
            ),
        )
    async with db.read() as session:
        return await paginate(
            session,
            statement,
            sort=RECENT_OFFERS,
            request=page,
            load=offer_loads(),
            with_total=with_total,
        )


def whose_turn(offer: Offer) -> uuid.UUID | None:
    """The organisation expected to answer an open offer."""
    return _whose_turn(offer) if offer.status in OPEN_OFFER else None
