"""The sections of a person's data export that no domain service keeps rules for: plain reads
of the rows that name the person (forums, notifications, what they did for organisations)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.forums.models import Post, PostReaction, PostReport, Thread, ThreadFollower
from backend.kit.clock import iso_or_none
from backend.marketplace.models import Listing, Offer, Review, TradeMessage
from backend.notifications.models import Device, Notification, NotificationPreference

Rows = AsyncGenerator[dict[str, Any], None]
BATCH = 500


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


async def _stream(
    session: AsyncSession, statement: Select[Any], shape: Callable[[Any], dict[str, Any]]
) -> Rows:
    """Rows in batches: a person with years of notifications is never loaded at once."""
    result = await session.stream_scalars(statement.execution_options(yield_per=BATCH))
    async for row in result:
        yield shape(row)


def notifications(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at, Notification.id),
        lambda n: {
            "id": str(n.id),
            "kind": n.kind.value,
            "title": n.title,
            "body": n.body,
            "subjectType": n.subject_type,
            "subjectId": str(n.subject_id),
            "createdAt": iso_or_none(n.created_at),
            "readAt": iso_or_none(n.read_at),
        },
    )


def devices(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    # The push token's last characters only: enough to tell one's phones apart, and the whole
    # token would let whoever reads the file push to the phone.
    return _stream(
        session,
        select(Device).where(Device.user_id == user_id).order_by(Device.created_at, Device.id),
        lambda d: {
            "id": str(d.id),
            "platform": d.platform.value,
            "provider": d.provider.value,
            "pushTokenEnd": d.token[-6:],
            "locale": d.locale,
            "createdAt": iso_or_none(d.created_at),
            "lastSeenAt": iso_or_none(d.last_seen_at),
        },
    )


def notification_preferences(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(NotificationPreference)
        .where(NotificationPreference.user_id == user_id)
        .order_by(NotificationPreference.kind, NotificationPreference.channel),
        lambda p: {"kind": p.kind, "channel": p.channel.value, "enabled": p.enabled},
    )


def forum_threads(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(Thread).where(Thread.author_id == user_id).order_by(Thread.created_at, Thread.id),
        lambda t: {
            "id": str(t.id),
            "forumId": str(t.forum_id),
            "title": t.title,
            "body": t.body,
            "language": t.language,
            "tags": list(t.tags),
            "createdAt": iso_or_none(t.created_at),
            "editedAt": iso_or_none(t.edited_at),
        },
    )


def forum_posts(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    """Their own posts only: the threads' other posts are other people's."""
    return _stream(
        session,
        select(Post).where(Post.author_id == user_id).order_by(Post.created_at, Post.id),
        lambda p: {
            "id": str(p.id),
            "threadId": str(p.thread_id),
            "replyToId": _id(p.reply_to_id),
            "body": p.body,
            "createdAt": iso_or_none(p.created_at),
            "editedAt": iso_or_none(p.edited_at),
            "deletedAt": iso_or_none(p.deleted_at),
            "hiddenAt": iso_or_none(p.hidden_at),
        },
    )


def forum_reactions(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(PostReaction)
        .where(PostReaction.user_id == user_id)
        .order_by(PostReaction.created_at, PostReaction.id),
        lambda r: {
            "postId": str(r.post_id),
            "reaction": r.reaction.value,
            "createdAt": iso_or_none(r.created_at),
        },
    )


def forum_reports(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(PostReport)
        .where(PostReport.reporter_id == user_id)
        .order_by(PostReport.created_at, PostReport.id),
        lambda r: {
            "id": str(r.id),
            "postId": str(r.post_id),
            "reason": r.reason,
            "status": r.status.value,
            "createdAt": iso_or_none(r.created_at),
        },
    )


def followed_threads(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(ThreadFollower)
        .where(ThreadFollower.user_id == user_id)
        .order_by(ThreadFollower.created_at, ThreadFollower.thread_id),
        lambda f: {"threadId": str(f.thread_id), "since": iso_or_none(f.created_at)},
    )


def listings_created(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    """What they did for an organisation: the rows are the organisation's, so the export names
    them (what, for whom, when) without copying the organisation's whole records."""
    return _stream(
        session,
        select(Listing)
        .where(Listing.created_by_id == user_id)
        .order_by(Listing.created_at, Listing.id),
        lambda item: {
            "id": str(item.id),
            "organisationId": str(item.organisation_id),
            "title": item.title,
            "status": item.status.value,
            "createdAt": iso_or_none(item.created_at),
        },
    )


def offers_made(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(Offer).where(Offer.created_by_id == user_id).order_by(Offer.created_at, Offer.id),
        lambda o: {
            "id": str(o.id),
            "listingId": str(o.listing_id),
            "organisationId": str(o.maker_id),
            "status": o.status.value,
            "message": o.message,
            "createdAt": iso_or_none(o.created_at),
        },
    )


def trade_messages(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(TradeMessage)
        .where(TradeMessage.author_id == user_id)
        .order_by(TradeMessage.created_at, TradeMessage.id),
        lambda m: {
            "id": str(m.id),
            "tradeId": str(m.trade_id),
            "organisationId": str(m.organisation_id),
            "body": m.body,
            "createdAt": iso_or_none(m.created_at),
        },
    )


def reviews_written(session: AsyncSession, user_id: uuid.UUID) -> Rows:
    return _stream(
        session,
        select(Review).where(Review.author_id == user_id).order_by(Review.created_at, Review.id),
        lambda r: {
            "id": str(r.id),
            "tradeId": str(r.trade_id),
            "organisationId": str(r.reviewer_id),
            "rating": r.rating,
            "comment": r.comment,
            "createdAt": iso_or_none(r.created_at),
        },
    )
