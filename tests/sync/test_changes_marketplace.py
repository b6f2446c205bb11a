"""The offline sync feed over the marketplace: listings, offers, trades and notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from backend.kit.db import Database
from backend.sync.models import Change
from tests.conftest import GraphQL
from tests.marketplace.trading_kit import LISTING_CREATE, accept, listing_input, make_offer, publish
from tests.sync.sync_kit import brief, changes_page, start, sync

LISTING_UPDATE = """
mutation Update($input: ListingUpdateInput!) {
  listingUpdate(input: $input) { listing { id version } errors { code message field } }
}
"""
LISTING_DELETE = """
mutation Delete($id: ID!) { listingDelete(id: $id) { deletedId errors { code } } }
"""
LISTING_HIDE = """
mutation Hide($input: ListingHideInput!) {
  listingHide(input: $input) { listing { id } errors { code message } }
}
"""
MARK_READ = """
mutation Read($input: NotificationsMarkReadInput!) {
  notificationsMarkRead(input: $input) { unreadCount errors { code } }
}
"""


async def change_rows(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(Change)) or 0


async def test_a_listing_and_an_offer_reach_the_two_organisations_and_nobody_else(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill, a pellet maker and a bystander firm, each synced once
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    bystander = await register("other@maniwa.example", cluster_id, name="Other Firm")
    cursors = {who.email: await start(gql, who.access_token) for who in (mill, pellets, bystander)}
    # when the mill publishes shavings and the pellet maker makes an offer
    listing = await publish(gql, mill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    # then the mill's app gets its listing, the offer and the notification about it
    mill_items, _ = await sync(gql, mill.access_token, cursors[mill.email])
    assert [(t, i, a) for t, i, a in brief(mill_items) if t != "NOTIFICATION"] == [
        ("LISTING", listing["id"], "UPSERT"),
        ("OFFER", offer["id"], "UPSERT"),
    ]
    assert [i["notification"]["kind"] for i in mill_items if i["type"] == "NOTIFICATION"] == [
        "OFFER_RECEIVED"
    ]
    assert mill_items[0]["listing"] == {
        "id": listing["id"],
        "status": "ACTIVE",
        "title": "Cedar shavings, dry",
        "version": listing["version"],
        "quantityCommitted": "0",
    }
    assert mill_items[1]["offer"] == {"id": offer["id"], "status": "PENDING", "version": 1}
    # the pellet maker's app gets its offer and the listing it is on
    pellet_items, _ = await sync(gql, pellets.access_token, cursors[pellets.email])
    assert sorted(brief(pellet_items)) == [
        ("LISTING", listing["id"], "UPSERT"),
        ("OFFER", offer["id"], "UPSERT"),
    ]
    # and the bystander's app gets nothing, but a cursor that moved on
    feed = await changes_page(gql, bystander.access_token, cursors[bystander.email])
    assert (feed["items"], feed["hasMore"]) == ([], False)
    assert feed["cursor"] != cursors[bystander.email]


async def test_accepting_commits_quantity_that_reaches_the_offer_maker_with_the_trade(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a listing with an offer, both parties synced after the offer
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    listing = await publish(gql, mill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    since = await start(gql, pellets.access_token)
    # when the mill accepts
    trade = await accept(gql, mill.access_token, offer["id"])
    # then the pellet maker's app gets the listing's new committed quantity (a plain UPDATE),
    # the accepted offer and the trade
    items, _ = await sync(gql, pellets.access_token, since, types=["LISTING", "OFFER", "TRADE"])
    assert sorted(brief(items)) == sorted(
        [
            ("LISTING", listing["id"], "UPSERT"),
            ("OFFER", offer["id"], "UPSERT"),
            ("TRADE", trade["id"], "UPSERT"),
        ]
    )
    by_type = {item["type"]: item for item in items}
    assert by_type["LISTING"]["listing"]["quantityCommitted"] == "4"
    assert by_type["OFFER"]["offer"]["status"] == "ACCEPTED"
    assert by_type["TRADE"]["trade"]["status"] == "AGREED"


async def test_a_thing_changed_many_times_comes_once_at_its_latest_state(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a synced firm with a listing
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    listing = await publish(gql, mill.access_token)
    since = await start(gql, mill.access_token)
    # when it edits the listing three times
    for version, title in ((1, "Shavings A"), (2, "Shavings B"), (3, "Shavings C")):
        body = await gql(
            LISTING_UPDATE,
            {"input": {"id": listing["id"], "title": title, "expectedVersion": version}},
            token=mill.access_token,
        )
        assert body["data"]["listingUpdate"]["errors"] == [], body
    # then its app gets the listing once, as it is now
    items, _ = await sync(gql, mill.access_token, since)
    assert brief(items) == [("LISTING", listing["id"], "UPSERT")]
    assert (items[0]["listing"]["title"], items[0]["listing"]["version"]) == ("Shavings C", 4)


async def test_a_deleted_draft_is_a_tombstone(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # Given a synced firm that made a draft
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    created = await gql(
        LISTING_CREATE, {"input": listing_input(publish=False)}, token=mill.access_token
    )
    draft = created["data"]["listingCreate"]["listing"]
    first, since = await sync(gql, mill.access_token, since)
    assert brief(first) == [("LISTING", draft["id"], "UPSERT")]
    # when it deletes the draft
    deleted = await gql(LISTING_DELETE, {"id": draft["id"]}, token=mill.access_token)
    assert deleted["data"]["listingDelete"]["errors"] == []
    # then its app is told to drop it
    items, _ = await sync(gql, mill.access_token, since)
    assert items == [
        {
            "type": "LISTING",
            "id": draft["id"],
            "action": "TOMBSTONE",
            "listing": None,
            "offer": None,
            "trade": None,
            "purchaseGroup": None,
            "thread": None,
            "event": None,
            "notification": None,
        }
    ]


async def test_a_listing_the_moderators_hide_is_a_tombstone_for_the_offer_maker_only(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # Given a listing with an offer, both parties synced
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    listing = await publish(gql, mill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    mill_since = await start(gql, mill.access_token)
    pellets_since = await start(gql, pellets.access_token)
    # when the moderators hide the listing (which declines the open offer)
    hidden = await gql(
        LISTING_HIDE,
        {"input": {"id": listing["id"], "reason": "Misleading photo"}},
        token=platform_admin_token,
    )
    assert hidden["data"]["listingHide"]["errors"] == [], hidden
    # then the offer maker may no longer read the listing: a tombstone, and the declined offer
    items, _ = await sync(gql, pellets.access_token, pellets_since, types=["LISTING", "OFFER"])
    assert sorted(brief(items)) == sorted(
        [("LISTING", listing["id"], "TOMBSTONE"), ("OFFER", offer["id"], "UPSERT")]
    )
    assert next(i for i in items if i["type"] == "OFFER")["offer"]["status"] == "DECLINED"
    # while the owner still reads its hidden listing
    owner_items, _ = await sync(gql, mill.access_token, mill_since, types=["LISTING"])
    assert brief(owner_items) == [("LISTING", listing["id"], "UPSERT")]


async def test_pages_walk_every_change_once_in_commit_order(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a synced firm that publishes five listings one after the other
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    published = [(await publish(gql, mill.access_token, title=f"Lot {n}"))["id"] for n in range(5)]
    # when its app syncs two at a time
    pages = []
    while True:
        feed = await changes_page(gql, mill.access_token, since, first=2)
        pages.append([item["id"] for item in feed["items"]])
        since = feed["cursor"]
        if not feed["hasMore"]:
            break
    # then it gets each once, in the order they were committed, and then nothing more
    assert pages == [published[0:2], published[2:4], published[4:5]]
    again = await changes_page(gql, mill.access_token, since)
    assert (again["items"], again["hasMore"], again["cursor"]) == ([], False, since)


async def test_reading_a_notification_reaches_the_app_and_a_refused_write_leaves_no_change(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given the mill with an unread offer notification, synced
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    listing = await publish(gql, mill.access_token)
    await make_offer(gql, pellets.access_token, listing["id"])
    since = await start(gql, mill.access_token)
    # when a refused edit (stale version) is sent, then every notification is marked read
    rows = await change_rows(db)
    refused = await gql(
        LISTING_UPDATE,
        {"input": {"id": listing["id"], "title": "Changed", "expectedVersion": 99}},
        token=mill.access_token,
    )
    assert refused["data"]["listingUpdate"]["errors"][0]["code"] == "CONFLICT"
    assert await change_rows(db) == rows
    marked = await gql(MARK_READ, {"input": {}}, token=mill.access_token)
    assert marked["data"]["notificationsMarkRead"] == {"unreadCount": 0, "errors": []}
    # then the app gets the notification again, read
    items, _ = await sync(gql, mill.access_token, since)
    assert [(i["type"], i["notification"]["kind"]) for i in items] == [
        ("NOTIFICATION", "OFFER_RECEIVED")
    ]
    assert items[0]["notification"]["readAt"] is not None
