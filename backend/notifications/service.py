"""The notifications inbox: what other domains tell people, and how people read it.

Other domains add notifications inside their own unit of work (:func:`add`), so a notification
exists exactly when the change it tells about was committed. Reading and marking as read are
units of work of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.db import Database
from backend.errors import ErrorCode, ServiceError
from backend.notifications.models import Notification, NotificationKind
from backend.pagination import Page, PageRequest, Sort, SortKey, paginate

MAX_MARK_READ = 100

NEWEST_FIRST = Sort(
    "notifications:newest",
    (
        SortKey(Notification.created_at, descending=True),
        SortKey(Notification.id, descending=True),
    ),
)


async def add(
    session: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    kind: NotificationKind,
    title: str,
    subject_type: str,
    subject_id: uuid.UUID,
    now: datetime,
    body: str = "",
    details: dict[str, str] | None = None,
    dedupe: str | None = None,
) -> None:
    """Queue one notification per person in the caller's transaction.

    With ``dedupe`` (a name for the happening, such as "PURCHASE_GROUP:<id>:CONFIRMED"), each
    person's notification carries a unique key: telling the same happening twice fails the
    transaction instead of notifying twice.
    """
    for user_id in dict.fromkeys(user_ids):  # once per person, in the given order
        session.add(
            Notification(
                user_id=user_id,
                kind=kind,
                title=title[:300],
                body=body,
                subject_type=subject_type,
                subject_id=subject_id,
                details=details or {},
                dedupe_key=None if dedupe is None else f"{dedupe}:{user_id}",
                created_at=now,
            )
        )


async def list_notifications(
    *, db: Database, viewer: Viewer, unread_only: bool, page: PageRequest, with_total: bool
) -> Page[Notification]:
    statement = select(Notification).where(Notification.user_id == viewer.user_id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    async with db.read() as session:
        return await paginate(
            session, statement, sort=NEWEST_FIRST, request=page, with_total=with_total
        )


async def unread_count(*, db: Database, viewer: Viewer) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == viewer.user_id, Notification.read_at.is_(None))
        )
    return int(count or 0)


async def mark_read(
    *, db: Database, viewer: Viewer, ids: list[uuid.UUID] | None, now: datetime
) -> int:
    """Mark the given notifications (or, with ``ids=None``, all of them) read; returns how many
    are still unread. Others' notifications and unknown ids are ignored: marking is idempotent."""
    if ids is not None and len(ids) > MAX_MARK_READ:
        raise ServiceError.of(ErrorCode.VALIDATION, f"Mark at most {MAX_MARK_READ} at once", "ids")
    async with db.write() as session:
        statement = (
            update(Notification)
            .where(Notification.user_id == viewer.user_id, Notification.read_at.is_(None))
            .values(read_at=now)
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_(ids))
        await session.execute(statement.execution_options(synchronize_session=False))
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == viewer.user_id, Notification.read_at.is_(None))
        )
    return int(count or 0)
