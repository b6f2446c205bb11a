"""Firebase Cloud Messaging, HTTP v1: one message per request, authorised by OAuth2.

The service account's key signs a JWT (RS256) that the token endpoint (the key file's
``token_uri``) exchanges for an access token; it is kept until shortly before it expires and
sent as ``Authorization: Bearer`` to ``POST /v1/projects/{project}/messages:send``.

FCM's errors (``error.details[].errorCode`` of type FcmError, else ``error.status``):

- ``UNREGISTERED`` (404): the app was uninstalled or the token expired: the device goes.
- ``INVALID_ARGUMENT`` (400): the device goes only when the answer blames the token (a
  ``BadRequest`` detail names ``message.token``, or the message is FCM's "not a valid FCM
  registration token", which comes without such a detail); FCM gives the same code for a
  message too big, an invalid data key or TTL, so any other is given up (FAILED), the device
  kept.
- ``QUOTA_EXCEEDED`` (429), ``UNAVAILABLE`` (503): not taken; again after the backoff, or
  after ``Retry-After`` when FCM says longer. The pushes not tried yet in the pass wait too.
- ``INTERNAL`` (500) and other 5xx but 503: the outcome is unknown (MAYBE_SENT).
- 401 (the access token expired early): a new one is fetched on the next try; 403
  ``SENDER_ID_MISMATCH`` (a token of another Firebase project) gives the message up; other 4xx
  (a wrong project, revoked permissions) blame the configuration: everything waits.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from backend.notifications.models import Platform, PushProvider
from backend.notifications.push.message import Priority, Push
from backend.notifications.push.provider import (
    Outcome,
    Result,
    one_at_a_time,
    post,
    retry_after,
    unknown_status,
)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # Google accepts assertions of at most an hour
EARLY = 300  # an access token is replaced this many seconds before it expires
CONCURRENCY = 20  # requests in flight at once
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# FCM's words when the token itself is invalid (its answer names no field then)
INVALID_TOKEN_MESSAGE = "not a valid fcm registration token"  # noqa: S105 - words, no secret


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a Google service account key file that sending needs."""

    project_id: str
    client_email: str
    private_key: str  # PEM
    private_key_id: str
    token_uri: str

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        key = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(key, dict) or key.get("type") != "service_account":
            raise ValueError(f"{path} is not a Google service account key file")
        missing = [name for name in cls.__slots__ if not isinstance(key.get(name), str)]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        account = cls(**{name: key[name] for name in cls.__slots__})
        # The assertion carries the key's signature to token_uri: only over TLS, or to this
        # machine (the tests' fake endpoint).
        if not safe_token_uri(account.token_uri):
            raise ValueError(f"{path}: token_uri must be an https URL, not {account.token_uri!r}")
        # Signed once now: a key that cannot sign stops the start, not every push at its send.
        try:
            jwt.encode({"iss": account.client_email}, account.private_key, algorithm="RS256")
        except (ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"{path}: its private_key cannot sign (RS256): {exc}") from exc
        return account


def safe_token_uri(uri: str) -> bool:
    """https, or http to this machine only (the tests' fake token endpoint)."""
    try:
        url = httpx.URL(uri)
    except httpx.InvalidURL:
        return False
    if url.scheme == "https" and url.host:
        return True
    if url.scheme != "http":
        return False
    if url.host == "localhost":
        return True
    try:
        return ipaddress.ip_address(url.host).is_loopback
    except ValueError:
        return False


def fcm_message(push: Push) -> dict[str, Any]:
    """The ``message`` of a send request: the notification, Android's options, and APNs' for
    an iPhone whose app uses FCM."""
    high = push.priority == Priority.HIGH
    android_notification: dict[str, Any] = {"sound": "default"}
    if push.android_channel:
        android_notification["channel_id"] = push.android_channel
    if push.badge is not None:
        android_notification["notification_count"] = push.badge
    aps: dict[str, Any] = {"sound": "default"}
    if push.badge is not None:
        aps["badge"] = push.badge
    message: dict[str, Any] = {
        "token": push.token,
        "notification": {"title": push.title, "body": push.body},
        "data": push.data,
    }
    if push.platform == Platform.IOS:
        message["apns"] = {
            "headers": {
                "apns-priority": "10" if high else "5",
                "apns-expiration": str(int(push.expires_at.timestamp())),
            },
            "payload": {"aps": aps},
        }
    else:
        message["android"] = {
            "priority": "HIGH" if high else "NORMAL",
            "ttl": f"{push.ttl_seconds}s",
            "notification": android_notification,
        }
    return message


def error_code(answer: Any) -> tuple[str, str, list[str]]:
    """FCM's error code, its message, and the fields a BadRequest detail blames."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return "", "", []
    code = str(error.get("status") or "")
    fields: list[str] = []
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR and detail.get("errorCode"):
            code = str(detail["errorCode"])
        elif detail.get("@type") == BAD_REQUEST:
            fields += [
                str(violation.get("field"))
                for violation in detail.get("fieldViolations") or []
                if isinstance(violation, dict)
            ]
    return code, str(error.get("message") or ""), fields


class FcmSender:
    provider = PushProvider.FCM

    def __init__(
        self,
        http: httpx.AsyncClient,
        account: ServiceAccount,
        base_url: str = "https://fcm.googleapis.com",
        wall_clock: Callable[[], float] = time.time,
    ):
        self.http = http
        self.account = account
        self.url = f"{base_url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self.wall_clock = wall_clock
        self._access: tuple[str, float] | None = None  # the token, and when to replace it
        self._lock = asyncio.Lock()

    def assertion(self) -> str:
        """The signed JWT that asks the token endpoint for an access token."""
        issued = int(self.wall_clock())
        return jwt.encode(
            {
                "iss": self.account.client_email,
                "scope": SCOPE,
                "aud": self.account.token_uri,
                "iat": issued,
                "exp": issued + ASSERTION_LIFETIME,
            },
            self.account.private_key,
            algorithm="RS256",
            headers={"kid": self.account.private_key_id},
        )

    async def access_token(self, timeout_seconds: float) -> str | Outcome:
        """The cached access token, or a new one; an outcome for every push if none came."""
        async with self._lock:  # one exchange at a time, whoever asks
            if self._access is not None and self.wall_clock() < self._access[1]:
                return self._access[0]
            response = await post(
                self.http,
                self.account.token_uri,
                timeout_seconds=timeout_seconds,
                data={"grant_type": JWT_BEARER, "assertion": self.assertion()},
                headers={"Accept": "application/json"},
            )
            # no message went anywhere yet: whatever happened, the pushes wait
            if isinstance(response, Outcome):
                return Outcome(Result.RETRY, f"FCM access token: {response.reason}"[:500])
            try:
                answer = response.json()
            except ValueError:
                answer = None
            token = answer.get("access_token") if isinstance(answer, dict) else None
            if response.status_code != 200 or not isinstance(token, str):
                error = answer.get("error") if isinstance(answer, dict) else None
                return Outcome(
                    Result.RETRY,
                    f"FCM access token: HTTP {response.status_code} {error or ''}".strip()[:500],
                    configuration=400 <= response.status_code < 500,
                )
            lifetime = answer.get("expires_in") if isinstance(answer, dict) else None
            lifetime = lifetime if isinstance(lifetime, int) and lifetime > 0 else 3600
            self._access = (token, self.wall_clock() + max(lifetime - EARLY, lifetime / 2))
            return token

    async def send(
        self, pushes: Sequence[Push], *, timeout_seconds: float, deadline: float
    ) -> list[Outcome]:
        token = await self.access_token(timeout_seconds)
        if isinstance(token, Outcome):
            return [token] * len(pushes)
        return await one_at_a_time(
            pushes,
            lambda push: self._send_one(push, token, timeout_seconds),
            deadline=deadline,
            concurrency=CONCURRENCY,
        )

    async def _send_one(self, push: Push, token: str, timeout_seconds: float) -> Outcome:
        response = await post(
            self.http,
            self.url,
            timeout_seconds=timeout_seconds,
            json={"message": fcm_message(push)},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        if isinstance(response, Outcome):
            return response
        try:
            answer = response.json()
        except ValueError:
            answer = None
        status = response.status_code
        if status == 200:
            name = answer.get("name") if isinstance(answer, dict) else None
            if isinstance(name, str) and name:
                return Outcome(Result.SENT, ticket=name[-100:])
            return Outcome(Result.UNKNOWN, "the provider's answer does not match the request")
        code, message, fields = error_code(answer)
        reason = (
            f"{code or f'HTTP {status}'}: {message}" if message else code or f"HTTP {status}"
        )[:500]
        if code == "UNREGISTERED":
            return Outcome(Result.INVALID_TOKEN, reason)
        if code == "INVALID_ARGUMENT" and status == 400:
            if "message.token" in fields or INVALID_TOKEN_MESSAGE in message.lower():
                return Outcome(Result.INVALID_TOKEN, reason)
            # too big, an invalid data key or TTL ...: our message, not the device
            return Outcome(Result.GIVE_UP, reason)
        if status == 401:
            self._access = None  # revoked or expired early: the next pass asks for another
            return Outcome(Result.RETRY, reason, configuration=True)
        if status in (429, 503):
            return Outcome(Result.RETRY, reason, retry_after=retry_after(response), halts=True)
        if unknown_status(status):
            return Outcome(Result.UNKNOWN, reason)
        if status in (400, 413) or code == "SENDER_ID_MISMATCH":
            return Outcome(Result.GIVE_UP, reason)
        return Outcome(Result.RETRY, reason, configuration=True)
