"""The demo clusters' inter-firm networks as the product computes them (backend/insights, as a
platform admin sees them over the year before now): the demo tests check that each cluster has
the network the brief gives it, and this module prints them.

Run on a seeded database (``EIC_DATABASE_URL`` as for ``eic``)::

    EIC_DATABASE_URL=sqlite+aiosqlite:////tmp/d.db .venv/bin/python -m tests.demo.figures
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.auth.viewer import Role, Viewer
from backend.identity import service as identity_service
from backend.insights import service
from backend.insights.network import NetworkType
from backend.kit.db import Database, utcnow
from backend.kit.pagination import PageRequest

ADMIN = Viewer(user_id=uuid.UUID(int=0), role=Role.ADMIN, organisation_id=None, token_id="demo")


@dataclass(frozen=True)
class NetworkFigures:
    organisations: int
    links: int
    density: float
    centralisation: float
    bilateral_share: float
    multilateral_share: float
    horizontal_share: float
    repeat_share: float  # links with two trades or more
    network_type: NetworkType
    # the organisation whose removal loses the largest share of the cluster's diverted kg
    anchor: str
    anchor_share: float
    # suppliers that send more than 80 % of their by-products (kg) to one taker
    dependent_suppliers: tuple[str, ...]

    def row(self) -> tuple[object, ...]:
        return (
            self.organisations,
            self.links,
            round(self.density, 3),
            round(self.centralisation, 3),
            round(self.bilateral_share, 3),
            round(self.multilateral_share, 3),
            round(self.horizontal_share, 3),
            self.network_type,
        )


async def cluster_figures(db: Database, *, now: datetime) -> dict[str, NetworkFigures]:
    """Each cluster's figures over the 366 days up to ``now`` (the demo's year, whole)."""
    clusters = await identity_service.list_clusters(
        db=db, filter=identity_service.ClusterFilter(), page=PageRequest(first=100)
    )
    found = {}
    for cluster in sorted(clusters.items, key=lambda c: c.slug):
        today = now.astimezone(ZoneInfo(cluster.timezone)).date()
        insights = await service.cluster_insights(
            db=db,
            viewer=ADMIN,
            cluster_id=cluster.id,
            starts_on=today - timedelta(days=366),
            ends_on=today,
            now=now,
        )
        network = insights.network
        assert network is not None
        [anchor, *_] = service.all_anchors(insights)
        found[cluster.slug] = NetworkFigures(
            organisations=network.organisations,
            links=network.links,
            density=network.density,
            centralisation=network.centralisation,
            bilateral_share=network.bilateral_share,
            multilateral_share=network.multilateral_share,
            horizontal_share=network.horizontal_links / network.links,
            repeat_share=network.repeat_links / network.links,
            network_type=network.type,
            anchor=anchor.organisation.label,
            anchor_share=anchor.share,
            dependent_suppliers=tuple(
                sorted(d.supplier.label for d in service.all_dependences(insights))
            ),
        )
    return found


async def _print(url: str) -> None:
    db = Database(url)
    try:
        found = await cluster_figures(db, now=utcnow())
    finally:
        await db.dispose()
    print(
        f"{'cluster':<18} {'orgs':>4} {'links':>5} {'density':>7} {'central.':>8} "
        f"{'bilat.':>6} {'multil.':>7} {'horiz.':>6} {'repeat':>6}  type"
    )
    for slug, f in found.items():
        print(
            f"{slug:<18} {f.organisations:>4} {f.links:>5} {f.density:>7.3f} "
            f"{f.centralisation:>8.3f} {f.bilateral_share:>6.3f} {f.multilateral_share:>7.3f} "
            f"{f.horizontal_share:>6.3f} {f.repeat_share:>6.3f}  {f.network_type.value}"
        )
    for slug, f in found.items():
        print(
            f"{slug}: {f.anchor} carries {f.anchor_share:.0%} of the diverted kg; "
            f"> 80 % of their by-products to one taker: {', '.join(f.dependent_suppliers)}"
        )


if __name__ == "__main__":
    asyncio.run(_print(os.environ.get("EIC_DATABASE_URL", "sqlite+aiosqlite:///./eic.db")))
