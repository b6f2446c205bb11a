"""The notifications inbox: what other domains tell people, and how people read it.

Other domains add notifications inside their own unit of work (:func:`add`), so a notification
exists exactly when the change it tells about was committed. Reading and marking as read are
units of work of their own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.catalogue import service as catalogue_service
from backend.kit.db import Database, new_id, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_language

# the templates are the door's vocabulary: other domains name them as service.texts
from backend.notifications import texts as texts
from backend.notifications.models import (
    Channel,
    Device,
    Notification,
    NotificationKind,
    NotificationPreference,
    Platform,
    PushMessage,
    PushProvider,
    PushStatus,
)
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

MAX_MARK_READ = 100
LOOKUP_CHUNK = 5000

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
    text: texts.Text,
    subject_type: str,
    subject_id: uuid.UUID,
    now: datetime,
    details: dict[str, str] | None = None,
    dedupe: str | None = None,
) -> None:
    """Queue one notification per person in the caller's transaction, and a push message to
    each of their devices (the outbox) unless they turned this kind's pushes off.

    ``text`` is a template of :mod:`backend.notifications.texts` with its parameters (its
    kind is the notification's): each row keeps them, to be told in each reader's language,
    and the English text as its title and body. A material among the parameters is kept with
    its names in every language (one statement per call, whoever is told).

    With ``dedupe`` (a name for the happening, such as "PURCHASE_GROUP:<id>:CONFIRMED"), each
    person's notification carries a unique key: telling the same happening twice fails the
    transaction instead of notifying twice. A person who turned the kind off in the INBOX still
    gets the row, already read, so a push can open it.
    """
    people = list(dict.fromkeys(user_ids))  # once per person, in the given order
    if not people:
        return
    kind = text.template.kind
    codes = texts.material_codes(text)
    names = await catalogue_service.names_in_languages(session, codes) if codes else {}
    params = texts.stored_params(text, names)
    english = texts.render(text.template, params, texts.ENGLISH)
    off: set[tuple[uuid.UUID, Channel]] = set()
    devices: dict[uuid.UUID, list[uuid.UUID]] = {}
    # in chunks: PostgreSQL takes at most 32,767 parameters, and an event has up to 100,000 people
    for start in range(0, len(people), LOOKUP_CHUNK):
        chunk = people[start : start + LOOKUP_CHUNK]
        off.update(
            (row.user_id, row.channel)
            for row in (
                await session.scalars(
                    select(NotificationPreference).where(
                        NotificationPreference.user_id.in_(chunk),
                        NotificationPreference.kind == kind.value,
                        NotificationPreference.enabled.is_(False),
                    )
                )
            ).all()
        )
        pushed = [p for p in chunk if (p, Channel.PUSH) not in off]
        if pushed:
            for device_id, user_id in (
                await session.execute(
                    select(Device.id, Device.user_id)
                    .where(Device.user_id.in_(pushed))
                    .order_by(Device.created_at, Device.id)
                )
            ).all():
                devices.setdefault(user_id, []).append(device_id)
    for user_id in people:
        notification = Notification(
            id=new_id(),
            user_id=user_id,
            kind=kind,
            title=english.title,
            body=english.body,
            text_template=text.template.key,
            text_params=params,
            subject_type=subject_type,
            subject_id=subject_id,
            details=details or {},
            dedupe_key=None if dedupe is None else f"{dedupe}:{user_id}",
            created_at=now,
            read_at=now if (user_id, Channel.INBOX) in off else None,
        )
        session.add(notification)
        for device_id in devices.get(user_id, []):
            session.add(
                PushMessage(
                    notification_id=notification.id,
                    device_id=device_id,
                    status=PushStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )


# ---------------------------------------------------------------------------------------------
# Devices and preferences


MAX_DEVICES_PER_PERSON = 10
PUSH_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII: Expo's, FCM's and APNs' tokens
# What each provider's tokens look like, in the order a token without a provider is tried.
TOKEN_SHAPES = {
    PushProvider.EXPO: re.compile(r"Expo(?:nent)?PushToken\[[^\]]{1,230}\]"),
    # 32 bytes in hex today; Apple says the length may change
    PushProvider.APNS: re.compile(r"(?:[0-9a-fA-F]{2}){32,100}"),
    # an instance id, a colon, and the token proper (about 160 characters in all)
    PushProvider.FCM: re.compile(r"[A-Za-z0-9_-]{8,}:[A-Za-z0-9_-]{16,}"),
}
PROVIDER_NAMES = {PushProvider.EXPO: "Expo", PushProvider.FCM: "FCM", PushProvider.APNS: "APNs"}


def token_provider(token: str) -> PushProvider | None:
    """The provider whose tokens look like ``token``, if any."""
    for provider, shape in TOKEN_SHAPES.items():
        if shape.fullmatch(token):
            return provider
    return None


async def register_device(
    *,
    db: Database,
    viewer: Viewer,
    token: str,
    platform: Platform,
    locale: str,
    now: datetime,
    provider: PushProvider | None = None,
    enabled: Collection[PushProvider] = frozenset(PushProvider),
) -> Device:
    """The viewer's phone receives pushes through ``provider`` (else the one its token's shape
    names), if it is one of the ``enabled``. The same token again refreshes it (and moves it to
    this person if someone else had signed in on that phone)."""
    problems = Problems()
    if not PUSH_TOKEN.fullmatch(token):
        problems.add("token", "A push token is 1 to 255 printable ASCII characters")
    elif provider is None:
        provider = token_provider(token)
        if provider is None:
            problems.add(
                "token", "Not an Expo, FCM or APNs push token; say which provider issued it"
            )
    elif not TOKEN_SHAPES[provider].fullmatch(token):
        problems.add("token", f"Not an {PROVIDER_NAMES[provider]} push token")
    if provider == PushProvider.APNS and platform != Platform.IOS:
        problems.add("platform", "APNs tokens are for IOS devices")
    check_language(problems, "locale", locale)
    problems.raise_if_any()
    assert provider is not None  # raise_if_any left no other way
    if provider not in enabled:
        raise ServiceError.of(
            ErrorCode.PUSH_PROVIDER_DISABLED,
            f"This server does not push through {PROVIDER_NAMES[provider]}; "
            "the app receives notifications in its inbox only",
            "provider",
        )
    chosen = provider
    # two registrations of a new token at once (an app retrying): the second finds the first's row
    return await once_more_on_clash(
        lambda: _register_device(
            db=db,
            viewer=viewer,
            token=token,
            platform=platform,
            locale=locale,
            now=now,
            provider=chosen,
        )
    )


async def _register_device(
    *,
    db: Database,
    viewer: Viewer,
    token: str,
    platform: Platform,
    locale: str,
    now: datetime,
    provider: PushProvider,
) -> Device:
    async with db.write() as session:
        device = await session.scalar(select(Device).where(Device.token == token).with_for_update())
        if device is None:
            count = await session.scalar(
                select(func.count()).select_from(Device).where(Device.user_id == viewer.user_id)
            )
            if (count or 0) >= MAX_DEVICES_PER_PERSON:
                raise ServiceError.of(
                    ErrorCode.CAPACITY_REACHED,
                    f"At most {MAX_DEVICES_PER_PERSON} devices; unregister an old one",
                    "token",
                )
            device = Device(token=token, user_id=viewer.user_id, created_at=now)
            session.add(device)
        if device.user_id is not None and device.user_id != viewer.user_id:
            # someone else signed in on this phone: the last person's pushes stay undelivered
            await session.execute(
                delete(PushMessage).where(
                    PushMessage.device_id == device.id, PushMessage.status == PushStatus.PENDING
                )
            )
        device.user_id = viewer.user_id
        device.platform = platform
        device.provider = provider
        device.locale = locale
        device.last_seen_at = now
        await session.flush()
        return device


async def unregister_device(*, db: Database, viewer: Viewer, token: str) -> bool:
    """The phone stops receiving pushes (sign-out). False if it was not the viewer's."""
    async with db.write() as session:
        removed = await session.execute(
            delete(Device).where(Device.token == token, Device.user_id == viewer.user_id)
        )
    return bool(getattr(removed, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class Preference:
    kind: NotificationKind
    channel: Channel
    enabled: bool


async def preferences(*, db: Database, viewer: Viewer) -> list[Preference]:
    """Every kind on every channel, with the viewer's choice (on unless turned off)."""
    async with db.read() as session:
        chosen = {
            (row.kind, row.channel): row.enabled
            for row in (
                await session.scalars(
                    select(NotificationPreference).where(
                        NotificationPreference.user_id == viewer.user_id
                    )
                )
            ).all()
        }
    return [
        Preference(kind, channel, chosen.get((kind.value, channel), True))
        for kind in NotificationKind
        for channel in Channel
    ]


async def set_preference(
    *, db: Database, viewer: Viewer, kind: NotificationKind, channel: Channel, enabled: bool
) -> Preference:
    # the first choice of a kind and channel sent twice at once: the second updates the row
    return await once_more_on_clash(
        lambda: _set_preference(db=db, viewer=viewer, kind=kind, channel=channel, enabled=enabled)
    )


async def _set_preference(
    *, db: Database, viewer: Viewer, kind: NotificationKind, channel: Channel, enabled: bool
) -> Preference:
    async with db.write() as session:
        row = await session.get(
            NotificationPreference, (viewer.user_id, kind.value, channel), with_for_update=True
        )
        if row is None:
            session.add(
                NotificationPreference(
                    user_id=viewer.user_id, kind=kind.value, channel=channel, enabled=enabled
                )
            )
        else:
            row.enabled = enabled
    return Preference(kind, channel, enabled)


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


async def notifications_for_sync(
    *, db: Database, viewer: Viewer, notification_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Notification]:
    """Of these notifications, the viewer's own (the offline sync's upserts)."""
    async with db.read() as session:
        found = await session.scalars(
            select(Notification).where(
                Notification.id.in_(notification_ids), Notification.user_id == viewer.user_id
            )
        )
        return {notification.id: notification for notification in found}


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
        marked = await session.scalars(
            statement.returning(Notification.id).execution_options(synchronize_session=False)
        )
        for notification_id in marked.all():
            sync_log.note(
                session,
                ChangeType.NOTIFICATION,
                notification_id,
                [sync_log.person(viewer.user_id)],
            )
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == viewer.user_id, Notification.read_at.is_(None))
        )
    return int(count or 0)
