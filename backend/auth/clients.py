"""Who an HTTP request comes from (``backend.auth.addresses`` says what limits count it as)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from backend.settings import Settings


def client_address_of(connection: HTTPConnection, settings: Settings) -> str | None:
    """The client's address: the peer's, or, behind trusted proxies
    (``EIC_TRUST_FORWARDED_FOR``), the one the outermost proxy wrote in X-Forwarded-For."""
    if settings.trust_forwarded_for:
        forwarded = connection.headers.get("x-forwarded-for")
        if forwarded:
            addresses = [address.strip() for address in forwarded.split(",")]
            # Each proxy appends the address it was reached from; the leftmost entries are
            # whatever the client sent, so only the one our outermost proxy wrote is trusted.
            return addresses[-min(settings.forwarded_for_proxies, len(addresses))] or None
    return connection.client.host if connection.client else None
