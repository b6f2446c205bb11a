"""The insights pages in a real browser: headless Chromium (Debian's ``chromium``) loads them
from ``eic serve`` on a loopback port, over a database that ``eic migrate`` and ``eic
seed-demo`` made, the way a person would open the page on a phone.

The rendered DOM's figures must equal what the service computes from the same database (and
the server's own CSV export), what fewer than three organisations make must read "fewer than 3
organisations", and no organisation of any cluster may be named. The test saves a phone-sized
screenshot in its temporary directory.

Skipped only when Chromium is not installed; CI installs it (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import struct
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backend.auth.viewer import Anonymous
from backend.identity import service as identity_service
from backend.insights import service
from backend.insights.service import ClusterInsights, SocialCapital
from backend.kit.db import Database
from backend.kit.pagination import PageRequest
from tests.insights.pages_kit import (
    SUPPRESSED,
    expected_figures,
    month_cells,
    read_page,
    shown_cells,
    shown_figures,
)
from tests.process_kit import (
    NEEDS_CHROMIUM,
    eic_serving,
    load_demo,
    run_chromium,
    scratch_environment,
)

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
SLUG = "maniwa-wood"
# A year up to tomorrow (UTC) written out, so the server and this test compute one period
# whatever the hour: the demo's trades are dated from the day it was loaded.
TODAY = datetime.now(UTC).date()
FROM, TO = TODAY - timedelta(days=365), TODAY + timedelta(days=1)
PERIOD = f"from={FROM.isoformat()}&to={TO.isoformat()}"
PHONE = "390,1600"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class DemoServer:
    base: str
    database_url: str
    directory: Path


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``eic serve`` on a free loopback port over a fresh SQLite database with the demo."""
    directory = tmp_path_factory.mktemp("insights-browser")
    environment, database_url = scratch_environment(directory)
    load_demo(environment, directory)
    with eic_serving(environment, directory) as base:
        yield DemoServer(base, database_url, directory)


async def chromium(server: DemoServer, *arguments: str) -> bytes:
    return await run_chromium(server.directory, *arguments)


async def rendered_dom(server: DemoServer, path: str) -> str:
    return (await chromium(server, "--dump-dom", server.base + path)).decode("utf-8")


async def computed(server: DemoServer) -> tuple[ClusterInsights, SocialCapital, list[str]]:
    """What the service computes for the public from the server's database, and the names of
    every organisation in it."""
    db = Database(server.database_url)
    try:
        clusters = await identity_service.list_clusters(
            db=db, filter=identity_service.ClusterFilter(), page=PageRequest(first=100)
        )
        [cluster] = [c for c in clusters.items if c.slug == SLUG]
        insights = await service.cluster_insights(
            db=db,
            viewer=Anonymous(),
            cluster_id=cluster.id,
            starts_on=FROM,
            ends_on=TO,
            now=datetime.now(UTC),
        )
        social = await service.social_capital(db=db, insights=insights)
        names = [
            entry.name
            for c in clusters.items
            for entry in await identity_service.cluster_roster(db=db, cluster_id=c.id)
        ]
    finally:
        await db.dispose()
    return insights, social, names


def server_csv(server: DemoServer, path: str) -> list[dict[str, str]]:
    with urllib.request.urlopen(server.base + path, timeout=30) as answer:  # noqa: S310
        return list(csv.DictReader(io.StringIO(answer.read().decode("utf-8"), newline="")))


async def test_the_browser_shows_the_services_figures_and_names_nobody(
    demo_server: DemoServer,
) -> None:
    # given the demo, and what the service computes for the public from it
    expected, social, names = await computed(demo_server)
    assert len(names) >= 12  # the demo's organisations of every cluster

    # when Chromium loads Maniwa's page
    dom = await rendered_dom(demo_server, f"/insights/{SLUG}?{PERIOD}")
    shown = read_page(dom)

    # then the page is the cluster's, in Japanese
    assert '<html lang="ja">' in dom
    assert "Maniwa Wood Biomass Cluster" in shown.text
    # and every figure of the rendered DOM is the service's
    assert shown_figures(shown) == expected_figures(expected, social)
    assert shown_cells(shown.rows("months")) == month_cells(expected)
    assert [Decimal(row.cells["kg"]) for row in shown.rows("flows")] == [
        flow.kg for flow in expected.flows
    ]
    # and the server's own CSV of the network says the same
    [network] = await asyncio.to_thread(
        server_csv, demo_server, f"/insights/{SLUG}/network.csv?{PERIOD}"
    )
    if expected.network is None:
        assert network["suppressed"] == "true"
        assert shown.figures["fig-organisations"] == SUPPRESSED
    else:
        for key in ("organisations", "links", "density", "centralisation"):
            assert Decimal(network[key]) == Decimal(shown.figures[f"fig-{key}"]), key
        assert network["network_type"] == shown.figures["network-type"]
    # and every month built from fewer than three organisations says so, with no number
    suppressed = [m for m in expected.months if m.outcomes.suppressed]
    assert dom.count("3組織未満") >= 5 * len(suppressed)
    # and no organisation of any cluster is named anywhere on the page
    assert [name for name in names if name in dom] == []


async def test_the_browser_shows_the_comparison_of_the_demo_clusters(
    demo_server: DemoServer,
) -> None:
    db = Database(demo_server.database_url)
    try:
        expected = await service.compare_clusters(
            db=db, starts_on=FROM, ends_on=TO, now=datetime.now(UTC)
        )
    finally:
        await db.dispose()

    dom = await rendered_dom(demo_server, f"/insights?{PERIOD}")
    rows = {row.kind: row.cells for row in read_page(dom).rows("comparison")}

    assert len(expected) == 4
    for comparison in expected:
        slug, insights = comparison.insights.cluster.slug, comparison.insights
        assert Decimal(rows["members"][slug]) == insights.members.total
        network = insights.network
        assert rows["network_type"][slug] == (network.type.value if network else SUPPRESSED)
        totals = insights.totals
        if totals.suppressed:
            assert rows["diverted_kg"][slug] == SUPPRESSED
            assert rows["co2e_avoided"][slug] == SUPPRESSED
        else:
            assert Decimal(rows["diverted_kg"][slug]) == totals.kg
            assert Decimal(rows["co2e_avoided"][slug]) == totals.co2e_kg


async def test_a_phone_screenshot_of_the_page(demo_server: DemoServer, tmp_path: Path) -> None:
    # when Chromium draws Maniwa's page at a phone's width
    screenshot = tmp_path / "insights-maniwa-phone.png"
    await chromium(
        demo_server,
        f"--screenshot={screenshot}",
        f"--window-size={PHONE}",
        f"{demo_server.base}/insights/{SLUG}?{PERIOD}",
    )

    # then it is a PNG of that size, with something drawn on it (an empty page is ~4 KB)
    image = screenshot.read_bytes()
    assert image.startswith(PNG)
    width, height = struct.unpack(">II", image[16:24])  # the IHDR chunk
    assert (width, height) == (390, 1600)
    assert len(image) > 20_000, len(image)
