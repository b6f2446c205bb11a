"""The authentication parts a service needs, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from backend.auth.passwords import Passwords
from backend.auth.ratelimit import RateLimits, make_rate_limits
from backend.auth.throttle import LoginThrottle, make_counter_store
from backend.auth.tokens import Tokens
from backend.settings import Settings


@dataclass(frozen=True, slots=True)
class Security:
    passwords: Passwords
    tokens: Tokens
    throttle: LoginThrottle
    rate_limits: RateLimits

    async def close(self) -> None:
        await self.throttle.close()
        await self.rate_limits.close()

    @classmethod
    def from_settings(cls, settings: Settings) -> Security:
        return cls(
            passwords=Passwords(settings),
            tokens=Tokens(settings),
            throttle=LoginThrottle(settings, make_counter_store(settings)),
            rate_limits=make_rate_limits(settings),
        )
