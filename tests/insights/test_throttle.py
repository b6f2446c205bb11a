"""The insights pages and tables spend from the reader's budget, as clusterInsights does: a
period nobody asked for before is computed cold, so stepping through periods is limited."""

from __future__ import annotations

import httpx

from backend.app import create_app
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import make_settings


async def test_pages_and_tables_are_throttled_by_address(
    db: Database, database_url: str, clock: ManualClock, cluster_id: str
) -> None:
    # Given an app that allows an address three reads a minute
    settings = make_settings(database_url, rate_limit_reads_per_address="3/minute")
    app = create_app(settings, db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as client:
        # when one address reads a page, a table and the comparison, then a page again
        answers = [
            await client.get("/insights/test-wood?from=2026-01-01&to=2026-01-31"),
            await client.get("/insights/test-wood/network.csv?from=2026-02-01&to=2026-02-28"),
            await client.get("/insights?from=2026-03-01&to=2026-03-31"),
            await client.get("/insights/test-wood?from=2026-04-01&to=2026-04-30"),
            await client.get("/insights/test-wood/flows.csv"),
        ]

    # then the first three are answered and the others are told when to come back
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[3].headers["retry-after"]) > 0
    assert "Too many requests" in answers[3].text
    assert answers[4].json()["error"]["code"] == "THROTTLED"
    assert int(answers[4].headers["retry-after"]) > 0
