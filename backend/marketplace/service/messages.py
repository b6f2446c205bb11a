"""The two parties' messages on a trade (``marketplace:trade_messages``: not even platform
admins read them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Viewer
from backend.identity import service as identity_service
from backend.identity.models import Organisation
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text
from backend.marketplace import policies
from backend.marketplace.models import (
    Trade,
    TradeMessage,
)
from backend.notifications import service as notifications
from backend.notifications.service import texts

MESSAGES_IN_ORDER = Sort(
    "trade-messages:oldest", (SortKey(TradeMessage.created_at), SortKey(TradeMessage.id))
)


async def _party_trade(session: AsyncSession, viewer: Viewer, trade_id: uuid.UUID) -> Trade:
    trade = await session.get(Trade, trade_id)
    if trade is None or not policies.may_message(viewer, trade):
        raise not_found("Trade", "tradeId")
    return trade


async def send_message(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    trade_id: uuid.UUID,
    body: str,
    message_id: uuid.UUID | None = None,
) -> TradeMessage:
    """A message to the other party; the same client id twice stores it once."""
    problems = Problems()
    check_text(problems, "body", body, min_length=1, max_length=4000, multiline=True)
    problems.raise_if_any()

    async def send() -> TradeMessage:
        async with db.write() as session:
            trade = await _party_trade(session, viewer, trade_id)
            if message_id is not None:
                existing = await session.get(TradeMessage, message_id)
                if existing is not None:
                    if existing.trade_id != trade.id or existing.author_id != viewer.user_id:
                        raise ServiceError.of(
                            ErrorCode.CONFLICT, "This id belongs to another message", "id"
                        )
                    return await _message(session, existing.id)
            message = TradeMessage(
                trade_id=trade.id,
                organisation_id=viewer.organisation_id,
                author_id=viewer.user_id,
                body=body.strip(),
                created_at=now,
            )
            if message_id is not None:
                message.id = message_id
            session.add(message)
            await notifications.add(
                session,
                user_ids=await identity_service.member_ids(
                    session,
                    policies.other_party(
                        trade, policies.party_of(viewer, trade) or trade.supplier_id
                    ),
                ),
                text=texts.TRADE_MESSAGE(message=body.strip()[:200]),
                subject_type="TRADE",
                subject_id=trade.id,
                now=now,
            )
            await session.flush()
            return await _message(session, message.id)

    return await once_more_on_clash(send)


async def _message(session: AsyncSession, message_id: uuid.UUID) -> TradeMessage:
    message = await session.scalar(
        select(TradeMessage)
        .options(selectinload(TradeMessage.organisation).joinedload(Organisation.cluster))
        .where(TradeMessage.id == message_id)
    )
    assert message is not None
    return message


async def list_messages(
    *, db: Database, viewer: Viewer, trade_id: uuid.UUID, page: PageRequest
) -> Page[TradeMessage]:
    """Oldest first, as a conversation reads."""
    async with db.read() as session:
        trade = await _party_trade(session, viewer, trade_id)
        return await paginate(
            session,
            select(TradeMessage).where(TradeMessage.trade_id == trade.id),
            sort=MESSAGES_IN_ORDER,
            request=page,
            load=(selectinload(TradeMessage.organisation).joinedload(Organisation.cluster),),
        )
