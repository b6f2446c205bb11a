"""Trades: an accepted offer carried from AGREED to COMPLETED (or CANCELLED / DISPUTED). Who
may do what is in ``backend.marketplace.policies``; the parties' messages and reviews are in
``messages`` and ``reviews``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from backend.auth.viewer import Viewer
from backend.identity import service as identity_service
from backend.identity.models import Organisation, User
from backend.kit.db import Database, attach
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.money import check_amount, plain
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text
from backend.marketplace import policies
from backend.marketplace.models import (
    OPEN_TRADE,
    ImpactEntry,
    Listing,
    Review,
    Trade,
    TradeStatus,
    TradeStep,
)
from backend.marketplace.service import impact
from backend.marketplace.service.common import move_committed
from backend.notifications import service as notifications
from backend.notifications.service import texts

# A delivery may differ from the agreement (a fuller truck, a wetter load), within reason: this
# bound also keeps the impact ledger's products inside their columns.
MAX_DELIVERED_SHARE = 2


# ---------------------------------------------------------------------------------------------
# Who is told


# ---------------------------------------------------------------------------------------------
# Loading


def trade_loads() -> tuple[ExecutableOption, ...]:
    """What a trade carries to the API, loaded with it (a page costs the same for 1 or 100)."""
    return (
        selectinload(Trade.supplier).joinedload(Organisation.cluster),
        selectinload(Trade.receiver).joinedload(Organisation.cluster),
        selectinload(Trade.material),
        selectinload(Trade.unit),
        selectinload(Trade.listing),
        selectinload(Trade.history),
    )


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade with what the viewer's screens need next to it."""

    trade: Trade
    reviews: list[Review]
    impact: ImpactEntry | None = None


def trade_actions(viewer: Viewer, view: TradeView) -> policies.TradeActions:
    """What the viewer may do with the trade now; ``view.trade`` needs its history loaded."""
    return policies.trade_actions(viewer, view.trade, {r.reviewer_id for r in view.reviews})


async def view(session: AsyncSession, trade: Trade) -> TradeView:
    """A trade this unit of work read (a retry's answer) as it is now, with what ``trade_loads``
    gives it, its reviews and impact entry: one statement per relation the session does not
    hold."""
    await _attach_history(session, trade)
    return (await _views(session, [trade]))[0]


async def _moved(
    session: AsyncSession, trade: Trade, impact_entry: ImpactEntry | None = None
) -> TradeView:
    """The answer of a step this unit of work took (``trade`` locked and changed), from its
    rows rather than read back: what ``trade_loads`` gives, one statement each for what the
    session does not hold. Reviews come only once a trade is COMPLETED, and a completed trade
    takes no more steps: a trade that just moved has none. Its impact entry, if it was just
    completed, is ``impact_entry``."""
    await _attach_history(session, trade)
    return TradeView(trade, reviews=[], impact=impact_entry)


async def _attach_history(session: AsyncSession, trade: Trade) -> None:
    """What ``trade_loads`` gives a trade: its parts and its history."""
    await _attach_parts(session, trade)
    # The statement selectinload(Trade.history) sends: the same order for steps of one moment.
    steps = await session.scalars(
        select(TradeStep).where(TradeStep.trade_id.in_([trade.id])).order_by(TradeStep.at)
    )
    set_committed_value(trade, "history", list(steps))


async def _attach_parts(session: AsyncSession, trade: Trade) -> None:
    """A trade's listing, parties (with their clusters), material and unit, from the session
    or one statement each. The parties come after any UPDATE of their counters in this unit of
    work (complete_trade), so they are read as it left them."""
    await attach(session, [(trade, "listing")])
    await attach(
        session, [(trade, "supplier"), (trade, "receiver")], joinedload(Organisation.cluster)
    )
    await attach(session, [(trade.supplier, "cluster"), (trade.receiver, "cluster")])
    await attach(session, [(trade, "material")])
    await attach(session, [(trade, "unit")])


async def _views(session: AsyncSession, trades: list[Trade]) -> list[TradeView]:
    reviews: dict[uuid.UUID, list[Review]] = {t.id: [] for t in trades}
    if trades:
        for review in (
            await session.scalars(
                select(Review)
                .options(selectinload(Review.reviewer).joinedload(Organisation.cluster))
                .where(Review.trade_id.in_(list(reviews)))
                .order_by(Review.created_at, Review.id)
            )
        ).all():
            reviews[review.trade_id].append(review)
    entries: dict[uuid.UUID, ImpactEntry] = {}
    completed = [t.id for t in trades if t.status is TradeStatus.COMPLETED]
    if completed:
        entries = {
            e.trade_id: e
            for e in (
                await session.scalars(
                    select(ImpactEntry).where(ImpactEntry.trade_id.in_(completed))
                )
            ).all()
        }
    return [TradeView(trade, reviews[trade.id], entries.get(trade.id)) for trade in trades]


async def _locked(session: AsyncSession, viewer: Viewer, trade_id: uuid.UUID) -> Trade:
    trade = await session.get(Trade, trade_id, with_for_update=True, populate_existing=True)
    if trade is None or not policies.may_read_trade(viewer, trade):
        raise not_found("Trade")
    return trade


def _step(
    session: AsyncSession,
    trade: Trade,
    viewer: Viewer,
    status: TradeStatus,
    now: datetime,
    note: str = "",
) -> None:
    """Move the trade and record who moved it, when (its history)."""
    trade.status = status
    trade.updated_at = now
    trade.version += 1
    session.add(
        TradeStep(
            trade_id=trade.id,
            status=status,
            by_organisation_id=policies.party_of(viewer, trade),
            by_user_id=viewer.user_id,
            note=note,
            at=now,
        )
    )


def _refuse(trade: Trade, action: str) -> ServiceError:
    return ServiceError.of(
        ErrorCode.CONFLICT, f"The trade is {trade.status.value}: it cannot be {action}"
    )


async def _tell(
    session: AsyncSession,
    trade: Trade,
    viewer: Viewer,
    text: texts.Text,
    now: datetime,
) -> None:
    """Tell the other party's people (both parties' when an admin acted)."""
    acting = policies.party_of(viewer, trade)
    told = (
        [policies.other_party(trade, acting)]
        if acting is not None
        else [trade.supplier_id, trade.receiver_id]
    )
    await notifications.add(
        session,
        user_ids=await identity_service.member_ids(session, *told),
        text=text,
        subject_type="TRADE",
        subject_id=trade.id,
        details={"status": trade.status.value},
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Creating (called by offers.accept in its own unit of work)


async def start_trade(
    session: AsyncSession,
    *,
    viewer: Viewer,
    listing: Listing,
    offer_id: uuid.UUID,
    supplier: Organisation,
    receiver: Organisation,
    quantity: Decimal,
    unit_code: str,
    price_per_unit: Decimal,
    currency: str,
    distance_km: float | None,
    now: datetime,
) -> TradeView:
    """An AGREED trade and its first step, with what the API shows of it attached: the
    listing (with its material and unit loaded) and both parties (with their clusters) come
    from the caller, so nothing is read back."""
    assert unit_code == listing.unit_code
    trade = Trade(
        offer_id=offer_id,
        listing_id=listing.id,
        cluster_id=listing.cluster_id,
        supplier_id=supplier.id,
        receiver_id=receiver.id,
        status=TradeStatus.AGREED,
        material_code=listing.material_code,
        quantity=quantity,
        unit_code=unit_code,
        price_per_unit=price_per_unit,
        currency=currency,
        distance_km=distance_km,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(trade)
    await session.flush()
    agreed = TradeStep(
        trade_id=trade.id,
        status=TradeStatus.AGREED,
        by_organisation_id=viewer.organisation_id,
        by_user_id=viewer.user_id,
        note="",
        at=now,
    )
    session.add(agreed)
    for name, value in (
        ("listing", listing),
        ("supplier", supplier),
        ("receiver", receiver),
        ("material", listing.material),
        ("unit", listing.unit),
        ("history", [agreed]),
    ):
        set_committed_value(trade, name, value)
    # a trade just agreed has no reviews and no impact entry yet
    return TradeView(trade, reviews=[])


# ---------------------------------------------------------------------------------------------
# Lifecycle


async def mark_in_transit(
    *, now: datetime, db: Database, viewer: Viewer, trade_id: uuid.UUID
) -> TradeView:
    """AGREED -> IN_TRANSIT, by the supplier. Again on an IN_TRANSIT trade: nothing changes."""
    async with db.write() as session:
        trade = await _locked(session, viewer, trade_id)
        policies.trade_send(viewer, trade)
        if trade.status is TradeStatus.AGREED:
            _step(session, trade, viewer, TradeStatus.IN_TRANSIT, now)
            await _tell(
                session,
                trade,
                viewer,
                texts.TRADE_IN_TRANSIT(
                    quantity=trade.quantity,
                    unit=trade.unit_code,
                    material=texts.MaterialRef(trade.material_code),
                ),
                now,
            )
        elif trade.status is TradeStatus.IN_TRANSIT:
            return await view(session, trade)  # a retry
        else:
            raise _refuse(trade, "sent")
        await session.flush()
        return await _moved(session, trade)


async def mark_delivered(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    trade_id: uuid.UUID,
    delivered_quantity: Decimal | None,
) -> TradeView:
    """AGREED / IN_TRANSIT -> DELIVERED, by either party, with the quantity that changed hands
    (the agreed one when omitted). The other party then completes it."""
    problems = Problems()
    if delivered_quantity is not None:
        check_amount(problems, "deliveredQuantity", delivered_quantity, positive=True)
    problems.raise_if_any()
    async with db.write() as session:
        trade = await _locked(session, viewer, trade_id)
        party = policies.trade_report_delivery(viewer, trade)
        quantity = delivered_quantity if delivered_quantity is not None else trade.quantity
        if quantity > MAX_DELIVERED_SHARE * trade.quantity:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                f"At most {plain(MAX_DELIVERED_SHARE * trade.quantity)} {trade.unit_code}: more "
                "than twice the agreed quantity is another trade",
                "deliveredQuantity",
            )
        if trade.status is TradeStatus.DELIVERED:
            if trade.delivered_by_id == party and trade.delivered_quantity == quantity:
                return await view(session, trade)  # a retry
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                "Already reported delivered; complete it, or dispute the quantity",
            )
        if trade.status not in (TradeStatus.AGREED, TradeStatus.IN_TRANSIT):
            raise _refuse(trade, "delivered")
        trade.delivered_quantity = quantity
        trade.delivered_by_id = party
        _step(
            session,
            trade,
            viewer,
            TradeStatus.DELIVERED,
            now,
            note=f"{plain(quantity)} {trade.unit_code} delivered",
        )
        await _tell(
            session,
            trade,
            viewer,
            texts.TRADE_DELIVERED(quantity=quantity, unit=trade.unit_code, agreed=trade.quantity),
            now,
        )
        await session.flush()
        return await _moved(session, trade)


async def complete_trade(
    *, now: datetime, db: Database, viewer: Viewer, trade_id: uuid.UUID
) -> TradeView:
    """DELIVERED -> COMPLETED by the party that did not report the delivery, or DISPUTED ->
    COMPLETED by a platform admin. Writes the impact ledger and the parties' records."""
    async with db.write() as session:
        trade = await _locked(session, viewer, trade_id)
        if trade.status is TradeStatus.COMPLETED:
            return await view(session, trade)  # a retry
        if trade.status is TradeStatus.DISPUTED:
            policies.trade_settle(viewer)
        elif trade.status is TradeStatus.DELIVERED:
            policies.trade_confirm(viewer, trade)
            reported_by = await session.scalar(
                select(TradeStep.by_user_id)
                .where(TradeStep.trade_id == trade.id, TradeStep.status == TradeStatus.DELIVERED)
                .order_by(TradeStep.at.desc())
                .limit(1)
            )
            policies.trade_confirm_in_person(viewer, reported_by)
        else:
            raise _refuse(trade, "completed before it is delivered")
        if trade.delivered_quantity is None:  # an admin completing a dispute before delivery
            trade.delivered_quantity = trade.quantity
        trade.completed_at = now
        _step(session, trade, viewer, TradeStatus.COMPLETED, now)
        await session.execute(
            update(Organisation)
            .where(Organisation.id.in_((trade.supplier_id, trade.receiver_id)))
            .values(trades_completed=Organisation.trades_completed + 1)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        # the parts first: the impact entry then finds the material and unit in the session
        await _attach_parts(session, trade)
        entry = await impact.record(session, trade, now)
        await _tell(
            session,
            trade,
            viewer,
            texts.TRADE_COMPLETED(
                quantity=trade.quantity,
                unit=trade.unit_code,
                material=texts.MaterialRef(trade.material_code),
            ),
            now,
        )
        await session.flush()
        return await _moved(session, trade, entry)


async def cancel_trade(
    *, now: datetime, db: Database, viewer: Viewer, trade_id: uuid.UUID, reason: str = ""
) -> TradeView:
    """AGREED -> CANCELLED by either party, DISPUTED -> CANCELLED by a platform admin. The
    agreed quantity goes back to the listing (RESERVED -> ACTIVE)."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        first = await session.get(Trade, trade_id)
        if first is None or not policies.may_read_trade(viewer, first):
            raise not_found("Trade")
        # the listing before the trade, as acceptance locks them: no lock cycle
        listing = await session.get(
            Listing, first.listing_id, with_for_update=True, populate_existing=True
        )
        assert listing is not None
        trade = await _locked(session, viewer, trade_id)
        if trade.status is TradeStatus.CANCELLED:
            return await view(session, trade)  # a retry
        if trade.status is TradeStatus.DISPUTED:
            policies.trade_settle(viewer)
        elif trade.status is TradeStatus.AGREED:
            policies.trade_cancel(viewer, trade)
        else:
            raise _refuse(trade, "cancelled once the material moves; dispute it instead")
        await move_committed(session, listing, -trade.quantity, now)
        _step(session, trade, viewer, TradeStatus.CANCELLED, now, note=reason.strip())
        await _tell(
            session,
            trade,
            viewer,
            texts.TRADE_CANCELLED(reason=reason.strip()),
            now,
        )
        await session.flush()
        return await _moved(session, trade)


async def dispute_trade(
    *, now: datetime, db: Database, viewer: Viewer, trade_id: uuid.UUID, reason: str
) -> TradeView:
    """AGREED / IN_TRANSIT / DELIVERED -> DISPUTED by either party, with a reason."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=3, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        trade = await _locked(session, viewer, trade_id)
        policies.trade_dispute(viewer, trade)
        if trade.status is TradeStatus.DISPUTED:
            return await view(session, trade)  # a retry
        if trade.status not in OPEN_TRADE:
            raise _refuse(trade, "disputed")
        trade.status_before_dispute = trade.status
        _step(session, trade, viewer, TradeStatus.DISPUTED, now, note=reason.strip())
        await _tell(
            session,
            trade,
            viewer,
            texts.TRADE_DISPUTED(reason=reason.strip()),
            now,
        )
        admins = await session.scalars(
            select(User.id).where(User.is_platform_admin.is_(True), User.is_active.is_(True))
        )
        await notifications.add(
            session,
            user_ids=list(admins.all()),
            text=texts.TRADE_DISPUTED_TO_SETTLE(reason=reason.strip()),
            subject_type="TRADE",
            subject_id=trade.id,
            details={"status": trade.status.value},
            now=now,
        )
        await session.flush()
        return await _moved(session, trade)


# ---------------------------------------------------------------------------------------------
# Reading


class TradeRole(StrEnum):
    SUPPLIER = "SUPPLIER"
    RECEIVER = "RECEIVER"


@dataclass(frozen=True, slots=True)
class TradeFilter:
    status: TradeStatus | None = None
    role: TradeRole | None = None
    listing_id: uuid.UUID | None = None


NEWEST_TRADES = Sort(
    "trades:newest",
    (SortKey(Trade.created_at, descending=True), SortKey(Trade.id, descending=True)),
)


async def get_trade(*, db: Database, viewer: Viewer, trade_id: uuid.UUID) -> TradeView | None:
    async with db.read() as session:
        trade = await session.scalar(
            select(Trade).options(*trade_loads()).where(Trade.id == trade_id)
        )
        if trade is None or not policies.may_read_trade(viewer, trade):
            return None
        return (await _views(session, [trade]))[0]


async def trades_for_sync(
    *, db: Database, viewer: Viewer, trade_ids: list[uuid.UUID]
) -> dict[uuid.UUID, TradeView]:
    """Of these trades, those the viewer may read (the offline sync's upserts)."""
    async with db.read() as session:
        found = await session.scalars(
            select(Trade).options(*trade_loads()).where(Trade.id.in_(trade_ids))
        )
        readable = [trade for trade in found if policies.may_read_trade(viewer, trade)]
        return {view.trade.id: view for view in await _views(session, readable)}


async def list_trades(
    *, db: Database, viewer: Viewer, filter: TradeFilter, page: PageRequest, with_total: bool
) -> Page[TradeView]:
    """The trades of the organisation the viewer acts for (every trade for platform admins),
    newest first."""
    organisation_id = viewer.organisation_id
    statement: Select[Any]
    if organisation_id is None:
        if not viewer.is_admin:
            raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to have trades")
        # platform admins read every trade: they find the DISPUTED ones here to settle them
        statement = select(Trade)
    elif filter.role is TradeRole.SUPPLIER:
        statement = select(Trade).where(Trade.supplier_id == organisation_id)
    elif filter.role is TradeRole.RECEIVER:
        statement = select(Trade).where(Trade.receiver_id == organisation_id)
    else:
        statement = select(Trade).where(
            or_(Trade.supplier_id == organisation_id, Trade.receiver_id == organisation_id)
        )
    if filter.status is not None:
        statement = statement.where(Trade.status == filter.status)
    if filter.listing_id is not None:
        statement = statement.where(Trade.listing_id == filter.listing_id)
    async with db.read() as session:
        result = await paginate(
            session,
            statement,
            sort=NEWEST_TRADES,
            request=page,
            load=trade_loads(),
            with_total=with_total,
        )
        views = await _views(session, list(result.items))
    return Page(
        items=views,
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )
