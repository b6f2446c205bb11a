"""The inbox in GraphQL: a person's notifications and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import Payload, context_of, parse_id, signed_in
from backend.notifications import models, service
from backend.notifications.models import NotificationKind
from backend.pagination import PageRequest

strawberry.enum(NotificationKind, description="What happened; apps pick icon and screen by it.")


@strawberry.type(name="Notification", description="Something a person should know about.")
class NotificationType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: NotificationKind = strawberry.field(description="What happened.")
    title: str = strawberry.field(description="One line to show.")
    body: str = strawberry.field(description="More detail; may be empty.")
    subject_type: str = strawberry.field(
        description="What it is about, such as EVENT; open `subjectId` on that screen."
    )
    subject_id: strawberry.ID = strawberry.field(description="Id of what it is about.")
    created_at: datetime = strawberry.field(description="When it happened.")
    read_at: datetime | None = strawberry.field(description="When it was read; null if unread.")

    @classmethod
    def of(cls, notification: models.Notification) -> NotificationType:
        return cls(
            id=strawberry.ID(str(notification.id)),
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            subject_type=notification.subject_type,
            subject_id=strawberry.ID(str(notification.subject_id)),
            created_at=notification.created_at,
            read_at=notification.read_at,
        )


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
