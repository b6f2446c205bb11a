"""GraphQL for the offline sync feed: ``changes(since, types, first)``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.auth.viewer import Viewer
from backend.events.schema.types import EventType
from backend.forums.schema import ThreadType
from backend.graphql.cost import ONE_OF, page_size
from backend.graphql.types import context_of, signed_in
from backend.marketplace.schema.trading_types import OfferType, TradeType
from backend.marketplace.schema.types import ListingType, ListingTypes
from backend.notifications.schema import NotificationType
from backend.purchasing.schema.types import PurchaseGroupType
from backend.sync import service
from backend.sync.models import ChangeType

strawberry.enum(
    ChangeType,
    description="What kind of thing changed: the kinds an app keeps offline.",
)


@strawberry.enum(description="What the app does with a change.")
class ChangeAction(Enum):
    UPSERT = strawberry.enum_value(
        "UPSERT",
        description="Store the state in the field named after the type in place of the copy "
        "with this id (or add it).",
    )
    TOMBSTONE = strawberry.enum_value(
        "TOMBSTONE",
        description="Drop the copy with this id: the thing was deleted, or is no longer the "
        "viewer's to read or keep (a thread unfollowed, a registration cancelled).",
    )


@strawberry.type(
    name="Change",
    description="The latest change of one thing since the cursor. Of the fields named after "
    "the kinds, the one of `type` holds its current state (as its own query answers) on an "
    "UPSERT; the others, and all of them on a TOMBSTONE, are null. (Separate fields rather "
    "than a union, so that each kind's detail fragment can be spread as it is.)",
)
class ChangeItem:
    type: ChangeType = strawberry.field(description="What kind of thing it is.")
    id: strawberry.ID = strawberry.field(description="Its id (as in its own queries).")
    action: ChangeAction = strawberry.field(description="Store it, or drop it.")
    listing: ListingType | None = strawberry.field(
        description="A LISTING's current state.", metadata=ONE_OF
    )
    offer: OfferType | None = strawberry.field(
        description="An OFFER's current state.", metadata=ONE_OF
    )
    trade: TradeType | None = strawberry.field(
        description="A TRADE's current state.", metadata=ONE_OF
    )
    purchase_group: PurchaseGroupType | None = strawberry.field(
        description="A PURCHASE_GROUP's current state.", metadata=ONE_OF
    )
    thread: ThreadType | None = strawberry.field(
        description="A FORUM_THREAD's current state.", metadata=ONE_OF
    )
    event: EventType | None = strawberry.field(
        description="An EVENT's current state.", metadata=ONE_OF
    )
    notification: NotificationType | None = strawberry.field(
        description="A NOTIFICATION's current state.", metadata=ONE_OF
    )


@strawberry.type(description="A page of changes and the cursor to ask from next.")
class ChangeFeed:
    cursor: str = strawberry.field(
        description="Keep it, and send it as `since` next time (also when `items` is empty: "
        "it moves on past other people's changes, so a quiet app never falls behind)."
    )
    has_more: bool = strawberry.field(
        description="More changes wait: ask again at once with the new cursor."
    )
    items: list[ChangeItem] = strawberry.field(
        description="Oldest first, each thing once, at its latest change."
    )


def _item(
    change: service.SyncedChange, viewer: Viewer, now: datetime, listings: ListingTypes
) -> ChangeItem:
    item = ChangeItem(
        type=change.type,
        id=strawberry.ID(str(change.id)),
        action=ChangeAction.TOMBSTONE if change.node is None else ChangeAction.UPSERT,
        listing=None,
        offer=None,
        trade=None,
        purchase_group=None,
        thread=None,
        event=None,
        notification=None,
    )
    node = change.node
    if node is None:
        return item
    if change.type is ChangeType.LISTING:
        item.listing = listings.of(node)
    elif change.type is ChangeType.OFFER:
        item.offer = OfferType.of(node, viewer, now)
    elif change.type is ChangeType.TRADE:
        item.trade = TradeType.of(node, viewer)
    elif change.type is ChangeType.PURCHASE_GROUP:
        item.purchase_group = PurchaseGroupType.of(node, viewer, now)
    elif change.type is ChangeType.FORUM_THREAD:
        item.thread = ThreadType.of(node)
    elif change.type is ChangeType.EVENT:
        item.event = EventType.of(node, viewer, now)
    else:
        item.notification = NotificationType.of(node)
    return item


@strawberry.type
class SyncQuery:
    @strawberry.field(
        description="What changed for the signed-in person since `since`, for their app's "
        "offline copy: their organisation's listings and those it made offers on, its offers "
        "and trades, the purchasing groups they pledged to, organise or supply, the forum "
        "threads they follow, the events they registered for or organise, and their "
        "notifications. Only what they may read now; anything else is a TOMBSTONE. First "
        "sync: call without `since` to get a cursor, then load the copy with the usual "
        "queries, then sync from that cursor. A cursor older than 30 days, of another "
        "account or organisation, or given before the server's data was restored from a "
        "backup, is answered with the error code RESYNC_REQUIRED: load the copy again.",
        permission_classes=[IsAuthenticated],
        metadata=page_size(default=service.DEFAULT_FIRST, most=service.MAX_FIRST),
    )
    async def changes(
        self,
        info: strawberry.Info,
        since: Annotated[
            str | None,
            strawberry.argument(description="The cursor of the last answer; none at first."),
        ] = None,
        types: Annotated[
            list[ChangeType] | None,
            strawberry.argument(
                description="Only these kinds (all by default). Keep one cursor per set of "
                "kinds: the cursor moves past the kinds left out."
            ),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"At most this many changes ({service.DEFAULT_FIRST} by default, "
                f"at most {service.MAX_FIRST})."
            ),
        ] = None,
    ) -> ChangeFeed:
        context = context_of(info)
        viewer = signed_in(info)
        now = context.clock.now()
        feed = await service.changes(
            db=context.db, viewer=viewer, since=since, types=types, first=first, now=now
        )
        listings = ListingTypes(viewer, now)
        return ChangeFeed(
            cursor=feed.cursor,
            has_more=feed.has_more,
            items=[_item(change, viewer, now, listings) for change in feed.items],
        )
