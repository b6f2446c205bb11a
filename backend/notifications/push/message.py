"""A push as the outbox hands it to a provider: in no provider's format yet.

:func:`message_text` is the one place that words a notification for a device; every provider
shows what it returns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.notifications import texts
from backend.notifications.models import (
    Device,
    Notification,
    NotificationKind,
    Platform,
    PushMessage,
)


class Priority(StrEnum):
    # Wakes the phone at once (APNs 10, FCM and Expo "high"): the person is expected to act.
    HIGH = "HIGH"
    # Delivered when it suits the phone's battery (APNs 5, FCM and Expo "normal").
    NORMAL = "NORMAL"


# Someone waits for an answer, a plan changed at short notice, or an account is at stake.
URGENT_KINDS = frozenset(
    {
        NotificationKind.OFFER_RECEIVED,
        NotificationKind.OFFER_COUNTERED,
        NotificationKind.OFFER_ACCEPTED,
        NotificationKind.TRADE_MESSAGE,
        NotificationKind.TRADE_DISPUTED,
        NotificationKind.EVENT_CHANGED,
        NotificationKind.EVENT_CANCELLED,
        NotificationKind.EVENT_REGISTRATION_PROMOTED,
        NotificationKind.PERMIT_TRANSFER_REQUESTED,
        NotificationKind.ACCOUNT_REGISTRATION_ATTEMPTED,
    }
)


def message_text(notification: Notification, device: Device) -> tuple[str, str]:
    """The title and body ``device`` shows for ``notification``: in the device's language
    (English when we lack it; the stored English text for rows older than their template)."""
    text = texts.render_stored(
        notification.text_template,
        notification.text_params,
        texts.language_of(device.locale),
        title=notification.title,
        body=notification.body,
    )
    return text.title, text.body


def priority_of(notification: Notification) -> Priority:
    return Priority.HIGH if notification.kind in URGENT_KINDS else Priority.NORMAL


@dataclass(frozen=True, slots=True)
class Push:
    """One push message to one device."""

    message_id: uuid.UUID
    token: str
    platform: Platform
    title: str
    body: str
    # what the app needs to open the notification; every value a string (FCM's rule)
    data: dict[str, str]
    badge: int | None  # the person's unread notifications, for the app icon
    priority: Priority
    # After this the provider drops it instead of delivering it late (the inbox has it).
    expires_at: datetime
    ttl_seconds: int  # the same, as seconds from the moment it is sent
    android_channel: str | None


def push_of(
    message: PushMessage,
    device: Device,
    notification: Notification,
    *,
    badge: int | None,
    now: datetime,
    ttl: timedelta,
    android_channel: str | None,
) -> Push:
    """The push of an outbox message: its lifetime counts from the notification, so a push
    retried an hour later lives an hour less."""
    title, body = message_text(notification, device)
    expires_at = notification.created_at + ttl
    return Push(
        message_id=message.id,
        token=device.token,
        platform=device.platform,
        title=title,
        body=body,
        data={
            "messageId": str(message.id),
            "notificationId": str(notification.id),
            "kind": str(notification.kind),
            "subjectType": notification.subject_type,
            "subjectId": str(notification.subject_id),
        },
        badge=badge,
        priority=priority_of(notification),
        expires_at=expires_at,
        ttl_seconds=max(0, int((expires_at - now).total_seconds())),
        android_channel=android_channel,
    )
