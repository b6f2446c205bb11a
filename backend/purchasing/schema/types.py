"""GraphQL types, inputs and payloads of joint purchasing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.graphql.types import Payload, given, parse_id, parse_optional_id
from backend.identity.schema import ClusterType, OrganisationType
from backend.kit.money import plain_number
from backend.kit.validation import UNCHANGED
from backend.marketplace.schema.types import MaterialType, UnitType
from backend.purchasing import models, policies, service
from backend.purchasing.models import (
    CostSplit,
    Direction,
    GroupStatus,
    GroupVisibility,
    PledgeStatus,
)
from backend.purchasing.service.common import SETTLED

strawberry.enum(
    Direction,
    description="BUY: members pool their purchases (a supplier's minimum, a better price tier). "
    "SELL: producers pool a by-product to sell as one lot.",
)
strawberry.enum(
    CostSplit,
    description="How shared costs are split: PRO_RATA to quantity, or EQUAL per participant.",
)
strawberry.enum(
    GroupVisibility,
    description="Who may join (and see) the group: MEMBERS of the organiser, organisations of "
    "its CLUSTER, or anyone signed in (PUBLIC; readable without signing in too).",
)
strawberry.enum(
    GroupStatus,
    description="OPEN -> CONFIRMED (deadline passed with the minimum, or closed early) -> "
    "ORDERED -> DELIVERED; FAILED (deadline passed below the minimum); CANCELLED (by the "
    "organiser, before the deadline). Always as of now: an open group past its deadline reads "
    "CONFIRMED or FAILED at once.",
)
strawberry.enum(PledgeStatus, description="ACTIVE, or WITHDRAWN by the participant.")

ROUNDING = (
    "The total is rounded once to the currency's minor unit (halves away from zero). Each "
    "line is its exact amount rounded down to the minor unit; the units still missing go one "
    "each to the lines with the largest remainders (ties: the earlier pledge). The lines add "
    "up exactly to the total."
)


@strawberry.type(name="PriceTier", description="From this total quantity on, this unit price.")
class PriceTierType:
    min_quantity: Decimal = strawberry.field(description="Total quantity that reaches the tier.")
    price_per_unit: Decimal = strawberry.field(description="Price per unit for everyone.")

    @classmethod
    def of(cls, tier: service.PriceTier) -> PriceTierType:
        return cls(
            min_quantity=plain_number(tier.min_quantity),
            price_per_unit=plain_number(tier.price_per_unit),
        )


@strawberry.input(description="A price tier of a new group.")
class PriceTierInput:
    min_quantity: Decimal = strawberry.field(description="Total quantity that reaches the tier.")
    price_per_unit: Decimal = strawberry.field(description="Price per unit, more than zero.")

    def to_service(self) -> service.PriceTier:
        return service.PriceTier(self.min_quantity, self.price_per_unit)


@strawberry.type(description="A person taking part, as shown to those who may see pledges.")
class PledgePerson:
    user_id: strawberry.ID = strawberry.field(description="Their user id.")
    display_name: str = strawberry.field(description="Their name.")


@strawberry.type(name="Pledge", description="A participant's quantity in a purchasing group.")
class PledgeType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    quantity: Decimal = strawberry.field(description="How much, in the group's unit.")
    status: PledgeStatus = strawberry.field(description="Active or withdrawn.")
    participant: PledgePerson = strawberry.field(description="Who the quantity is for.")
    acted_by: PledgePerson | None = strawberry.field(
        description="Who last pledged or changed it: the participant, or a facilitator of "
        "their community acting for them."
    )
    on_behalf: bool = strawberry.field(
        description="Whether someone else (a facilitator) acted for the participant."
    )
    organisation_id: strawberry.ID | None = strawberry.field(
        description="The organisation they take part through."
    )
    organisation_name: str | None = strawberry.field(description="Its name.")
    created_at: datetime = strawberry.field(description="When it was first pledged.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    withdrawn_at: datetime | None = strawberry.field(description="When it was withdrawn.")
    view: strawberry.Private[Any]

    @strawberry.field(description="The group (null where the group is the parent of this).")
    def group(self) -> PurchaseGroupType | None:
        return self.view

    @classmethod
    def of(cls, pledge: models.Pledge, group: PurchaseGroupType | None = None) -> PledgeType:
        return cls(
            id=strawberry.ID(str(pledge.id)),
            quantity=plain_number(pledge.quantity),
            status=pledge.status,
            participant=PledgePerson(
                user_id=strawberry.ID(str(pledge.participant_id)),
                display_name=pledge.participant.display_name,
            ),
            acted_by=(
                PledgePerson(
                    user_id=strawberry.ID(str(pledge.acted_by_id)),
                    display_name=pledge.acted_by.display_name,
                )
                if pledge.acted_by is not None
                else None
            ),
            on_behalf=pledge.acted_by_id is not None
            and pledge.acted_by_id != pledge.participant_id,
            organisation_id=(
                strawberry.ID(str(pledge.organisation_id)) if pledge.organisation_id else None
            ),
            organisation_name=pledge.organisation.name if pledge.organisation else None,
            created_at=pledge.created_at,
            updated_at=pledge.updated_at,
            withdrawn_at=pledge.withdrawn_at,
            view=group,
        )


@strawberry.type(description="What one participant pays (BUY) or receives (SELL).")
class SettlementLine:
    pledge_id: strawberry.ID = strawberry.field(description="The pledge.")
    participant: PledgePerson = strawberry.field(description="Who.")
    organisation_name: str | None = strawberry.field(description="Through which organisation.")
    quantity: Decimal = strawberry.field(description="Their quantity.")
    amount: Decimal = strawberry.field(
        description="Quantity x unit price, plus (BUY) or minus (SELL) their share of the "
        "shared costs, in the currency's minor unit."
    )


@strawberry.type(description="Who pays or receives what, once the group is confirmed.")
class Settlement:
    currency: str = strawberry.field(description="ISO 4217 currency.")
    tier: PriceTierType = strawberry.field(description="The tier the total reached.")
    unit_price: Decimal = strawberry.field(description="The tier's price, for everyone.")
    total_quantity: Decimal = strawberry.field(description="The total pledged.")
    shared_costs: Decimal = strawberry.field(description="Costs shared by the participants.")
    total: Decimal = strawberry.field(
        description="Quantity x price over all lines, plus (BUY) or minus (SELL) the shared "
        "costs, rounded to the minor unit. The lines add up to it exactly."
    )
    lines: list[SettlementLine] = strawberry.field(
        description="One per participant, in pledge order: all of them for the organiser, only "
        "their own (or those they pledged for) for a participant, none for others."
    )
    rounding: str = strawberry.field(description="How rounding remainders are assigned.")


def _settlement(view: service.GroupView, viewer: Viewer | Anonymous) -> Settlement | None:
    group = view.group
    if view.status not in SETTLED:
        return None
    settled = service.settle(
        pledges=view.pledges,
        tiers=[service.PriceTier.of(t) for t in group.price_tiers],
        shared_costs=group.shared_costs,
        cost_split=group.cost_split,
        direction=group.direction,
        currency=group.currency,
    )
    if settled is None:
        return None
    return Settlement(
        currency=settled.currency,
        tier=PriceTierType.of(settled.tier),
        unit_price=plain_number(settled.tier.price_per_unit),
        total_quantity=plain_number(settled.total_quantity),
        shared_costs=plain_number(settled.shared_costs),
        total=settled.total,
        lines=[
            SettlementLine(
                pledge_id=strawberry.ID(str(line.pledge.id)),
                participant=PledgePerson(
                    user_id=strawberry.ID(str(line.pledge.participant_id)),
                    display_name=line.pledge.participant.display_name,
                ),
                organisation_name=(
                    line.pledge.organisation.name if line.pledge.organisation else None
                ),
                quantity=plain_number(line.pledge.quantity),
                amount=line.amount,
            )
            for line in settled.lines
            if policies.sees_pledge(viewer, group, line.pledge)
        ],
        rounding=ROUNDING,
    )


@strawberry.type(
    name="PurchaseGroup",
    description="A joint purchase (or joint sale) that members pledge quantities to.",
)
class PurchaseGroupType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="What, from whom, delivery terms.")
    item_name: str = strawberry.field(description="The item, in words (fish feed 28% protein).")
    material: MaterialType | None = strawberry.field(description="Catalogue material, if any.")
    unit: UnitType = strawberry.field(description="Unit of every quantity of the group.")
    direction: Direction = strawberry.field(description="Pooling a purchase or a sale.")
    status: GroupStatus = strawberry.field(description="Status as of now.")
    min_quantity: Decimal = strawberry.field(description="Total needed to go ahead.")
    max_quantity: Decimal | None = strawberry.field(description="Most the group takes, if set.")
    pledged_quantity: Decimal = strawberry.field(description="Total pledged so far.")
    remaining_quantity: Decimal | None = strawberry.field(
        description="How much more fits under the maximum; null without one."
    )
    minimum_reached: bool = strawberry.field(description="Whether the total reached the minimum.")
    participants_count: int = strawberry.field(description="How many have active pledges.")
    price_tiers: list[PriceTierType] = strawberry.field(description="Tiers, smallest first.")
    current_tier: PriceTierType | None = strawberry.field(
        description="The tier the total reaches now; null below the first tier."
    )
    next_tier: PriceTierType | None = strawberry.field(description="The next tier up, if any.")
    quantity_to_next_tier: Decimal | None = strawberry.field(
        description="How much more reaches the next tier; null at the top tier."
    )
    currency: str = strawberry.field(description="ISO 4217 currency of prices and costs.")
    shared_costs: Decimal = strawberry.field(description="Costs shared (transport ...).")
    cost_split: CostSplit = strawberry.field(description="How shared costs are split.")
    deadline: datetime = strawberry.field(description="When pledging ends.")
    seconds_left: int = strawberry.field(description="Seconds until the deadline; 0 after it.")
    visibility: GroupVisibility = strawberry.field(description="Who may join.")
    organiser: OrganisationType = strawberry.field(description="The organising organisation.")
    counterpart: OrganisationType | None = strawberry.field(
        description="The supplier (BUY) or buyer (SELL), if known."
    )
    cluster: ClusterType = strawberry.field(description="The organiser's cluster.")
    my_pledge: PledgeType | None = strawberry.field(
        description="The viewer's own pledge, withdrawn ones too."
    )
    can_manage: bool = strawberry.field(description="Whether the viewer organises it.")
    can_pledge: bool = strawberry.field(
        description="Whether the viewer may pledge now (eligible, and the group is open)."
    )
    settlement: Settlement | None = strawberry.field(
        description="Who pays what, once CONFIRMED (also ORDERED and DELIVERED); null before."
    )
    cancellation_reason: str = strawberry.field(description="Why it was cancelled, if it was.")
    version: int = strawberry.field(
        description="Bumped on every change; send it back as `expectedVersion` when updating."
    )
    created_at: datetime = strawberry.field(description="When it was started.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    closed_at: datetime | None = strawberry.field(
        description="When pledging ended (the deadline, or an early close)."
    )
    ordered_at: datetime | None = strawberry.field(description="When the order was placed.")
    delivered_at: datetime | None = strawberry.field(description="When it was delivered.")
    cancelled_at: datetime | None = strawberry.field(description="When it was cancelled.")

    @classmethod
    def of(
        cls, view: service.GroupView, viewer: Viewer | Anonymous, now: datetime
    ) -> PurchaseGroupType:
        group = view.group
        tiers = [service.PriceTier.of(t) for t in group.price_tiers]
        progress = service.tier_progress(tiers, group.pledged_quantity)
        remaining = (
            None
            if group.max_quantity is None
            else plain_number(max(Decimal(0), group.max_quantity - group.pledged_quantity))
        )
        return cls(
            id=strawberry.ID(str(group.id)),
            title=group.title,
            description=group.description,
            item_name=group.item_name,
            material=MaterialType.of(group.material) if group.material else None,
            unit=UnitType.of(group.unit),
            direction=group.direction,
            status=view.status,
            min_quantity=plain_number(group.min_quantity),
            max_quantity=None if group.max_quantity is None else plain_number(group.max_quantity),
            pledged_quantity=plain_number(group.pledged_quantity),
            remaining_quantity=remaining,
            minimum_reached=group.pledged_quantity >= group.min_quantity,
            participants_count=group.participants_count,
            price_tiers=[PriceTierType.of(t) for t in tiers],
            current_tier=PriceTierType.of(progress.current) if progress.current else None,
            next_tier=PriceTierType.of(progress.next) if progress.next else None,
            quantity_to_next_tier=None
            if progress.to_next is None
            else plain_number(progress.to_next),
            currency=group.currency,
            shared_costs=plain_number(group.shared_costs),
            cost_split=group.cost_split,
            deadline=group.deadline,
            seconds_left=max(0, int((group.deadline - now).total_seconds())),
            visibility=group.visibility,
            organiser=OrganisationType.of(group.organisation),
            counterpart=OrganisationType.of(group.counterpart) if group.counterpart else None,
            cluster=ClusterType.of(group.cluster),
            my_pledge=PledgeType.of(view.my_pledge) if view.my_pledge else None,
            can_manage=policies.organises(viewer, group),
            can_pledge=view.viewer_may_join and view.status is GroupStatus.OPEN,
            settlement=_settlement(view, viewer),
            cancellation_reason=group.cancellation_reason,
            version=group.version,
            created_at=group.created_at,
            updated_at=group.updated_at,
            # Pledging ended at the deadline even before the due-job runner recorded it.
            closed_at=group.closed_at
            or (
                group.deadline
                if view.status in (GroupStatus.CONFIRMED, GroupStatus.FAILED)
                else None
            ),
            ordered_at=group.ordered_at,
            delivered_at=group.delivered_at,
            cancelled_at=group.cancelled_at,
        )


@strawberry.input(description="A new purchasing group, OPEN at once.")
class PurchaseGroupCreateInput:
    title: str = strawberry.field(description="3 to 200 characters.")
    item_name: str = strawberry.field(description="The item in words.")
    unit: str = strawberry.field(description="UN/ECE Rec 20 unit code (KGM, TNE, BG, H87 ...).")
    direction: Direction = strawberry.field(description="BUY or SELL.")
    min_quantity: Decimal = strawberry.field(description="Total needed to go ahead.")
    price_tiers: list[PriceTierInput] = strawberry.field(
        description="1 to 10 tiers, smallest quantity first; the first at or below the minimum."
    )
    deadline: datetime = strawberry.field(description="When pledging ends, within a year.")
    visibility: GroupVisibility = strawberry.field(description="Who may join.")
    description: str = strawberry.field(default="", description="Details.")
    material_code: str | None = strawberry.field(default=None, description="Catalogue code.")
    max_quantity: Decimal | None = strawberry.field(
        default=None, description="Most the group takes; pledges beyond it are refused."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; the cluster's currency when omitted."
    )
    shared_costs: Decimal = strawberry.field(
        default=Decimal(0), description="Costs shared by all (transport ...)."
    )
    cost_split: CostSplit = strawberry.field(
        default=CostSplit.PRO_RATA, description="How shared costs are split."
    )
    counterpart_organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The supplier (BUY) or buyer (SELL), if on the platform."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retried request creates nothing new."
    )

    def to_service(self) -> service.GroupDraft:
        return service.GroupDraft(
            id=parse_optional_id(self.id, "id"),
            title=self.title,
            description=self.description,
            item_name=self.item_name,
            material_code=self.material_code,
            unit_code=self.unit,
            direction=self.direction,
            min_quantity=self.min_quantity,
            max_quantity=self.max_quantity,
            price_tiers=[tier.to_service() for tier in self.price_tiers],
            currency=self.currency,
            shared_costs=self.shared_costs,
            cost_split=self.cost_split,
            deadline=self.deadline,
            visibility=self.visibility,
            counterpart_organisation_id=parse_optional_id(
                self.counterpart_organisation_id, "counterpartOrganisationId"
            ),
        )


@strawberry.input(
    description="Changes to an open group; omitted fields stay. Once somebody has pledged only "
    "the title, the description, a later deadline and a higher (or no) maximum may change."
)
class PurchaseGroupUpdateInput:
    id: strawberry.ID = strawberry.field(description="The group.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New description.")
    item_name: str | None = strawberry.field(default=None, description="New item.")
    material_code: str | None = strawberry.field(
        default=strawberry.UNSET, description="New material; null removes it."
    )
    unit: str | None = strawberry.field(default=None, description="New unit.")
    direction: Direction | None = strawberry.field(default=None, description="New direction.")
    min_quantity: Decimal | None = strawberry.field(default=None, description="New minimum.")
    max_quantity: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="New maximum; null removes it."
    )
    price_tiers: list[PriceTierInput] | None = strawberry.field(
        default=None, description="New tiers, replacing the old."
    )
    currency: str | None = strawberry.field(default=None, description="New currency.")
    shared_costs: Decimal | None = strawberry.field(default=None, description="New costs.")
    cost_split: CostSplit | None = strawberry.field(default=None, description="New split.")
    deadline: datetime | None = strawberry.field(default=None, description="New deadline.")
    visibility: GroupVisibility | None = strawberry.field(
        default=None, description="New visibility."
    )
    counterpart_organisation_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="New counterpart; null removes it."
    )

    def to_service(self) -> service.GroupChanges:
        counterpart = given(self.counterpart_organisation_id)
        return service.GroupChanges(
            title=self.title,
            description=self.description,
            item_name=self.item_name,
            material_code=given(self.material_code),
            unit_code=self.unit,
            direction=self.direction,
            min_quantity=self.min_quantity,
            max_quantity=given(self.max_quantity),
            price_tiers=(
                None if self.price_tiers is None else [t.to_service() for t in self.price_tiers]
            ),
            currency=self.currency,
            shared_costs=self.shared_costs,
            cost_split=self.cost_split,
            deadline=self.deadline,
            visibility=self.visibility,
            counterpart_organisation_id=(
                counterpart
                if counterpart is UNCHANGED
                else parse_optional_id(counterpart, "counterpartOrganisationId")
            ),
        )


@strawberry.input(description="Narrow the groups; every given condition must hold.")
class PurchaseGroupFilter:
    cluster_id: strawberry.ID | None = strawberry.field(default=None, description="Cluster.")
    status: GroupStatus | None = strawberry.field(default=None, description="Status as of now.")
    direction: Direction | None = strawberry.field(default=None, description="BUY or SELL.")
    material_code: str | None = strawberry.field(
        default=None, description="This material or anything below it in the catalogue."
    )
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="One organiser's groups."
    )
    participating: bool = strawberry.field(
        default=False, description="Only groups the viewer pledged to (or pledged for)."
    )

    def to_service(self) -> service.GroupFilter:
        return service.GroupFilter(
            cluster_id=parse_optional_id(self.cluster_id, "filter.clusterId"),
            status=self.status,
            direction=self.direction,
            material_code=self.material_code,
            organisation_id=parse_optional_id(self.organisation_id, "filter.organisationId"),
            participating=self.participating,
        )


@strawberry.input(description="A pledge to a group.")
class PurchaseGroupPledgeInput:
    group_id: strawberry.ID = strawberry.field(description="The group.")
    quantity: Decimal = strawberry.field(description="How much, in the group's unit.")
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None,
        description="A member of the community you act for (a community admin pledging for a "
        "member without a phone); omitted: for yourself.",
    )

    def group(self) -> Any:
        return parse_id(self.group_id, "groupId")

    def member(self) -> Any:
        return parse_optional_id(self.on_behalf_of, "onBehalfOf")


@strawberry.input(description="A new quantity for a pledge.")
class PurchaseGroupPledgeUpdateInput:
    pledge_id: strawberry.ID = strawberry.field(description="The pledge.")
    quantity: Decimal = strawberry.field(description="The new quantity, more than zero.")


@strawberry.type(description="The group after a mutation.")
class PurchaseGroupPayload(Payload):
    purchase_group: PurchaseGroupType | None = strawberry.field(
        default=None, description="The group; null when there are errors."
    )


@strawberry.type(description="The pledge after a mutation.")
class PledgePayload(Payload):
    pledge: PledgeType | None = strawberry.field(
        default=None, description="The pledge, with its group; null when there are errors."
    )
