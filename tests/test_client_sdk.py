"""End to end through the Python client SDK (clients/python), as an app would use the API:
operations by hash, sessions with refresh, retries that never do the work twice, pages."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
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


class Routed(httpx.AsyncBaseTransport):
    """Sends the first ``down`` requests to an app whose database is away, the rest to the
    working app; records what each request got."""

    def __init__(self, down_app: Any, up_app: Any, down: int) -> None:
        self.down = httpx.ASGITransport(app=down_app)
        self.up = httpx.ASGITransport(app=up_app)
        self.left = down
        self.answers: list[tuple[int, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        inner = self.down if self.left > 0 else self.up
        self.left -= 1
        response = await inner.handle_async_request(request)
        body = await response.aread()
        codes = [
            (e.get("extensions") or {}).get("code") for e in json.loads(body).get("errors") or []
        ]
        self.answers.append((response.status_code, codes[0] if codes else None))
        # the body is decoded already: without the headers that described its encoding
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name not in ("content-encoding", "content-length")
        ]
        return httpx.Response(response.status_code, headers=headers, content=body)


@pytest.fixture
async def unreachable_app(settings: Settings, tmp_path: Path) -> AsyncIterator[Any]:
    """An app whose SQLite file cannot be opened (its directory does not exist): an outage."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/eic.db")
    yield create_app(settings, db=database)
    await database.dispose()


async def test_an_outage_is_retried_after_the_wait_the_server_asks_for(
    app: Any, unreachable_app: Any, register: Any, cluster_id: str
) -> None:
    # given an account, and a service whose database is away for the next two requests
    await register("firm@maniwa.example", cluster_id)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    transport = Routed(unreachable_app, app, down=2)
    async with EICClient("http://eic.test", transport=transport, sleep=sleep) as eic:
        # when the app reads the clusters (a query), and then signs in (a keyed mutation)
        clusters = await eic.run("Clusters", {}, authenticated=False)
        transport.left = 1
        session = await eic.sign_in("firm@maniwa.example", PASSWORD)

    # then the query was answered SERVICE_UNAVAILABLE twice (inside GraphQL, HTTP 200) and the
    # mutation 503 once (its key is looked up before GraphQL runs), each retried after the
    # 5 seconds the server asked for, until the service answered
    assert transport.answers == [
        (200, "SERVICE_UNAVAILABLE"),
        (200, "SERVICE_UNAVAILABLE"),
        (200, None),
        (503, "SERVICE_UNAVAILABLE"),
        (200, None),
    ]
    assert waits == [5, 5, 5]
    assert clusters["clusters"]["totalCount"] == 1
    assert session.role == "FIRM"


async def test_an_outage_is_retried_a_bounded_number_of_times(unreachable_app: Any) -> None:
    # given a service whose database stays away
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    transport = Routed(unreachable_app, unreachable_app, down=100)
    async with EICClient(
        "http://eic.test", transport=transport, sleep=sleep, retries=3, backoff_seconds=2
    ) as eic:
        # when the app reads the clusters
        with pytest.raises(EICError) as failed:
            await eic.run("Clusters", {}, authenticated=False)

    # then it tried four times, waiting what the server asked or the growing back-off (the
    # longer), and then raised the outage's code
    assert len(transport.answers) == 4
    assert waits == [5, 5, 8]
    assert failed.value.codes == ["SERVICE_UNAVAILABLE"]


async def test_other_errors_are_not_retried(
    settings: Settings, tmp_path: Path, register: Any, cluster_id: str
) -> None:
    # given a service with a bug: its database has no tables (INTERNAL, not an outage)
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db")
    broken = create_app(settings, db=database)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    transport = Routed(broken, broken, down=100)
    try:
        async with EICClient("http://eic.test", transport=transport, sleep=sleep) as eic:
            # when the app reads the clusters, and signs in with a key
            with pytest.raises(EICError) as query:
                await eic.run("Clusters", {}, authenticated=False)
            with pytest.raises(EICError) as keyed:
                await eic.sign_in("firm@maniwa.example", PASSWORD)
    finally:
        await database.dispose()

    # then each was sent once and raised its INTERNAL error (a JSON 500 with the request id
    # for the keyed one, which failed before GraphQL ran)
    assert transport.answers == [(200, "INTERNAL"), (500, "INTERNAL")]
    assert waits == []
    assert query.value.codes == keyed.value.codes == ["INTERNAL"]
