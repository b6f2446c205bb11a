"""Push delivery through FCM HTTP v1, APNs and Expo with an access token, each against a
loopback fake of the provider (tests/notifications/push_fakes.py) that speaks its documented
request and error format. The outbox's semantics (retries, backoff, MAYBE_SENT, removing dead
tokens) are the same for every provider."""

from __future__ import annotations

import dataclasses
import email.utils
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, select

from backend.kit.db import Database
from backend.notifications import service, texts
from backend.notifications.models import (
    Device,
    NotificationKind,
    Platform,
    PushMessage,
    PushProvider,
)
from backend.notifications.push import (
    MAX_DELAY,
    PushConfig,
    Senders,
    backoff,
    check_receipts,
    deliver_due,
)
from backend.notifications.push import apns as apns_module
from backend.notifications.push.apns import SigningKey
from backend.notifications.push.fcm import ServiceAccount
from tests.conftest import CLOCK_START, seed_people
from tests.notifications.push_fakes import (
    Apns,
    Fcm,
    Tls,
    WallClock,
    apns_server,
    expo_server,
    fcm_server,
    pem,
)

TTL = timedelta(hours=6)


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
async def fcm(tmp_path: Path, wall: WallClock) -> AsyncIterator[tuple[Fcm, Path]]:
    async with fcm_server(tmp_path, wall) as served:
        yield served


@pytest.fixture
async def apns(tmp_path: Path, wall: WallClock) -> AsyncIterator[tuple[Apns, str, Tls, Path]]:
    async with apns_server(tmp_path, wall) as served:
        yield served


async def person_with(
    db: Database, settings: Any, cluster_id: str, devices: list[tuple[PushProvider, str, Platform]]
) -> uuid.UUID:
    """A person with these devices (provider, token, platform); their user id."""
    (person,) = await seed_people(db, settings, cluster_id, 1, prefix=f"d{uuid.uuid4().hex[:6]}")
    user_id = uuid.UUID(person.user_id)
    async with db.write() as session:
        for provider, token, platform in devices:
            session.add(
                Device(
                    user_id=user_id,
                    token=token,
                    platform=platform,
                    provider=provider,
                    locale="en",
                    created_at=CLOCK_START,
                    last_seen_at=CLOCK_START,
                )
            )
    return user_id


# One notification of each kind the tests send, and the English its pushes carry.
TEXTS = {
    NotificationKind.OFFER_RECEIVED: texts.OFFER_RECEIVED(
        listing="Sawdust", quantity=4, unit="TNE", material="sawdust", price=4500, currency="JPY"
    ),
    NotificationKind.LISTING_MATCH: texts.LISTING_MATCH(
        your_listing="Sawdust wanted", listing="Sawdust", material="sawdust", score=90, distance=3
    ),
    NotificationKind.TRADE_MESSAGE: texts.TRADE_MESSAGE(message="Loading at 9"),
}
OFFER_TEXT = {"title": "New offer on Sawdust", "body": "4 TNE of sawdust at 4500 JPY"}
MATCH_TEXT = {
    "title": "A match for Sawdust wanted: Sawdust",
    "body": "sawdust: score 90 of 100, 3 km away",
}


async def notify(db: Database, user_id: uuid.UUID, kind: NotificationKind) -> None:
    async with db.write() as session:
        await service.add(
            session,
            user_ids=[user_id],
            text=TEXTS[kind],
            subject_type="OFFER",
            subject_id=uuid.uuid4(),
            now=CLOCK_START,
        )


async def outbox(db: Database) -> dict[str, tuple[str, str, datetime, str | None]]:
    """Each message by its device's token: status, last error, next attempt, ticket."""
    async with db.read() as session:
        rows = await session.execute(
            select(
                Device.token,
                PushMessage.status,
                PushMessage.last_error,
                PushMessage.next_attempt_at,
                PushMessage.ticket_id,
            ).join(Device, Device.id == PushMessage.device_id)
        )
        return {
            token: (status.value, error, at, ticket) for token, status, error, at, ticket in rows
        }


async def tokens(db: Database) -> set[str]:
    async with db.read() as session:
        return set((await session.scalars(select(Device.token))).all())


def fcm_token(name: str) -> str:
    return f"{name}-instance:APA91b{name.upper()}" + "x" * 120


APNS_OK, APNS_BAD, APNS_GONE, APNS_BUSY, APNS_DOWN, APNS_LOST = (
    f"{n:02x}" * 32 for n in range(1, 7)
)


async def test_fcm_gets_an_access_token_once_and_each_push_with_its_options(
    db: Database, settings: Any, cluster_id: str, fcm: tuple[Fcm, Path], wall: WallClock
) -> None:
    # Given a person with an Android and an iPhone using FCM, two unread notifications
    state, key_file = fcm
    android, iphone = fcm_token("android"), fcm_token("iphone")
    user = await person_with(
        db,
        settings,
        cluster_id,
        [(PushProvider.FCM, android, Platform.ANDROID), (PushProvider.FCM, iphone, Platform.IOS)],
    )
    await notify(db, user, NotificationKind.LISTING_MATCH)
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    config = PushConfig(
        fcm=ServiceAccount.from_file(str(key_file)),
        fcm_url=state.base_url,
        ttl=TTL,
        android_channel="eic-offers",
        wall_clock=wall,
    )
    now = CLOCK_START + timedelta(hours=1)
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        # when a worker passes
        report = await deliver_due(db=db, http=http, senders=senders, now=now, worker="w1")
        # then the four pushes went with one access token, fetched with a valid assertion
        assert (report.claimed, report.sent) == (4, 4)
        assert (state.token_requests, state.refused_assertions) == (1, [])
        by_kind = {(m["token"], m["data"]["kind"]): m for m in state.received}
        match = by_kind[(android, "LISTING_MATCH")]
        assert match["notification"] == MATCH_TEXT
        # the push lives 6 hours from the notification: 5 left an hour later
        assert match["android"] == {
            "priority": "NORMAL",
            "ttl": f"{5 * 3600}s",
            "notification": {
                "sound": "default",
                "channel_id": "eic-offers",
                "notification_count": 2,
            },
        }
        assert "apns" not in match
        offer = by_kind[(iphone, "OFFER_RECEIVED")]
        expires = int((CLOCK_START + TTL).timestamp())
        assert offer["apns"] == {
            "headers": {"apns-priority": "10", "apns-expiration": str(expires)},
            "payload": {"aps": {"sound": "default", "badge": 2}},
        }
        assert set(offer["data"]) == {
            "messageId",
            "notificationId",
            "kind",
            "subjectType",
            "subjectId",
        }
        assert "android" not in offer
        async with db.read() as session:
            tickets = set((await session.scalars(select(PushMessage.ticket_id))).all())
        assert tickets == {f"projects/eic-test-project/messages/{n}" for n in range(1, 5)}

        # and the access token is kept until shortly before it expires, then fetched anew
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        wall.offset = 3000
        await deliver_due(db=db, http=http, senders=senders, now=now, worker="w1")
        assert state.token_requests == 1
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        wall.offset = 3400
        await deliver_due(db=db, http=http, senders=senders, now=now, worker="w1")
        assert (state.token_requests, state.refused_assertions, len(state.received)) == (2, [], 8)


async def test_fcm_errors_remove_dead_tokens_give_up_refused_messages_and_retry_the_rest(
    db: Database, settings: Any, cluster_id: str, fcm: tuple[Fcm, Path], wall: WallClock
) -> None:
    state, key_file = fcm
    names = [
        "ok",
        "unregistered",
        "invalid",
        "tokenfield",
        "badfield",
        "toobig",
        "quota",
        "unavailable",
        "internal",
    ]
    token = {name: fcm_token(name) for name in names}
    state.unregistered = {token["unregistered"]}
    state.invalid = {token["invalid"]}
    state.token_field = {token["tokenfield"]}
    state.bad_field = {token["badfield"]}
    # FCM's INVALID_ARGUMENT names no field for a message too big: the device must stay
    state.too_big = {token["toobig"]}
    state.quota = {token["quota"]}
    state.unavailable = {token["unavailable"]}
    state.internal = {token["internal"]}
    user = await person_with(
        db,
        settings,
        cluster_id,
        [(PushProvider.FCM, token[name], Platform.ANDROID) for name in names],
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    config = PushConfig(
        fcm=ServiceAccount.from_file(str(key_file)), fcm_url=state.base_url, wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    assert (report.claimed, report.sent, report.devices_removed) == (9, 1, 3)
    assert (report.failed, report.retried, report.maybe_sent) == (2, 2, 1)
    dead = {token["unregistered"], token["invalid"], token["tokenfield"]}
    assert await tokens(db) == {token[n] for n in names} - dead
    found = await outbox(db)
    assert {
        name: found[token[name]][:3]
        for name in ("badfield", "toobig", "quota", "unavailable", "internal")
    } == {
        "badfield": (
            "FAILED",
            "INVALID_ARGUMENT: Invalid value at 'message.android.ttl'",
            CLOCK_START + backoff(1),
        ),
        "toobig": (
            "FAILED",
            "INVALID_ARGUMENT: Android message is too big",
            CLOCK_START + backoff(1),
        ),
        # FCM's Retry-After (600 s) outweighs the first backoff (30 s)
        "quota": (
            "PENDING",
            "QUOTA_EXCEEDED: Sending limit exceeded for the message target.",
            CLOCK_START + timedelta(seconds=600),
        ),
        "unavailable": (
            "PENDING",
            "UNAVAILABLE: The service is currently unavailable.",
            CLOCK_START + backoff(1),
        ),
        "internal": (
            "MAYBE_SENT",
            "outcome unknown: INTERNAL: Internal error encountered.",
            CLOCK_START,
        ),
    }
    assert found[token["ok"]][0] == "SENT"


async def test_fcm_credentials_the_token_endpoint_refuses_keep_every_push_waiting(
    db: Database, settings: Any, cluster_id: str, fcm: tuple[Fcm, Path], wall: WallClock
) -> None:
    # Given a key file whose key is not the service account's
    state, key_file = fcm
    account = ServiceAccount.from_file(str(key_file))
    stranger = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    other = ServiceAccount(
        account.project_id,
        account.client_email,
        stranger,
        account.private_key_id,
        account.token_uri,
    )
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.FCM, fcm_token("a"), Platform.ANDROID)]
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    config = PushConfig(fcm=other, fcm_url=state.base_url, wall_clock=wall)
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then nothing was sent, and the push waits for the configuration to be fixed
    assert (report.sent, report.retried, state.received) == (0, 1, [])
    assert state.refused_assertions == ["Signature verification failed"]
    ((status, error, at, _),) = (await outbox(db)).values()
    assert (status, error, at) == (
        "PENDING",
        "FCM access token: HTTP 400 invalid_grant",
        CLOCK_START + backoff(1),
    )


async def test_apns_over_http2_with_a_provider_token_and_its_answers(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
) -> None:
    state, url, tls, key_file = apns
    state.bad = {APNS_BAD}
    state.unregistered = {APNS_GONE}
    state.throttled = {APNS_BUSY}
    state.unavailable = {APNS_DOWN}
    state.internal = {APNS_LOST}
    phones = [APNS_OK, APNS_BAD, APNS_GONE, APNS_BUSY, APNS_DOWN, APNS_LOST]
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.APNS, t, Platform.IOS) for t in phones]
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    key = SigningKey.from_file(
        str(key_file), key_id=state.key_id, team_id=state.team_id, topic=state.topic
    )
    config = PushConfig(
        apns=key, apns_url=url, apns_ca_file=str(tls.ca_file), ttl=TTL, wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    assert (report.claimed, report.sent, report.devices_removed) == (6, 1, 2)
    assert (report.retried, report.maybe_sent, report.failed) == (2, 1, 0)
    # every request went over HTTP/2, with one provider token
    assert set(state.http_versions) == {"2"}
    assert len(state.http_versions) == 6
    assert len(state.provider_tokens) == 1
    assert await tokens(db) == set(phones) - {APNS_BAD, APNS_GONE}
    found = await outbox(db)
    sent = next(r for r in state.received if r["token"] == APNS_OK)
    async with db.read() as session:
        message_id = await session.scalar(
            select(PushMessage.id).join(Device).where(Device.token == APNS_OK)
        )
    assert found[APNS_OK] == ("SENT", "", CLOCK_START, str(message_id))
    headers = sent["headers"]
    assert {
        name: headers[name]
        for name in ("apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-id")
    } == {
        "apns-topic": "org.eic.app",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int((CLOCK_START + TTL).timestamp())),
        "apns-id": str(message_id),
    }
    assert sent["payload"]["aps"] == {
        "alert": OFFER_TEXT,
        "sound": "default",
        "badge": 1,
    }
    assert sent["payload"]["kind"] == "OFFER_RECEIVED"
    assert {t: found[t][:2] for t in (APNS_BUSY, APNS_DOWN, APNS_LOST)} == {
        APNS_BUSY: ("PENDING", "HTTP 429 TooManyRequests"),
        APNS_DOWN: ("PENDING", "HTTP 503 ServiceUnavailable"),
        APNS_LOST: ("MAYBE_SENT", "outcome unknown: HTTP 500 InternalServerError"),
    }


async def test_apns_provider_token_is_renewed_within_the_hour_and_the_ca_is_checked(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
) -> None:
    state, url, tls, key_file = apns
    user = await person_with(db, settings, cluster_id, [(PushProvider.APNS, APNS_OK, Platform.IOS)])
    key = SigningKey.from_file(
        str(key_file), key_id=state.key_id, team_id=state.team_id, topic=state.topic
    )
    # a client that does not trust the fake's CA never sends: the push waits
    untrusting = PushConfig(apns=key, apns_url=url, wall_clock=wall)
    await notify(db, user, NotificationKind.LISTING_MATCH)
    async with httpx.AsyncClient() as http, Senders(untrusting, http) as senders:
        refused = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    assert (refused.sent, refused.retried, state.received) == (0, 1, [])
    ((status, error, _, _),) = (await outbox(db)).values()
    assert status == "PENDING"
    assert "CERTIFICATE_VERIFY_FAILED" in error

    config = PushConfig(apns=key, apns_url=url, apns_ca_file=str(tls.ca_file), wall_clock=wall)
    later = CLOCK_START + backoff(1)
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        assert (
            await deliver_due(db=db, http=http, senders=senders, now=later, worker="w1")
        ).sent == 1
        # 30 minutes on, the same provider token; 51 minutes on, a new one (Apple refuses one
        # older than an hour)
        for minutes in (30, 51):
            wall.offset = minutes * 60
            await notify(db, user, NotificationKind.LISTING_MATCH)
            assert (
                await deliver_due(db=db, http=http, senders=senders, now=later, worker="w1")
            ).sent == 1
    assert len(state.received) == 3
    assert len(state.provider_tokens) == 2
    # a low-priority kind goes with APNs priority 5
    assert {r["headers"]["apns-priority"] for r in state.received} == {"5"}


async def test_expo_with_an_access_token_and_its_receipts(
    db: Database, settings: Any, cluster_id: str, wall: WallClock
) -> None:
    phone = "ExponentPushToken[secured-project]"
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.EXPO, phone, Platform.ANDROID)]
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    async with expo_server("expo-access-token-1") as (state, url), httpx.AsyncClient() as http:
        # Given a project with enhanced push security: without the token, Expo answers 401
        bare = PushConfig(expo_url=url)
        async with Senders(bare, http) as senders:
            report = await deliver_due(
                db=db, http=http, senders=senders, now=CLOCK_START, worker="w1"
            )
        assert (report.sent, report.retried, state.refused, state.received) == (0, 1, 1, [])
        # with it, the push goes, and its receipt is read with the token too
        config = PushConfig(
            expo_url=url, expo_access_token="expo-access-token-1", android_channel="eic"
        )
        later = CLOCK_START + backoff(1)
        async with Senders(config, http) as senders:
            report = await deliver_due(db=db, http=http, senders=senders, now=later, worker="w1")
        assert report.sent == 1
        (message,) = state.received
        assert {k: message[k] for k in ("to", "priority", "channelId", "badge", "ttl")} == {
            "to": phone,
            "priority": "high",
            "channelId": "eic",
            "badge": 1,
            "ttl": int((CLOCK_START + timedelta(days=1) - later).total_seconds()),
        }
        receipts_url = url.replace("/send", "/getReceipts")
        checked = await check_receipts(
            db=db,
            http=http,
            url=receipts_url,
            now=later + timedelta(minutes=16),
            worker="w1",
            access_token="expo-access-token-1",
        )
    assert checked.checked == 1
    assert state.refused == 1
    assert len(state.receipt_requests) == 1


async def test_one_pass_serves_every_provider_and_reads_receipts_of_expo_only(
    db: Database,
    settings: Any,
    cluster_id: str,
    fcm: tuple[Fcm, Path],
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
) -> None:
    fcm_state, key_file = fcm
    apns_state, apns_url, tls, p8 = apns
    expo_phone, fcm_phone = "ExpoPushToken[mixed]", fcm_token("mixed")
    user = await person_with(
        db,
        settings,
        cluster_id,
        [
            (PushProvider.EXPO, expo_phone, Platform.ANDROID),
            (PushProvider.FCM, fcm_phone, Platform.ANDROID),
            (PushProvider.APNS, APNS_OK, Platform.IOS),
            # a provider this server has no credentials for any more: the push waits
        ],
    )
    await notify(db, user, NotificationKind.TRADE_MESSAGE)
    async with expo_server("t") as (expo_state, expo_url), httpx.AsyncClient() as http:
        config = PushConfig(
            expo_url=expo_url,
            expo_access_token="t",
            fcm=ServiceAccount.from_file(str(key_file)),
            fcm_url=fcm_state.base_url,
            apns=SigningKey.from_file(
                str(p8),
                key_id=apns_state.key_id,
                team_id=apns_state.team_id,
                topic=apns_state.topic,
            ),
            apns_url=apns_url,
            apns_ca_file=str(tls.ca_file),
            wall_clock=wall,
        )
        async with Senders(config, http) as senders:
            report = await deliver_due(
                db=db, http=http, senders=senders, now=CLOCK_START, worker="w1"
            )
        assert (report.claimed, report.sent) == (3, 3)
        assert [m["to"] for m in expo_state.received] == [expo_phone]
        assert [m["token"] for m in fcm_state.received] == [fcm_phone]
        assert [r["token"] for r in apns_state.received] == [APNS_OK]
        # receipts are asked of Expo for its own ticket only
        checked = await check_receipts(
            db=db,
            http=http,
            url=expo_url.replace("/send", "/getReceipts"),
            now=CLOCK_START + timedelta(minutes=16),
            worker="w1",
            access_token="t",
        )
    assert checked.checked == 1
    (asked,) = expo_state.receipt_requests
    assert len(asked) == 1
    assert asked[0] in expo_state.tickets


async def attempts(db: Database) -> dict[str, int]:
    """Each message's attempts by its device's token."""
    async with db.read() as session:
        rows = await session.execute(
            select(Device.token, PushMessage.attempts).join(
                Device, Device.id == PushMessage.device_id
            )
        )
        return {row.token: row.attempts for row in rows}


def apns_key(state: Apns, key_file: Path) -> SigningKey:
    return SigningKey.from_file(
        str(key_file), key_id=state.key_id, team_id=state.team_id, topic=state.topic
    )


async def test_a_device_of_a_provider_that_is_off_is_not_claimed_and_keeps_its_attempts(
    db: Database, settings: Any, cluster_id: str, fcm: tuple[Fcm, Path], wall: WallClock
) -> None:
    # Given a worker with FCM only, and a person with an FCM and an Expo device
    state, key_file = fcm
    android, expo_phone = fcm_token("on"), "ExponentPushToken[waits-for-expo]"
    user = await person_with(
        db,
        settings,
        cluster_id,
        [
            (PushProvider.FCM, android, Platform.ANDROID),
            (PushProvider.EXPO, expo_phone, Platform.ANDROID),
        ],
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    config = PushConfig(
        fcm=ServiceAccount.from_file(str(key_file)), fcm_url=state.base_url, wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        # when passes go by for longer than eight attempts' backoff
        first = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
        later = [
            await deliver_due(
                db=db, http=http, senders=senders, now=CLOCK_START + hours, worker="w1"
            )
            for hours in (timedelta(hours=h) for h in range(1, 10))
        ]
    # then only the FCM push was claimed and sent; the Expo push waits untouched for a worker
    # that has Expo, rather than going FAILED
    assert (first.claimed, first.sent) == (1, 1)
    assert [report.claimed for report in later] == [0] * 9
    found = await outbox(db)
    assert found[expo_phone][:3] == ("PENDING", "", CLOCK_START)
    assert (await attempts(db))[expo_phone] == 0


async def test_a_server_without_any_sender_claims_nothing(
    db: Database, settings: Any, cluster_id: str
) -> None:
    user = await person_with(db, settings, cluster_id, [(PushProvider.APNS, APNS_OK, Platform.IOS)])
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=None, now=CLOCK_START, worker="w1")
    assert report.claimed == 0
    ((status, error, at, _),) = (await outbox(db)).values()
    assert (status, error, at) == ("PENDING", "", CLOCK_START)


NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n"


@pytest.mark.parametrize("broken", [PushProvider.APNS, PushProvider.FCM])
async def test_a_key_that_cannot_sign_keeps_its_providers_pushes_and_lets_the_others_go(
    db: Database,
    settings: Any,
    cluster_id: str,
    fcm: tuple[Fcm, Path],
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
    broken: PushProvider,
) -> None:
    # Given a key that is no key (as if loaded without the start-up check) for one provider:
    # APNs signs in each push's request, FCM once before any (its access token)
    fcm_state, key_file = fcm
    apns_state, url, tls, p8 = apns
    android = fcm_token("fine")
    user = await person_with(
        db,
        settings,
        cluster_id,
        [(PushProvider.FCM, android, Platform.ANDROID), (PushProvider.APNS, APNS_OK, Platform.IOS)],
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    account, key = ServiceAccount.from_file(str(key_file)), apns_key(apns_state, p8)
    if broken == PushProvider.APNS:
        key = dataclasses.replace(key, private_key=NOT_A_KEY)
    else:
        account = dataclasses.replace(account, private_key=NOT_A_KEY)
    config = PushConfig(
        fcm=account,
        fcm_url=fcm_state.base_url,
        apns=key,
        apns_url=url,
        apns_ca_file=str(tls.ca_file),
        wall_clock=wall,
    )
    later = CLOCK_START + timedelta(minutes=5)
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
        waiting = await outbox(db)
        # and the next pass, after the lease, finds nothing left SENDING to call MAYBE_SENT:
        # the push is tried again, and waits again
        after = await deliver_due(db=db, http=http, senders=senders, now=later, worker="w1")
    # then the other provider's push went, and the broken one's waits for the key to be fixed
    assert (report.claimed, report.sent, report.retried, report.maybe_sent) == (2, 1, 1, 0)
    assert (after.claimed, after.retried, after.maybe_sent) == (1, 1, 0)
    stuck, went = (APNS_OK, android) if broken == PushProvider.APNS else (android, APNS_OK)
    assert waiting[went][0] == "SENT"
    status, error, at, _ = waiting[stuck]
    assert (status, at) == ("PENDING", CLOCK_START + backoff(1))
    # PyJWT's words for an unreadable PEM differ by algorithm (ES256, RS256)
    assert (
        error
        == {
            PushProvider.APNS: "ValueError: Unable to load PEM file. See https://cryptography.io/"
            "en/latest/faq/#why-can-t-i-import-my-pem-file for more details. MalformedFraming",
            PushProvider.FCM: "InvalidKeyError: Could not parse the provided public key.",
        }[broken]
    )
    assert (await outbox(db))[stuck][:3] == ("PENDING", error, later + backoff(2))
    received = [m["token"] for m in fcm_state.received] + [r["token"] for r in apns_state.received]
    assert received == [went]


async def test_an_apns_429_for_one_device_token_holds_back_no_other_push(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given pushes sent one at a time, the first to a device token Apple throttles
    monkeypatch.setattr(apns_module, "CONCURRENCY", 1)
    state, url, tls, key_file = apns
    phones = [f"{n:02x}" * 32 for n in (0x11, 0x12, 0x13)]
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.APNS, t, Platform.IOS) for t in phones]
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    first, *others = await tokens_in_send_order(db)
    state.throttled = {first}
    config = PushConfig(
        apns=apns_key(state, key_file), apns_url=url, apns_ca_file=str(tls.ca_file), wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then the throttled one alone waits (and used an attempt); the others went
    assert (report.sent, report.retried) == (2, 1)
    assert sorted(r["token"] for r in state.received) == sorted(others)
    assert (await outbox(db))[first][:3] == (
        "PENDING",
        "HTTP 429 TooManyRequests",
        CLOCK_START + backoff(1),
    )
    assert (await attempts(db))[first] == 1


async def test_pushes_an_apns_outage_kept_from_starting_use_up_no_attempt(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given pushes sent one at a time, the first answered 503 (Apple is out)
    monkeypatch.setattr(apns_module, "CONCURRENCY", 1)
    state, url, tls, key_file = apns
    phones = [f"{n:02x}" * 32 for n in (0x21, 0x22, 0x23)]
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.APNS, t, Platform.IOS) for t in phones]
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    first, *others = await tokens_in_send_order(db)
    state.unavailable = {first}
    config = PushConfig(
        apns=apns_key(state, key_file), apns_url=url, apns_ca_file=str(tls.ca_file), wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then nothing else was tried; all wait, and only the one tried used an attempt
    assert (report.sent, report.retried, state.received) == (0, 3, [])
    found = await outbox(db)
    assert {t: found[t][:3] for t in phones} == {
        t: ("PENDING", "HTTP 503 ServiceUnavailable", CLOCK_START + backoff(1)) for t in phones
    }
    assert await attempts(db) == {first: 1, **dict.fromkeys(others, 0)}


async def tokens_in_send_order(db: Database) -> list[str]:
    """The device tokens of the outbox's messages, in the order a pass sends them."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Device.token)
            .join(PushMessage, PushMessage.device_id == Device.id)
            .order_by(PushMessage.id)
        )
        return list(rows.all())


async def test_twenty_expired_provider_token_answers_make_one_new_token(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
) -> None:
    # Given 20 iPhones, and a sender whose clock runs behind Apple's (the fake's ``wall``)
    state, url, tls, key_file = apns
    ours = WallClock()
    phones = [f"{n:02x}" * 32 for n in range(0x40, 0x54)]
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.APNS, t, Platform.IOS) for t in phones]
    )
    config = PushConfig(
        apns=apns_key(state, key_file), apns_url=url, apns_ca_file=str(tls.ca_file), wall_clock=ours
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        first = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
        assert (first.sent, len(state.provider_tokens)) == (20, 1)
        # when 40 minutes pass for us (the token is kept) and 61 for Apple (it has expired)
        ours.offset, wall.offset = 40 * 60, 61 * 60
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        second = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then the 20 ExpiredProviderToken answers made one new token, and every push went with it
    assert second.sent == 20
    assert len(state.provider_tokens) == 2
    assert len(state.received) == 40


async def test_a_huge_or_distant_retry_after_waits_at_most_the_longest_delay(
    db: Database, settings: Any, cluster_id: str, fcm: tuple[Fcm, Path], wall: WallClock
) -> None:
    # Given FCM answering 429 with a Retry-After of 3 million years, and one of a date next year
    state, key_file = fcm
    huge, dated = fcm_token("huge"), fcm_token("dated")
    state.quota = {huge, dated}
    next_year = email.utils.format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
    state.retry_after = {huge: "99999999999999", dated: next_year}
    user = await person_with(
        db,
        settings,
        cluster_id,
        [(PushProvider.FCM, t, Platform.ANDROID) for t in (huge, dated)],
    )
    await notify(db, user, NotificationKind.OFFER_RECEIVED)
    config = PushConfig(
        fcm=ServiceAccount.from_file(str(key_file)), fcm_url=state.base_url, wall_clock=wall
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then both wait an hour (MAX_DELAY), the quota's reason recorded
    assert report.retried == 2
    found = await outbox(db)
    reason = "QUOTA_EXCEEDED: Sending limit exceeded for the message target."
    waiting = ("PENDING", reason, CLOCK_START + MAX_DELAY)
    assert {t: found[t][:3] for t in (huge, dated)} == dict.fromkeys((huge, dated), waiting)


async def test_too_many_provider_token_updates_holds_back_the_pass_s_other_apns_pushes(
    db: Database,
    settings: Any,
    cluster_id: str,
    apns: tuple[Apns, str, Tls, Path],
    wall: WallClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a sender whose clock ran 51 minutes ahead of Apple's since its last token: its new
    # token comes 10 minutes (Apple's) after the last, which Apple refuses
    monkeypatch.setattr(apns_module, "CONCURRENCY", 1)
    state, url, tls, key_file = apns
    ours = WallClock()
    phones = [f"{n:02x}" * 32 for n in (0x61, 0x62, 0x63)]
    user = await person_with(
        db, settings, cluster_id, [(PushProvider.APNS, t, Platform.IOS) for t in phones[:1]]
    )
    config = PushConfig(
        apns=apns_key(state, key_file), apns_url=url, apns_ca_file=str(tls.ca_file), wall_clock=ours
    )
    async with httpx.AsyncClient() as http, Senders(config, http) as senders:
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        assert (
            await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
        ).sent == 1
        async with db.write() as session:
            for token in phones[1:]:
                session.add(
                    Device(
                        user_id=user,
                        token=token,
                        platform=Platform.IOS,
                        provider=PushProvider.APNS,
                        locale="en",
                        created_at=CLOCK_START,
                        last_seen_at=CLOCK_START,
                    )
                )
        async with db.write() as session:
            await session.execute(delete(PushMessage))
        ours.offset, wall.offset = 51 * 60, 10 * 60
        await notify(db, user, NotificationKind.OFFER_RECEIVED)
        first, *others = await tokens_in_send_order(db)
        report = await deliver_due(db=db, http=http, senders=senders, now=CLOCK_START, worker="w1")
    # then the first push's answer holds back the others, which use up no attempt
    assert (report.sent, report.retried, len(state.received)) == (0, 3, 1)
    found = await outbox(db)
    reason = "HTTP 429 TooManyProviderTokenUpdates"
    assert {t: found[t][:3] for t in phones} == dict.fromkeys(
        phones, ("PENDING", reason, CLOCK_START + backoff(1))
    )
    assert await attempts(db) == {first: 1, **dict.fromkeys(others, 0)}
