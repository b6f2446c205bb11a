"""Which providers the server may push through, from its settings, and their senders.

A provider without its credentials is off: its devices are refused at registration
(``enabled_providers``), and pushes to devices registered before it was turned off are not
claimed: they wait in the outbox, attempts unspent, for a worker that has it. Expo needs no
credentials (its access token is optional) and is always accepted; without ``EIC_PUSH_URL`` its
pushes wait the same way. Each key file is used to sign once when read, so a key that cannot
sign stops the start rather than every push at its first send.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

import httpx

from backend.notifications.models import PushProvider
from backend.notifications.push.apns import ApnsSender, SigningKey, apns_client
from backend.notifications.push.expo import ExpoSender
from backend.notifications.push.fcm import FcmSender, ServiceAccount
from backend.notifications.push.provider import Sender
from backend.settings import Settings

DEFAULT_TIMEOUT = 30.0  # EIC_PUSH_TIMEOUT_SECONDS' default (see outbox.py)
DEFAULT_TTL = timedelta(days=1)


def enabled_providers(settings: Settings) -> frozenset[PushProvider]:
    """The providers whose devices registration accepts (without reading any key file)."""
    enabled = {PushProvider.EXPO}
    if settings.push_fcm_credentials_file:
        enabled.add(PushProvider.FCM)
    if all(
        (
            settings.push_apns_key_file,
            settings.push_apns_key_id,
            settings.push_apns_team_id,
            settings.push_apns_topic,
        )
    ):
        enabled.add(PushProvider.APNS)
    return frozenset(enabled)


@dataclass(frozen=True)
class PushConfig:
    """Where and how pushes go: one per provider that is on."""

    expo_url: str | None = None
    expo_receipts_url: str | None = None
    expo_access_token: str | None = None
    fcm: ServiceAccount | None = None
    fcm_url: str = "https://fcm.googleapis.com"
    apns: SigningKey | None = None
    apns_url: str = "https://api.push.apple.com"
    apns_ca_file: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT
    ttl: timedelta = DEFAULT_TTL
    android_channel: str | None = None
    # the time the providers' signed tokens are dated by (Apple and Google check it)
    wall_clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PushConfig:
        """Read the key files: a missing or malformed one stops the start with its reason."""
        enabled = enabled_providers(settings)
        fcm = apns = None
        if PushProvider.FCM in enabled and settings.push_fcm_credentials_file:
            fcm = ServiceAccount.from_file(settings.push_fcm_credentials_file)
        if PushProvider.APNS in enabled and settings.push_apns_key_file:
            apns = SigningKey.from_file(
                settings.push_apns_key_file,
                key_id=settings.push_apns_key_id or "",
                team_id=settings.push_apns_team_id or "",
                topic=settings.push_apns_topic or "",
            )
        return cls(
            expo_url=settings.push_url,
            expo_receipts_url=settings.receipts_url,
            expo_access_token=settings.push_expo_access_token,
            fcm=fcm,
            fcm_url=settings.push_fcm_url,
            apns=apns,
            apns_url=settings.push_apns_url,
            apns_ca_file=settings.push_apns_ca_file,
            timeout_seconds=settings.push_timeout_seconds,
            ttl=timedelta(seconds=settings.push_ttl_seconds),
            android_channel=settings.push_android_channel,
        )

    @property
    def sends_anything(self) -> bool:
        return bool(self.expo_url or self.fcm or self.apns)


class Senders:
    """A sender per provider that is on. Expo and FCM share the worker's client; APNs has an
    HTTP/2 client of its own, closed with this object."""

    def __init__(self, config: PushConfig, http: httpx.AsyncClient):
        self.config = config
        self.by_provider: dict[PushProvider, Sender] = {}
        self._own: list[httpx.AsyncClient] = []
        if config.expo_url:
            self.by_provider[PushProvider.EXPO] = ExpoSender(
                http, config.expo_url, config.expo_access_token
            )
        if config.fcm is not None:
            self.by_provider[PushProvider.FCM] = FcmSender(
                http, config.fcm, config.fcm_url, config.wall_clock
            )
        if config.apns is not None:
            client = apns_client(config.timeout_seconds, config.apns_ca_file)
            self._own.append(client)
            self.by_provider[PushProvider.APNS] = ApnsSender(
                client, config.apns, config.apns_url, config.wall_clock
            )

    def get(self, provider: PushProvider) -> Sender | None:
        return self.by_provider.get(provider)

    async def aclose(self) -> None:
        for client in self._own:
            await client.aclose()

    async def __aenter__(self) -> Senders:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()
