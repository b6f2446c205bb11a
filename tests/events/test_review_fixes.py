"""Regressions found in review: far-away dates and time-zone names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.events.test_smoke import CREATE, event_input


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"startsAt": "9999-12-31T10:00:00+00:00", "endsAt": "9999-12-31T12:00:00+00:00"},
            "startsAt",
            "Give a time between the years 2000 and 2100",
        ),
        ({"timezone": "Asia"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
        ({"timezone": "posix/Asia/Tokyo"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
        ({"timezone": "localtime"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
    ],
)
async def test_times_and_zones_calendars_cannot_use_are_refused(
    gql: Any, register: Any, cluster_id: str, changes: dict[str, str], field: str, message: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Lab", kind="INSTITUTION")
    created = await gql(
        CREATE, {"input": event_input(cluster_id, **changes)}, token=lab.access_token
    )
    errors = created["data"]["eventCreate"]["errors"]
    assert {"code": "VALIDATION", "message": message, "field": field} in errors, created
    assert created["data"]["eventCreate"]["event"] is None


async def test_a_search_from_year_one_is_a_validation_error(gql: Any) -> None:
    answer = await gql(
        "query($f: EventFilter) { events(filter: $f) { totalCount } }",
        {"f": {"startsAfter": "0001-01-01T00:00:00+05:00"}},
    )
    assert answer["errors"][0]["extensions"] == {
        "code": "VALIDATION",
        "field": "filter.startsAfter",
    }
