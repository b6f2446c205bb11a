"""The notifications inbox: one row per person and thing worth telling them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


class NotificationKind(StrEnum):
    EVENT_REGISTRATION_CONFIRMED = "EVENT_REGISTRATION_CONFIRMED"
    EVENT_REGISTRATION_PROMOTED = "EVENT_REGISTRATION_PROMOTED"
    EVENT_REGISTRATION_REJECTED = "EVENT_REGISTRATION_REJECTED"
    EVENT_CHANGED = "EVENT_CHANGED"
    EVENT_CANCELLED = "EVENT_CANCELLED"
    PURCHASE_GROUP_CONFIRMED = "PURCHASE_GROUP_CONFIRMED"
    PURCHASE_GROUP_FAILED = "PURCHASE_GROUP_FAILED"
    PURCHASE_GROUP_CANCELLED = "PURCHASE_GROUP_CANCELLED"
    PURCHASE_GROUP_ORDERED = "PURCHASE_GROUP_ORDERED"
    PURCHASE_GROUP_DELIVERED = "PURCHASE_GROUP_DELIVERED"
    PLEDGE_MADE_FOR_YOU = "PLEDGE_MADE_FOR_YOU"
    FORUM_REPLY = "FORUM_REPLY"
    FORUM_MENTION = "FORUM_MENTION"
    LISTING_MATCH = "LISTING_MATCH"
    OFFER_RECEIVED = "OFFER_RECEIVED"
    OFFER_COUNTERED = "OFFER_COUNTERED"
    OFFER_ACCEPTED = "OFFER_ACCEPTED"
    OFFER_DECLINED = "OFFER_DECLINED"
    OFFER_WITHDRAWN = "OFFER_WITHDRAWN"
    TRADE_IN_TRANSIT = "TRADE_IN_TRANSIT"
    TRADE_DELIVERED = "TRADE_DELIVERED"
    TRADE_COMPLETED = "TRADE_COMPLETED"
    TRADE_CANCELLED = "TRADE_CANCELLED"
    TRADE_DISPUTED = "TRADE_DISPUTED"
    TRADE_MESSAGE = "TRADE_MESSAGE"
    TRADE_REVIEWED = "TRADE_REVIEWED"
    # Someone asked accountRegister for an account with this person's email (subject: USER).
    ACCOUNT_REGISTRATION_ATTEMPTED = "ACCOUNT_REGISTRATION_ATTEMPTED"
    # Umbrella permits (subject: PERMIT_CONDITION or PERMIT_TRANSFER)
    PERMIT_TRANSFER_REQUESTED = "PERMIT_TRANSFER_REQUESTED"  # to the holder's admins
    PERMIT_TRANSFER_DECIDED = "PERMIT_TRANSFER_DECIDED"  # to both members
    PERMIT_ALLOCATION_CHANGED = "PERMIT_ALLOCATION_CHANGED"  # to a member, by holder or transfer
    PERMIT_USE_WARNING = "PERMIT_USE_WARNING"  # a return reached 80 % or 100 % of a share or cap
    # Waste licences (subject: WASTE_LICENCE)
    LICENCE_VERIFIED = "LICENCE_VERIFIED"
    LICENCE_VERIFICATION_WITHDRAWN = "LICENCE_VERIFICATION_WITHDRAWN"  # the body says why
    LICENCE_EXPIRING = "LICENCE_EXPIRING"  # within 30 days


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # The inbox: a person's notifications, newest first.
        Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # No CHECK of the values: every domain adds kinds, and an inbox row must never block a
    # rollback to a version that knows fewer of them.
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, native_enum=False, create_constraint=False, length=48)
    )
    # The text in English, as written when it happened: what a row without a template (from
    # before templates) shows in every language, and every row in a language we lack.
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    # How to tell it in any language: a template of backend/notifications/texts.py and its
    # parameters (a material as its names by language), rendered when read.
    text_template: Mapped[str | None] = mapped_column(String(80), nullable=True)
    text_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What the notification is about, so the app can open it: ("EVENT", id), ...
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # Anything else a screen needs to show it without another request.
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The same happening told twice (a retried job, two processes) carries the same key once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# ---------------------------------------------------------------------------------------------
# Devices, preferences and the push outbox


class Platform(StrEnum):
    IOS = "IOS"
    ANDROID = "ANDROID"
    WEB = "WEB"


class PushProvider(StrEnum):
    """The service that delivers to a device: the one that issued its push token."""

    EXPO = (
        "EXPO"  # Expo's push service (ExponentPushToken[...]), which forwards to Apple and Google
    )
    FCM = "FCM"  # Firebase Cloud Messaging HTTP v1 (an FCM registration token)
    APNS = "APNS"  # Apple Push Notification service (a device token in hex)


class Channel(StrEnum):
    INBOX = "INBOX"  # the notifications list and its unread count
    PUSH = "PUSH"  # a push message to the person's devices


class Device(Base):
    """A phone that receives push messages: its push token, and the provider that issued it."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # A token belongs to one installation: registering it again moves it to the new person.
    token: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, "platform"))
    # Which service its pushes go through; devices registered before there was a choice are EXPO.
    provider: Mapped[PushProvider] = mapped_column(
        enum_column(PushProvider, "push_provider"), default=PushProvider.EXPO
    )
    locale: Mapped[str] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationPreference(Base):
    """A person's choice for one kind of notification on one channel; no row means on."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(48), primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


class PushStatus(StrEnum):
    PENDING = "PENDING"
    # Handed to the provider, its answer not recorded yet: committed before the request goes out,
    # so a worker that dies meanwhile leaves a trace instead of a message that looks unsent.
    SENDING = "SENDING"
    SENT = "SENT"
    # The provider may have it: the send's answer never came (a timeout past acceptance, a 500,
    # a worker that died mid-send). Never sent again, as the provider cannot tell us
    # (see push/outbox.py).
    MAYBE_SENT = "MAYBE_SENT"
    FAILED = "FAILED"  # gave up after MAX_ATTEMPTS


class PushMessage(Base):
    """The outbox: one push per notification and device, written in the notification's own
    transaction and delivered by :mod:`backend.notifications.push.outbox`."""

    __tablename__ = "push_messages"
    __table_args__ = (
        UniqueConstraint("notification_id", "device_id"),
        Index("ix_push_messages_status_next_attempt_at", "status", "next_attempt_at"),
        # the receipts pass: sent messages whose receipt was not read yet, oldest first
        Index(
            "ix_push_messages_status_receipt_checked_at_sent_at",
            "status",
            "receipt_checked_at",
            "sent_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[PushStatus] = mapped_column(enum_column(PushStatus, "push_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # a worker's lease: other workers leave the message alone until it ends
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The provider's ticket for a sent message, and when its receipt (delivered to Apple or
    # Google, or not) was read: Expo says only there that a token died after it took a message.
    ticket_id: Mapped[str | None] = mapped_column(String(100))
    receipt_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# What the apps keep offline (backend/sync): a person's notifications.
sync_log.track(
    Notification,
    lambda row: [(ChangeType.NOTIFICATION, row.id, [sync_log.person(row.user_id)])],
)
