"""What the views of cluster insights hold, and the limits they keep to."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from backend.catalogue import reference
from backend.identity.models import Cluster, OrganisationKind
from backend.identity.service import RosterEntry
from backend.insights.network import Network, NetworkFigures
from backend.insights.period import Period
from backend.insights.policies import Audience
from backend.marketplace.service import MonthlyOutcomes, PairFlow

# Unmatched offers: listed this many days or more without a single offer.
DEFAULT_UNMATCHED_DAYS = 14
MAX_UNMATCHED_DAYS = 365
# The anchors and dependent suppliers the named view lists (the CSV export has them all).
LISTED_ORGANISATIONS = 10
# Candidate takers shown for each unmatched offer.
CANDIDATES_PER_OFFER = 3
# Unmatched offers a page holds: each runs the matching engine (about five statements).
UNMATCHED_PAGE_DEFAULT = 10
UNMATCHED_PAGE_MOST = 20
# The comparison page compares at most this many clusters (by name).
MAX_COMPARED_CLUSTERS = 50
# The tables the kept part of the insights reads: a committed write to any makes it stale.
UNMATCHED_TABLES = frozenset({"listings", "offers", "units"})
SOCIAL_TABLES = frozenset(
    {
        "purchase_groups",
        "pledges",
        "events",
        "event_registrations",
        "forums",
        "forum_threads",
        "forum_posts",
        "organisations",
    }
)
# (Not ``trades``: the core reads a trade's price and currency, which do not change once it is
# agreed, for trades that have completed; accepting and delivering other trades need not stale
# it. A trade that completes writes ``impact_entries``.)
CORE_TABLES = frozenset({"impact_entries", "organisations", "clusters", "materials"})


def activity(code: str | None) -> reference.ActivitySpec | None:
    """An ISIC activity from the reference data (the rows ``eic migrate`` loads)."""
    return _activities().get(code) if code else None


def activity_title(code: str | None) -> str | None:
    spec = activity(code)
    return spec.title if spec else None


@functools.cache
def _activities() -> dict[str, reference.ActivitySpec]:
    return {spec.code: spec for spec in reference.activities()}


# ---------------------------------------------------------------------------------------------
# What the views hold


@dataclass(frozen=True, slots=True)
class OrganisationLabel:
    """An organisation as the named view shows it: by name, or, when it opted out of being
    named, as "a firm in <activity>" without its id."""

    id: uuid.UUID | None
    name: str | None
    kind: OrganisationKind
    activity_code: str | None
    label: str


def label_of(entry: RosterEntry | None, organisation_id: uuid.UUID) -> OrganisationLabel:
    if entry is None:  # gone since (organisations are not deleted while they hold trades)
        return OrganisationLabel(None, None, OrganisationKind.FIRM, None, "An organisation")
    if entry.named_in_insights:
        return OrganisationLabel(entry.id, entry.name, entry.kind, entry.activity_code, entry.name)
    kind = entry.kind.value.lower()
    title = activity_title(entry.activity_code)
    label = f"A {kind} in {title.lower()}" if title else f"A {kind} (activity not given)"
    return OrganisationLabel(None, None, entry.kind, entry.activity_code, label)


@dataclass(frozen=True, slots=True)
class MemberFigures:
    """The cluster's organisations: now (at the period's end), at its start, and who joined."""

    total: int
    firms: int
    communities: int
    institutions: int
    at_start: int
    joined: int
    growth: float | None  # (total - at_start) / at_start; None when there were none at start


@dataclass(frozen=True, slots=True)
class ActivityFlow:
    """Kilograms of one material from organisations of one activity to organisations of
    another, in the period: one band of a Sankey diagram. ``supplier_activity`` and
    ``taker_activity`` are ISIC classes (None: not given); a row of suppressed cells merged
    together has no material and no activities (``other``)."""

    supplier_activity: str | None
    material_code: str | None
    taker_activity: str | None
    kg: Decimal
    co2e_kg: Decimal
    trades: int
    organisations: int
    other: bool = False


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Outcomes:
    """NISP-style outcomes of completed trades: landfill diversion, carbon, cost savings and
    additional sales. ``suppressed``: built from fewer than three organisations, so the public
    view shows no figures (all zero)."""

    kg: Decimal
    co2e_kg: Decimal
    disposal_cost_avoided: list[Money]
    paid_to_suppliers: list[Money]
    trades: int
    organisations: int
    method_versions: list[str]
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Month:
    month: date
    outcomes: Outcomes


@dataclass(frozen=True, slots=True)
class AnchorView:
    organisation: OrganisationLabel
    kg: Decimal
    share: float
    partners: int


@dataclass(frozen=True, slots=True)
class DependenceView:
    supplier: OrganisationLabel
    taker: OrganisationLabel
    share: float
    supplied_kg: Decimal
    takers: int


@dataclass(frozen=True, slots=True)
class UnmatchedMaterialView:
    material_code: str | None  # None: the suppressed materials merged
    listings: int
    organisations: int
    kg: Decimal
    listings_without_mass: int
    other: bool = False


@dataclass(slots=True)
class Core:
    """What a cluster's insights for a period are computed from, kept between requests."""

    cluster: Cluster
    period: Period
    roster: dict[uuid.UUID, RosterEntry]
    members: list[RosterEntry]
    network: Network
    flows: list[PairFlow]
    monthly: MonthlyOutcomes
    isolated: list[RosterEntry] = field(default_factory=list)
    # each audience's view, made once from the kept core: a warm read only looks it up (it cost
    # 55-70 ms over 40,000 pair flows, every time, in scripts/bench_insights.py)
    views: dict[Audience, ClusterInsights] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterInsights:
    cluster: Cluster
    period: Period
    audience: Audience
    members: MemberFigures
    network: NetworkFigures | None  # None: fewer than three organisations traded (public)
    anchors: list[AnchorView]  # named view only
    dependences: list[DependenceView]  # named view only
    dependent_suppliers: int | None  # None with the network (public, fewer than three)
    isolated_members: int
    flows: list[ActivityFlow]
    months: list[Month]
    totals: Outcomes
    unmatched_after_days: int
    unmatched_by_material: list[UnmatchedMaterialView]
    # for the named view's lists, fetched on demand
    _core: Core
