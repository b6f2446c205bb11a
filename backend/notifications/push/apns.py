"""Apple Push Notification service: token-based authentication over HTTP/2.

Each push is ``POST /3/device/<token>`` on one HTTP/2 connection (APNs speaks no HTTP/1.1),
authorised by a provider token: a JWT signed ES256 with the team's .p8 key, ``kid`` the key id
and ``iss`` the team id. Apple refuses a token older than an hour and one replaced more often
than every 20 minutes, so it is made anew after 50 minutes. The push's own id (``apns-id``) is
the outbox message's id, so Apple's answer and its logs name it.

APNs' answers (``{"reason": ...}`` in the body of an error):

- 200 with ``apns-id``: sent.
- 400 ``BadDeviceToken``, 410 ``Unregistered`` or ``ExpiredToken``: the token is no longer
  valid: the device goes.
- other 400s, 413 ``PayloadTooLarge``: the message is at fault: given up.
- 403 ``ExpiredProviderToken`` / ``InvalidProviderToken``: a new provider token for the next
  try (unless another answer made one already); everything waits (an invalid key or team id is
  the configuration's fault).
- 429 ``TooManyRequests``: too many pushes to that one device token: that push again after the
  backoff; the others go on.
- 429 ``TooManyProviderTokenUpdates``, 503 ``ServiceUnavailable``: not taken; again after the
  backoff, and the pushes not tried yet in the pass wait too.
- 500 ``InternalServerError`` (and other 5xx but 503): the outcome is unknown (MAYBE_SENT).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import httpx
import jwt

from backend.notifications.models import PushProvider
from backend.notifications.push.message import Priority, Push
from backend.notifications.push.provider import (
    Outcome,
    Result,
    one_at_a_time,
    post,
    retry_after,
    unknown_status,
)

TOKEN_LIFETIME = 50 * 60  # Apple: at most an hour old, replaced at most every 20 minutes
CONCURRENCY = 20  # streams in flight at once on the connection
INVALID_TOKEN_REASONS = frozenset({"BadDeviceToken", "Unregistered", "ExpiredToken"})
PROVIDER_TOKEN_REASONS = frozenset(
    {"ExpiredProviderToken", "InvalidProviderToken", "MissingProviderToken"}
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """What token-based authentication needs: the .p8 key (PEM), its id, the team, the app."""

    private_key: str
    key_id: str
    team_id: str
    topic: str  # the app's bundle id

    @classmethod
    def from_file(cls, path: str, *, key_id: str, team_id: str, topic: str) -> SigningKey:
        """The key in ``path``, once it has signed a provider token: a file that is no ES256
        key (P-256) stops the start here rather than every push at its first send."""
        try:
            private_key = Path(path).read_text(encoding="utf-8")
            jwt.encode({"iss": team_id, "iat": 0}, private_key, algorithm="ES256")
        except (ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"{path} is not an APNs signing key (.p8, ES256): {exc}") from exc
        return cls(private_key, key_id, team_id, topic)


def apns_payload(push: Push) -> dict[str, Any]:
    """The notification's JSON body: ``aps`` for the system, the app's data beside it."""
    aps: dict[str, Any] = {"alert": {"title": push.title, "body": push.body}, "sound": "default"}
    if push.badge is not None:
        aps["badge"] = push.badge
    return {"aps": aps, **push.data}


def apns_client(timeout_seconds: float, ca_file: str | None = None) -> httpx.AsyncClient:
    """An HTTP/2 client that trusts ``ca_file`` (else the usual public authorities)."""
    context = ssl.create_default_context(cafile=ca_file or certifi.where())
    return httpx.AsyncClient(
        http2=True,
        verify=context,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
    )


class ApnsSender:
    provider = PushProvider.APNS

    def __init__(
        self,
        http: httpx.AsyncClient,
        key: SigningKey,
        base_url: str = "https://api.push.apple.com",
        wall_clock: Callable[[], float] = time.time,
    ):
        self.http = http  # must speak HTTP/2 (apns_client)
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.wall_clock = wall_clock
        self._token: tuple[str, float] | None = None  # the provider token, when it was made

    def provider_token(self) -> str:
        now = self.wall_clock()
        if self._token is None or now - self._token[1] >= TOKEN_LIFETIME:
            token = jwt.encode(
                {"iss": self.key.team_id, "iat": int(now)},
                self.key.private_key,
                algorithm="ES256",
                headers={"kid": self.key.key_id},
            )
            self._token = (token, now)
        return self._token[0]

    async def send(
        self, pushes: Sequence[Push], *, timeout_seconds: float, deadline: float
    ) -> list[Outcome]:
        return await one_at_a_time(
            pushes,
            lambda push: self._send_one(push, timeout_seconds),
            deadline=deadline,
            concurrency=CONCURRENCY,
        )

    async def _send_one(self, push: Push, timeout_seconds: float) -> Outcome:
        outcome = await self._request(push, timeout_seconds)
        if outcome.reason == "HTTP 403 ExpiredProviderToken":
            # our clock ran ahead of Apple's, or the token outlived its hour: once more, anew
            outcome = await self._request(push, timeout_seconds)
        return outcome

    def _forget(self, token: str) -> None:
        """Make a new provider token next time, unless ``token`` was replaced meanwhile: the
        20 requests in flight with an expired one all say so, and Apple refuses a token
        replaced more often than every 20 minutes."""
        if self._token is not None and self._token[0] == token:
            self._token = None

    async def _request(self, push: Push, timeout_seconds: float) -> Outcome:
        provider_token = self.provider_token()
        headers = {
            "authorization": f"bearer {provider_token}",
            "apns-topic": self.key.topic,
            "apns-push-type": "alert",
            "apns-priority": "10" if push.priority == Priority.HIGH else "5",
            # 0: now or never; else the moment after which Apple drops it undelivered
            "apns-expiration": str(int(push.expires_at.timestamp()) if push.ttl_seconds else 0),
            "apns-id": str(push.message_id),
            "content-type": "application/json",
        }
        response = await post(
            self.http,
            f"{self.base_url}/3/device/{push.token}",
            timeout_seconds=timeout_seconds,
            content=json.dumps(apns_payload(push), ensure_ascii=False).encode(),
            headers=headers,
        )
        if isinstance(response, Outcome):
            return response
        status = response.status_code
        if status == 200:
            return Outcome(Result.SENT, ticket=response.headers.get("apns-id") or None)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        reason = str(answer.get("reason") or "") if isinstance(answer, dict) else ""
        why = f"HTTP {status} {reason}".strip()
        if reason in INVALID_TOKEN_REASONS or status == 410:
            return Outcome(Result.INVALID_TOKEN, why)
        if status == 403 and reason in PROVIDER_TOKEN_REASONS:
            self._forget(provider_token)  # a new one for the next try
            return Outcome(Result.RETRY, why, configuration=reason != "ExpiredProviderToken")
        if status == 503 or reason == "TooManyProviderTokenUpdates":
            # Apple is out, or refuses our tokens for a while: no other push would go either
            return Outcome(Result.RETRY, why, retry_after=retry_after(response), halts=True)
        if status == 429:
            # TooManyRequests: too many pushes to this one device token; the others go on
            return Outcome(Result.RETRY, why, retry_after=retry_after(response))
        if unknown_status(status):
            return Outcome(Result.UNKNOWN, why)
        if status in (400, 413):
            return Outcome(Result.GIVE_UP, why)
        return Outcome(Result.RETRY, why, configuration=True)  # 403, 404 BadPath, 405 ...
