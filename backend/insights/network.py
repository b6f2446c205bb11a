"""The inter-firm network of a cluster and its figures, from the pairs of organisations that
completed trades (networkx does the graph work).

Definitions (the README's "Cluster insights" repeats them in one line each):

- **Node**: an organisation with at least one completed trade in the period, as supplier or
  taker. **Link**: an unordered pair of organisations that completed at least one trade with
  each other (either direction), weighted by the kilograms diverted and the number of trades.
- **Density**: links / possible links, 2L / (n(n-1)).
- **Freeman degree centralisation**: sum over nodes of (highest degree - degree) divided by its
  largest possible value, (n-1)(n-2) (a star): 0 when every node has the same number of
  partners, 1 for a star.
- **Bilateral share**: nodes with exactly one partner / n. **Multilateral share**: nodes with
  three partners or more / n.
- **Horizontal link**: both ends have the same ISIC Rev. 4 class (rice mill with rice mill);
  **vertical**: different classes (sawmill to pellet maker). Links with an end whose activity is
  unknown are neither.
- **Repeat partnership**: a link with two trades or more.
- **Largest component share**: the organisations of the largest connected part of the network
  (linked directly or through others) / n: 1 when every organisation is reachable from every
  other, 2/n for disjoint pairs.
- **Network type**, after Zhang et al. (2016), "Network analysis of eight industrial symbiosis
  systems", Frontiers of Earth Science 10(2): the two metrics above divide networks into weak
  completeness (sparse, few connections) and two forms of strong completeness: anchor-tenant
  mutualism (members depend on a core member) and equality-oriented mutualism (members play
  equal roles along diverse paths). The paper combines density and centralisation; the
  cut-offs are ours (:data:`ANCHOR_CENTRALISATION`, :data:`COMPLETE_DENSITY`,
  :data:`CONNECTED_SHARE`): centralisation 0.5 or more is an anchor tenant (a star is one at any
  size); otherwise density below 0.10, or a largest component holding less than half of the
  organisations, is weak completeness (a small network of disjoint pairs is dense by arithmetic,
  but nobody is connected beyond a partner); the rest is equality-oriented mutualism.
- **Anchor share** of an organisation: the share of the cluster's diverted kilograms that would
  be lost without it: remove the node and recount, which is the weight of its own links.
- **Single-taker dependence** of a supplier: the share of the kilograms of by-products and waste
  it supplied (eco-products, which it makes to sell, left out) that went to its largest taker;
  more than :data:`DEPENDENCE_SHARE` is dependent.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import networkx as nx

from backend.marketplace.service import PairFlow

# Centralisation from which members depend on a core member (a star is 1, disjoint pairs 0).
ANCHOR_CENTRALISATION = 0.5
# Density below which a network without an anchor is sparse: fewer than one in ten of the
# possible pairs trade.
COMPLETE_DENSITY = 0.10
# Below this share of organisations in the largest connected component, the network is in
# pieces: weak completeness whatever its density.
CONNECTED_SHARE = 0.5
# A supplier sending more than this share of its kilograms to one taker depends on it.
DEPENDENCE_SHARE = Decimal("0.8")
# No figure is typed from fewer organisations than this (a pair has no structure).
SMALLEST_NETWORK = 3


class NetworkType(StrEnum):
    WEAK_COMPLETENESS = "WEAK_COMPLETENESS"
    ANCHOR_TENANT_MUTUALISM = "ANCHOR_TENANT_MUTUALISM"
    EQUALITY_ORIENTED_MUTUALISM = "EQUALITY_ORIENTED_MUTUALISM"
    TOO_SMALL = "TOO_SMALL"  # fewer than SMALLEST_NETWORK organisations traded


@dataclass(frozen=True, slots=True)
class NetworkFigures:
    organisations: int
    links: int
    density: float
    centralisation: float
    bilateral_share: float
    multilateral_share: float
    horizontal_links: int
    vertical_links: int
    links_of_unknown_activity: int
    repeat_links: int
    largest_component_share: float
    type: NetworkType


@dataclass(frozen=True, slots=True)
class AnchorShare:
    organisation_id: uuid.UUID
    kg: Decimal  # the kilograms of its own links: what the cluster loses without it
    share: float  # of the cluster's diverted kilograms
    partners: int


@dataclass(frozen=True, slots=True)
class Dependence:
    supplier_id: uuid.UUID
    taker_id: uuid.UUID
    share: float  # of the supplier's kilograms, to this taker
    supplied_kg: Decimal
    takers: int


@dataclass(frozen=True, slots=True)
class Network:
    figures: NetworkFigures
    anchors: list[AnchorShare]  # every node, largest share first
    dependences: list[Dependence]  # suppliers above DEPENDENCE_SHARE, largest supply first
    total_kg: Decimal


def network_type(
    organisations: int, density: float, centralisation: float, largest_component_share: float
) -> NetworkType:
    if organisations < SMALLEST_NETWORK:
        return NetworkType.TOO_SMALL
    if centralisation >= ANCHOR_CENTRALISATION:
        return NetworkType.ANCHOR_TENANT_MUTUALISM
    if density < COMPLETE_DENSITY or largest_component_share < CONNECTED_SHARE:
        return NetworkType.WEAK_COMPLETENESS
    return NetworkType.EQUALITY_ORIENTED_MUTUALISM


def analyse(
    flows: Iterable[PairFlow],
    activities: Mapping[uuid.UUID, str | None],
    eco_products: Collection[str] = (),
) -> Network:
    """The network of ``flows``; ``activities`` gives each organisation's ISIC class (missing or
    None: unknown); flows of the materials of ``eco_products`` make links but count in no
    supplier's dependence."""
    # Organisations are numbered first and the graph is built on the numbers: hashing a UUID
    # runs Python code, and the dicts and networkx hashed each node ~25 times (a third of the
    # time on 40,000 flows, scripts/bench_insights.py). Links are summed in a dict keyed by the
    # pair's numbers and given to networkx bare: the weights stay in that dict.
    number: dict[uuid.UUID, int] = {}
    pairs: dict[tuple[int, int], list[Decimal | int]] = {}
    supplied: dict[int, dict[int, Decimal]] = {}
    total = Decimal(0)
    for flow in flows:
        supplier = number.setdefault(flow.supplier_id, len(number))
        receiver = number.setdefault(flow.receiver_id, len(number))
        if supplier == receiver:
            continue  # an organisation's trade with itself is no link
        total += flow.kg
        pair = (supplier, receiver) if supplier < receiver else (receiver, supplier)
        summed = pairs.get(pair)
        if summed is None:
            pairs[pair] = [flow.kg, flow.trades]
        else:
            summed[0] += flow.kg
            summed[1] += flow.trades
        if flow.material_code not in eco_products:
            takers = supplied.setdefault(supplier, {})
            takers[receiver] = takers.get(receiver, Decimal(0)) + flow.kg
    organisation = list(number)  # by number
    graph = nx.Graph()
    graph.add_edges_from(pairs)

    n = graph.number_of_nodes()
    links = graph.number_of_edges()
    density = nx.density(graph) if n > 1 else 0.0
    degrees = dict(graph.degree())
    centralisation = 0.0
    if n > 2:
        # Freeman: networkx's degree centrality is degree / (n-1), so the sum of differences
        # from the highest, over its star maximum (n-1)(n-2), is that sum over (n-2).
        centrality = nx.degree_centrality(graph)
        highest = max(centrality.values())
        centralisation = sum(highest - value for value in centrality.values()) / (n - 2)
    largest = max((len(c) for c in nx.connected_components(graph)), default=0)
    connected = largest / n if n else 0.0
    activity = [activities.get(o) for o in organisation]
    horizontal = vertical = unknown = repeat = 0
    # the kilograms of each organisation's own links: what the cluster loses without it
    own_kg = [Decimal(0)] * len(organisation)
    for (a, b), (kg, trades) in pairs.items():
        first, second = activity[a], activity[b]
        if first is None or second is None:
            unknown += 1
        elif first == second:
            horizontal += 1
        else:
            vertical += 1
        if trades >= 2:
            repeat += 1
        own_kg[a] += kg
        own_kg[b] += kg
    figures = NetworkFigures(
        organisations=n,
        links=links,
        density=density,
        centralisation=centralisation,
        bilateral_share=sum(1 for d in degrees.values() if d == 1) / n if n else 0.0,
        multilateral_share=sum(1 for d in degrees.values() if d >= 3) / n if n else 0.0,
        horizontal_links=horizontal,
        vertical_links=vertical,
        links_of_unknown_activity=unknown,
        repeat_links=repeat,
        largest_component_share=connected,
        type=network_type(n, density, centralisation, connected),
    )
    anchors = [
        AnchorShare(
            organisation_id=organisation[node],
            kg=own_kg[node],
            share=float(own_kg[node] / total) if total else 0.0,
            partners=partners,
        )
        for node, partners in degrees.items()
    ]
    anchors.sort(key=lambda a: (-a.kg, str(a.organisation_id)))
    dependences = []
    for supplier, takers in supplied.items():
        supplied_kg = sum(takers.values(), Decimal(0))
        if supplied_kg <= 0:
            continue
        # the largest taker is named only for a dependent supplier (and ties broken by id)
        kg = max(takers.values())
        share = kg / supplied_kg
        if share > DEPENDENCE_SHARE:
            taker = max((organisation[t] for t, taken in takers.items() if taken == kg), key=str)
            dependences.append(
                Dependence(organisation[supplier], taker, float(share), supplied_kg, len(takers))
            )
    dependences.sort(key=lambda d: (-d.supplied_kg, str(d.supplier_id)))
    return Network(figures, anchors, dependences, total)
