"""Expo's push service: up to 100 messages per request, a ticket for each in the answer.

A ``DeviceNotRegistered`` ticket (or receipt, read by the outbox later) means the token is dead.
A request Expo refuses as a whole (HTTP 400, 413, 422: one malformed message in the batch) is
sent again message by message in the same pass, so one bad message cannot hold back the others.
Projects with Expo's enhanced push security need the access token on every request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from backend.notifications.models import PushProvider
from backend.notifications.push.message import Priority, Push
from backend.notifications.push.provider import Outcome, Result, post, unknown_status

BATCH = 100  # Expo accepts up to 100 messages per request
INVALID_TOKEN_ERRORS = frozenset({"DeviceNotRegistered"})
# Answers that blame the request's content (malformed, too large, invalid); 401, 403, 404 ...
# blame the configuration, and 429 and 5xx pass: those are retried with backoff.
REFUSED_STATUSES = frozenset({400, 413, 422})
# Ticket and receipt errors that no retry mends.
HOPELESS_ERRORS = frozenset({"MessageTooBig", "MismatchSenderId", "InvalidCredentials"})
# Receipt errors to send again after a backoff.
RESEND_ERRORS = frozenset({"MessageRateExceeded"})

REFUSED = "eic.refused"  # marks a ticket made up for a message Expo refused alone
UNKNOWN = "eic.unknown"  # and one for a message sent alone whose answer never came


def expo_message(push: Push) -> dict[str, Any]:
    """One message in the Expo push API's request format."""
    message: dict[str, Any] = {
        "to": push.token,
        "title": push.title,
        "body": push.body,
        "sound": "default",
        "data": push.data,
        "ttl": push.ttl_seconds,
        "priority": "high" if push.priority == Priority.HIGH else "normal",
    }
    if push.badge is not None:
        message["badge"] = push.badge  # iOS only; Android ignores it
    if push.android_channel:
        message["channelId"] = push.android_channel
    return message


def error_of(answer: Any) -> Any:
    """The error name of an Expo ticket or receipt (``details.error``)."""
    details = answer.get("details") if isinstance(answer, dict) else None
    return details.get("error") if isinstance(details, dict) else None


def expo_headers(access_token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    return headers


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of one request to Expo."""

    tickets: list[Any] | None  # in the order of the messages; None without any
    error: str  # why there are none
    status: int  # the HTTP status, 0 without one
    # True when the request went out and no usable answer came: Expo may have taken it
    unknown: bool = False


class ExpoSender:
    provider = PushProvider.EXPO

    def __init__(self, http: httpx.AsyncClient, url: str, access_token: str | None = None):
        self.http = http
        self.url = url
        self.access_token = access_token

    async def send(
        self, pushes: Sequence[Push], *, timeout_seconds: float, deadline: float
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for start in range(0, len(pushes), BATCH):
            outcomes += await self._batch(
                [expo_message(push) for push in pushes[start : start + BATCH]],
                timeout_seconds,
                deadline,
            )
        return outcomes

    async def _batch(
        self, messages: list[dict[str, Any]], timeout_seconds: float, deadline: float
    ) -> list[Outcome]:
        answer = await self._send(messages, timeout_seconds)
        tickets, error = answer.tickets, answer.error
        if tickets is None and answer.status in REFUSED_STATUSES:
            # Expo refused the request itself, for what it says: a message at fault
            if len(messages) == 1:
                tickets, error = [{"status": "error", "message": error, REFUSED: True}], ""
            else:
                tickets, error = await self._one_by_one(messages, timeout_seconds, deadline)
        configuration = 400 <= answer.status < 500 and answer.status != 429
        outcomes = []
        for index in range(len(messages)):
            ticket = tickets[index] if tickets is not None else None
            outcomes.append(self._outcome(ticket, answer, error, configuration))
        return outcomes

    @staticmethod
    def _outcome(ticket: Any, answer: Answer, error: str, configuration: bool) -> Outcome:
        if isinstance(ticket, dict) and ticket.get("status") == "ok":
            return Outcome(Result.SENT, ticket=str(ticket.get("id") or "")[:100] or None)
        if error_of(ticket) in INVALID_TOKEN_ERRORS:
            return Outcome(Result.INVALID_TOKEN, str(error_of(ticket)))
        if (ticket is None and answer.unknown) or (
            isinstance(ticket, dict) and ticket.get(UNKNOWN) is True
        ):
            reason = error or str(ticket.get("message", "") if isinstance(ticket, dict) else "")
            return Outcome(Result.UNKNOWN, reason[:500])
        if isinstance(ticket, dict):
            reason = error or str(ticket.get("message", "error"))
            # refused for itself, or an error no retry mends: given up at once
            if ticket.get(REFUSED) is True or error_of(ticket) in HOPELESS_ERRORS:
                return Outcome(Result.GIVE_UP, reason[:500])
            return Outcome(Result.RETRY, reason[:500])
        # 401/403 (credentials), 404/405 (a wrong EIC_PUSH_URL): nothing a retry of the message
        # mends; the outbox waits with backoff for the configuration to be fixed
        return Outcome(Result.RETRY, error[:500], configuration=configuration and not ticket)

    async def _one_by_one(
        self, messages: list[dict[str, Any]], timeout_seconds: float, deadline: float
    ) -> tuple[list[Any], str]:
        """Each message alone, to find the one(s) Expo refuses. Stops at an answer that is not
        about a message (an outage, a configuration fault, no answer) and at ``deadline``: the
        messages not tried are retried like the others."""
        tickets: list[Any] = []
        for outgoing in messages:
            if time.monotonic() > deadline:
                break
            alone = await self._send([outgoing], timeout_seconds)
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

    async def _send(self, messages: list[dict[str, Any]], timeout_seconds: float) -> Answer:
        """POST messages and wait at most ``timeout_seconds`` for their tickets."""
        response = await post(
            self.http,
            self.url,
            timeout_seconds=timeout_seconds,
            json=messages,
            headers=expo_headers(self.access_token),
        )
        if isinstance(response, Outcome):
            return Answer(None, response.reason, 0, unknown=response.result == Result.UNKNOWN)
        if response.status_code != 200:
            status = response.status_code
            return Answer(None, f"HTTP {status}", status, unknown=unknown_status(status))
        try:
            answer = response.json()
        except ValueError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:500], 200, unknown=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(data, list) and len(data) == len(messages):
            return Answer(data, "", 200)
        return Answer(None, "the provider's answer does not match the request", 200, unknown=True)
