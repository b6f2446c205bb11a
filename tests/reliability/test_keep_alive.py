"""Issue 16, item 8: `eic serve` keeps an idle keep-alive connection open longer than the proxies
and client pools in front of it (EIC_KEEP_ALIVE_SECONDS, 75 s), so that a client reusing it after
a pause does not lose its request (uvicorn's own default closes it after 5 s)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process_kit import eic_serving, scratch_environment

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: eic.test\r\nConnection: keep-alive\r\n\r\n"
# Longer than uvicorn's default keep-alive (5 s), as short as that allows.
IDLE_SECONDS = 6.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """``eic serve`` on a free port, with the default keep-alive; its port."""
    environment, _ = scratch_environment(tmp_path)
    with eic_serving(environment, tmp_path) as base:
        yield int(base.rsplit(":", 1)[1])


def exchange(connection: socket.socket) -> bytes:
    """Send one request on the connection and read its whole answer ("" if it was closed)."""
    try:
        connection.sendall(REQUEST)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b'{"status":"ok"}'):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (BrokenPipeError, ConnectionResetError):
        return b""
    return answer


@pytest.mark.slow
def test_a_connection_idle_longer_than_uvicorns_default_still_serves(server: int) -> None:
    # given one connection to `eic serve` that has served a request
    with socket.create_connection(("127.0.0.1", server), timeout=10) as connection:
        first = exchange(connection)

        # when it is idle for longer than 5 s, and the client sends its next request on it
        time.sleep(IDLE_SECONDS)
        second = exchange(connection)

    # then both were answered on the one connection
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert second.startswith(b"HTTP/1.1 200 OK"), "the server closed the idle connection"
    assert second.endswith(b'{"status":"ok"}')
