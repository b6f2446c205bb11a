"""A cursor's text is what the standard JSON encoder writes: ``encode_cursor`` writes the text of
plain values itself, as the encoder does, so cursors handed out before stay equal to the ones
handed out now (apps compare them), and every cursor decodes to its values."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from backend.forums.service.thread_screen import POSTS
from backend.kit.pagination import _to_json, decode_cursor, encode_cursor

WHEN = datetime(2026, 12, 8, 9, 30, 1, 123456, tzinfo=UTC)


def standard(sort_name: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort_name, "v": [_to_json(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [
        [WHEN, uuid.UUID(int=7)],
        [WHEN.astimezone(timezone(timedelta(hours=5, minutes=30))), uuid.uuid4()],
        [3, None, True, False, -(2**62)],
        [Decimal("12.5000"), uuid.UUID(int=1)],
        [1.5, 1e16, 1e-7, 0.1 + 0.2, -0.0, 5e-324, uuid.UUID(int=2)],  # the encoder's form
        [float("inf"), float("-inf"), float("nan"), 2],  # not finite: the encoder writes them
        ["rice husk", "sägemehl", "बुरादा", "tab\there", 'quote"back\\slash', "\x00\x1f\x7f"],
    ],
)
def test_the_text_is_the_standard_encoders(values: list[Any]) -> None:
    assert encode_cursor(POSTS, values) == standard(POSTS.name, values)


def test_a_written_cursor_reads_back() -> None:
    # the posts' order: (created_at, id)
    for values in (
        [WHEN, uuid.UUID(int=9)],
        [WHEN.astimezone(timezone(timedelta(hours=-3))), uuid.uuid4()],
    ):
        assert decode_cursor(POSTS, encode_cursor(POSTS, values)) == values
