"""Push delivery: the outbox (``push_messages``) sent through each device's provider.

:func:`deliver_due` is one pass of a worker: it claims up to a batch of due messages with a
lease (a conditional UPDATE, so two workers, or two processes, never claim the same message),
hands each provider its devices' pushes (Expo in batches of 100, FCM and APNs one per request:
expo.py, fcm.py, apns.py), and records each message's outcome the same way whatever the
provider:

- sent: SENT, with the provider's id for it.
- the token is no longer valid (Expo ``DeviceNotRegistered``, FCM ``UNREGISTERED`` or an
  invalid token, APNs ``BadDeviceToken``/``Unregistered``): the device is deleted (and its
  pending messages with it).
- not taken (no connection, 429, 503, a configuration fault): tried again after an exponential
  backoff (``BASE_DELAY`` x 2^attempts, or longer when the provider's Retry-After says so, at
  most ``MAX_DELAY``), up to ``MAX_ATTEMPTS``, then FAILED. A push not even tried (its provider
  was out or misconfigured earlier in the pass, or the pass ran out of time) waits the same
  without using up an attempt, and a sender that raises makes its own provider's pushes wait
  (blaming the configuration) while the other providers' go out.
- a provider that is off (no sender on this worker): its devices' messages are not claimed;
  they wait, untouched, for a worker that has it.
- refused for itself (malformed, too large): FAILED at once.
- no usable answer to a request that went out: MAYBE_SENT (below).

:func:`check_receipts` reads, 15 minutes after sending, the receipts of messages sent through
Expo (``getReceipts``): Apple and Google tell Expo only then that a token is dead
(``DeviceNotRegistered``: the device goes) or that a message was refused (recorded in
``last_error``, status FAILED). FCM and APNs answer that in the send itself.

Exactly once, as far as the providers allow. None of them has an idempotency key: Expo's ticket
id comes only in the answer, and neither FCM nor APNs de-duplicates a message sent twice (the
``apns-id`` we send is our message id, for the logs only). So when the answer to a send is lost,
nothing can tell whether the provider took the message. Each send therefore ends in one of:

- known: an answer per message (as above), or a refusal that says the request was not taken
  (no connection made, HTTP 4xx including 429, 503): sent again after the backoff;
- unknown: the request went out and no usable answer came back (a timeout after sending, the
  connection dropped, HTTP 500, 502, 504 ..., a 200 we cannot read): MAYBE_SENT, never sent
  again. At most once for an unknown outcome, because a duplicate push rings the phone twice
  while a missing one loses nothing: the notification is in the person's inbox either way.

A request waits ``timeout_seconds`` (``EIC_PUSH_TIMEOUT_SECONDS``) for an answer: Expo
documents no bound (and has no SLA), so the default is three times the old 10 s, and anything
later is an unknown outcome rather than a resend. No request starts later than the lease allows
for its answer to come and be recorded. A batch is marked SENDING before it goes out; a worker
that dies mid-send leaves it so, and the next pass after the lease records it as MAYBE_SENT
instead of sending it again. Each message still carries ``data.messageId``: providers deliver to
phones "at least once", so the app drops a repeat it sees.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.notifications.models import (
    Device,
    Notification,
    PushMessage,
    PushProvider,
    PushStatus,
)
from backend.notifications.push.config import DEFAULT_TIMEOUT, PushConfig, Senders
from backend.notifications.push.expo import (
    INVALID_TOKEN_ERRORS,
    RESEND_ERRORS,
    error_of,
    expo_headers,
)
from backend.notifications.push.message import Push, push_of
from backend.notifications.push.provider import MAX_DELAY, Outcome, Result, raised

log = logging.getLogger("eic.push")

BATCH = 100  # messages claimed per pass (Expo takes up to 100 per request)
LEASE = timedelta(minutes=2)
BASE_DELAY = timedelta(seconds=30)
# MAX_DELAY (provider.py): an hour at most between tries
MAX_ATTEMPTS = 8
RECEIPT_DELAY = timedelta(minutes=15)  # Expo: receipts are ready within about 15 minutes
RECEIPT_LIFETIME = timedelta(hours=24)  # and kept for a day
RECEIPT_BATCH = 1000  # ids per getReceipts request
# How long a request waits for the provider's answer (EIC_PUSH_TIMEOUT_SECONDS, at most half
# the lease, so that a send ends well within the lease of the messages it carries):
# config.DEFAULT_TIMEOUT, 30 s.


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    claimed: int
    sent: int
    retried: int
    failed: int
    devices_removed: int
    # sent, but whether the provider took them is unknown: not sent again
    maybe_sent: int = 0


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min ... at most an hour."""
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


async def _lease(
    db: Database,
    worker: str,
    now: datetime,
    condition: Any,
    order_by: tuple[Any, ...],
    limit: int,
    *returned: Any,
) -> list[Any]:
    """Claim up to ``limit`` messages meeting ``condition`` (free of any unexpired lease) for
    ``worker`` until ``now + LEASE``; their ``returned`` columns. Two workers never claim the
    same message."""
    free = and_(
        condition, or_(PushMessage.claimed_until.is_(None), PushMessage.claimed_until < now)
    )
    async with db.write() as session:
        candidates = select(PushMessage.id).where(free).order_by(*order_by).limit(limit)
        if db.dialect == "postgresql":
            # busy workers skip each other's rows instead of queueing behind them
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list((await session.scalars(candidates)).all())
        if not ids:
            return []
        # The condition again: whatever another worker took meanwhile is not taken twice.
        claimed = await session.execute(
            update(PushMessage)
            .where(PushMessage.id.in_(ids), free)
            .values(claimed_by=worker, claimed_until=now + LEASE)
            .returning(*returned)
            .execution_options(synchronize_session=False)
        )
        return list(claimed.all())


async def _claim(
    db: Database, worker: str, now: datetime, batch: int, providers: Iterable[PushProvider]
) -> list[uuid.UUID]:
    """Due messages to devices of ``providers`` (those this worker has a sender for): the
    others wait untouched rather than use up their attempts on a provider that is off."""
    due = and_(
        PushMessage.status == PushStatus.PENDING,
        PushMessage.next_attempt_at <= now,
        PushMessage.device_id.in_(select(Device.id).where(Device.provider.in_(list(providers)))),
    )
    order = (PushMessage.next_attempt_at, PushMessage.id)
    return [row.id for row in await _lease(db, worker, now, due, order, batch, PushMessage.id)]


async def _load(
    db: Database, ids: list[uuid.UUID]
) -> list[tuple[PushMessage, Device, Notification]]:
    async with db.read() as session:
        rows = (
            await session.execute(
                select(PushMessage, Device, Notification)
                .join(Device, Device.id == PushMessage.device_id)
                .join(Notification, Notification.id == PushMessage.notification_id)
                .where(PushMessage.id.in_(ids))
                .order_by(PushMessage.id)
            )
        ).all()
    return [(m, d, n) for m, d, n in rows]


async def _settle_abandoned(db: Database, now: datetime) -> int:
    """Messages a worker marked SENDING and never recorded (it died, or lost its database, mid-
    send) are MAYBE_SENT once their lease is over: the provider may have them. How many."""
    async with db.write() as session:
        return await _rows(
            session,
            update(PushMessage)
            .where(PushMessage.status == PushStatus.SENDING, PushMessage.claimed_until < now)
            .values(
                status=PushStatus.MAYBE_SENT,
                attempts=PushMessage.attempts + 1,
                last_error="outcome unknown: the worker stopped during the send",
                claimed_by=None,
                claimed_until=None,
            ),
        )


async def _mark_sending(db: Database, worker: str, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Record that these messages are about to go out (committed before the request); the ones
    whose lease is still ours."""
    async with db.write() as session:
        marked = await session.execute(
            update(PushMessage)
            .where(PushMessage.id.in_(ids), PushMessage.claimed_by == worker)
            .values(status=PushStatus.SENDING)
            .returning(PushMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set(marked.scalars().all())


async def _unread(db: Database, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each person's unread notifications: the badge on the app's icon."""
    if not user_ids:
        return {}
    async with db.read() as session:
        rows = await session.execute(
            select(Notification.user_id, func.count())
            .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
            .group_by(Notification.user_id)
        )
        return {user_id: int(count) for user_id, count in rows.all()}


async def _send_all(
    senders: Senders,
    pushes: list[tuple[PushProvider, Push]],
    timeout_seconds: float,
    deadline: float,
) -> list[Outcome]:
    """Each provider's pushes through its sender, the providers at once; one outcome per push,
    in order."""
    groups: dict[PushProvider, list[int]] = {}
    for index, (provider, _) in enumerate(pushes):
        groups.setdefault(provider, []).append(index)

    async def through(provider: PushProvider, indexes: list[int]) -> list[Outcome]:
        sender = senders.get(provider)
        if sender is None:  # not claimed (_claim); should one slip through, it waits
            reason = f"{provider.value} is not configured on this server"
            return [Outcome(Result.RETRY, reason, configuration=True, tried=False)] * len(indexes)
        try:
            outcomes = await sender.send(
                [pushes[index][1] for index in indexes],
                timeout_seconds=timeout_seconds,
                deadline=deadline,
            )
        except Exception as exc:  # one provider's fault must not cost the other providers' pushes
            return [raised(exc)] * len(indexes)
        if len(outcomes) != len(indexes):
            # a sender's bug: the requests went out, but whose answer is whose is unknown
            reason = f"{provider.value}: {len(outcomes)} outcomes for {len(indexes)} pushes"
            log.error("push: %s", reason)
            return [Outcome(Result.UNKNOWN, reason)] * len(indexes)
        return outcomes

    answered = await asyncio.gather(*(through(p, indexes) for p, indexes in groups.items()))
    outcomes: list[Outcome | None] = [None] * len(pushes)
    for indexes, group_outcomes in zip(groups.values(), answered, strict=True):
        for index, outcome in zip(indexes, group_outcomes, strict=True):
            outcomes[index] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


async def deliver_due(
    *,
    db: Database,
    http: httpx.AsyncClient,
    now: datetime,
    worker: str,
    url: str | None = None,
    senders: Senders | None = None,
    batch: int = BATCH,
    timeout_seconds: float = DEFAULT_TIMEOUT,
) -> DeliveryReport:
    """One pass: claim, send, record. Safe to run in any number of workers at once. Pushes go
    through ``senders``, or, given only ``url``, to Expo there."""
    started = time.monotonic()
    if senders is None:
        senders = Senders(PushConfig(expo_url=url, timeout_seconds=timeout_seconds), http)
    config = senders.config
    abandoned = await _settle_abandoned(db, now)
    ids = await _claim(db, worker, now, batch, senders.by_provider)
    if not ids:
        return DeliveryReport(0, 0, 0, 0, 0, maybe_sent=abandoned)
    marked = await _mark_sending(db, worker, ids)
    rows = [row for row in await _load(db, ids) if row[0].id in marked]
    badges = await _unread(db, {device.user_id for _, device, _ in rows})
    pushes = [
        (
            device.provider,
            push_of(
                message,
                device,
                notification,
                badge=badges.get(device.user_id, 0),
                now=now,
                ttl=config.ttl,
                android_channel=config.android_channel,
            ),
        )
        for message, device, notification in rows
    ]
    # no request starts unless its answer can come, and be recorded, within the lease
    deadline = started + LEASE.total_seconds() * 3 / 4 - timeout_seconds
    outcomes = await _send_all(senders, pushes, timeout_seconds, deadline)

    sent: list[tuple[uuid.UUID, str | None]] = []
    retry: list[tuple[PushMessage, Outcome]] = []
    unknown: list[tuple[PushMessage, str]] = []
    invalid: list[uuid.UUID] = []
    for (message, device, _), outcome in zip(rows, outcomes, strict=True):
        if outcome.result == Result.SENT:
            sent.append((message.id, outcome.ticket))
        elif outcome.result == Result.INVALID_TOKEN:
            invalid.append(device.id)
        elif outcome.result == Result.UNKNOWN:
            unknown.append((message, f"outcome unknown: {outcome.reason}"[:500]))
        else:
            retry.append((message, outcome))

    failed = recorded = 0
    async with db.write() as session:
        for message_id, ticket in sent:
            # only while the lease is ours: a pass that outlived it leaves the row to its taker
            recorded += await _rows(
                session,
                update(PushMessage)
                .where(PushMessage.id == message_id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.SENT,
                    sent_at=now,
                    ticket_id=ticket[:100] if ticket else None,
                    claimed_by=None,
                    claimed_until=None,
                ),
            )
        for message, reason in unknown:
            await _rows(
                session,
                update(PushMessage)
                .where(PushMessage.id == message.id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.MAYBE_SENT,
                    attempts=message.attempts + 1,
                    last_error=reason,
                    claimed_by=None,
                    claimed_until=None,
                ),
            )
        for message, outcome in retry:
            # a push never sent does not use up an attempt; it waits as if it had been
            attempts = message.attempts + 1 if outcome.tried else message.attempts
            gave_up = outcome.result == Result.GIVE_UP or attempts >= MAX_ATTEMPTS
            failed += gave_up
            asked = min(MAX_DELAY, outcome.retry_after or timedelta(0))
            wait = max(backoff(message.attempts + 1), asked)
            await _rows(
                session,
                update(PushMessage)
                .where(PushMessage.id == message.id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.FAILED if gave_up else PushStatus.PENDING,
                    attempts=attempts,
                    next_attempt_at=now + wait,
                    last_error=outcome.reason[:500],
                    claimed_by=None,
                    claimed_until=None,
                ),
            )
        await _remove_devices(session, invalid)
    if unknown:
        log.warning(
            "push: %s messages may have reached the provider (%s); not sent again",
            len(unknown),
            unknown[0][1],
        )
    if retry:
        # credentials refused, a wrong URL, a provider that is off: nothing a retry of the
        # message mends; the outbox waits with backoff for the configuration to be fixed
        blamed = [outcome for _, outcome in retry if outcome.configuration]
        level = logging.ERROR if blamed else logging.WARNING
        log.log(
            level,
            "push: %s messages to try again: %s",
            len(retry),
            (blamed or [retry[0][1]])[0].reason,
        )
    return DeliveryReport(
        claimed=len(ids),
        sent=recorded,
        retried=len(retry) - failed,
        failed=failed,
        devices_removed=len(set(invalid)),
        maybe_sent=abandoned + len(unknown),
    )


async def _remove_devices(session: AsyncSession, device_ids: Iterable[uuid.UUID]) -> None:
    """The provider says these tokens are dead: the devices go, their outboxes with them."""
    ids = set(device_ids)
    if not ids:
        return
    await session.execute(
        delete(PushMessage)
        .where(PushMessage.device_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(Device).where(Device.id.in_(ids)).execution_options(synchronize_session=False)
    )


async def _rows(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class ReceiptsReport:
    checked: int
    failed: int
    devices_removed: int
    resent: int = 0  # rate-limited by Apple or Google: queued to be sent again


# What a receipt makes of its message.
CHECKED, FAILED, RESEND = "CHECKED", "FAILED", "RESEND"


async def check_receipts(
    *,
    db: Database,
    http: httpx.AsyncClient,
    url: str,
    now: datetime,
    worker: str,
    timeout_seconds: float = DEFAULT_TIMEOUT,
    access_token: str | None = None,
) -> ReceiptsReport:
    """One pass over the receipts of messages sent through Expo at least RECEIPT_DELAY ago.
    Any number of workers may run it: each claims its messages under a lease first."""
    unchecked = and_(
        PushMessage.status == PushStatus.SENT,
        # only Expo has receipts; FCM's and APNs' ids are kept for the logs
        PushMessage.device_id.in_(select(Device.id).where(Device.provider == PushProvider.EXPO)),
        PushMessage.ticket_id.is_not(None),
        PushMessage.receipt_checked_at.is_(None),
        PushMessage.sent_at <= now - RECEIPT_DELAY,
    )
    claimed = await _lease(
        db,
        worker,
        now,
        unchecked,
        (PushMessage.sent_at,),
        RECEIPT_BATCH,
        PushMessage.id,
        PushMessage.ticket_id,
        PushMessage.device_id,
        PushMessage.sent_at,
        PushMessage.attempts,
    )
    if not claimed:
        return ReceiptsReport(0, 0, 0)
    receipts: dict[str, Any] | None = None  # None: no answer to go by
    try:
        async with asyncio.timeout(timeout_seconds):
            response = await http.post(
                url,
                json={"ids": [row.ticket_id for row in claimed]},
                headers=expo_headers(access_token),
            )
        if response.status_code == 200:
            answer = response.json()
            data = answer.get("data") if isinstance(answer, dict) else None
            receipts = data if isinstance(data, dict) else None
    except (httpx.HTTPError, ValueError, TimeoutError):
        receipts = None
    if receipts is None:
        # an outage is nobody's receipt: the leases end, and a later pass asks again
        log.warning("push receipts: no usable answer from %s", url)
        return ReceiptsReport(0, 0, 0)
    # per message read: (its claimed row, error or "", what becomes of it)
    outcomes: list[tuple[Any, str, str]] = []
    dead: set[uuid.UUID] = set()
    for row in claimed:
        receipt = receipts.get(row.ticket_id)
        if not isinstance(receipt, dict):
            if row.sent_at <= now - RECEIPT_LIFETIME:  # the provider no longer has it
                outcomes.append((row, "no receipt within a day", CHECKED))
            continue
        error = error_of(receipt)
        if receipt.get("status") == "ok":
            outcomes.append((row, "", CHECKED))
        elif error in INVALID_TOKEN_ERRORS:
            dead.add(row.device_id)
        else:
            reason = str(receipt.get("message") or error or "error")
            if error == "InvalidCredentials":  # every message fails until it is fixed
                log.error("push receipts: the provider's credentials are refused: %s", reason)
            again = error in RESEND_ERRORS and row.attempts + 1 < MAX_ATTEMPTS
            outcomes.append((row, reason, RESEND if again else FAILED))
    async with db.write() as session:
        for row, reason, outcome in outcomes:
            values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
            if reason:
                values["last_error"] = reason[:500]
            if outcome == RESEND:  # sent again after a backoff, with a new ticket
                values.update(
                    status=PushStatus.PENDING,
                    attempts=row.attempts + 1,
                    next_attempt_at=now + backoff(row.attempts + 1),
                    sent_at=None,
                    ticket_id=None,
                )
            else:
                values["receipt_checked_at"] = now
                if outcome == FAILED:
                    values["status"] = PushStatus.FAILED
            await _rows(
                session,
                update(PushMessage)
                .where(PushMessage.id == row.id, PushMessage.claimed_by == worker)
                .values(**values),
            )
        await _remove_devices(session, dead)
    return ReceiptsReport(
        checked=len(outcomes),
        failed=sum(1 for _, _, outcome in outcomes if outcome == FAILED),
        devices_removed=len(dead),
        resent=sum(1 for _, _, outcome in outcomes if outcome == RESEND),
    )


def worker_name() -> str:
    """Unique per process and short enough for ``claimed_by`` whatever the host's name."""
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:64]


def http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The client a worker talks to the provider with: a request waits ``timeout_seconds`` in
    all, connecting at most 10 of them (a failed connection is known not to have sent)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0))
    )


async def run_worker(
    db: Database,
    clock: Clock,
    url: str | None = None,
    interval_seconds: float = 5.0,
    receipts_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT,
    config: PushConfig | None = None,
) -> None:
    """Deliver (and read Expo's receipts) until cancelled: at once while there is a backlog,
    else every interval. Through the providers of ``config``, or, without it, Expo at ``url``."""
    if config is None:
        config = PushConfig(
            expo_url=url, expo_receipts_url=receipts_url, timeout_seconds=timeout_seconds
        )
    timeout_seconds = config.timeout_seconds
    worker = worker_name()
    async with http_client(timeout_seconds) as http, Senders(config, http) as senders:
        while True:
            try:
                report = await deliver_due(
                    db=db,
                    http=http,
                    senders=senders,
                    now=clock.now(),
                    worker=worker,
                    timeout_seconds=timeout_seconds,
                )
            except Exception:  # the loop must outlive one bad pass; the traceback goes to the log
                log.exception("push delivery failed; retrying in %s s", interval_seconds)
                report = DeliveryReport(0, 0, 0, 0, 0)
            if config.expo_receipts_url:
                try:
                    await check_receipts(
                        db=db,
                        http=http,
                        url=config.expo_receipts_url,
                        now=clock.now(),
                        worker=worker,
                        timeout_seconds=timeout_seconds,
                        access_token=config.expo_access_token,
                    )
                except Exception:  # receipts wait for the next pass; delivery goes on
                    log.exception("push receipts failed; retrying in %s s", interval_seconds)
            if report.claimed < BATCH:
                await asyncio.sleep(interval_seconds)


# Sent messages are kept a week (to answer "did my phone get it?"), failed ones and those whose
# fate is unknown a month after they were queued.
KEEP_SENT = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)


async def forget_finished(db: Database, now: datetime) -> int:
    """Delete sent and failed messages past their keeping time (a due job); how many went."""
    async with db.write() as session:
        removed = await session.execute(
            delete(PushMessage)
            .where(
                or_(
                    (PushMessage.status == PushStatus.SENT)
                    & (PushMessage.sent_at < now - KEEP_SENT),
                    PushMessage.status.in_((PushStatus.FAILED, PushStatus.MAYBE_SENT))
                    & (PushMessage.created_at < now - KEEP_FAILED),
                )
            )
            .execution_options(synchronize_session=False)
        )
    return int(getattr(removed, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Backlog:
    """The outbox's messages not yet handed over (PENDING or SENDING): how many, and when the
    oldest of them was written (None when there are none)."""

    depth: int
    oldest: datetime | None


async def backlog(db: Database) -> Backlog:
    """The outbox's backlog (the metrics read it at each scrape): one statement, through the
    status index; a healthy outbox holds few unsent messages, so it reads few rows."""
    async with db.read() as session:
        depth, oldest = (
            await session.execute(
                select(func.count(), func.min(PushMessage.created_at)).where(
                    PushMessage.status.in_((PushStatus.PENDING, PushStatus.SENDING))
                )
            )
        ).one()
    return Backlog(depth=int(depth or 0), oldest=oldest)
