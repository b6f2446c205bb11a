"""The demo shows upcoming events in every cluster."""

from __future__ import annotations

from backend import cli
from backend.auth.viewer import Anonymous
from backend.events import service
from backend.kit.db import Database, utcnow
from backend.kit.pagination import PageRequest
from backend.settings import Settings


async def test_every_demo_cluster_has_upcoming_events(db: Database, settings: Settings) -> None:
    # Given the demo data
    await cli._seed_demo(settings, if_empty=False)
    # when the events feed is read today (the demo dates its events from the day it is loaded)
    page = await service.search_events(
        db=db,
        viewer=Anonymous(),
        filter=service.EventFilter(),
        page=PageRequest.of(100, None),
        now=utcnow(),
        with_total=True,
    )
    # then every cluster has upcoming events, among them the ones the issue names
    by_cluster: dict[str, list[str]] = {}
    for view in page.items:
        by_cluster.setdefault(view.cluster.slug, []).append(view.event.title)
    assert {slug: len(titles) for slug, titles in sorted(by_cluster.items())} == {
        "an-giang-fish": 2,
        "chachoengsao-rice": 2,
        "hosur-silk": 2,
        "maniwa-wood": 3,
    }
    assert "木質バイオマスボイラー導入セミナー" in by_cluster["maniwa-wood"]
    assert "เวิร์กช็อปเตาแก๊สซิไฟเออร์แกลบ" in by_cluster["chachoengsao-rice"]
    assert all(view.event.starts_at > utcnow() for view in page.items)
