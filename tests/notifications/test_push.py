"""Devices, preferences and push delivery against a real HTTP server on loopback that plays the
push provider (the Expo push API's format), failing when told to."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.notifications import service, texts
from backend.notifications.models import (
    Device,
    Notification,
    NotificationKind,
    PushMessage,
    PushStatus,
)
from backend.notifications.push import (
    KEEP_FAILED,
    KEEP_SENT,
    LEASE,
    MAX_ATTEMPTS,
    MAX_DELAY,
    ReceiptsReport,
    backoff,
    check_receipts,
    deliver_due,
    forget_finished,
    run_worker,
)
from tests.conftest import CLOCK_START, GraphQL, seed_people
from tests.notifications.push_fakes import uvicorn_server

REGISTER = """
mutation Register($input: DeviceRegisterInput!) {
  deviceRegister(input: $input) { device { id platform locale } errors { code field } }
}
"""
UNREGISTER = """
mutation Unregister($token: String!) { deviceUnregister(token: $token) { removed errors { code } } }
"""
PREFERENCE = """
mutation Set($input: NotificationPreferenceSetInput!) {
  notificationPreferenceSet(input: $input) { preference { kind channel enabled } errors { code } }
}
"""
PREFERENCES = "query { notificationPreferences { kind channel enabled } }"
UNREAD = "query { notificationsUnreadCount }"


def expo_error(code: str, message: str) -> dict[str, Any]:
    """A ticket or receipt error as Expo writes it."""
    return {"status": "error", "message": message, "details": {"error": code}}


# What the fake provider does with one request (Provider.plan), beside answering at once:
REFUSE = "refuse"  # answer 503 without taking the messages (an outage, before acceptance)
LATE = "late"  # take the messages, answer after Provider.late_seconds
HOLD = "hold"  # take the messages, answer only at the end of the test (past any timeout)
# "500", "502", "504" ...: take the messages, then answer with that status


@dataclass
class Provider:
    """What the fake provider does and what it received."""

    fail_next: int = 0  # answer this many requests with 503
    # what to do with the next requests, one entry each (then: answer at once)
    plan: list[str] = field(default_factory=list)
    late_seconds: float = 0.0
    taken: asyncio.Event = field(default_factory=asyncio.Event)  # some messages were taken
    release: asyncio.Event = field(default_factory=asyncio.Event)  # the held answers may go
    dead_tokens: set[str] = field(default_factory=set)
    # a request holding a message to one of these is refused as a whole (HTTP 400)
    malformed_tokens: set[str] = field(default_factory=set)
    # or fails as a whole (HTTP 503)
    unavailable_tokens: set[str] = field(default_factory=set)
    # every request is answered with this status (401: credentials refused)
    always: int | None = None
    # receipts of messages to these: Apple or Google rate-limited them / refused the credentials
    rate_limited_after_send: set[str] = field(default_factory=set)
    credentials_refused_after_send: set[str] = field(default_factory=set)
    receipts_down: bool = False
    # receipts: a message to one of these is accepted, then its receipt says the token died
    dead_after_send: set[str] = field(default_factory=set)
    # or that Apple/Google refused it
    refused_after_send: set[str] = field(default_factory=set)
    # tickets whose receipt is not ready (or long gone)
    no_receipt: set[str] = field(default_factory=set)
    requests: int = 0
    alone: list[str] = field(default_factory=list)  # the token of each one-message request
    delivered: list[dict[str, Any]] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)  # ticket id -> token
    receipt_requests: list[list[str]] = field(default_factory=list)

    async def send(self, request: Request) -> JSONResponse:
        self.requests += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=503)
        messages = await request.json()
        behaviour = self.plan.pop(0) if self.plan else ""
        if behaviour == REFUSE:
            return JSONResponse({"errors": [{"code": "UNAVAILABLE"}]}, status_code=503)
        if len(messages) == 1:
            self.alone.append(messages[0]["to"])
        if self.always is not None:
            return JSONResponse({"errors": [{"code": "UNAUTHORIZED"}]}, status_code=self.always)
        if any(message["to"] in self.malformed_tokens for message in messages):
            return JSONResponse({"errors": [{"code": "VALIDATION_ERROR"}]}, status_code=400)
        if any(message["to"] in self.unavailable_tokens for message in messages):
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=503)
        tickets = []
        for message in messages:
            if message["to"] in self.dead_tokens:
                tickets.append(expo_error("DeviceNotRegistered", "not a registered recipient"))
            else:
                self.delivered.append(message)
                ticket = str(uuid.uuid4())
                self.tickets[ticket] = message["to"]
                tickets.append({"status": "ok", "id": ticket})
        # the messages are taken (Expo queues them for Apple and Google): what follows is the
        # answer only
        self.taken.set()
        if behaviour == LATE:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.late_seconds)
        elif behaviour == HOLD:
            await self.release.wait()
        elif behaviour.isdigit():
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=int(behaviour))
        return JSONResponse({"data": tickets})

    async def receipts(self, request: Request) -> JSONResponse:
        ids = (await request.json())["ids"]
        self.receipt_requests.append(ids)
        if self.receipts_down:
            return JSONResponse({"errors": [{"code": "INTERNAL"}]}, status_code=503)
        answer: dict[str, Any] = {}
        for ticket in ids:
            token = self.tickets.get(ticket)
            if token is None or token in self.no_receipt:
                continue
            answer[ticket] = {"status": "ok"}
            for tokens, code, message in (
                (self.dead_after_send, "DeviceNotRegistered", "not a registered recipient"),
                (self.rate_limited_after_send, "MessageRateExceeded", "Too many messages"),
                (self.credentials_refused_after_send, "InvalidCredentials", "FCM key refused"),
                (self.refused_after_send, "MessageTooBig", "Message too big"),
            ):
                if token in tokens:
                    answer[ticket] = expo_error(code, message)
                    break
        return JSONResponse({"data": answer})


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    """The provider served by uvicorn on a free loopback port, in this event loop."""
    state = Provider()
    app = Starlette(
        routes=[
            Route("/push/send", state.send, methods=["POST"]),
            Route("/push/getReceipts", state.receipts, methods=["POST"]),
        ]
    )
    async with uvicorn_server(app) as base:
        try:
            yield state, f"{base}/push/send"
        finally:
            state.release.set()  # held answers go (to clients long gone), so the server can stop


async def notify(db: Database, user_ids: list[uuid.UUID], now: datetime, count: int = 1) -> None:
    async with db.write() as session:
        for n in range(count):
            await service.add(
                session,
                user_ids=user_ids,
                text=texts.OFFER_RECEIVED(
                    listing=f"Cedar {n}",
                    quantity=4,
                    unit="TNE",
                    material=texts.MaterialRef("wood-shavings"),
                    price=4500,
                    currency="JPY",
                ),
                subject_type="OFFER",
                subject_id=uuid.uuid4(),
                now=now,
            )


async def statuses(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = await session.execute(
            select(PushMessage.status, func.count()).group_by(PushMessage.status)
        )
        return {status.value: count for status, count in rows.all()}


async def register_device(gql: GraphQL, token: str, push_token: str) -> dict[str, Any]:
    body = await gql(
        REGISTER,
        {"input": {"token": push_token, "platform": "ANDROID", "locale": "ja"}},
        token=token,
    )
    payload: dict[str, Any] = body["data"]["deviceRegister"]
    return payload


async def test_a_notification_is_pushed_to_each_device_retried_after_failures(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    state, url = provider
    # Given a person with two phones, and a provider that fails the first request
    (person,) = await seed_people(db, settings, cluster_id, 1)
    for push_token in ("ExponentPushToken[phone-a]", "ExponentPushToken[phone-b]"):
        assert (await register_device(gql, person.token, push_token))["errors"] == []
    state.fail_next = 1
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    assert await statuses(db) == {"PENDING": 2}

    async with httpx.AsyncClient() as http:
        # when the worker runs: the provider fails, so both wait for the backoff
        first = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        assert (first.claimed, first.sent, first.retried) == (2, 0, 2)
        early = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        assert early.claimed == 0
        # and after the backoff both go out, in Expo's format
        later = CLOCK_START + backoff(1) + timedelta(seconds=1)
        second = await deliver_due(db=db, http=http, url=url, now=later, worker="w1")
    assert (second.claimed, second.sent) == (2, 2)
    assert await statuses(db) == {"SENT": 2}
    assert sorted(m["to"] for m in state.delivered) == [
        "ExponentPushToken[phone-a]",
        "ExponentPushToken[phone-b]",
    ]
    message = state.delivered[0]
    assert (message["title"], message["body"], message["sound"]) == (
        "Cedar 0 に新しいオファー",  # the phones say they are in Japanese (register_device)
        "かんなくず 4 TNE、単価 4500 JPY",
        "default",
    )
    assert message["data"]["kind"] == "OFFER_RECEIVED"
    assert message["data"]["subjectType"] == "OFFER"
    assert state.requests == 2


async def test_a_token_the_provider_reports_invalid_is_removed(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    state, url = provider
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[alive]")
    await register_device(gql, person.token, "ExponentPushToken[uninstalled]")
    state.dead_tokens.add("ExponentPushToken[uninstalled]")
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)

    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")

    assert (report.sent, report.devices_removed) == (1, 1)
    async with db.read() as session:
        tokens = (await session.scalars(select(Device.token))).all()
    assert tokens == ["ExponentPushToken[alive]"]
    assert await statuses(db) == {"SENT": 1}


async def test_two_workers_at_once_send_every_message_once(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    state, url = provider
    # Given 150 pushes waiting (75 notifications to one person with two phones)
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[one]")
    await register_device(gql, person.token, "ExponentPushToken[two]")
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START, count=75)

    # when two workers run at the same moment, twice each
    async with httpx.AsyncClient() as http:
        for _ in range(2):
            await asyncio.gather(
                deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1", batch=50),
                deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w2", batch=50),
            )
    # then every message went out exactly once
    ids = [m["data"]["messageId"] for m in state.delivered]
    assert len(ids) == len(set(ids)) == 150
    assert await statuses(db) == {"SENT": 150}


async def fail_every_attempt(
    db: Database, http: httpx.AsyncClient, provider: tuple[Provider, str], now: datetime
) -> datetime:
    """The provider fails every attempt of the one pending message, until it is given up;
    returns the time after the last attempt."""
    state, url = provider
    state.fail_next = MAX_ATTEMPTS
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await deliver_due(db=db, http=http, url=url, now=now, worker="w1")
        assert report.claimed == 1
        now += backoff(attempt) + timedelta(seconds=1)
    return now


async def test_a_message_that_keeps_failing_is_given_up(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    _, url = provider
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[phone]")
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    async with httpx.AsyncClient() as http:
        now = await fail_every_attempt(db, http, provider, CLOCK_START)
        assert (await deliver_due(db=db, http=http, url=url, now=now, worker="w1")).claimed == 0
    assert await statuses(db) == {"FAILED": 1}
    async with db.read() as session:
        error = await session.scalar(select(PushMessage.last_error))
    assert error == "HTTP 503"


async def test_preferences_turn_pushes_and_the_inbox_off_per_kind(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    # Given a person with a phone who turns pushes of new offers off
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[phone]")
    turned = await gql(
        PREFERENCE,
        {"input": {"kind": "OFFER_RECEIVED", "channel": "PUSH", "enabled": False}},
        token=person.token,
    )
    assert turned["data"]["notificationPreferenceSet"] == {
        "preference": {"kind": "OFFER_RECEIVED", "channel": "PUSH", "enabled": False},
        "errors": [],
    }
    # when an offer arrives, then it is in the inbox but not pushed
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    assert await statuses(db) == {}
    assert (await gql(UNREAD, token=person.token))["data"]["notificationsUnreadCount"] == 1
    # and with the inbox off too, the next one arrives already read
    await gql(
        PREFERENCE,
        {"input": {"kind": "OFFER_RECEIVED", "channel": "INBOX", "enabled": False}},
        token=person.token,
    )
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    assert (await gql(UNREAD, token=person.token))["data"]["notificationsUnreadCount"] == 1
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 2
    listed = (await gql(PREFERENCES, token=person.token))["data"]["notificationPreferences"]
    off = [(p["kind"], p["channel"]) for p in listed if not p["enabled"]]
    assert off == [("OFFER_RECEIVED", "INBOX"), ("OFFER_RECEIVED", "PUSH")]
    assert len(listed) == 2 * len(NotificationKind)


async def test_devices_register_move_and_unregister(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    first, second = await seed_people(db, settings, cluster_id, 2)
    bad = await register_device(gql, first.token, "not a token")
    assert bad == {"device": None, "errors": [{"code": "VALIDATION", "field": "token"}]}
    made = await register_device(gql, first.token, "ExponentPushToken[shared-phone]")
    assert (made["device"]["platform"], made["device"]["locale"]) == ("ANDROID", "ja")
    # the same phone signed in by someone else moves to them
    moved = await register_device(gql, second.token, "ExponentPushToken[shared-phone]")
    assert moved["device"]["id"] == made["device"]["id"]
    async with db.read() as session:
        owner = await session.scalar(select(Device.user_id))
    assert str(owner) == second.user_id
    # and only its owner unregisters it
    for token, removed in ((first.token, False), (second.token, True), (second.token, False)):
        body = await gql(UNREGISTER, {"token": "ExponentPushToken[shared-phone]"}, token=token)
        assert body["data"]["deviceUnregister"] == {"removed": removed, "errors": []}


async def test_a_phone_signed_in_by_someone_else_does_not_get_the_last_persons_pushes(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    state, url = provider
    first, second = await seed_people(db, settings, cluster_id, 2)
    await register_device(gql, first.token, "ExponentPushToken[shared]")
    await notify(db, [uuid.UUID(first.user_id)], CLOCK_START)
    # when another person signs in on that phone before the push went out
    await register_device(gql, second.token, "ExponentPushToken[shared]")
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    # then the first person's push is not sent to it
    assert report.claimed == 0
    assert state.delivered == []


async def test_sent_and_failed_messages_are_forgotten_after_their_keeping_time(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given one message sent and one given up, and one still pending
    _, url = provider
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[phone]")
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    async with httpx.AsyncClient() as http:
        await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
        await fail_every_attempt(db, http, provider, CLOCK_START)
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START + timedelta(days=40))
    assert await statuses(db) == {"SENT": 1, "FAILED": 1, "PENDING": 1}
    # when the due jobs run a day later, nothing goes; a week later the sent one; a month the
    # failed one; the pending one stays
    assert await forget_finished(db, CLOCK_START + timedelta(days=1)) == 0
    assert await forget_finished(db, CLOCK_START + KEEP_SENT + timedelta(seconds=1)) == 1
    assert await statuses(db) == {"FAILED": 1, "PENDING": 1}
    clock = ManualClock(CLOCK_START + KEEP_FAILED + timedelta(seconds=1))
    assert (await run_due_jobs(db, clock)).push_messages_forgotten == 1
    assert await statuses(db) == {"PENDING": 1}


async def test_a_new_phone_registered_twice_at_once_is_one_device(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    # Given a person whose app sends its first registration twice at once (a retry)
    (person,) = await seed_people(db, settings, cluster_id, 1)
    answers = await asyncio.gather(
        *(register_device(gql, person.token, "ExponentPushToken[twice]") for _ in range(8))
    )
    # then every answer is the same device, and there is one
    assert {answer["device"]["id"] for answer in answers} == {answers[0]["device"]["id"]}
    assert all(answer["errors"] == [] for answer in answers)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Device)) == 1
    # and a first choice of a preference sent twice at once is one row, as chosen
    chosen = await asyncio.gather(
        *(
            gql(
                PREFERENCE,
                {"input": {"kind": "OFFER_RECEIVED", "channel": "PUSH", "enabled": False}},
                token=person.token,
            )
            for _ in range(8)
        )
    )
    assert all(c["data"]["notificationPreferenceSet"]["errors"] == [] for c in chosen), chosen


async def test_a_batch_refused_as_a_whole_is_sent_message_by_message(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given three people's phones, one of whose pushes the provider refuses (malformed)
    state, url = provider
    tokens, users = await phones(gql, db, settings, cluster_id, 3)
    state.malformed_tokens = {tokens[1]}
    await notify(db, users, CLOCK_START)
    # when a worker sends them
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    # then the batch was refused, sent again one by one: two delivered, the bad one given up
    assert state.requests == 1 + 3
    assert sorted(m["to"] for m in state.delivered) == [
        "ExponentPushToken[phone-0]",
        "ExponentPushToken[phone-2]",
    ]
    assert (report.sent, report.failed, report.retried) == (2, 1, 0)
    assert await statuses(db) == {"SENT": 2, "FAILED": 1}


async def test_receipts_remove_dead_devices_and_record_refused_messages(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given four phones' pushes accepted by the provider: one whose receipt will say the app is
    # gone, one Apple refused, one whose receipt never comes, and one fine
    state, url = provider
    receipts_url = url.replace("/send", "/getReceipts")
    tokens, users = await phones(gql, db, settings, cluster_id, 4)
    state.dead_after_send = {tokens[0]}
    state.refused_after_send = {tokens[1]}
    state.no_receipt = {tokens[2]}
    await notify(db, users, CLOCK_START)
    async with httpx.AsyncClient() as http:
        sent = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        assert sent.sent == 4

        async def receipts(minutes: float) -> Any:
            return await check_receipts(
                db=db,
                http=http,
                url=receipts_url,
                now=CLOCK_START + timedelta(minutes=minutes),
                worker="w1",
            )

        # when receipts are read too early, nothing is asked
        assert await receipts(5) == ReceiptsReport(0, 0, 0)
        assert state.receipt_requests == []
        # and after 15 minutes, every ticket is asked for once
        assert await receipts(16) == ReceiptsReport(checked=2, failed=1, devices_removed=1)
        assert sorted(len(ids) for ids in state.receipt_requests) == [4]
        # the receipt that never came is asked again, and given up after a day
        assert await receipts(30) == ReceiptsReport(0, 0, 0)
        assert await receipts(24 * 60 + 1) == ReceiptsReport(1, 0, 0)
        assert await receipts(24 * 60 + 30) == ReceiptsReport(0, 0, 0)
        assert [len(ids) for ids in state.receipt_requests] == [4, 1, 1]
    # then the dead phone is gone, the refused message FAILED with the provider's reason
    async with db.read() as session:
        devices = set((await session.scalars(select(Device.token))).all())
        errors = dict(
            (
                await session.execute(
                    select(PushMessage.status, PushMessage.last_error).where(
                        PushMessage.last_error != ""
                    )
                )
            ).all()
        )
    assert devices == set(tokens[1:])
    assert errors == {
        PushStatus.FAILED: "Message too big",
        PushStatus.SENT: "no receipt within a day",
    }


async def phones(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, count: int
) -> tuple[list[str], list[uuid.UUID]]:
    """``count`` people with a phone each: their push tokens and user ids."""
    people = await seed_people(db, settings, cluster_id, count, prefix="phone")
    tokens = [f"ExponentPushToken[phone-{index}]" for index in range(count)]
    for person, token in zip(people, tokens, strict=True):
        await register_device(gql, person.token, token)
    return tokens, [uuid.UUID(person.user_id) for person in people]


async def test_credentials_refused_keep_every_message_for_later(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given three pushes, and a provider that refuses the server's credentials (HTTP 401)
    state, url = provider
    _, users = await phones(gql, db, settings, cluster_id, 3)
    await notify(db, users, CLOCK_START)
    state.always = 401
    # when a worker sends them
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    # then none is blamed: one request, all waiting for a retry once the configuration is fixed
    assert state.requests == 1
    assert (report.sent, report.retried, report.failed) == (0, 3, 0)
    assert await statuses(db) == {"PENDING": 3}


async def test_a_single_message_refused_is_given_up_at_once(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    state, url = provider
    tokens, users = await phones(gql, db, settings, cluster_id, 1)
    state.malformed_tokens = {tokens[0]}
    await notify(db, users, CLOCK_START)
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    assert (state.requests, report.failed) == (1, 1)
    assert await statuses(db) == {"FAILED": 1}


async def test_sending_one_by_one_stops_at_an_outage_and_retries_the_rest(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given a batch the provider refuses (one malformed message), and an outage for another
    state, url = provider
    tokens, users = await phones(gql, db, settings, cluster_id, 4)
    state.malformed_tokens = {tokens[3]}
    state.unavailable_tokens = {tokens[1]}
    await notify(db, users, CLOCK_START)
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    # then the messages were sent alone until the outage answered, and no further
    assert tokens[1] in state.alone
    tried = state.alone[: state.alone.index(tokens[1]) + 1]
    assert state.alone == tried
    assert state.requests == 1 + len(tried)
    went = [token for token in tried if token in (tokens[0], tokens[2])]
    assert [m["to"] for m in state.delivered] == went
    # and only a message refused alone is given up; the rest, the outage's too, wait for a retry
    refused = int(tokens[3] in tried)
    assert (report.sent, report.failed) == (len(went), refused)
    assert report.retried == 4 - len(went) - refused
    assert await statuses(db) == {
        status: count
        for status, count in (
            ("SENT", len(went)),
            ("FAILED", refused),
            ("PENDING", 4 - len(went) - refused),
        )
        if count
    }


async def test_receipts_resend_rate_limited_messages_and_wait_out_an_outage(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given two pushes accepted: Apple will have rate-limited one, and refused the server's
    # credentials for the other
    state, url = provider
    receipts_url = url.replace("/send", "/getReceipts")
    tokens, users = await phones(gql, db, settings, cluster_id, 2)
    state.rate_limited_after_send = {tokens[0]}
    state.credentials_refused_after_send = {tokens[1]}
    await notify(db, users, CLOCK_START)
    async with httpx.AsyncClient() as http:
        assert (
            await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        ).sent == 2
        # when the receipts service is down a day later, nothing is given up
        state.receipts_down = True
        late = CLOCK_START + timedelta(hours=25)
        report = await check_receipts(db=db, http=http, url=receipts_url, now=late, worker="w1")
        assert report == ReceiptsReport(0, 0, 0)
        assert await statuses(db) == {"SENT": 2}
        # and once it answers, the rate-limited message is queued again, the other FAILED
        state.receipts_down = False
        later = late + LEASE + timedelta(seconds=1)
        report = await check_receipts(db=db, http=http, url=receipts_url, now=later, worker="w1")
        assert report == ReceiptsReport(checked=2, failed=1, devices_removed=0, resent=1)
        assert await statuses(db) == {"PENDING": 1, "FAILED": 1}
        # and it is sent again after its backoff
        state.rate_limited_after_send = set()
        again = await deliver_due(db=db, http=http, url=url, now=later + backoff(1), worker="w1")
    assert again.sent == 1
    delivered = [m["to"] for m in state.delivered]
    assert (sorted(delivered[:2]), delivered[2:]) == (sorted(tokens), [tokens[0]])
    assert await statuses(db) == {"SENT": 1, "FAILED": 1}


# ---------------------------------------------------------------------------------------------
# Exactly once as far as the provider allows: a lost answer is never a reason to send again


async def burst(gql: GraphQL, db: Database, settings: Any, cluster_id: str) -> None:
    """120 pushes waiting: 60 notifications to a person with two phones."""
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await register_device(gql, person.token, "ExponentPushToken[burst-a]")
    await register_device(gql, person.token, "ExponentPushToken[burst-b]")
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START, count=60)


async def drain(
    db: Database, http: httpx.AsyncClient, url: str, now: datetime, rounds: int = 3
) -> datetime:
    """Workers pass until nothing is due, then again after every backoff and lease could have
    ended, ``rounds`` times; returns the time after the last round."""
    for _ in range(rounds):
        while (await deliver_due(db=db, http=http, url=url, now=now, worker="w1")).claimed:
            pass
        now += MAX_DELAY + LEASE + timedelta(seconds=1)
    return now


def duplicates(state: Provider) -> tuple[int, int]:
    """Messages the provider took, and how many of them it took more than once."""
    ids = [m["data"]["messageId"] for m in state.delivered]
    return len(ids), len(ids) - len(set(ids))


async def errors_by_status(db: Database) -> dict[str, set[str]]:
    async with db.read() as session:
        rows = await session.execute(select(PushMessage.status, PushMessage.last_error))
        found: dict[str, set[str]] = {}
        for status, error in rows.all():
            found.setdefault(status.value, set()).add(error)
        return found


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("500", "outcome unknown: HTTP 500"),
        ("502", "outcome unknown: HTTP 502"),
        ("504", "outcome unknown: HTTP 504"),
        (HOLD, "outcome unknown: ReadTimeout"),
    ],
)
async def test_a_provider_that_takes_the_messages_and_loses_the_answer_gets_each_once(
    gql: GraphQL,
    db: Database,
    settings: Any,
    cluster_id: str,
    provider: tuple[Provider, str],
    behaviour: str,
    error: str,
) -> None:
    # Given 120 pushes, and a provider that takes both batches (100 + 20) but answers 500, 502,
    # 504, or not before the client's timeout
    state, url = provider
    await burst(gql, db, settings, cluster_id)
    state.plan = [behaviour, behaviour]
    # when workers pass again and again, past every backoff and lease
    async with httpx.AsyncClient(timeout=0.5) as http:
        await drain(db, http, url, CLOCK_START)
    # then each message reached the provider once, and its fate is recorded as unknown
    assert duplicates(state) == (120, 0)
    assert state.requests == 2
    assert await errors_by_status(db) == {"MAYBE_SENT": {error}}


async def test_a_request_the_provider_did_not_take_is_sent_again_once(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given 120 pushes; the provider is unreachable for the first batch of 100, takes the batch
    # of 20 and answers 500, refuses the 100 again (503) and then takes them
    state, url = provider
    await burst(gql, db, settings, cluster_id)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}/push/send"
    state.plan = ["500", REFUSE]
    async with httpx.AsyncClient(timeout=5) as http:
        first = await deliver_due(db=db, http=http, url=closed, now=CLOCK_START, worker="w1")
        assert (first.claimed, first.retried) == (100, 100)
        second = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        assert (second.claimed, second.maybe_sent) == (20, 20)
        await drain(db, http, url, CLOCK_START + backoff(1) + timedelta(seconds=1))
    # then the refused messages went once, the one whose answer was lost were not sent again
    assert duplicates(state) == (120, 0)
    assert state.requests == 3
    assert await statuses(db) == {"SENT": 100, "MAYBE_SENT": 20}
    async with db.read() as session:
        attempts = await session.execute(
            select(
                PushMessage.status, func.min(PushMessage.attempts), func.max(PushMessage.attempts)
            ).group_by(PushMessage.status)
        )
        assert sorted((s.value, low, high) for s, low, high in attempts.all()) == [
            ("MAYBE_SENT", 1, 1),
            ("SENT", 2, 2),  # the SENT update keeps the count of failed attempts before it
        ]


async def test_a_worker_that_dies_mid_send_leaves_its_messages_maybe_sent(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given 120 pushes, and a worker stopped while the provider holds its first batch of 100
    state, url = provider
    await burst(gql, db, settings, cluster_id)
    state.plan = [HOLD]
    async with httpx.AsyncClient(timeout=30) as http:
        worker = asyncio.create_task(
            deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
        )
        async with asyncio.timeout(5):
            await state.taken.wait()
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        # when another worker passes, while the lease lasts and after it
        during = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w2")
        assert (during.claimed, during.maybe_sent) == (20, 0)
        after = CLOCK_START + LEASE + timedelta(seconds=1)
        report = await deliver_due(db=db, http=http, url=url, now=after, worker="w2")
        assert (report.claimed, report.maybe_sent) == (0, 100)
        await drain(db, http, url, after)
    # then the held batch is not sent again: recorded as maybe sent
    assert duplicates(state) == (120, 0)
    assert await errors_by_status(db) == {
        "SENT": {""},
        "MAYBE_SENT": {"outcome unknown: the worker stopped during the send"},
    }


async def test_the_worker_waits_for_an_answer_as_long_as_its_timeout(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str, provider: tuple[Provider, str]
) -> None:
    # Given a provider that answers after 1 s
    state, url = provider
    state.late_seconds = 1.0
    clock = ManualClock(CLOCK_START)
    _, users = await phones(gql, db, settings, cluster_id, 2)

    async def work(seconds: float, expected: dict[str, int]) -> None:
        state.plan = [LATE]
        task = asyncio.create_task(run_worker(db, clock, url, 0.05, None, seconds))
        try:
            async with asyncio.timeout(10):
                while await statuses(db) != expected:  # noqa: ASYNC110 - polls the database
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # when a worker with a timeout of 0.2 s sends two pushes, their fate is unknown
    await notify(db, users, CLOCK_START)
    await work(0.2, {"MAYBE_SENT": 2})
    # and a worker that waits 5 s gets the tickets of the next two
    await notify(db, users, CLOCK_START)
    await work(5, {"MAYBE_SENT": 2, "SENT": 2})
    assert duplicates(state) == (4, 0)
    async with db.read() as session:
        tickets = (
            await session.scalars(
                select(PushMessage.ticket_id).where(PushMessage.status == PushStatus.SENT)
            )
        ).all()
    assert len(tickets) == 2
    assert all(tickets)
