"""The inbox in GraphQL: a person's notifications and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import Payload, context_of, parse_id, signed_in
from backend.kit.pagination import PageRequest
from backend.notifications import models, service, texts
from backend.notifications.models import Channel, NotificationKind, Platform, PushProvider
from backend.notifications.push import enabled_providers

strawberry.enum(NotificationKind, description="What happened; apps pick icon and screen by it.")
strawberry.enum(Platform, description="The kind of device.")
strawberry.enum(
    PushProvider,
    description="The service that issued a device's push token and delivers to it: EXPO (Expo's "
    "push service), FCM (Firebase Cloud Messaging) or APNS (Apple Push Notification service).",
)
strawberry.enum(
    Channel,
    description="INBOX: the notifications list and its unread count. PUSH: a push message to "
    "the person's devices.",
)


@strawberry.type(name="Device", description="A phone that receives push messages.")
class DeviceType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    platform: Platform = strawberry.field(description="IOS, ANDROID or WEB.")
    provider: PushProvider = strawberry.field(description="The service its pushes go through.")
    locale: str = strawberry.field(description="BCP 47 language tag of the device.")
    created_at: datetime = strawberry.field(description="When it was first registered.")
    last_seen_at: datetime = strawberry.field(description="When it was last registered.")


@strawberry.type(
    name="NotificationPreference", description="Whether one kind of notification uses a channel."
)
class NotificationPreferenceType:
    kind: NotificationKind = strawberry.field(description="The kind of notification.")
    channel: Channel = strawberry.field(description="INBOX or PUSH.")
    enabled: bool = strawberry.field(description="On (the default) or off.")


@strawberry.input(description="Register the phone for push messages.")
class DeviceRegisterInput:
    token: str = strawberry.field(
        description="The push token from the phone: an Expo push token "
        "(`ExponentPushToken[...]`), an FCM registration token, or an APNs device token in hex."
    )
    platform: Platform = strawberry.field(description="IOS, ANDROID or WEB.")
    provider: PushProvider | None = strawberry.field(
        default=None,
        description="The service that issued the token; null: told from the token's shape. "
        "A service this server has no credentials for answers PUSH_PROVIDER_DISABLED.",
    )
    locale: str = strawberry.field(default="en", description="BCP 47 tag, such as `ja` or `th`.")


@strawberry.input(description="Turn one kind of notification on or off on one channel.")
class NotificationPreferenceSetInput:
    kind: NotificationKind = strawberry.field(description="The kind of notification.")
    channel: Channel = strawberry.field(description="INBOX or PUSH.")
    enabled: bool = strawberry.field(description="On or off.")


@strawberry.type(description="Result of `deviceRegister`.")
class DeviceRegisterPayload(Payload):
    device: DeviceType | None = strawberry.field(default=None, description="The device.")


@strawberry.type(description="Result of `deviceUnregister`.")
class DeviceUnregisterPayload(Payload):
    removed: bool = strawberry.field(
        default=False, description="Whether a device of yours with that token was removed."
    )


@strawberry.type(description="Result of `notificationPreferenceSet`.")
class NotificationPreferencePayload(Payload):
    preference: NotificationPreferenceType | None = strawberry.field(
        default=None, description="The choice as it is now."
    )


@strawberry.type(
    name="Notification",
    description="Something a person should know about. Its title and body are in the language "
    "the request's Accept-Language header prefers of English, Japanese, Thai, Vietnamese, Tamil "
    "and Hindi (English when it names none of them).",
)
class NotificationType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: NotificationKind = strawberry.field(description="What happened.")
    subject_type: str = strawberry.field(
        description="What it is about, such as EVENT; open `subjectId` on that screen."
    )
    subject_id: strawberry.ID = strawberry.field(description="Id of what it is about.")
    created_at: datetime = strawberry.field(description="When it happened.")
    read_at: datetime | None = strawberry.field(description="When it was read; null if unread.")
    stored: strawberry.Private[models.Notification]

    @strawberry.field(description="One line to show, in the request's language.")
    def title(self, info: strawberry.Info) -> str:
        return self._text(info).title

    @strawberry.field(description="More detail, in the request's language; may be empty.")
    def body(self, info: strawberry.Info) -> str:
        return self._text(info).body

    def _text(self, info: strawberry.Info) -> texts.Rendered:
        row = self.stored
        return texts.render_stored(
            row.text_template,
            row.text_params,
            request_language(info),
            title=row.title,
            body=row.body,
        )

    @classmethod
    def of(cls, notification: models.Notification) -> NotificationType:
        return cls(
            id=strawberry.ID(str(notification.id)),
            kind=notification.kind,
            subject_type=notification.subject_type,
            subject_id=strawberry.ID(str(notification.subject_id)),
            created_at=notification.created_at,
            read_at=notification.read_at,
            stored=notification,
        )


def request_language(info: strawberry.Info) -> str:
    """The inbox's language: the one the request's Accept-Language prefers, worked out once
    per request (or WebSocket connection). The request and not a setting of the person: the
    app's screen is in the language its phone is set to, which the app sends with each
    request, and one person with phones in two languages reads each in its own."""
    context = context_of(info)

    def negotiated() -> str:
        request = context.request
        header = None if request is None else request.headers.get("accept-language")
        return texts.language_of_header(header)

    language: str = context.loader(LANGUAGE, negotiated)
    return language


LANGUAGE = "notifications:language"


@strawberry.input(description="Which notifications to mark read.")
class NotificationsMarkReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="These (at most 100); null for every unread notification."
    )


@strawberry.type(description="The inbox after marking.")
class NotificationsMarkReadPayload(Payload):
    unread_count: int | None = strawberry.field(
        default=None, description="How many are still unread; null when there are errors."
    )


@strawberry.type
class NotificationsQuery:
    @strawberry.field(
        description="Every kind of notification on every channel, with your choice.",
        permission_classes=[IsAuthenticated],
    )
    async def notification_preferences(
        self, info: strawberry.Info
    ) -> list[NotificationPreferenceType]:
        chosen = await service.preferences(db=context_of(info).db, viewer=signed_in(info))
        return [
            NotificationPreferenceType(kind=p.kind, channel=p.channel, enabled=p.enabled)
            for p in chosen
        ]

    @strawberry.field(
        description="The viewer's notifications, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def notifications(
        self,
        info: strawberry.Info,
        unread_only: Annotated[
            bool, strawberry.argument(description="Only those not read yet.")
        ] = False,
        first: First = None,
        after: After = None,
    ) -> Connection[NotificationType]:
        page = await service.list_notifications(
            db=context_of(info).db,
            viewer=signed_in(info),
            unread_only=unread_only,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[NotificationType].of(page, NotificationType.of)

    @strawberry.field(
        description="How many of the viewer's notifications are unread (the badge).",
        permission_classes=[IsAuthenticated],
    )
    async def notifications_unread_count(self, info: strawberry.Info) -> int:
        return await service.unread_count(db=context_of(info).db, viewer=signed_in(info))


@strawberry.type
class NotificationsMutation:
    @payload_mutation(
        description="Receive push messages on this phone. Registering the same token again "
        "refreshes it (and moves it to you if someone else used the phone).",
        gates=(IsAuthenticated,),
    )
    async def device_register(
        self,
        info: strawberry.Info,
        input: Annotated[DeviceRegisterInput, strawberry.argument(description="The device.")],
    ) -> DeviceRegisterPayload:
        context = context_of(info)
        device = await service.register_device(
            db=context.db,
            viewer=signed_in(info),
            token=input.token,
            platform=input.platform,
            locale=input.locale,
            now=context.clock.now(),
            provider=input.provider,
            enabled=enabled_providers(context.settings),
        )
        return DeviceRegisterPayload(
            device=DeviceType(
                id=strawberry.ID(str(device.id)),
                platform=device.platform,
                provider=device.provider,
                locale=device.locale,
                created_at=device.created_at,
                last_seen_at=device.last_seen_at,
            )
        )

    @payload_mutation(
        description="Stop push messages to this phone (on sign-out).", gates=(IsAuthenticated,)
    )
    async def device_unregister(
        self,
        info: strawberry.Info,
        token: Annotated[str, strawberry.argument(description="The phone's push token.")],
    ) -> DeviceUnregisterPayload:
        removed = await service.unregister_device(
            db=context_of(info).db, viewer=signed_in(info), token=token
        )
        return DeviceUnregisterPayload(removed=removed)

    @payload_mutation(
        description="Turn one kind of notification on or off in the inbox or as a push.",
        gates=(IsAuthenticated,),
    )
    async def notification_preference_set(
        self,
        info: strawberry.Info,
        input: Annotated[
            NotificationPreferenceSetInput, strawberry.argument(description="The choice.")
        ],
    ) -> NotificationPreferencePayload:
        chosen = await service.set_preference(
            db=context_of(info).db,
            viewer=signed_in(info),
            kind=input.kind,
            channel=input.channel,
            enabled=input.enabled,
        )
        return NotificationPreferencePayload(
            preference=NotificationPreferenceType(
                kind=chosen.kind, channel=chosen.channel, enabled=chosen.enabled
            )
        )

    @payload_mutation(
        description="Mark notifications read. Unknown ids and ones already read are ignored, "
        "so a retried request is harmless.",
        gates=(IsAuthenticated,),
    )
    async def notifications_mark_read(
        self,
        info: strawberry.Info,
        input: Annotated[
            NotificationsMarkReadInput, strawberry.argument(description="Which to mark.")
        ],
    ) -> NotificationsMarkReadPayload:
        context = context_of(info)
        ids = (
            None
            if input.ids is None
            else [parse_id(value, f"ids.{i}") for i, value in enumerate(input.ids)]
        )
        unread = await service.mark_read(
            db=context.db, viewer=signed_in(info), ids=ids, now=context.clock.now()
        )
        return NotificationsMarkReadPayload(unread_count=unread)
