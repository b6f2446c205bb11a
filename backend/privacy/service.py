"""Access and erasure requests: a person's data as JSON, and their account's deletion.

Export reads in one read transaction (one consistent picture), streaming every section in
batches: :func:`write_export` writes the JSON as it reads, so a long history never sits in
memory at once; :func:`collect_export` builds the document for the app, with a ceiling per
section (``complete`` says whether anything was left out; an operator's ``eic export-person``
has no ceiling).

Deletion is one write transaction: everything it does commits together or not at all, and a
second deletion of the same account finds it deleted and changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.security import Security
from backend.auth.viewer import Viewer
from backend.events.service import privacy as events_privacy
from backend.forums.models import ForumModerator, Post, PostReaction, Thread, ThreadFollower
from backend.idempotency import IdempotencyKey
from backend.identity.models import User
from backend.identity.service import INVALID_CREDENTIALS
from backend.identity.service import privacy as identity_privacy
from backend.kit.broadcast import Broadcaster, announce_access_change
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, not_found, throttled
from backend.marketplace.models import TradeMessage
from backend.notifications.models import Device, Notification, NotificationPreference
from backend.privacy import sections
from backend.purchasing.service import privacy as purchasing_privacy
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

FORMAT = "eic-personal-data/1"
# The app's copy: enough for any ordinary history; beyond it the document says it is partial
# and the person asks the operator for the whole file (docs/privacy.md).
APP_SECTION_LIMIT = 2000
DELETED_NAME = identity_privacy.DELETED_NAME

Section = Callable[[AsyncSession, uuid.UUID], AsyncGenerator[dict[str, Any], None]]

# The order of the document: who they are, what they did, what the platform kept about them.
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("memberships", identity_privacy.memberships_of),
    ("signIns", identity_privacy.sign_ins_of),
    ("devices", sections.devices),
    ("notificationPreferences", sections.notification_preferences),
    ("notifications", sections.notifications),
    ("forumThreads", sections.forum_threads),
    ("forumPosts", sections.forum_posts),
    ("forumReactions", sections.forum_reactions),
    ("forumReports", sections.forum_reports),
    ("followedThreads", sections.followed_threads),
    ("eventRegistrations", events_privacy.registrations_of),
    ("pledges", purchasing_privacy.pledges_of),
    ("listingsCreated", sections.listings_created),
    ("offersMade", sections.offers_made),
    ("tradeMessages", sections.trade_messages),
    ("reviewsWritten", sections.reviews_written),
    ("invitesCreated", identity_privacy.invites_created_by),
    ("auditRecords", identity_privacy.audit_records_about),
)


@dataclass(frozen=True, slots=True)
class Export:
    document: dict[str, Any]
    complete: bool
    generated_at: datetime


@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[AsyncSession]:
    """One consistent picture of the person's rows, read in batches: on PostgreSQL a read-only
    REPEATABLE READ transaction (its streaming cursors need one, and the app's reads run
    without); SQLite's read transaction is a snapshot already."""
    if db.dialect != "postgresql":
        async with db.read() as session:
            yield session
        return
    engine = db.engine.execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        yield session


async def _header(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("Person", "email")
    return {
        "format": FORMAT,
        "generatedAt": now.isoformat(),
        "person": identity_privacy.profile(user),
        "calendarFeed": await events_privacy.calendar_feed_of(session, user_id),
    }


async def collect_export(*, db: Database, user_id: uuid.UUID, now: datetime) -> Export:
    """The person's data as one JSON document, each section cut at :data:`APP_SECTION_LIMIT`."""
    complete = True
    async with _snapshot(db) as session:
        document = await _header(session, user_id, now)
        for name, section in SECTIONS:
            rows: list[dict[str, Any]] = []
            async with aclosing(section(session, user_id)) as stream:
                async for row in stream:
                    if len(rows) == APP_SECTION_LIMIT:
                        complete = False
                        break
                    rows.append(row)
            document[name] = rows
    document["complete"] = complete
    return Export(document=document, complete=complete, generated_at=now)


async def write_export(*, db: Database, user_id: uuid.UUID, now: datetime, out: TextIO) -> int:
    """Write the whole document to ``out`` as it is read; returns the number of rows."""
    count = 0
    async with _snapshot(db) as session:
        header = await _header(session, user_id, now)
        out.write("{\n")
        for key, value in header.items():
            out.write(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        for name, section in SECTIONS:
            out.write(f"  {json.dumps(name)}: [")
            first = True
            async with aclosing(section(session, user_id)) as stream:
                async for row in stream:
                    out.write("\n    " if first else ",\n    ")
                    out.write(json.dumps(row, ensure_ascii=False))
                    first = False
                    count += 1
            out.write("]," if first else "\n  ],")
            out.write("\n")
        out.write('  "complete": true\n}\n')
    return count


async def find_person(*, db: Database, email: str) -> uuid.UUID:
    """An operator names the person by email (what a request by letter or mail gives)."""
    async with db.read() as session:
        user = await identity_privacy.person_by_email(session, email)
    if user is None:
        raise not_found("Person with this email", "email")
    return user.id


# ---------------------------------------------------------------------------------------------
# Deletion


@dataclass(frozen=True, slots=True)
class Deletion:
    user_id: uuid.UUID
    deleted_at: datetime
    # True when the account was already deleted: nothing was done this time
    already_deleted: bool = False
    registrations_cancelled: int = 0
    pledges_withdrawn: int = 0
    notifications_deleted: int = 0
    devices_deleted: int = 0


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_person(
    *,
    db: Database,
    user_id: uuid.UUID,
    now: datetime,
    actor_id: uuid.UUID | None,
    actor_name: str,
    reason: str,
    broadcaster: Broadcaster | None = None,
    keep_an_admin: bool = True,
) -> Deletion:
    """Anonymise the person and erase what is only theirs; see docs/privacy.md, table by table.

    Refused (CONFLICT) while they are the last admin of an organisation with other members,
    unless ``keep_an_admin`` is false (an erasure already granted, done again after a restore)."""
    async with db.write() as session:
        user = await identity_privacy.locked_person(session, user_id)
        if user is None:
            raise not_found("Person", "email")
        if user.deleted_at is not None:
            return Deletion(user_id=user_id, deleted_at=user.deleted_at, already_deleted=True)
        if keep_an_admin:
            await identity_privacy.check_can_leave_everywhere(session, user_id)

        # Places and pledges go back to others through their domains' own rules.
        cancelled = await events_privacy.release_person(session, user_id, now)
        withdrawn = await purchasing_privacy.withdraw_person(session, user_id, now)

        # Threads they wrote in keep their posts (others' replies need them), shown as by a
        # deleted user: the phones that keep those threads offline are told to read them again.
        thread_ids = set(
            (await session.scalars(select(Thread.id).where(Thread.author_id == user_id))).all()
        ) | set(
            (
                await session.scalars(
                    select(Post.thread_id).where(Post.author_id == user_id).distinct()
                )
            ).all()
        )
        for thread_id in sorted(thread_ids):
            sync_log.note(
                session, ChangeType.FORUM_THREAD, thread_id, [sync_log.thread_followers(thread_id)]
            )
        trade_ids = (
            await session.scalars(
                select(TradeMessage.trade_id).where(TradeMessage.author_id == user_id).distinct()
            )
        ).all()
        for trade_id in sorted(trade_ids):
            sync_log.note(session, ChangeType.TRADE, trade_id, [])  # the parties, by the widener

        await session.execute(delete(PostReaction).where(PostReaction.user_id == user_id))
        await session.execute(delete(ThreadFollower).where(ThreadFollower.user_id == user_id))
        await session.execute(delete(ForumModerator).where(ForumModerator.user_id == user_id))
        # push messages go with their notifications and devices (ON DELETE CASCADE)
        notifications = await session.execute(
            delete(Notification).where(Notification.user_id == user_id)
        )
        devices = await session.execute(delete(Device).where(Device.user_id == user_id))
        await session.execute(
            delete(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
        # Stored answers to their earlier retried requests hold their data; the answer of the
        # request doing this deletion (no answer yet) stays, so its retry is answered the same.
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.principal == f"user:{user_id}",
                IdempotencyKey.response_body.is_not(None),
            )
        )
        await identity_privacy.anonymise(
            session, user, now=now, actor_id=actor_id, actor_name=actor_name, reason=reason
        )
        deletion = Deletion(
            user_id=user_id,
            deleted_at=now,
            registrations_cancelled=cancelled,
            pledges_withdrawn=withdrawn,
            notifications_deleted=_count(notifications),
            devices_deleted=_count(devices),
        )
    if broadcaster is not None:
        # every app instance drops the person's open connections at once
        await announce_access_change(broadcaster, user_id)
    return deletion


async def deleted_accounts(*, db: Database) -> list[uuid.UUID]:
    """The accounts deleted in this database, oldest deletion first."""
    async with db.read() as session:
        rows = await session.scalars(
            select(User.id).where(User.deleted_at.is_not(None)).order_by(User.deleted_at, User.id)
        )
        return list(rows)


async def erase_again(*, db: Database, user_ids: list[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    """After a restore: delete again the accounts that were deleted in the database the backup
    replaced (a backup from before an erasure would otherwise bring the person back). The
    erasure was granted then, so the last-admin rule does not hold it back now; an account the
    backup does not have, or has deleted too, is left as it is. The ones deleted again."""
    erased = []
    for user_id in user_ids:
        try:
            done = await delete_person(
                db=db,
                user_id=user_id,
                now=now,
                actor_id=None,
                actor_name="operator (eic restore)",
                reason="Deleted before the database was restored from an older backup; "
                "deleted again after the restore",
                keep_an_admin=False,
            )
        except ServiceError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            continue
        if not done.already_deleted:
            erased.append(user_id)
    return erased


async def delete_my_account(
    *,
    db: Database,
    security: Security,
    viewer: Viewer,
    password: str,
    client_address: str | None,
    now: datetime,
    broadcaster: Broadcaster,
) -> Deletion:
    """The signed-in person deletes their account, with their password again: a token left on
    a borrowed phone must not be enough. Wrong passwords count against sign-in's back-off for
    the account, so this is no side door for guessing."""
    async with db.read() as session:
        user = await session.get(User, viewer.user_id)
    if user is None or user.deleted_at is not None:
        raise ServiceError(*INVALID_CREDENTIALS.problems)
    keys = security.throttle.keys(email=user.email, client_address=client_address)
    attempt = await security.throttle.begin(keys)
    if attempt.wait is not None:
        raise throttled(
            f"Too many wrong passwords; try again in {attempt.wait} seconds", attempt.wait
        )
    try:
        ok = await security.passwords.verify(user.password_hash or None, password)
    except Exception:
        await security.throttle.give_back(attempt)
        raise
    if not ok:
        raise ServiceError(
            *(
                type(p)(p.code, "The password is incorrect", "password")
                for p in INVALID_CREDENTIALS.problems
            )
        )
    await security.throttle.record_success(keys)
    return await delete_person(
        db=db,
        user_id=viewer.user_id,
        now=now,
        actor_id=viewer.user_id,
        actor_name=DELETED_NAME,
        reason="Deleted by its owner (accountDelete)",
        broadcaster=broadcaster,
    )
