"""The parties' reviews of each other, one each per completed trade, and the ratings they add
to the organisations' records."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
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
    Review,
    Trade,
    TradeStatus,
)
from backend.notifications import service as notifications
from backend.notifications.service import texts


async def create_review(
    *, now: datetime, db: Database, viewer: Viewer, trade_id: uuid.UUID, rating: int, comment: str
) -> Review:
    """One review per party per completed trade. Sending the same review again returns it."""
    problems = Problems()
    if not 1 <= rating <= 5:
        problems.add("rating", "Give 1 to 5 stars")
    check_text(problems, "comment", comment, min_length=0, max_length=2000, multiline=True)
    problems.raise_if_any()

    async def review() -> Review:
        async with db.write() as session:
            trade = await session.get(Trade, trade_id)
            if trade is None or not policies.may_read_trade(viewer, trade):
                raise not_found("Trade", "tradeId")
            reviewer = policies.trade_review(viewer, trade)
            existing = await session.scalar(
                select(Review).where(Review.trade_id == trade.id, Review.reviewer_id == reviewer)
            )
            if existing is not None:
                if (existing.rating, existing.comment) == (rating, comment.strip()):
                    return await _review(session, existing.id)  # a retry
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "Your organisation has reviewed this trade", "tradeId"
                )
            if trade.status is not TradeStatus.COMPLETED:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "Review a trade once it is completed", "tradeId"
                )
            reviewee = policies.other_party(trade, reviewer)
            created = Review(
                trade_id=trade.id,
                reviewer_id=reviewer,
                reviewee_id=reviewee,
                author_id=viewer.user_id,
                rating=rating,
                comment=comment.strip(),
                created_at=now,
            )
            session.add(created)
            await session.flush()
            await session.execute(
                update(Organisation)
                .where(Organisation.id == reviewee)
                .values(
                    reviews_count=Organisation.reviews_count + 1,
                    rating_total=Organisation.rating_total + rating,
                )
                .execution_options(synchronize_session=False)
            )
            await notifications.add(
                session,
                user_ids=await identity_service.member_ids(session, reviewee),
                text=texts.TRADE_REVIEWED(rating=rating, comment=comment.strip()[:200]),
                subject_type="TRADE",
                subject_id=trade.id,
                now=now,
            )
            return await _review(session, created.id)

    return await once_more_on_clash(review)


async def _review(session: AsyncSession, review_id: uuid.UUID) -> Review:
    found = await session.scalar(
        select(Review)
        .options(selectinload(Review.reviewer).joinedload(Organisation.cluster))
        .where(Review.id == review_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


NEWEST_REVIEWS = Sort(
    "reviews:newest",
    (SortKey(Review.created_at, descending=True), SortKey(Review.id, descending=True)),
)


async def list_reviews(
    *, db: Database, organisation_id: uuid.UUID, page: PageRequest, with_total: bool
) -> Page[Review]:
    """Reviews an organisation received, newest first (signed-in people read them)."""
    async with db.read() as session:
        return await paginate(
            session,
            select(Review).where(Review.reviewee_id == organisation_id),
            sort=NEWEST_REVIEWS,
            request=page,
            load=(selectinload(Review.reviewer).joinedload(Organisation.cluster),),
            with_total=with_total,
        )
