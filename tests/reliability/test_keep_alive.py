"""Issue 16, item 8: `eic serve` keeps an idle keep-alive connection open longer than the proxies
and client pools in front of it (EIC_KEEP_ALIVE_SECONDS, 75 s), so that a client reusing it after
a pause does not lose its request (uvicorn's own default closes it after 5 s)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.kit import free_port

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: eic.test\r\nConnection: keep-alive\r\n\r\n"
# Longer than uvicorn's default keep-alive (5 s), as short as that allows.
IDLE_SECONDS = 6.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """``eic serve`` on a free port, with the default keep-alive; its port."""
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("EIC_")
    } | {
        "EIC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/eic.db",
        "EIC_DUE_JOBS_INTERVAL_SECONDS": "0",
        "EIC_ENVIRONMENT": "test",
    }
    eic = Path(sys.executable).parent / "eic"
    process = subprocess.Popen(
        [str(eic), "serve", "--port", str(port)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "eic serve exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "eic serve did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


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
