"""End to end through the Python client SDK (clients/python), as an app would use the API:
operations by hash, sessions with refresh, retries that never do the work twice, pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from eic_client import EICClient, EICError
from sqlalchemy import func, select

from backend.app import create_app
from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.kit.clock import ManualClock
from backend.kit.db import Database, utcnow
from backend.marketplace.models import Listing
from backend.settings import Settings
from tests.conftest import PASSWORD
from tests.marketplace.trading_kit import listing_input


class LosesAnAnswer(httpx.AsyncBaseTransport):
    """Delivers every request to the app, but, once armed, loses the answer of the next
    mutation: the phone that went into a tunnel just after sending."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.armed = False
        self.lost = 0
        self.keys: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        key = request.headers.get("Idempotency-Key")
        if key is not None and self.armed:
            self.keys.append(key)
            if self.lost == 0:
                self.lost += 1
                await response.aread()
                raise httpx.ReadError("connection lost", request=request)
        return response


@pytest.fixture
async def app(db: Database, settings: Settings, clock: ManualClock) -> Any:
    return create_app(settings, db=db, clock=clock)


@pytest.fixture
async def eic(app: Any) -> AsyncIterator[EICClient]:
    async def no_wait(_: float) -> None:
        return None

    async with EICClient(
        "http://eic.test", transport=httpx.ASGITransport(app=app), sleep=no_wait
    ) as client:
        yield client


async def test_sign_in_list_and_page_through_the_market(
    eic: EICClient, register: Any, cluster_id: str
) -> None:
    # Given a firm registered through the API, signed in through the SDK
    await register("firm@maniwa.example", cluster_id)
    session = await eic.sign_in("firm@maniwa.example", PASSWORD)
    assert session.role == "FIRM"
    # when it lists five lots and reads the market two at a time
    for n in range(5):
        saved = await eic.run("ListingSave", {"input": listing_input(title=f"Shavings lot {n}")})
        assert saved["listingCreate"]["errors"] == []
    titles = [
        node["title"]
        async for node in eic.pages(
            "MarketSearch",
            {"filter": {"materialCode": "wood-shavings"}},
            lambda d: d["listings"],
            page_size=2,
        )
    ]
    # then it sees all five, newest first, once each
    assert titles == [f"Shavings lot {n}" for n in reversed(range(5))]


async def test_a_mutation_whose_answer_was_lost_is_retried_and_done_once(
    app: Any, db: Database, register: Any, cluster_id: str
) -> None:
    await register("firm@maniwa.example", cluster_id)
    transport = LosesAnAnswer(app)

    async def no_wait(_: float) -> None:
        return None

    async with EICClient("http://eic.test", transport=transport, sleep=no_wait) as eic:
        await eic.sign_in("firm@maniwa.example", PASSWORD)
        transport.armed = True
        # when the answer is lost on the way back
        saved = await eic.run("ListingSave", {"input": listing_input(title="Cedar shavings")})
    # then the SDK sent the same request again with the same key, and got the first answer
    assert saved["listingCreate"]["errors"] == []
    assert transport.lost == 1
    assert len(transport.keys) == 2  # the lost one, and the retry with the same key
    assert transport.keys[0] == transport.keys[1]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Listing)) == 1


async def test_an_expired_access_token_is_refreshed_once(
    eic: EICClient, register: Any, cluster_id: str, settings: Settings
) -> None:
    account = await register("firm@maniwa.example", cluster_id)
    session = await eic.sign_in("firm@maniwa.example", PASSWORD)
    # Given an access token that expired an hour ago
    session.access_token = (
        Security.from_settings(settings)
        .tokens.issue_access(
            user_id=uuid.UUID(account.user_id),
            role=Role.FIRM,
            organisation_id=uuid.UUID(account.organisation_id or ""),
            session_id=uuid.uuid4(),  # expired first: its session is never looked up
            now=utcnow() - timedelta(hours=1),
        )
        .token
    )
    expired = session.access_token
    # when the app reads its listings, then the SDK refreshes the session and gets them
    mine = await eic.run("MyListings", {})
    assert mine["myListings"]["totalCount"] == 0
    assert eic.session is not None
    assert eic.session.access_token != expired


async def test_graphql_errors_raise_with_their_codes(eic: EICClient) -> None:
    # signed out, a signed-in-only query is refused with a code the app can act on
    with pytest.raises(EICError) as refused:
        await eic.run("MyListings", {})
    assert refused.value.codes == ["UNAUTHENTICATED"]


async def test_an_offline_copy_follows_the_market_through_the_sync_feed(
    eic: EICClient, register: Any, cluster_id: str, gql: Any
) -> None:
    # Given the mill's app, which took a cursor and then loaded its (empty) copy
    await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    await eic.sign_in("mill@maniwa.example", PASSWORD)
    cursor = await eic.sync_start()
    copy: dict[tuple[str, str], dict[str, Any]] = {}
    # when it lists two lots, deletes a draft, and the pellet maker offers on one lot
    lots = []
    for title in ("Shavings lot A", "Shavings lot B"):
        saved = await eic.run("ListingSave", {"input": listing_input(title=title)})
        lots.append(saved["listingCreate"]["listing"]["id"])
    draft = await eic.run("ListingSave", {"input": listing_input(title="Draft", publish=False)})
    draft_id = draft["listingCreate"]["listing"]["id"]
    await eic.run("ListingDiscardDraft", {"id": draft_id})
    offered = await gql(
        """mutation($input: OfferCreateInput!) { offerCreate(input: $input) { offer { id } } }""",
        {"input": {"listingId": lots[0], "quantity": "2", "pricePerUnit": "4000"}},
        token=pellets.access_token,
    )
    offer_id = offered["data"]["offerCreate"]["offer"]["id"]
    # and syncs three at a time, applying each change to its copy
    items, cursor = await eic.sync(cursor, page_size=3)
    for item in items:
        key = (item["type"], item["id"])
        if item["action"] == "TOMBSTONE":
            copy.pop(key, None)
        else:
            field = {"LISTING": "listing", "OFFER": "offer", "NOTIFICATION": "notification"}
            copy[key] = item[field[item["type"]]]
    # then the copy holds the two lots, the offer and its notification, and not the draft
    assert sorted(copy) == sorted(
        [("LISTING", lots[0]), ("LISTING", lots[1]), ("OFFER", offer_id)]
        + [key for key in copy if key[0] == "NOTIFICATION"]
    )
    assert len([key for key in copy if key[0] == "NOTIFICATION"]) == 1
    assert ("LISTING", draft_id) not in copy
    assert copy[("OFFER", offer_id)]["status"] == "PENDING"
    # and a cursor of another account is refused with RESYNC_REQUIRED
    async with EICClient("http://eic.test", transport=eic.http._transport) as other:
        await other.sign_in("pellets@maniwa.example", PASSWORD)
        with pytest.raises(EICError) as refused:
            await other.sync(cursor)
    assert refused.value.codes == ["RESYNC_REQUIRED"]
