"""The demo clusters' inter-firm networks as issue 18 defines them, computed here with networkx
from the impact ledger, independently of the product (which computes them in
backend/insights): the demo tests check that each cluster has the network the brief gives it.

    nodes      organisations with at least one completed trade in the period
    links      pairs that traded (undirected), weighted by kg and by number of trades
    density    2L / (n(n-1))
    centralisation   Freeman degree centralisation, sum(maxdeg - deg_i) / ((n-1)(n-2))
    bilateral / multilateral share   nodes with one partner / with three or more, over n
    horizontal share   links whose two ends have the same ISIC activity class, over L
    type       "anchor-tenant mutualism" when centralisation >= 0.5, else "weak completeness"
               when density < 0.10, else "equality-oriented mutualism" (Zhang et al. 2016)

Run on a seeded database to print them (``EIC_DATABASE_URL`` as for ``eic``)::

    EIC_DATABASE_URL=sqlite+aiosqlite:////tmp/d.db .venv/bin/python -m tests.demo.figures
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import networkx as nx
from sqlalchemy import select

from backend.catalogue.models import Material
from backend.identity.models import Cluster, Organisation
from backend.kit.db import Database, utcnow
from backend.marketplace.models import ImpactEntry

ANCHOR_TENANT = "anchor-tenant mutualism"
WEAK_COMPLETENESS = "weak completeness"
EQUALITY_ORIENTED = "equality-oriented mutualism"


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
    network_type: str
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


def network_type(density: float, centralisation: float) -> str:
    if centralisation >= 0.5:
        return ANCHOR_TENANT
    if density < 0.10:
        return WEAK_COMPLETENESS
    return EQUALITY_ORIENTED


def figures(
    entries: list[tuple[uuid.UUID, uuid.UUID, Decimal | None, bool]],
    activity: dict[uuid.UUID, str | None],
    name: dict[uuid.UUID, str],
) -> NetworkFigures:
    """``entries``: (supplier, receiver, diverted kg, eco-product?) of each completed trade."""
    graph = nx.Graph()
    sent: dict[uuid.UUID, dict[uuid.UUID, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for supplier, receiver, kg, eco_product in entries:
        if not graph.has_edge(supplier, receiver):
            graph.add_edge(supplier, receiver, kg=Decimal(0), trades=0)
        link = graph.edges[supplier, receiver]
        link["kg"] += kg or 0
        link["trades"] += 1
        if not eco_product:
            sent[supplier][receiver] += kg or 0
    n, links = graph.number_of_nodes(), graph.number_of_edges()
    degrees = [degree for _, degree in graph.degree()]
    top = max(degrees)
    centralisation = sum(top - d for d in degrees) / ((n - 1) * (n - 2)) if n > 2 else 0.0
    density = nx.density(graph)
    total = sum((kg for _, _, kg in graph.edges(data="kg")), Decimal(0))
    # removing an organisation loses the kg of its links
    lost = {
        node: sum((kg for _, _, kg in graph.edges(node, data="kg")), Decimal(0)) / total
        for node in graph.nodes
    }
    anchor = max(lost, key=lambda node: (lost[node], name[node]))
    return NetworkFigures(
        organisations=n,
        links=links,
        density=density,
        centralisation=centralisation,
        bilateral_share=degrees.count(1) / n,
        multilateral_share=sum(1 for d in degrees if d >= 3) / n,
        horizontal_share=sum(
            1 for a, b in graph.edges if activity[a] is not None and activity[a] == activity[b]
        )
        / links,
        repeat_share=sum(1 for _, _, t in graph.edges(data="trades") if t >= 2) / links,
        network_type=network_type(density, centralisation),
        anchor=name[anchor],
        anchor_share=float(lost[anchor]),
        dependent_suppliers=tuple(
            sorted(
                name[supplier]
                for supplier, takers in sent.items()
                if sum(takers.values()) > 0
                and max(takers.values()) > Decimal("0.8") * sum(takers.values())
            )
        ),
    )


async def cluster_figures(
    db: Database, *, since: datetime, until: datetime
) -> dict[str, NetworkFigures]:
    """Each cluster's figures from the ledger entries recorded in [since, until)."""
    async with db.read() as session:
        clusters = dict((await session.execute(select(Cluster.id, Cluster.slug))).all())
        organisations = (
            await session.execute(
                select(Organisation.id, Organisation.name, Organisation.activity_code)
            )
        ).all()
        rows = (
            await session.execute(
                select(
                    ImpactEntry.cluster_id,
                    ImpactEntry.supplier_id,
                    ImpactEntry.receiver_id,
                    ImpactEntry.diverted_kg,
                    Material.path,
                )
                .join(Material, Material.code == ImpactEntry.material_code)
                .where(ImpactEntry.recorded_at >= since, ImpactEntry.recorded_at < until)
            )
        ).all()
    by_cluster: dict[str, list[tuple[uuid.UUID, uuid.UUID, Decimal | None, bool]]] = defaultdict(
        list
    )
    for cluster_id, supplier, receiver, kg, path in rows:
        # SQLite answers NUMERIC as a float
        kg = Decimal(str(kg)) if kg is not None else None
        by_cluster[clusters[cluster_id]].append(
            (supplier, receiver, kg, path.startswith("eco-products"))
        )
    activity = {o.id: o.activity_code for o in organisations}
    name = {o.id: o.name for o in organisations}
    return {slug: figures(entries, activity, name) for slug, entries in sorted(by_cluster.items())}


async def _print(url: str) -> None:
    db = Database(url)
    try:
        until = utcnow() + timedelta(seconds=1)
        found = await cluster_figures(db, since=until - timedelta(days=365), until=until)
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
            f"{f.horizontal_share:>6.3f} {f.repeat_share:>6.3f}  {f.network_type}"
        )
    for slug, f in found.items():
        print(
            f"{slug}: {f.anchor} carries {f.anchor_share:.0%} of the diverted kg; "
            f"> 80 % of their by-products to one taker: {', '.join(f.dependent_suppliers)}"
        )


if __name__ == "__main__":
    asyncio.run(_print(os.environ.get("EIC_DATABASE_URL", "sqlite+aiosqlite:///./eic.db")))
