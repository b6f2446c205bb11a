"""GraphQL of cluster insights: what the institutions' insights screen reads (thin resolvers
over ``backend.insights.service``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Material
from backend.catalogue.schema import ActivityType
from backend.graphql.budgets import ReadBudget
from backend.graphql.cost import page_size
from backend.graphql.pagination import After, Connection, First
from backend.graphql.types import context_of, parse_id
from backend.identity.models import OrganisationKind
from backend.insights import network as network_figures
from backend.insights import policies, service
from backend.insights.network import NetworkType
from backend.insights.policies import Audience
from backend.kit.money import plain_number
from backend.kit.pagination import PageRequest
from backend.marketplace.schema.trading_types import MatchType, MoneyAmount
from backend.marketplace.schema.types import ListingType, MaterialType

# Registered as GraphQL enums here, so the service stays free of Strawberry.
strawberry.enum(
    NetworkType,
    description="The kind of inter-firm network, after Zhang et al. (2016), 'Network analysis "
    "of eight industrial symbiosis systems': WEAK_COMPLETENESS (sparse or in pieces), "
    "ANCHOR_TENANT_MUTUALISM (members depend on a core member: centralisation 0.5 or more), "
    "EQUALITY_ORIENTED_MUTUALISM (members play equal roles along diverse paths), TOO_SMALL "
    "(fewer than three organisations traded).",
)
strawberry.enum(
    Audience,
    name="InsightsAudience",
    description="What the reader sees: PUBLIC (aggregates only; no organisation names; no figure "
    "built from fewer than three organisations) or NAMED (the cluster's verified institutions "
    "and platform admins: organisations by name, except those that opted out).",
)


def _activity(code: str | None) -> ActivityType | None:
    """The ISIC class of ``code`` from the reference data (``eic migrate`` loads the same rows
    into the database): insights name hundreds of activities without a statement."""
    spec = service.activity(code)
    if spec is None:
        return None
    return ActivityType(
        code=spec.code,
        level=spec.level,
        title=spec.title,
        parent_code=spec.parent_code,
        section=spec.section,
    )


@strawberry.type(
    description="An organisation as insights name it: by name, or, when it opted out of being "
    "named, as 'a firm in <activity>' with no id."
)
class InsightsOrganisation:
    id: strawberry.ID | None = strawberry.field(
        description="Its id; null when it opted out of being named."
    )
    name: str | None = strawberry.field(description="Its name; null when it opted out.")
    label: str = strawberry.field(description="What to show: the name or the anonymous label.")
    kind: OrganisationKind = strawberry.field(description="Firm, community or institution.")
    activity: ActivityType | None = strawberry.field(
        description="What it does (ISIC Rev. 4 class); null when not given."
    )

    @classmethod
    def of(cls, label: service.OrganisationLabel) -> InsightsOrganisation:
        return cls(
            id=strawberry.ID(str(label.id)) if label.id else None,
            name=label.name,
            label=label.label,
            kind=label.kind,
            activity=_activity(label.activity_code),
        )


@strawberry.type(description="The cluster's organisations over the period.")
class MemberFigures:
    total: int = strawberry.field(description="Organisations at the period's end.")
    firms: int = strawberry.field(description="Of them, firms.")
    communities: int = strawberry.field(description="Of them, communities (SHGs, NPOs).")
    institutions: int = strawberry.field(description="Of them, institutions.")
    at_start: int = strawberry.field(description="Organisations at the period's start.")
    joined: int = strawberry.field(description="Organisations that joined during the period.")
    growth: float | None = strawberry.field(
        description="(total - atStart) / atStart, such as 0.2 for 20 % growth; null when there "
        "were none at the start."
    )


@strawberry.type(
    description="The inter-firm network of completed trades in the period: organisations that "
    "traded are its nodes, pairs that traded (either way) its links."
)
class NetworkFigures:
    organisations: int = strawberry.field(description="Organisations with a completed trade.")
    links: int = strawberry.field(description="Pairs of organisations that traded.")
    density: float = strawberry.field(description="Links / possible links: 2L / (n(n-1)).")
    centralisation: float = strawberry.field(
        description="Freeman degree centralisation, 0 (everyone has as many partners) to 1 (a "
        "star): sum of (highest degree - degree) / ((n-1)(n-2))."
    )
    bilateral_share: float = strawberry.field(
        description="Share of organisations with exactly one partner."
    )
    multilateral_share: float = strawberry.field(
        description="Share of organisations with three partners or more."
    )
    horizontal_links: int = strawberry.field(
        description="Links between organisations of the same ISIC class (rice mill to rice mill)."
    )
    vertical_links: int = strawberry.field(
        description="Links between organisations of different classes (sawmill to pellet maker)."
    )
    links_of_unknown_activity: int = strawberry.field(
        description="Links with an end whose activity is not given (neither of the above)."
    )
    repeat_links: int = strawberry.field(description="Links with two completed trades or more.")
    largest_component_share: float = strawberry.field(
        description="Share of organisations in the largest connected part of the network."
    )
    type: NetworkType = strawberry.field(description="The kind of network these figures make.")

    @classmethod
    def of(cls, figures: network_figures.NetworkFigures) -> NetworkFigures:
        return cls(
            organisations=figures.organisations,
            links=figures.links,
            density=figures.density,
            centralisation=figures.centralisation,
            bilateral_share=figures.bilateral_share,
            multilateral_share=figures.multilateral_share,
            horizontal_links=figures.horizontal_links,
            vertical_links=figures.vertical_links,
            links_of_unknown_activity=figures.links_of_unknown_activity,
            repeat_links=figures.repeat_links,
            largest_component_share=figures.largest_component_share,
            type=figures.type,
        )


@strawberry.type(description="An organisation the network leans on.")
class AnchorShare:
    organisation: InsightsOrganisation = strawberry.field(description="The organisation.")
    kg: Decimal = strawberry.field(
        description="Kilograms of its own trades: what the cluster's diversion loses without it."
    )
    share: float = strawberry.field(description="Of the cluster's diverted kilograms, 0-1.")
    partners: int = strawberry.field(description="Organisations it traded with.")


@strawberry.type(description="A supplier that sends most of its by-products to one taker.")
class SupplierDependence:
    supplier: InsightsOrganisation = strawberry.field(description="The supplier.")
    taker: InsightsOrganisation = strawberry.field(description="Its largest taker.")
    share: float = strawberry.field(description="Of the supplier's kilograms, to that taker.")
    supplied_kg: Decimal = strawberry.field(description="Kilograms the supplier supplied.")
    takers: int = strawberry.field(description="How many takers it supplied.")


@strawberry.type(
    description="Kilograms of a material from organisations of one activity to organisations "
    "of another: one band of a Sankey diagram."
)
class MaterialFlow:
    supplier_activity: ActivityType | None = strawberry.field(
        description="The suppliers' ISIC class; null when not given or for the merged band."
    )
    material: MaterialType | None = strawberry.field(
        description="The material; null for the merged band (`other`)."
    )
    taker_activity: ActivityType | None = strawberry.field(
        description="The takers' ISIC class; null when not given or for the merged band."
    )
    kg: Decimal = strawberry.field(description="Kilograms diverted.")
    co2e_kg: Decimal = strawberry.field(description="Kilograms CO2-equivalent avoided.")
    trades: int = strawberry.field(description="Completed trades.")
    organisations: int = strawberry.field(description="Organisations behind the band.")
    other: bool = strawberry.field(
        description="The bands of fewer than three organisations, merged (public view only)."
    )


@strawberry.type(
    description="NISP-style outcomes of completed trades: landfill diversion, carbon, cost "
    "savings and additional sales."
)
class TradeOutcomes:
    diverted_kg: Decimal | None = strawberry.field(
        description="Kilograms kept from disposal; null when suppressed."
    )
    co2e_avoided_kg: Decimal | None = strawberry.field(
        description="Kilograms CO2-equivalent avoided; null when suppressed."
    )
    disposal_cost_avoided: list[MoneyAmount] = strawberry.field(
        description="Disposal costs avoided, by currency (the cluster's first); empty when "
        "suppressed."
    )
    paid_to_suppliers: list[MoneyAmount] = strawberry.field(
        description="The value paid to suppliers (delivered quantity x agreed price): their "
        "additional sales, by currency; empty when suppressed."
    )
    trades: int | None = strawberry.field(description="Completed trades; null when suppressed.")
    organisations: int | None = strawberry.field(
        description="Organisations behind the figures; null when suppressed."
    )
    method_versions: list[str] = strawberry.field(
        description="Impact method versions the figures were computed with."
    )
    suppressed: bool = strawberry.field(
        description="True when built from fewer than three organisations (public view): no "
        "figures are shown."
    )

    @classmethod
    def of(cls, outcomes: service.Outcomes) -> TradeOutcomes:
        hidden = outcomes.suppressed
        return cls(
            diverted_kg=None if hidden else plain_number(outcomes.kg),
            co2e_avoided_kg=None if hidden else plain_number(outcomes.co2e_kg),
            disposal_cost_avoided=[
                MoneyAmount(amount=plain_number(m.amount), currency=m.currency)
                for m in outcomes.disposal_cost_avoided
            ],
            paid_to_suppliers=[
                MoneyAmount(amount=plain_number(m.amount), currency=m.currency)
                for m in outcomes.paid_to_suppliers
            ],
            trades=None if hidden else outcomes.trades,
            organisations=None if hidden else outcomes.organisations,
            method_versions=outcomes.method_versions,
            suppressed=hidden,
        )


@strawberry.type(description="One month of the period.")
class MonthOutcomes:
    month: date = strawberry.field(description="The month's first day.")
    outcomes: TradeOutcomes = strawberry.field(description="Its completed trades' outcomes.")


@strawberry.type(description="Unmatched by-products of one material.")
class UnmatchedMaterial:
    material: MaterialType | None = strawberry.field(
        description="The material; null for the merged row (`other`)."
    )
    listings: int = strawberry.field(description="Unmatched offers.")
    organisations: int = strawberry.field(description="Organisations offering them.")
    kg: Decimal = strawberry.field(
        description="Kilograms still available, of the offers in units of mass."
    )
    listings_without_mass: int = strawberry.field(
        description="Offers in units without a mass (pieces, bags, energy): not in `kg`."
    )
    other: bool = strawberry.field(
        description="Materials offered by fewer than three organisations, merged (public view)."
    )


@strawberry.type(description="A possible taker of an unmatched offer, from the matching engine.")
class CandidateTaker:
    organisation: InsightsOrganisation = strawberry.field(description="Whom to call.")
    match: MatchType = strawberry.field(
        description="Its best-matching listing, with the score and its reasons."
    )


@strawberry.type(description="An offer nobody has made an offer on.")
class UnmatchedOffer:
    listing: ListingType = strawberry.field(description="The listing.")
    seller: InsightsOrganisation = strawberry.field(description="Who offers it.")
    waiting_days: int = strawberry.field(description="Days since it was published.")
    candidate_takers: list[CandidateTaker] = strawberry.field(
        description="Its best candidate takers, one per organisation, best first (up to three)."
    )


@strawberry.type(
    description="Joint purchasing (or selling) in one direction and currency: the group's price "
    "against one buyer's (the first tier's) price."
)
class JointPurchaseSavings:
    direction: str = strawberry.field(
        description="BUY (members paid less) or SELL (members received more)."
    )
    currency: str = strawberry.field(description="ISO 4217 code.")
    groups: int | None = strawberry.field(
        description="Groups ordered in the period; null when suppressed."
    )
    organisations: int | None = strawberry.field(
        description="Organisations (and people without one) that pledged; null when suppressed."
    )
    at_group_price: Decimal | None = strawberry.field(
        description="Pledged quantities at the tier the group reached; null when suppressed."
    )
    at_single_buyer_price: Decimal | None = strawberry.field(
        description="The same quantities at the single-buyer (first tier) price; null when "
        "suppressed."
    )
    saved: Decimal | None = strawberry.field(
        description="What joining saved (BUY) or earned (SELL); null when suppressed."
    )
    suppressed: bool = strawberry.field(
        description="Fewer than three organisations took part (public view): no figures."
    )


@strawberry.type(description="Event attendance by the kind of organisation people came for.")
class EventAttendance:
    kind: OrganisationKind | None = strawberry.field(
        description="The kind; null for people registered for no organisation."
    )
    registrations: int | None = strawberry.field(
        description="Confirmed registrations; null when suppressed."
    )
    seats: int | None = strawberry.field(description="Seats they took; null when suppressed.")
    organisations: int | None = strawberry.field(
        description="Organisations among them; null when suppressed."
    )
    people: int | None = strawberry.field(description="People among them; null when suppressed.")
    events: int | None = strawberry.field(description="Events they attended; null when suppressed.")
    suppressed: bool = strawberry.field(
        description="Fewer than three organisations (or people, for no organisation) in the "
        "public view: no figures."
    )


@strawberry.type(description="Organisations of one kind and how many.")
class KindCount:
    kind: OrganisationKind = strawberry.field(description="The kind.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="What was written in the cluster's forums in the period.")
class ForumActivityFigures:
    forums: int = strawberry.field(description="Forums with a contribution in the period.")
    threads: int = strawberry.field(description="Threads started in the period.")
    posts: int = strawberry.field(description="Replies posted, not deleted or hidden.")
    organisations: int = strawberry.field(description="Organisations that wrote.")
    threads_across_organisations: int = strawberry.field(
        description="Threads written in by two organisations or more (cooperation across firms)."
    )
    organisations_by_kind: list[KindCount] = strawberry.field(
        description="The organisations that wrote, by kind."
    )


@strawberry.type(
    description="Social capital and knowledge: joint purchasing, knowledge-transfer events and "
    "the forums, over the insights' period."
)
class SocialCapital:
    joint_purchasing: list[JointPurchaseSavings] = strawberry.field(
        description="Savings of joint purchasing, by direction and currency."
    )
    event_attendance: list[EventAttendance] = strawberry.field(
        description="Attendance at the period's published events, by kind of organisation."
    )
    events_held: int = strawberry.field(description="Published events held in the period.")
    events_by_organiser_kind: list[KindCount] = strawberry.field(
        description="Those events by the kind of organisation that held them (knowledge "
        "transfer is mostly the institutions')."
    )
    forums: ForumActivityFigures | None = strawberry.field(
        description="Forum activity; null when fewer than three organisations wrote (public view)."
    )

    @classmethod
    def of(cls, social: service.SocialCapital) -> SocialCapital:
        def amount(value: Decimal, hidden: bool) -> Decimal | None:
            return None if hidden else plain_number(value)

        def count(value: int, hidden: bool) -> int | None:
            return None if hidden else value

        forums = social.forums
        return cls(
            joint_purchasing=[
                JointPurchaseSavings(
                    direction=s.direction,
                    currency=s.currency,
                    groups=count(s.groups, s.suppressed),
                    organisations=count(s.organisations, s.suppressed),
                    at_group_price=amount(s.at_group_price, s.suppressed),
                    at_single_buyer_price=amount(s.at_single_buyer_price, s.suppressed),
                    saved=amount(s.saved, s.suppressed),
                    suppressed=s.suppressed,
                )
                for s in social.savings
            ],
            event_attendance=[
                EventAttendance(
                    kind=a.kind,
                    registrations=count(a.registrations, a.suppressed),
                    seats=count(a.seats, a.suppressed),
                    organisations=count(a.organisations, a.suppressed),
                    people=count(a.people, a.suppressed),
                    events=count(a.events, a.suppressed),
                    suppressed=a.suppressed,
                )
                for a in social.attendance
            ],
            events_held=social.events_held,
            events_by_organiser_kind=[
                KindCount(kind=k, count=n) for k, n in social.events_by_organiser_kind.items()
            ],
            forums=ForumActivityFigures(
                forums=forums.forums,
                threads=forums.threads,
                posts=forums.posts,
                organisations=forums.organisations,
                threads_across_organisations=forums.threads_across_organisations,
                organisations_by_kind=[
                    KindCount(kind=k, count=n) for k, n in forums.by_kind.items()
                ],
            )
            if forums
            else None,
        )


@strawberry.type(
    description="A cluster's inter-firm network, its gaps and its impact over a period, as the "
    "reader may see them (`audience`)."
)
class ClusterInsights:
    cluster_id: strawberry.ID = strawberry.field(description="The cluster.")
    cluster_name: str = strawberry.field(description="Its name.")
    from_: date = strawberry.field(name="from", description="First day (cluster's time zone).")
    to: date = strawberry.field(description="Last day, included.")
    time_zone: str = strawberry.field(description="The cluster's IANA time zone.")
    audience: Audience = strawberry.field(description="What the reader sees.")
    members: MemberFigures = strawberry.field(description="The cluster's organisations.")
    network: NetworkFigures | None = strawberry.field(
        description="The network's figures; null in the public view when fewer than three "
        "organisations traded."
    )
    anchors: list[AnchorShare] | None = strawberry.field(
        description="The ten organisations the diverted kilograms lean on most; null in the "
        "public view."
    )
    dependent_suppliers: int | None = strawberry.field(
        description="Suppliers that sent more than 80 % of their kilograms to a single taker; "
        "null with `network`."
    )
    dependences: list[SupplierDependence] | None = strawberry.field(
        description="The ten largest of those suppliers; null in the public view."
    )
    isolated_count: int = strawberry.field(
        description="Member firms and communities with no completed trade in the period."
    )
    unmatched_after_days: int = strawberry.field(
        description="Offers count as unmatched after this many days without an offer."
    )
    unmatched_by_material: list[UnmatchedMaterial] = strawberry.field(
        description="Unmatched offers by material, most kilograms first."
    )
    flows: list[MaterialFlow] = strawberry.field(
        description="Material flows between activities, most kilograms first (a Sankey "
        "diagram's data)."
    )
    months: list[MonthOutcomes] = strawberry.field(
        description="The outcomes month by month (every month of the period)."
    )
    totals: TradeOutcomes = strawberry.field(description="The outcomes over the whole period.")
    view: strawberry.Private[service.ClusterInsights]

    @strawberry.field(
        description="Joint-purchasing savings, event attendance and forum activity over the "
        "period (read when asked: six statements)."
    )
    async def social_capital(self, info: strawberry.Info) -> SocialCapital:
        social = await service.social_capital(db=context_of(info).db, insights=self.view)
        return SocialCapital.of(social)

    @strawberry.field(
        description="The isolated members by name (whom a programme should reach first); null "
        "in the public view."
    )
    def isolated_members(
        self, first: First = None, after: After = None
    ) -> Connection[InsightsOrganisation] | None:
        if self.view.audience is not policies.Audience.NAMED:
            return None
        page = service.isolated_members(self.view, PageRequest.of(first, after))
        return Connection[InsightsOrganisation].of(page, InsightsOrganisation.of)

    @strawberry.field(
        description="The unmatched offers, the longest waiting first, each with its best "
        "candidate takers; null in the public view.",
        metadata=page_size(
            default=service.UNMATCHED_PAGE_DEFAULT, most=service.UNMATCHED_PAGE_MOST
        ),
    )
    async def unmatched_offers(
        self,
        info: strawberry.Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"At most this many offers ({service.UNMATCHED_PAGE_DEFAULT} by "
                f"default, at most {service.UNMATCHED_PAGE_MOST}): each runs the matching "
                "engine."
            ),
        ] = None,
        after: After = None,
    ) -> Connection[UnmatchedOffer] | None:
        if self.view.audience is not policies.Audience.NAMED:
            return None
        context = context_of(info)
        now = context.clock.now()
        page = await service.unmatched_offers(
            db=context.db, insights=self.view, page=service.unmatched_page(first, after), now=now
        )

        def node(offer: service.UnmatchedOffer) -> UnmatchedOffer:
            return UnmatchedOffer(
                listing=ListingType.of(offer.listing, context.viewer, now),
                seller=InsightsOrganisation.of(offer.seller),
                waiting_days=offer.waiting_days,
                candidate_takers=[
                    CandidateTaker(
                        organisation=InsightsOrganisation.of(c.organisation),
                        match=MatchType.of(c.match, context.viewer, now),
                    )
                    for c in offer.candidate_takers
                ],
            )

        return Connection[UnmatchedOffer].of(page, node)

    @classmethod
    def of(
        cls, insights: service.ClusterInsights, materials: dict[str, Material]
    ) -> ClusterInsights:
        def material(code: str | None) -> MaterialType | None:
            found = materials.get(code) if code else None
            return MaterialType.of(found) if found else None

        named = insights.audience is policies.Audience.NAMED
        return cls(
            cluster_id=strawberry.ID(str(insights.cluster.id)),
            cluster_name=insights.cluster.name,
            from_=insights.period.starts_on,
            to=insights.period.ends_on,
            time_zone=insights.period.time_zone,
            audience=insights.audience,
            members=MemberFigures(
                total=insights.members.total,
                firms=insights.members.firms,
                communities=insights.members.communities,
                institutions=insights.members.institutions,
                at_start=insights.members.at_start,
                joined=insights.members.joined,
                growth=insights.members.growth,
            ),
            network=NetworkFigures.of(insights.network) if insights.network else None,
            anchors=[
                AnchorShare(
                    organisation=InsightsOrganisation.of(a.organisation),
                    kg=plain_number(a.kg),
                    share=a.share,
                    partners=a.partners,
                )
                for a in insights.anchors
            ]
            if named
            else None,
            dependent_suppliers=insights.dependent_suppliers,
            dependences=[
                SupplierDependence(
                    supplier=InsightsOrganisation.of(d.supplier),
                    taker=InsightsOrganisation.of(d.taker),
                    share=d.share,
                    supplied_kg=plain_number(d.supplied_kg),
                    takers=d.takers,
                )
                for d in insights.dependences
            ]
            if named
            else None,
            isolated_count=insights.isolated_members,
            unmatched_after_days=insights.unmatched_after_days,
            unmatched_by_material=[
                UnmatchedMaterial(
                    material=material(u.material_code),
                    listings=u.listings,
                    organisations=u.organisations,
                    kg=plain_number(u.kg),
                    listings_without_mass=u.listings_without_mass,
                    other=u.other,
                )
                for u in insights.unmatched_by_material
            ],
            flows=[
                MaterialFlow(
                    supplier_activity=_activity(f.supplier_activity),
                    material=material(f.material_code),
                    taker_activity=_activity(f.taker_activity),
                    kg=plain_number(f.kg),
                    co2e_kg=plain_number(f.co2e_kg),
                    trades=f.trades,
                    organisations=f.organisations,
                    other=f.other,
                )
                for f in insights.flows
            ],
            months=[
                MonthOutcomes(month=m.month, outcomes=TradeOutcomes.of(m.outcomes))
                for m in insights.months
            ],
            totals=TradeOutcomes.of(insights.totals),
            view=insights,
        )


async def _materials(info: strawberry.Info, *views: service.ClusterInsights) -> dict[str, Material]:
    codes = {
        code
        for view in views
        for code in [f.material_code for f in view.flows]
        + [u.material_code for u in view.unmatched_by_material]
        if code
    }
    return await catalogue_service.materials_by_code(db=context_of(info).db, codes=codes)


@strawberry.type(
    description="One cluster in the comparison of clusters (the policy brief's Table 1, "
    "computed; always the public view)."
)
class ClusterComparison:
    insights: ClusterInsights = strawberry.field(description="The cluster's public insights.")
    top_conversions: list[MaterialFlow] = strawberry.field(
        description="Its main eco-activities: the three largest material flows."
    )


@strawberry.type
class InsightsQuery:
    @strawberry.field(
        description="A cluster's inter-firm network, gaps and impact over a period (calendar "
        "days in the cluster's time zone, both included; by default the twelve months up to "
        "today). Anyone may read the aggregates; the cluster's verified institutions and "
        "platform admins also see organisations by name (`audience`). VALIDATION for a period "
        "that ends before it starts or covers more than 120 months; NOT_FOUND for an unknown "
        "cluster. Rate-limited (THROTTLED with `extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def cluster_insights(
        self,
        info: strawberry.Info,
        cluster_id: Annotated[strawberry.ID, strawberry.argument(description="The cluster.")],
        from_: Annotated[
            date | None,
            strawberry.argument(
                name="from", description="First day (YYYY-MM-DD, the cluster's time zone)."
            ),
        ] = None,
        to: Annotated[
            date | None,
            strawberry.argument(description="Last day, included (YYYY-MM-DD); default today."),
        ] = None,
        unmatched_after_days: Annotated[
            int,
            strawberry.argument(
                description="Offers count as unmatched after this many days without an offer "
                "(1-365)."
            ),
        ] = service.DEFAULT_UNMATCHED_DAYS,
    ) -> ClusterInsights:
        context = context_of(info)
        insights = await service.cluster_insights(
            db=context.db,
            viewer=context.viewer,
            cluster_id=parse_id(cluster_id, "clusterId"),
            starts_on=from_,
            ends_on=to,
            unmatched_after_days=unmatched_after_days,
            now=context.clock.now(),
        )
        return ClusterInsights.of(insights, await _materials(info, insights))

    @strawberry.field(
        description="Every cluster side by side over the same calendar days (each in its own "
        "time zone): growth in member organisations, network type, main eco-activities and key "
        "benefits. Public view. Rate-limited (THROTTLED with `extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def cluster_comparison(
        self,
        info: strawberry.Info,
        from_: Annotated[
            date | None,
            strawberry.argument(name="from", description="First day (YYYY-MM-DD)."),
        ] = None,
        to: Annotated[
            date | None,
            strawberry.argument(description="Last day, included (YYYY-MM-DD); default today."),
        ] = None,
    ) -> list[ClusterComparison]:
        context = context_of(info)
        rows = await service.compare_clusters(
            db=context.db, starts_on=from_, ends_on=to, now=context.clock.now()
        )
        materials = await _materials(info, *(row.insights for row in rows))
        result = []
        for row in rows:
            insights = ClusterInsights.of(row.insights, materials)
            result.append(
                ClusterComparison(
                    insights=insights,
                    top_conversions=[f for f in insights.flows if not f.other][:3],
                )
            )
        return result
