"""Behind proxies, the client is the address the outermost trusted proxy appended to
X-Forwarded-For: whatever the client wrote there itself stands further left and is never taken
(taking the leftmost let 45 of 45 sprayed sign-in guesses past the per-address throttle)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from backend.auth.clients import client_address_of
from tests.conftest import make_settings

PEER = "10.0.0.2"  # the proxy nearest to the service
CLIENT = "203.0.113.7"
SPOOFED = "198.51.100.66"


def request(forwarded_for: str | None) -> Request:
    headers = [] if forwarded_for is None else [(b"x-forwarded-for", forwarded_for.encode())]
    return Request({"type": "http", "headers": headers, "client": (PEER, 50000)})


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "client"),
    [
        (None, f"{SPOOFED}, {CLIENT}", PEER),  # not trusted: the connection's own peer
        (1, CLIENT, CLIENT),
        (1, f"{SPOOFED}, {CLIENT}", CLIENT),  # the client's own entry is ignored
        (2, f"{SPOOFED}, {CLIENT}, 10.0.0.9", CLIENT),
        (2, f"{SPOOFED}, {SPOOFED}, {CLIENT}, 10.0.0.9", CLIENT),
        (2, CLIENT, CLIENT),  # fewer entries than proxies: the outermost one there is
        (1, None, PEER),
    ],
    ids=[
        "untrusted",
        "one proxy",
        "one proxy, spoofed",
        "two proxies",
        "two proxies, spoofed twice",
        "short header",
        "no header",
    ],
)
def test_the_client_is_what_the_outermost_trusted_proxy_appended(
    database_url: str, proxies: int | None, forwarded_for: str | None, client: str
) -> None:
    settings = make_settings(
        database_url,
        trust_forwarded_for=proxies is not None,
        forwarded_for_proxies=proxies or 1,
    )
    assert client_address_of(request(forwarded_for), settings) == client
