"""What clients send reaches the log quoted: control characters escaped, so nobody can forge a
log line or colour a terminal through a path or a GraphQL document, and long messages are cut."""

from __future__ import annotations

import httpx
import pytest

from backend.app import create_app
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.observability import MAX_MESSAGE_CHARS, quoted
from tests.conftest import make_settings

FORGED = "2026-12-07 00:00:00,000 INFO eic.request [0123456789abcdef] POST /graphql 200 1.0ms"


async def test_a_client_cannot_forge_a_log_line(
    capsys: pytest.CaptureFixture[str], db: Database, database_url: str, clock: ManualClock
) -> None:
    # given an app that logs every request (the handler writes to this test's stderr)
    app = create_app(make_settings(database_url, log_level="INFO"), db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        # when a path and a GraphQL document carry a newline, a fake line and an escape code
        await http.get("/nothing%0A" + FORGED.replace(" ", "%20") + "%1B[31m")
        await http.post("/graphql", json={"query": "{ __typename\n" + FORGED + "\x1b[31m !"})

    # then each reaches the log inside its own line, escaped
    lines = capsys.readouterr().err.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert not [line for line in lines if "\x1b" in line]
    assert any(f"/nothing\\n{FORGED}\\x1b[31m 404" in line for line in lines), lines
    assert any(
        "strawberry.execution" in line and f"\\n2 | {FORGED}\\x1b[31m !\\n" in line
        for line in lines
    ), lines


def test_a_long_message_is_cut_and_says_how_much_was_left_out() -> None:
    assert quoted("é" * (MAX_MESSAGE_CHARS + 7)) == "é" * MAX_MESSAGE_CHARS + "... (7 more)"
    assert quoted("tab\there\u2028") == "tab\\there\\u2028"
