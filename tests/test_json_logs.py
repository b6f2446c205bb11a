"""JSON logs (EIC_LOG_FORMAT=json): `eic serve` writes one JSON object a line to stderr, from
uvicorn's first line to its last, each with the request id and the GraphQL operation's name, and
what clients send cannot break a line in two."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.observability import (
    JsonFormatter,
    QuotedMessageFilter,
    RequestFacts,
    RequestIdFilter,
    request_facts_var,
    request_id_var,
)
from tests.process_kit import EIC, eic_serving, scratch_environment

CLUSTERS = "query Clusters { clusters(first: 5) { totalCount } }"
KEYS = {"time", "level", "logger", "message", "request_id", "operation"}


def test_every_line_of_a_served_app_is_json_with_its_request(tmp_path: Path) -> None:
    environment, _ = scratch_environment(tmp_path)
    subprocess.run(  # noqa: S603 - our own command
        [EIC, "migrate"], env=environment, cwd=tmp_path, check=True, capture_output=True
    )
    environment |= {"EIC_LOG_FORMAT": "json", "EIC_LOG_LEVEL": "INFO"}
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr, eic_serving(environment, tmp_path, stderr=stderr) as url:
        # Given a served app, when apps send an operation, one that fails validation (its
        # error's log line quotes the document's lines), and an operation name made to forge a
        # log line
        ok = httpx.post(
            f"{url}/graphql",
            json={"query": CLUSTERS, "operationName": "Clusters"},
            headers={"X-Request-ID": "request-clusters-1"},
        )
        assert ok.status_code == 200
        httpx.post(
            f"{url}/graphql",
            json={
                "query": "query Broken {\n clusters(first: 5) { nope }\n}",
                "operationName": "Broken",
            },
            headers={"X-Request-ID": "request-broken-1"},
        )
        httpx.post(
            f"{url}/graphql",
            json={"query": CLUSTERS, "operationName": 'Clusters\n{"level": "CRITICAL"}'},
            headers={"X-Request-ID": "request-forged-1"},
        )
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    # then every line is one JSON object with the same keys
    entries = [json.loads(line) for line in lines]
    assert entries
    assert all(entry.keys() >= KEYS for entry in entries), entries
    assert all(entry["level"] in ("INFO", "WARNING", "ERROR") for entry in entries), entries
    # uvicorn's own lines are among them (they come before any request); its access log
    # stays off, as in text mode
    assert any(entry["logger"] == "uvicorn.error" for entry in entries), entries
    assert not [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    by_request = {}
    for entry in entries:
        by_request.setdefault(entry["request_id"], []).append(entry)
    # each request's lines carry its id and the operation it ran
    (request_line,) = [e for e in by_request["request-clusters-1"] if e["logger"] == "eic.request"]
    assert request_line["message"].startswith("POST /graphql 200 ")
    assert request_line["operation"] == "Clusters"
    broken = by_request["request-broken-1"]
    assert {e["operation"] for e in broken} == {"Broken"}
    assert any(e["logger"].startswith("strawberry") and "nope" in e["message"] for e in broken)
    # the forged name is no GraphQL name: it is not logged as one, and forged nothing
    assert {e["operation"] for e in by_request["request-forged-1"]} == {"-"}
    assert not [e for e in entries if e["level"] == "CRITICAL"]
    assert "\u2028" not in text


def _record(message: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("eic.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_json_line_keeps_the_quoting_guarantees_and_the_traceback() -> None:
    formatter = JsonFormatter()
    token = request_id_var.set("req-123456")
    facts_token = request_facts_var.set(RequestFacts(operation="Me"))
    try:
        try:
            raise ValueError("bad\nvalue")
        except ValueError as exc:
            record = _record(
                "client sent %s",
                "a\nb\x1b[31m\x85\u2029" + "x" * 3000,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        for check in (RequestIdFilter(), QuotedMessageFilter()):
            check.filter(record)
        line = formatter.format(record)
    finally:
        request_facts_var.reset(facts_token)
        request_id_var.reset(token)
    # one line, of safe characters only
    assert "\n" not in line
    assert not [c for c in line if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert "\u2028" not in line
    assert "\u2029" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-123456"
    assert entry["operation"] == "Me"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "eic.test"
    # the message as text logs quote it: escaped and cut
    assert entry["message"].startswith("client sent a\\nb\\x1b[31m\\x85\\u2029xxx")
    assert entry["message"].endswith("more)")
    assert entry["exception"].startswith("Traceback (most recent call last)")
    assert "ValueError: bad\nvalue" in entry["exception"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_setting_takes_either_format(log_format: str) -> None:
    from tests.conftest import make_settings

    assert make_settings("sqlite+aiosqlite://", log_format=log_format).log_format == log_format
    with pytest.raises(ValueError, match="log_format"):
        make_settings("sqlite+aiosqlite://", log_format="xml")
