"""Push delivery: the outbox (``push_messages``) sent to a push provider over HTTP.

:func:`deliver_due` is one pass of a worker: it claims up to a batch of due messages with a
lease (a conditional UPDATE, so two workers, or two processes, never claim the same message),
sends them in one request in the Expo push API's format to ``EIC_PUSH_URL``, and records each
ticket:

- ``ok``: SENT.
- ``error`` with ``details.error == "DeviceNotRegistered"``: the app was uninstalled or the token
  expired; the device is deleted (and its pending messages with it).
- any other error, an HTTP error or no answer at all: tried again after an exponential backoff
  (``BASE_DELAY`` x 2^attempts, at most ``MAX_DELAY``), up to ``MAX_ATTEMPTS``, then FAILED.

A request the provider refuses as a whole (HTTP 4xx but 429, such as one malformed message in
the batch) is sent again message by message in the same pass, so one bad message cannot hold
back the others.

:func:`check_receipts` reads, 15 minutes after sending, the receipts of sent messages (Expo's
``getReceipts``): Apple and Google tell only then that a token is dead (``DeviceNotRegistered``:
the device goes) or that a message was refused (recorded in ``last_error``, status FAILED).

A worker that dies mid-pass leaves its lease to expire (``LEASE``): another worker then takes the
messages again. A message can therefore be sent twice only if a worker dies between the provider's
answer and its own commit; each carries ``data.messageId`` so the app can drop the repeat (Expo
itself does not de-duplicate).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import Clock
from backend.db import Database
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


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    claimed: int
    sent: int
    retried: int
    failed: int
    devices_removed: int


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min ... at most an hour."""
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


async def _claim(db: Database, worker: str, now: datetime, batch: int) -> list[uuid.UUID]:
    due = and_(
        PushMessage.status == PushStatus.PENDING,
        PushMessage.next_attempt_at <= now,
        or_(PushMessage.claimed_until.is_(None), PushMessage.claimed_until < now),
    )
    async with db.write() as session:
        candidates = (
            select(PushMessage.id)
            .where(due)
            .order_by(PushMessage.next_attempt_at, PushMessage.id)
            .limit(batch)
        )
        if db.dialect == "postgresql":
            # busy workers skip each other's rows instead of queueing behind them
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list((await session.scalars(candidates)).all())
        if not ids:
            return []
        # The condition again: whatever another worker took meanwhile is not taken twice.
        claimed = await session.scalars(
            update(PushMessage)
            .where(PushMessage.id.in_(ids), due)
            .values(claimed_by=worker, claimed_until=now + LEASE)
            .returning(PushMessage.id)
            .execution_options(synchronize_session=False)
        )
        return list(claimed.all())


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


async def deliver_due(
    *,
    db: Database,
    http: httpx.AsyncClient,
    url: str,
    now: datetime,
    worker: str,
    batch: int = BATCH,
) -> DeliveryReport:
    """One pass: claim, send, record. Safe to run in any number of workers at once."""
    ids = await _claim(db, worker, now, batch)
    if not ids:
        return DeliveryReport(0, 0, 0, 0, 0)
    rows = await _load(db, ids)
    messages = [expo_message(m, d, n) for m, d, n in rows]
    tickets, error, status = await _send(http, url, messages)
    if tickets is None and _refused(status) and len(rows) > 1:
        # the provider refused the request as a whole: find the message at fault, one by one
        tickets, error = [], ""
        for outgoing in messages:
            alone, alone_error, alone_status = await _send(http, url, [outgoing])
            refused = _refused(alone_status)  # alone too: it will never be taken, give it up
            tickets.append(
                alone[0] if alone else {"status": "error", "message": alone_error, REFUSED: refused}
            )

    sent: list[uuid.UUID] = []
    ticket_ids: dict[uuid.UUID, str | None] = {}
    retry: list[tuple[PushMessage, str, bool]] = []
    invalid: list[uuid.UUID] = []
    for index, (message, device, _) in enumerate(rows):
        ticket = tickets[index] if tickets is not None else None
        if isinstance(ticket, dict) and ticket.get("status") == "ok":
            sent.append(message.id)
            ticket_ids[message.id] = str(ticket.get("id") or "")[:100] or None
        elif (
            isinstance(ticket, dict)
            and isinstance(ticket.get("details"), dict)
            and ticket["details"].get("error") in INVALID_TOKEN_ERRORS
        ):
            invalid.append(device.id)
        else:
            reason = error or str(
                ticket.get("message", "error") if isinstance(ticket, dict) else ""
            )
            refused = isinstance(ticket, dict) and ticket.get(REFUSED) is True
            retry.append((message, reason[:500], refused))

    failed = 0
    async with db.write() as session:
        for message_id in sent:
            await session.execute(
                update(PushMessage)
                .where(PushMessage.id == message_id, PushMessage.claimed_by == worker)
                .values(
                    status=PushStatus.SENT,
                    sent_at=now,
                    ticket_id=ticket_ids[message_id],
                    claimed_by=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
        for message, reason, refused in retry:
            attempts = message.attempts + 1
            gave_up = refused or attempts >= MAX_ATTEMPTS
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
    if error:
        log.warning("push: %s messages to try again: %s", len(retry), error)
    return DeliveryReport(
        claimed=len(ids),
        sent=len(sent),
        retried=len(retry) - failed,
        failed=failed,
        devices_removed=len(set(invalid)),
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


def _refused(status: int) -> bool:
    """The provider refused the request itself (not "too many", which passes)."""
    return 400 <= status < 500 and status != 429


async def _send(
    http: httpx.AsyncClient, url: str, messages: list[dict[str, Any]]
) -> tuple[list[Any] | None, str, int]:
    """POST messages; their tickets in order (None if there are none), the error, the status."""
    try:
        response = await http.post(url, json=messages, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], 0
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}", response.status_code
    try:
        answer = response.json()
    except ValueError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], 200
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(data, list) and len(data) == len(messages):
        return data, "", 200
    return None, "the provider's answer does not match the request", 200


@dataclass(frozen=True, slots=True)
class ReceiptsReport:
    checked: int
    failed: int
    devices_removed: int


async def check_receipts(
    *, db: Database, http: httpx.AsyncClient, url: str, now: datetime, worker: str
) -> ReceiptsReport:
    """One pass over the receipts of messages sent at least RECEIPT_DELAY ago. Any number of
    workers may run it: each claims its messages under a lease first."""
    unchecked = and_(
        PushMessage.status == PushStatus.SENT,
        PushMessage.ticket_id.is_not(None),
        PushMessage.receipt_checked_at.is_(None),
        PushMessage.sent_at <= now - RECEIPT_DELAY,
        or_(PushMessage.claimed_until.is_(None), PushMessage.claimed_until < now),
    )
    async with db.write() as session:
        candidates = (
            select(PushMessage.id)
            .where(unchecked)
            .order_by(PushMessage.sent_at)
            .limit(RECEIPT_BATCH)
        )
        if db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list((await session.scalars(candidates)).all())
        claimed = (
            (
                await session.execute(
                    update(PushMessage)
                    .where(PushMessage.id.in_(ids), unchecked)
                    .values(claimed_by=worker, claimed_until=now + LEASE)
                    .returning(
                        PushMessage.id,
                        PushMessage.ticket_id,
                        PushMessage.device_id,
                        PushMessage.sent_at,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if ids
            else []
        )
    if not claimed:
        return ReceiptsReport(0, 0, 0)
    receipts: dict[str, Any] = {}
    try:
        response = await http.post(
            url,
            json={"ids": [row.ticket_id for row in claimed]},
            headers={"Accept": "application/json"},
        )
        if response.status_code == 200:
            data = response.json().get("data")
            receipts = data if isinstance(data, dict) else {}
    except (httpx.HTTPError, ValueError, AttributeError):
        receipts = {}  # no answer: the lease ends, and the next pass asks again
    # per message read: (id, error or "", whether it failed)
    outcomes: list[tuple[uuid.UUID, str, bool]] = []
    dead: set[uuid.UUID] = set()
    for row in claimed:
        receipt = receipts.get(row.ticket_id)
        if not isinstance(receipt, dict):
            if row.sent_at <= now - RECEIPT_LIFETIME:  # the provider no longer has it
                outcomes.append((row.id, "no receipt within a day", False))
            continue
        raw = receipt.get("details")
        details: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if receipt.get("status") == "ok":
            outcomes.append((row.id, "", False))
        elif details.get("error") in INVALID_TOKEN_ERRORS:
            dead.add(row.device_id)
        else:
            reason = str(receipt.get("message") or details.get("error") or "error")
            outcomes.append((row.id, reason, True))
    async with db.write() as session:
        for message_id, reason, failed in outcomes:
            values: dict[str, Any] = {
                "receipt_checked_at": now,
                "claimed_by": None,
                "claimed_until": None,
            }
            if reason:
                values["last_error"] = reason[:500]
            if failed:
                values["status"] = PushStatus.FAILED
            await session.execute(
                update(PushMessage)
                .where(PushMessage.id == message_id, PushMessage.claimed_by == worker)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        await _remove_devices(session, dead)
    return ReceiptsReport(
        checked=len(outcomes),
        failed=sum(1 for _, _, failed in outcomes if failed),
        devices_removed=len(dead),
    )


def worker_name() -> str:
    """Unique per process and short enough for ``claimed_by`` whatever the host's name."""
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:64]


async def run_worker(
    db: Database,
    clock: Clock,
    url: str,
    interval_seconds: float,
    receipts_url: str | None = None,
) -> None:
    """Deliver (and read receipts) until cancelled: at once while there is a backlog, else
    every interval."""
    worker = worker_name()
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        while True:
            try:
                report = await deliver_due(
                    db=db, http=http, url=url, now=clock.now(), worker=worker
                )
                if receipts_url:
                    await check_receipts(
                        db=db, http=http, url=receipts_url, now=clock.now(), worker=worker
                    )
            except Exception:  # the loop must outlive one bad pass; the traceback goes to the log
                log.exception("push delivery failed; retrying in %s s", interval_seconds)
                report = DeliveryReport(0, 0, 0, 0, 0)
            if report.claimed < BATCH:
                await asyncio.sleep(interval_seconds)


# Sent messages are kept a week (to answer "did my phone get it?"), failed ones a month after
# they were queued.
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
                    (PushMessage.status == PushStatus.FAILED)
                    & (PushMessage.created_at < now - KEEP_FAILED),
                )
            )
            .execution_options(synchronize_session=False)
        )
    return int(getattr(removed, "rowcount", 0) or 0)
