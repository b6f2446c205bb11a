"""Computing a cluster's insights: the kept core (network, flows, months), each audience's
view of it with small cells suppressed, the named lists, and the comparison of clusters."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import literal_column

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue_service
from backend.catalogue.reference import ECO_PRODUCTS
from backend.identity import service as identity_service
from backend.identity.models import Cluster, Organisation, OrganisationKind
from backend.identity.service import RosterEntry
from backend.insights.cache import cache_for
from backend.insights.network import AnchorShare, Dependence, NetworkFigures, analyse
from backend.insights.period import Period, period_of
from backend.insights.policies import SMALLEST_CELL, Audience, audience_of
from backend.insights.service.views import (
    CANDIDATES_PER_OFFER,
    CORE_TABLES,
    DEFAULT_UNMATCHED_DAYS,
    LISTED_ORGANISATIONS,
    MAX_COMPARED_CLUSTERS,
    MAX_UNMATCHED_DAYS,
    UNMATCHED_PAGE_DEFAULT,
    UNMATCHED_PAGE_MOST,
    UNMATCHED_TABLES,
    ActivityFlow,
    AnchorView,
    ClusterInsights,
    Core,
    DependenceView,
    MemberFigures,
    Money,
    Month,
    OrganisationLabel,
    Outcomes,
    UnmatchedMaterialView,
    label_of,
)
from backend.kit.collector import cyclic_collector_paused
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, decode_cursor, encode_cursor
from backend.marketplace import service as marketplace
from backend.marketplace.models import Listing
from backend.marketplace.service import Match, PairFlow

# ---------------------------------------------------------------------------------------------
# Computing


async def _cluster(db: Database, cluster_id: uuid.UUID | None, slug: str | None) -> Cluster:
    """The cluster by id (the API) or by slug (a page's address): one statement either way."""
    if slug is not None:
        cluster = await identity_service.get_cluster_by_slug(db=db, slug=slug)
    else:
        assert cluster_id is not None, "a cluster id or slug"
        cluster = await identity_service.get_cluster(db=db, cluster_id=cluster_id)
    if cluster is None:
        raise not_found("Cluster", "clusterId")
    return cluster


async def _audience(db: Database, viewer: Viewer | Anonymous, cluster_id: uuid.UUID) -> Audience:
    viewer_cluster = None
    if isinstance(viewer, Viewer) and not viewer.is_admin and viewer.organisation_id:
        organisation = await identity_service.get_organisation(
            db=db, organisation_id=viewer.organisation_id
        )
        viewer_cluster = organisation.cluster_id if organisation else None
    return audience_of(viewer, cluster_id, viewer_cluster)


async def _compute_core(db: Database, cluster: Cluster, period: Period) -> Core:
    # The three reads go at once, each in its own unit of work (795 ms against 912 one after
    # the other on this 2-core machine; a server with free cores gains more); the network is
    # computed as soon as the pairs and the roster are in, while the database still sums the
    # months.
    monthly_read = asyncio.ensure_future(
        marketplace.monthly_outcomes(
            db=db,
            cluster_id=cluster.id,
            month_starts=period.month_starts,
            ends_at=period.ends_at,
            whole_months=period.whole_months,
            name_below=SMALLEST_CELL,
        )
    )
    try:
        flows, members = await asyncio.gather(
            marketplace.pair_flows(
                db=db, cluster_id=cluster.id, starts_at=period.starts_at, ends_at=period.ends_at
            ),
            identity_service.cluster_roster(db=db, cluster_id=cluster.id),
        )
        roster = {entry.id: entry for entry in members}
        parties = {f.supplier_id for f in flows} | {f.receiver_id for f in flows}
        elsewhere = parties - roster.keys()
        if elsewhere:  # partners from other clusters
            others = await identity_service.cluster_roster(db=db, cluster_id=None, ids=elsewhere)
            roster.update((entry.id, entry) for entry in others)
        materials = await catalogue_service.materials_by_code(
            db=db, codes={flow.material_code for flow in flows}
        )
        eco_products = {
            code for code, material in materials.items() if material.path.startswith(ECO_PRODUCTS)
        }
        activities = {o: entry.activity_code for o, entry in roster.items()}
        network = analyse(flows, activities, eco_products)
        monthly = await monthly_read
    finally:
        monthly_read.cancel()  # a no-op once read; after an error above, no read is left running
    isolated = [
        entry
        for entry in members
        if entry.kind is not OrganisationKind.INSTITUTION
        and entry.created_at < period.ends_at
        and entry.id not in parties
    ]
    return Core(cluster, period, roster, members, network, flows, monthly, isolated)


async def _computed_core(db: Database, cluster: Cluster, period: Period) -> Core:
    # Tens of thousands of rows and the objects made from them have no reference cycles: the
    # cyclic collector's walks over them are spared (backend/kit/collector.py has the figures).
    with cyclic_collector_paused():
        return await _compute_core(db, cluster, period)


async def _core(db: Database, cluster: Cluster, period: Period) -> Core:
    return await cache_for(db).get_or_compute(
        f"core:{cluster.id}:{period.key}",
        CORE_TABLES,
        lambda: _computed_core(db, cluster, period),
        rows=lambda core: len(core.roster) + len(core.flows) + len(core.monthly.rows),
    )


def _member_figures(core: Core) -> MemberFigures:
    ends_at, starts_at = core.period.ends_at, core.period.starts_at
    now = [m for m in core.members if m.created_at < ends_at]
    at_start = sum(1 for m in now if m.created_at < starts_at)
    kinds: dict[OrganisationKind, int] = defaultdict(int)
    for member in now:
        kinds[member.kind] += 1
    return MemberFigures(
        total=len(now),
        firms=kinds[OrganisationKind.FIRM],
        communities=kinds[OrganisationKind.COMMUNITY],
        institutions=kinds[OrganisationKind.INSTITUTION],
        at_start=at_start,
        joined=len(now) - at_start,
        growth=(len(now) - at_start) / at_start if at_start else None,
    )


def _activity_flows(core: Core, audience: Audience) -> list[ActivityFlow]:
    """The pair flows summed by (supplier activity, material, taker activity); in the public
    view a band built from fewer than three organisations is merged into one "other" band,
    itself dropped when it too has fewer (its figures then count in no band)."""
    bands: dict[tuple[str | None, str, str | None], list[PairFlow]] = defaultdict(list)
    for flow in core.flows:
        supplier, taker = core.roster.get(flow.supplier_id), core.roster.get(flow.receiver_id)
        key = (
            supplier.activity_code if supplier else None,
            flow.material_code,
            taker.activity_code if taker else None,
        )
        bands[key].append(flow)
    result: list[ActivityFlow] = []
    hidden: list[PairFlow] = []
    for (supplier_activity, material, taker_activity), flows in bands.items():
        organisations = {f.supplier_id for f in flows} | {f.receiver_id for f in flows}
        if audience is Audience.PUBLIC and len(organisations) < SMALLEST_CELL:
            hidden.extend(flows)
            continue
        result.append(
            ActivityFlow(
                supplier_activity,
                material,
                taker_activity,
                sum((f.kg for f in flows), Decimal(0)),
                sum((f.co2e_kg for f in flows), Decimal(0)),
                sum(f.trades for f in flows),
                len(organisations),
            )
        )
    result.sort(key=lambda band: (-band.kg, band.material_code or "", band.supplier_activity or ""))
    if hidden and result:
        # The totals minus the bands shown give the hidden ones together: they must come from
        # three organisations at least, else the smallest band shown is hidden with them.
        together = {f.supplier_id for f in hidden} | {f.receiver_id for f in hidden}
        if len(together) < SMALLEST_CELL:
            smallest = min(result, key=lambda band: (band.kg, band.trades))
            result.remove(smallest)
            assert smallest.material_code is not None  # a band of its own, not "other"
            hidden.extend(
                bands[(smallest.supplier_activity, smallest.material_code, smallest.taker_activity)]
            )
    if hidden:
        organisations = {f.supplier_id for f in hidden} | {f.receiver_id for f in hidden}
        if len(organisations) >= SMALLEST_CELL:
            result.append(
                ActivityFlow(
                    None,
                    None,
                    None,
                    sum((f.kg for f in hidden), Decimal(0)),
                    sum((f.co2e_kg for f in hidden), Decimal(0)),
                    sum(f.trades for f in hidden),
                    len(organisations),
                    other=True,
                )
            )
    return result


def _money(amounts: dict[str, Decimal], first: str) -> list[Money]:
    """Amounts by currency, the cluster's own first."""
    return [
        Money(amounts[c], c)
        for c in sorted(amounts, key=lambda c: (c != first, c))
        if amounts[c] != 0 or c == first
    ]


def _outcomes(
    rows: Sequence[marketplace.MonthlyOutcome],
    organisations: int,
    currency: str,
    suppressed: bool,
) -> Outcomes:
    disposal: dict[str, Decimal] = defaultdict(Decimal)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.disposal_currency:
            disposal[row.disposal_currency] += row.disposal_cost_avoided
        paid[row.trade_currency] += row.paid_to_suppliers
    if suppressed:
        return Outcomes(Decimal(0), Decimal(0), [], [], 0, organisations, [], suppressed=True)
    return Outcomes(
        kg=sum((r.kg for r in rows), Decimal(0)),
        co2e_kg=sum((r.co2e_kg for r in rows), Decimal(0)),
        disposal_cost_avoided=_money(disposal, currency),
        paid_to_suppliers=_money(paid, currency),
        trades=sum(r.trades for r in rows),
        organisations=organisations,
        method_versions=sorted({r.method_version for r in rows}),
    )


def _hidden_months(core: Core) -> set[int]:
    """The months the public may not see: those built from one or two organisations, and, when
    those together are still fewer than three organisations, the smallest month shown as well:
    otherwise the totals minus the months shown would give the hidden ones away (complementary
    suppression). Months without trades are shown (as zeros: they reveal nobody)."""
    counts = core.monthly.organisations
    hidden = {m for m, n in counts.items() if 0 < n < SMALLEST_CELL}
    together = set().union(*(core.monthly.few.get(m, frozenset()) for m in hidden))
    if hidden and len(together) < SMALLEST_CELL:
        shown = [m for m, n in counts.items() if n >= SMALLEST_CELL]
        if shown:
            hidden.add(min(shown, key=lambda m: (counts[m], m)))
    return hidden


def _months(core: Core, audience: Audience) -> tuple[list[Month], Outcomes]:
    by_month: dict[int, list[marketplace.MonthlyOutcome]] = defaultdict(list)
    for row in core.monthly.rows:
        by_month[row.month].append(row)
    currency = core.cluster.currency
    public = audience is Audience.PUBLIC
    hidden = _hidden_months(core) if public else set()
    months = [
        Month(
            month,
            _outcomes(by_month[i], core.monthly.organisations.get(i, 0), currency, i in hidden),
        )
        for i, month in enumerate(core.period.months)
    ]
    parties = {f.supplier_id for f in core.flows} | {f.receiver_id for f in core.flows}
    totals = _outcomes(
        core.monthly.rows, len(parties), currency, public and len(parties) < SMALLEST_CELL
    )
    return months, totals


def _unmatched_materials(
    rows: Sequence[marketplace.UnmatchedMaterial], hidden_organisations: int, audience: Audience
) -> list[UnmatchedMaterialView]:
    """By material; in the public view a material offered by fewer than three organisations is
    merged into one "other" row, shown when the merged materials' organisations (counted once
    each: ``hidden_organisations``) are three or more."""
    shown: list[UnmatchedMaterialView] = []
    hidden: list[marketplace.UnmatchedMaterial] = []
    for row in rows:
        if audience is Audience.PUBLIC and row.organisations < SMALLEST_CELL:
            hidden.append(row)
            continue
        shown.append(
            UnmatchedMaterialView(
                row.material_code,
                row.listings,
                row.organisations,
                row.kg,
                row.listings_without_mass,
            )
        )
    if hidden and hidden_organisations >= SMALLEST_CELL:
        shown.append(
            UnmatchedMaterialView(
                None,
                sum(h.listings for h in hidden),
                hidden_organisations,
                sum((h.kg for h in hidden), Decimal(0)),
                sum(h.listings_without_mass for h in hidden),
                other=True,
            )
        )
    return shown


def _check_unmatched_days(days: int) -> None:
    if not 1 <= days <= MAX_UNMATCHED_DAYS:
        raise ServiceError.of(
            ErrorCode.VALIDATION,
            f"unmatchedAfterDays is between 1 and {MAX_UNMATCHED_DAYS}",
            "unmatchedAfterDays",
        )


async def cluster_insights(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    cluster_id: uuid.UUID | None = None,
    cluster_slug: str | None = None,
    starts_on: date | None,
    ends_on: date | None,
    unmatched_after_days: int = DEFAULT_UNMATCHED_DAYS,
    now: datetime,
) -> ClusterInsights:
    """The insights of one cluster (by id, or by slug for a page's address) over a period
    (calendar days in the cluster's time zone, both included; by default the twelve months up
    to today), as ``viewer`` may see them."""
    _check_unmatched_days(unmatched_after_days)
    cluster = await _cluster(db, cluster_id, cluster_slug)
    cluster_id = cluster.id
    period = period_of(starts_on=starts_on, ends_on=ends_on, time_zone=cluster.timezone, now=now)
    audience = await _audience(db, viewer, cluster_id)
    core = await _core(db, cluster, period)
    # The unmatched offers by material are kept too, until a listing or an offer is written or
    # the minute they were counted at is over (their cut-off moves with the clock).
    minute = now.replace(second=0, microsecond=0)

    async def count_unmatched() -> list[UnmatchedMaterialView]:
        return await _unmatched_by_material(
            db, cluster_id, minute - timedelta(days=unmatched_after_days), minute, audience
        )

    unmatched = await cache_for(db).get_or_compute(
        f"unmatched:{cluster_id}:{unmatched_after_days}:{minute.isoformat()}:{audience.value}",
        UNMATCHED_TABLES,
        count_unmatched,
    )
    return _view(core, audience, unmatched_after_days, unmatched)


async def _unmatched_by_material(
    db: Database,
    cluster_id: uuid.UUID,
    published_before: datetime,
    now: datetime,
    audience: Audience,
) -> list[UnmatchedMaterialView]:
    unmatched = await marketplace.unmatched_by_material(
        db=db, cluster_id=cluster_id, published_before=published_before, now=now
    )
    hidden = [u.material_code for u in unmatched if u.organisations < SMALLEST_CELL]
    hidden_organisations = 0
    if audience is Audience.PUBLIC and hidden:
        hidden_organisations = await marketplace.unmatched_organisations(
            db=db,
            cluster_id=cluster_id,
            published_before=published_before,
            now=now,
            material_codes=hidden,
        )
    return _unmatched_materials(unmatched, hidden_organisations, audience)


def _anchor(core: Core, anchor: AnchorShare) -> AnchorView:
    label = label_of(core.roster.get(anchor.organisation_id), anchor.organisation_id)
    return AnchorView(label, anchor.kg, anchor.share, anchor.partners)


def _dependence(core: Core, dependence: Dependence) -> DependenceView:
    return DependenceView(
        label_of(core.roster.get(dependence.supplier_id), dependence.supplier_id),
        label_of(core.roster.get(dependence.taker_id), dependence.taker_id),
        dependence.share,
        dependence.supplied_kg,
        dependence.takers,
    )


def _view(
    core: Core,
    audience: Audience,
    unmatched_after_days: int,
    unmatched: list[UnmatchedMaterialView],
) -> ClusterInsights:
    """The audience's view of the core (made once per core and audience) with the request's
    unmatched offers."""
    seen = core.views.get(audience)
    if seen is None:
        with cyclic_collector_paused():  # over the core's 40,000 flows: as _computed_core
            seen = core.views[audience] = _seen(core, audience)
    return dataclasses.replace(
        seen, unmatched_after_days=unmatched_after_days, unmatched_by_material=unmatched
    )


def _seen(core: Core, audience: Audience) -> ClusterInsights:
    network = core.network
    public = audience is Audience.PUBLIC
    shown_network: NetworkFigures | None = network.figures
    if public and network.figures.organisations < SMALLEST_CELL:
        shown_network = None
    months, totals = _months(core, audience)
    anchors: list[AnchorView] = []
    dependences: list[DependenceView] = []
    if not public:
        anchors = [_anchor(core, a) for a in network.anchors[:LISTED_ORGANISATIONS]]
        dependences = [_dependence(core, d) for d in network.dependences[:LISTED_ORGANISATIONS]]
    return ClusterInsights(
        cluster=core.cluster,
        period=core.period,
        audience=audience,
        members=_member_figures(core),
        network=shown_network,
        anchors=anchors,
        dependences=dependences,
        dependent_suppliers=len(network.dependences) if shown_network else None,
        isolated_members=len(core.isolated),
        flows=_activity_flows(core, audience),
        months=months,
        totals=totals,
        unmatched_after_days=DEFAULT_UNMATCHED_DAYS,
        unmatched_by_material=[],
        _core=core,
    )


def _named_only(insights: ClusterInsights, what: str) -> None:
    if insights.audience is not Audience.NAMED:
        raise ServiceError.of(
            ErrorCode.FORBIDDEN,
            f"Only the cluster's verified institutions and platform admins see {what}",
        )


def isolated_members(insights: ClusterInsights, page: PageRequest) -> Page[OrganisationLabel]:
    """Members (firms and communities) without a completed trade in the period, by name: whom
    a programme should reach first. Named view only."""
    _named_only(insights, "which members are isolated")
    members = insights._core.isolated
    start = 0
    if page.after is not None:
        start = _offset(page.after, len(members))
    chosen = members[start : start + page.first]
    return Page(
        items=[label_of(m, m.id) for m in chosen],
        cursors=[_cursor(start + i) for i in range(1, len(chosen) + 1)],
        has_next_page=start + page.first < len(members),
        has_previous_page=start > 0,
        total_count=len(members),
    )


def all_anchors(insights: ClusterInsights) -> list[AnchorView]:
    """Every organisation of the network with its anchor share (the CSV export)."""
    _named_only(insights, "anchors by name")
    core = insights._core
    return [_anchor(core, a) for a in core.network.anchors]


def all_dependences(insights: ClusterInsights) -> list[DependenceView]:
    _named_only(insights, "dependent suppliers by name")
    core = insights._core
    return [_dependence(core, d) for d in core.network.dependences]


def all_isolated(insights: ClusterInsights) -> list[OrganisationLabel]:
    _named_only(insights, "which members are isolated")
    return [label_of(m, m.id) for m in insights._core.isolated]


def unmatched_page(first: int | None, after: str | None) -> PageRequest:
    """A page of unmatched offers: smaller than other lists, each offer costs a match."""
    size = UNMATCHED_PAGE_DEFAULT if first is None else first
    if not 1 <= size <= UNMATCHED_PAGE_MOST:
        raise ServiceError.of(
            ErrorCode.VALIDATION, f"first must be between 1 and {UNMATCHED_PAGE_MOST}", "first"
        )
    return PageRequest(first=size, after=after or None)


@dataclass(frozen=True, slots=True)
class CandidateTaker:
    organisation: OrganisationLabel
    match: Match


@dataclass(frozen=True, slots=True)
class UnmatchedOffer:
    listing: Listing
    seller: OrganisationLabel
    waiting_days: int
    candidate_takers: list[CandidateTaker]


async def unmatched_offers(
    *, db: Database, insights: ClusterInsights, page: PageRequest, now: datetime
) -> Page[UnmatchedOffer]:
    """Active offers listed at least ``unmatched_after_days`` days ago with no offer, the
    longest waiting first, each with its best candidate takers from the matching engine (one
    per organisation, best first, at most ``CANDIDATES_PER_OFFER``). Named view only."""
    _named_only(insights, "unmatched offers by seller")
    found = await marketplace.unmatched_offers(
        db=db,
        cluster_id=insights.cluster.id,
        published_before=now - timedelta(days=insights.unmatched_after_days),
        now=now,
        page=page,
        takers_per_offer=CANDIDATES_PER_OFFER,
    )
    roster = insights._core.roster

    def labelled(organisation: Organisation) -> OrganisationLabel:
        # a candidate may be of another cluster (matching looks 300 km around)
        entry = roster.get(organisation.id) or RosterEntry.of(organisation)
        return label_of(entry, organisation.id)

    return found.with_items(
        [
            UnmatchedOffer(
                offer.listing,
                labelled(offer.listing.organisation),
                (now - (offer.listing.published_at or now)).days,
                [CandidateTaker(labelled(m.listing.organisation), m) for m in offer.takers],
            )
            for offer in found.items
        ]
    )


# The isolated members are a list in memory (kept with the network): a cursor is a position.
_POSITION = Sort("insights:position", (SortKey(literal_column("position"), python_type=int),))


def _cursor(position: int) -> str:
    return encode_cursor(_POSITION, [position])


def _offset(cursor: str, size: int) -> int:
    (position,) = decode_cursor(_POSITION, cursor)
    if not 0 <= position <= size:
        raise ServiceError.of(ErrorCode.VALIDATION, "after is not a cursor of this list", "after")
    return int(position)


# ---------------------------------------------------------------------------------------------
# Comparing clusters


@dataclass(frozen=True, slots=True)
class ClusterComparison:
    """One cluster in the comparison: the brief's Table 1, computed (always the public view)."""

    insights: ClusterInsights
    top_conversions: list[ActivityFlow]  # the three largest flows by kg


async def compare_clusters(
    *, db: Database, starts_on: date | None, ends_on: date | None, now: datetime
) -> list[ClusterComparison]:
    """Every cluster (up to ``MAX_COMPARED_CLUSTERS``, by name) over the same calendar days,
    each in its own time zone, as the public sees it."""
    page = await identity_service.list_clusters(
        db=db,
        filter=identity_service.ClusterFilter(),
        page=PageRequest(first=MAX_COMPARED_CLUSTERS),
    )
    rows = []
    for cluster in page.items:
        period = period_of(
            starts_on=starts_on, ends_on=ends_on, time_zone=cluster.timezone, now=now
        )
        core = await _core(db, cluster, period)
        insights = _view(core, Audience.PUBLIC, DEFAULT_UNMATCHED_DAYS, [])
        conversions = [band for band in insights.flows if not band.other][:3]
        rows.append(ClusterComparison(insights, conversions))
    return rows
