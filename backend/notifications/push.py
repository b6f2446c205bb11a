"""Push delivery: the outbox (``push_messages``) sent to a push provider over HTTP.

:func:`deliver_due` is one pass of a worker: it claims up to a batch of due messages with a
lease (a conditional UPDATE, so two workers, or two processes, never claim the same message),
sends them in one request in the Expo push API's format to ``EIC_PUSH_URL``, and records each
ticket:

- ``ok``: SENT.
- ``error`` with ``details.error == "DeviceNotRegistered"``: the app was uninstalled or the token
  expired; the device is deleted (and its pending messages with it).
- any other error, or a request the provider did not take (below): tried again after an
  exponential backoff (``BASE_DELAY`` x 2^attempts, at most ``MAX_DELAY``), up to
  ``MAX_ATTEMPTS``, then FAILED.
- no usable answer to a request that went out: MAYBE_SENT (below).

A request the provider refuses as a whole (HTTP 4xx but 429, such as one malformed message in
the batch) is sent again message by message in the same pass, so one bad message cannot hold
back the others.

:func:`check_receipts` reads, 15 minutes after sending, the receipts of sent messages (Expo's
``getReceipts``): Apple and Google tell only then that a token is dead (``DeviceNotRegistered``:
the device goes) or that a message was refused (recorded in ``last_error``, status FAILED).

Exactly once, as far as the provider allows. Expo's push API has no idempotency key: a message
carries no id of ours that Expo de-duplicates or can be asked about, the ticket id is Expo's and
comes only in the answer, and receipts are looked up by that ticket id. So when the answer to a
send is lost, nothing can tell whether Expo took the messages. Each send therefore ends in one of:

- known: tickets (per message, as above), or a refusal that says the request was not taken
  (no connection made, HTTP 4xx including 429, 503): sent again after the backoff;
- unknown: the request went out and no usable answer came back (a timeout after sending, the
  connection dropped, HTTP 500, 502, 504 ..., a 200 we cannot read): MAYBE_SENT, never sent
  again. At most once for an unknown outcome, because a duplicate push rings the phone twice
  while a missing one loses nothing: the notification is in the person's inbox either way.

A request waits ``timeout_seconds`` (``EIC_PUSH_TIMEOUT_SECONDS``) for an answer: Expo
documents no bound (and has no SLA), so the default is three times the old 10 s, and anything
later is an unknown outcome rather than a resend. A batch is marked SENDING before it goes out;
a worker that dies mid-send leaves it so, and the next pass after the lease records it as
MAYBE_SENT instead of sending it again. Each message still carries ``data.messageId``: Expo
delivers to Apple and Google "at least once", so the app drops a repeat it sees.
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
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.notifications.models import Device, Notification, PushMessage, PushStatus

log = logging.getLogger("eic.push")

BATCH = 100  # Expo accepts up to 100 messages per request
LEASE = timedelta(minutes=2)
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 8
INVALID_TOKEN_ERRORS = frozenset({"DeviceNotRegistered"})
RECEIPT_DELAY = timedelta(minutes=15)  # Expo: receipts are ready within about 15 minutes
RECEIPT_LIFETIME = timedelta(hours=24)  # and kept for a day
RECEIPT_BATCH = 1000  # ids per getReceipts request
# How long a request waits for the provider's answer (EIC_PUSH_TIMEOUT_SECONDS, at most half
# the lease, so that a send ends well within the lease of the messages it carries).
DEFAULT_TIMEOUT = 30.0
# Failures to connect say the request never left; those past that point leave its fate unknown.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


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


async def _claim(db: Database, worker: str, now: datetime, batch: int) -> list[uuid.UUID]:
    due = and_(PushMessage.status == PushStatus.PENDING, PushMessage.next_attempt_at <= now)
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


def expo_message(
    message: PushMessage, device: Device, notification: Notification
) -> dict[str, Any]:
    """One message in the Expo push API's request format."""
    return {
        "to": device.token,
        "title": notification.title,
        "body": notification.body,
        "sound": "default",
        "data": {
            "messageId": str(message.id),
            "notificationId": str(notification.id),
            "kind": str(notification.kind),
            "subjectType": notification.subject_type,
            "subjectId": str(notification.subject_id),
        },
    }


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


async def deliver_due(
    *,
    db: Database,
    http: httpx.AsyncClient,
    url: str,
    now: datetime,
    worker: str,
    batch: int = BATCH,
    timeout_seconds: float = DEFAULT_TIMEOUT,
) -> DeliveryReport:
    """One pass: claim, send, record. Safe to run in any number of workers at once."""
    started = time.monotonic()
    abandoned = await _settle_abandoned(db, now)
    ids = await _claim(db, worker, now, batch)
    if not ids:
        return DeliveryReport(0, 0, 0, 0, 0, maybe_sent=abandoned)
    marked = await _mark_sending(db, worker, ids)
    rows = [row for row in await _load(db, ids) if row[0].id in marked]
    messages = [expo_message(m, d, n) for m, d, n in rows]
    answer = await _send(http, url, messages, timeout_seconds)
    tickets, error, status = answer.tickets, answer.error, answer.status
    if tickets is None and status in REFUSED_STATUSES:
        # the provider refused the request itself, for what it says: a message at fault
        if len(messages) == 1:
            tickets, error = [{"status": "error", "message": error, REFUSED: True}], ""
        else:
            # each alone, while a request still fits in the lease with room to record
            deadline = started + LEASE.total_seconds() * 3 / 4 - timeout_seconds
            tickets, error = await _one_by_one(http, url, messages, timeout_seconds, deadline)

    sent: list[uuid.UUID] = []
    ticket_ids: dict[uuid.UUID, str | None] = {}
    retry: list[tuple[PushMessage, str, bool]] = []
    unknown: list[tuple[PushMessage, str]] = []
    invalid: list[uuid.UUID] = []
    for index, (message, device, _) in enumerate(rows):
        ticket = tickets[index] if tickets is not None else None
        if isinstance(ticket, dict) and ticket.get("status") == "ok":
            sent.append(message.id)
            ticket_ids[message.id] = str(ticket.get("id") or "")[:100] or None
        elif _error_of(ticket) in INVALID_TOKEN_ERRORS:
            invalid.append(device.id)
        elif (ticket is None and answer.unknown) or (
            isinstance(ticket, dict) and ticket.get(UNKNOWN) is True
        ):
            reason = error or str(ticket.get("message", "") if isinstance(ticket, dict) else "")
            unknown.append((message, f"outcome unknown: {reason}"[:500]))
        else:
            reason = error or str(
                ticket.get("message", "error") if isinstance(ticket, dict) else ""
            )
            # refused for itself, or an error no retry mends: given up at once
            hopeless = isinstance(ticket, dict) and (
                ticket.get(REFUSED) is True or _error_of(ticket) in HOPELESS_ERRORS
            )
            retry.append((message, reason[:500], hopeless))

    failed = recorded = 0
    async with db.write() as session:
        for message_id in sent:
            # only while the lease is ours: a pass that outlived it leaves the row to its taker
            recorded += await _rows(
                session,
                update(PushMessage)
                .where(PushMessage.id == message_id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.SENT,
                    sent_at=now,
                    ticket_id=ticket_ids[message_id],
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
        for message, reason, hopeless in retry:
            attempts = message.attempts + 1
            gave_up = hopeless or attempts >= MAX_ATTEMPTS
            failed += gave_up
            await session.execute(
                update(PushMessage)
                .where(PushMessage.id == message.id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.FAILED if gave_up else PushStatus.PENDING,
                    attempts=attempts,
                    next_attempt_at=now + backoff(attempts),
                    last_error=reason,
                    claimed_by=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
        await _remove_devices(session, invalid)
    if unknown:
        log.warning(
            "push: %s messages may have reached the provider (%s); not sent again",
            len(unknown),
            unknown[0][1],
        )
    if error and retry:
        # 401/403 (credentials), 404/405 (a wrong EIC_PUSH_URL): nothing a retry of the message
        # mends; the outbox waits with backoff for the configuration to be fixed
        level = logging.ERROR if 400 <= status < 500 and status != 429 else logging.WARNING
        log.log(level, "push: %s messages to try again: %s", len(retry), error)
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


REFUSED = "eic.refused"  # marks a ticket made up for a message the provider refused alone
UNKNOWN = "eic.unknown"  # and one for a message sent alone whose answer never came
# Answers that blame the request's content (malformed, too large, invalid); 401, 403, 404 ...
# blame the configuration, and 429 and 5xx pass: those are retried with backoff.
REFUSED_STATUSES = frozenset({400, 413, 422})
# Ticket and receipt errors that no retry mends (Expo's names).
HOPELESS_ERRORS = frozenset({"MessageTooBig", "MismatchSenderId", "InvalidCredentials"})
# Receipt errors to send again after a backoff.
RESEND_ERRORS = frozenset({"MessageRateExceeded"})


def _error_of(answer: Any) -> Any:
    details = answer.get("details") if isinstance(answer, dict) else None
    return details.get("error") if isinstance(details, dict) else None


async def _rows(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def _one_by_one(
    http: httpx.AsyncClient,
    url: str,
    messages: list[dict[str, Any]],
    timeout_seconds: float,
    deadline: float,
) -> tuple[list[Any], str]:
    """Each message alone, to find the one(s) the provider refuses. Stops at an answer that is
    not about a message (an outage, a configuration fault, no answer) and at ``deadline`` (a
    ``time.monotonic()``): the messages not tried are retried like the others."""
    tickets: list[Any] = []
    for outgoing in messages:
        if time.monotonic() > deadline:
            break
        alone = await _send(http, url, [outgoing], timeout_seconds)
        if alone.tickets is not None:
            tickets.append(alone.tickets[0])
        elif alone.status in REFUSED_STATUSES:  # alone too: it will never be taken
            tickets.append({"status": "error", "message": alone.error, REFUSED: True})
        else:
            if alone.unknown:  # it may have gone: never again
                tickets.append({"status": "error", "message": alone.error, UNKNOWN: True})
            break
    untried = {"status": "error", "message": "not sent: the provider refused the batch"}
    return tickets + [untried] * (len(messages) - len(tickets)), ""


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of one request to the provider."""

    tickets: list[Any] | None  # in the order of the messages; None without any
    error: str  # why there are none
    status: int  # the HTTP status, 0 without one
    # True when the request went out and no usable answer came: the provider may have taken it
    unknown: bool = False


def _unknown_status(status: int) -> bool:
    """5xx but 503 say the provider failed while it may have been taking the request (or a
    gateway gave up waiting for it: 502, 504); 503, like 429 and the other 4xx, says it did not
    take it."""
    return status >= 500 and status != 503


async def _send(
    http: httpx.AsyncClient, url: str, messages: list[dict[str, Any]], timeout_seconds: float
) -> Answer:
    """POST messages and wait at most ``timeout_seconds`` for their tickets."""
    try:
        async with asyncio.timeout(timeout_seconds):
            response = await http.post(url, json=messages, headers={"Accept": "application/json"})
    except NOT_SENT_ERRORS as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], 0)
    except httpx.HTTPError as exc:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Answer(None, what[:500], 0, unknown=True)
    except TimeoutError:
        return Answer(None, f"no answer within {timeout_seconds:g} s", 0, unknown=True)
    if response.status_code != 200:
        status = response.status_code
        return Answer(None, f"HTTP {status}", status, unknown=_unknown_status(status))
    try:
        answer = response.json()
    except ValueError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], 200, unknown=True)
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(data, list) and len(data) == len(messages):
        return Answer(data, "", 200)
    return Answer(None, "the provider's answer does not match the request", 200, unknown=True)


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
) -> ReceiptsReport:
    """One pass over the receipts of messages sent at least RECEIPT_DELAY ago. Any number of
    workers may run it: each claims its messages under a lease first."""
    unchecked = and_(
        PushMessage.status == PushStatus.SENT,
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
                headers={"Accept": "application/json"},
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
        error = _error_of(receipt)
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
    url: str,
    interval_seconds: float,
    receipts_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT,
) -> None:
    """Deliver (and read receipts) until cancelled: at once while there is a backlog, else
    every interval."""
    worker = worker_name()
    async with http_client(timeout_seconds) as http:
        while True:
            try:
                report = await deliver_due(
                    db=db,
                    http=http,
                    url=url,
                    now=clock.now(),
                    worker=worker,
                    timeout_seconds=timeout_seconds,
                )
            except Exception:  # the loop must outlive one bad pass; the traceback goes to the log
                log.exception("push delivery failed; retrying in %s s", interval_seconds)
                report = DeliveryReport(0, 0, 0, 0, 0)
            if receipts_url:
                try:
                    await check_receipts(
                        db=db,
                        http=http,
                        url=receipts_url,
                        now=clock.now(),
                        worker=worker,
                        timeout_seconds=timeout_seconds,
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
