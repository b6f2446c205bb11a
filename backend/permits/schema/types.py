"""GraphQL types, inputs and payloads of umbrella permits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import Payload, context_of, parse_id, parse_optional_id
from backend.identity.models import Organisation
from backend.identity.schema import ClusterType, OrganisationType
from backend.kit.money import plain_number
from backend.kit.pagination import PageRequest
from backend.marketplace.schema.types import MaterialType, UnitType
from backend.permits import service
from backend.permits.models import (
    Frequency,
    LedgerReason,
    Parameter,
    TransferRule,
    TransferStatus,
)
from backend.permits.policies import Standing

strawberry.enum(
    TransferRule,
    description="How members pass allocation to one another: FREE (a transfer between covered "
    "members is done at once) or HOLDER_APPROVAL (it waits for an admin of the holder).",
)
strawberry.enum(
    Parameter,
    description="What a condition caps: WASTE_TO_LANDFILL and WASTE_TO_OPEN_BURNING (a waste "
    "stream, by its EWC code), BOD, COD and TOTAL_NITROGEN (effluent loads discharged), CO2E "
    "(greenhouse gases emitted, as CO2 equivalent).",
)
strawberry.enum(
    Frequency,
    description="The reporting period of a condition (MONTHLY, QUARTERLY, YEARLY): its cap "
    "holds per period, and a return is due for each.",
)
strawberry.enum(
    LedgerReason,
    description="Why an allocation changed: ALLOCATED (the holder set it), TRANSFER_OUT and "
    "TRANSFER_IN (the two sides of a transfer), MEMBER_REMOVED (the member's cover ended and "
    "its allocation went back to the pool).",
)
strawberry.enum(
    TransferStatus,
    description="PENDING (waiting for the holder's approval), DONE, REFUSED (by the holder), "
    "CANCELLED (by the sender, before a decision).",
)

OrganisationIdArgument = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="One member's entries; omitted: everyone's for those who read all, the "
        "viewer's own organisation's for a member."
    ),
]


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def _organisation(organisations: dict[uuid.UUID, Organisation], key: uuid.UUID) -> Any:
    return OrganisationType.of(organisations[key])


@strawberry.type(
    description="What the viewer is to a permit, for the app to know which actions to offer."
)
class PermitViewerStanding:
    holder: bool = strawberry.field(description="Acting for the permit's holder.")
    holder_admin: bool = strawberry.field(
        description="An admin of the holder: manages members, conditions, allocations and "
        "pending transfers."
    )
    authority: bool = strawberry.field(
        description="Acting for the verified authority that issued it: reads everything about "
        "it and changes its validity."
    )
    member: bool = strawberry.field(
        description="Acting for an organisation the permit covers or covered."
    )
    member_admin: bool = strawberry.field(
        description="An admin of such a member: transfers its allocation."
    )
    platform_admin: bool = strawberry.field(description="A platform admin (reads everything).")

    @classmethod
    def of(cls, standing: Standing) -> PermitViewerStanding:
        return cls(
            holder=standing.holder,
            holder_admin=standing.holder_admin,
            authority=standing.authority,
            member=standing.member,
            member_admin=standing.member_admin,
            platform_admin=standing.platform_admin,
        )


@strawberry.type(
    name="PermitMember",
    description="One span of an organisation's cover by a permit. Re-adding a removed member "
    "opens a new span, so who was covered on any day stays exact.",
)
class PermitMemberType:
    id: strawberry.ID = strawberry.field(description="Opaque id of the span.")
    organisation: OrganisationType = strawberry.field(description="The covered organisation.")
    covered_from: date = strawberry.field(description="The first day covered.")
    covered_to: date | None = strawberry.field(
        description="The last day covered; null while the cover lasts."
    )
    current: bool = strawberry.field(description="Whether the span is open (not removed).")
    created_at: datetime = strawberry.field(description="When it was added.")
    removed_at: datetime | None = strawberry.field(description="When it was removed.")

    @classmethod
    def of(cls, view: service.MemberView) -> PermitMemberType:
        member = view.member
        return cls(
            id=_id(member.id),
            organisation=OrganisationType.of(view.organisation),
            covered_from=member.covered_from,
            covered_to=member.covered_to,
            current=member.covered_to is None,
            created_at=member.created_at,
            removed_at=member.removed_at,
        )


@strawberry.type(
    name="Allocation",
    description="A member's standing share of a condition's cap, per period, in the "
    "condition's unit.",
)
class AllocationType:
    organisation: OrganisationType = strawberry.field(description="The member.")
    amount: Decimal = strawberry.field(description="Its share per period.")
    version: int = strawberry.field(description="Bumped on every change.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, allocation: Any, organisations: dict[uuid.UUID, Organisation]) -> AllocationType:
        return cls(
            organisation=_organisation(organisations, allocation.organisation_id),
            amount=plain_number(allocation.amount),
            version=allocation.version,
            updated_at=allocation.updated_at,
        )


@strawberry.type(
    name="AllocationEntry",
    description="One change of a member's allocation, in the append-only ledger: never changed "
    "or deleted.",
)
class AllocationEntryType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    organisation: OrganisationType = strawberry.field(description="The member whose it is.")
    reason: LedgerReason = strawberry.field(description="Why it changed.")
    change: Decimal = strawberry.field(description="The change, signed, in the condition's unit.")
    balance_after: Decimal = strawberry.field(description="The member's allocation after it.")
    transfer_id: strawberry.ID | None = strawberry.field(
        description="The transfer it belongs to, for TRANSFER_OUT and TRANSFER_IN."
    )
    acted_by_id: strawberry.ID | None = strawberry.field(description="The person who made it.")
    acting_organisation: OrganisationType | None = strawberry.field(
        description="The organisation they acted for (the holder, or the sending member)."
    )
    note: str = strawberry.field(description="The transfer's note, if any.")
    created_at: datetime = strawberry.field(description="When.")

    @classmethod
    def of(cls, view: service.EntryView) -> AllocationEntryType:
        entry = view.entry
        acting = entry.acting_organisation_id
        return cls(
            id=_id(entry.id),
            organisation=_organisation(view.organisations, entry.organisation_id),
            reason=entry.reason,
            change=plain_number(entry.change),
            balance_after=plain_number(entry.balance_after),
            transfer_id=_id(entry.transfer_id) if entry.transfer_id else None,
            acted_by_id=_id(entry.acted_by_id) if entry.acted_by_id else None,
            acting_organisation=(
                OrganisationType.of(view.organisations[acting])
                if acting in view.organisations
                else None
            ),
            note=entry.note,
            created_at=entry.created_at,
        )


@strawberry.type(
    name="AllocationTransfer",
    description="A member passing part of its standing allocation of a condition (all periods "
    "from now on) to another covered member.",
)
class AllocationTransferType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    from_organisation: OrganisationType = strawberry.field(description="The sending member.")
    to_organisation: OrganisationType = strawberry.field(description="The receiving member.")
    amount: Decimal = strawberry.field(description="How much, in the condition's unit.")
    status: TransferStatus = strawberry.field(description="Where it stands.")
    note: str = strawberry.field(description="The sender's note.")
    decision_reason: str = strawberry.field(description="The holder's reason, if it decided.")
    created_at: datetime = strawberry.field(description="When it was asked for.")
    decided_at: datetime | None = strawberry.field(
        description="When it was done, refused or cancelled."
    )
    condition: PermitConditionType | None = strawberry.field(
        description="The condition after the change (in mutation payloads; null in lists)."
    )

    @classmethod
    def of(cls, view: service.TransferView) -> AllocationTransferType:
        transfer = view.transfer
        return cls(
            id=_id(transfer.id),
            condition_id=_id(transfer.condition_id),
            from_organisation=_organisation(view.organisations, transfer.from_organisation_id),
            to_organisation=_organisation(view.organisations, transfer.to_organisation_id),
            amount=plain_number(transfer.amount),
            status=transfer.status,
            note=transfer.note,
            decision_reason=transfer.decision_reason,
            created_at=transfer.created_at,
            decided_at=transfer.decided_at,
            condition=PermitConditionType.of(view.condition) if view.condition else None,
        )


@strawberry.type(
    name="PermitCondition",
    description="A cap per reporting period on one parameter, shared out among the members.",
)
class PermitConditionType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    permit_id: strawberry.ID = strawberry.field(description="The permit.")
    parameter: Parameter = strawberry.field(description="What it caps.")
    material: MaterialType | None = strawberry.field(
        description="The waste stream's EWC entry, chapter or sub-chapter; null for effluent "
        "loads and CO2e."
    )
    title: str = strawberry.field(description="Title.")
    cap: Decimal = strawberry.field(description="The cap per period, in `unit`.")
    unit: UnitType = strawberry.field(
        description="A mass unit (UN/ECE Rec 20): the cap, allocations and transfers are in it."
    )
    frequency: Frequency = strawberry.field(description="The reporting period.")
    allocated: Decimal = strawberry.field(description="The sum of the members' allocations.")
    unallocated: Decimal = strawberry.field(description="What is left of the cap to allocate.")
    allocations: list[AllocationType] = strawberry.field(
        description="Every member's allocation for the holder, the authority and platform "
        "admins; only its own for a member."
    )
    viewer_allocation: AllocationType | None = strawberry.field(
        description="The allocation of the organisation the viewer acts for, if it has one."
    )
    version: int = strawberry.field(
        description="Bumped on every change of title or cap; send it back as `expectedVersion`."
    )
    created_at: datetime = strawberry.field(description="When it was added.")
    updated_at: datetime = strawberry.field(description="When it or an allocation last changed.")
    standing: strawberry.Private[Standing]

    @strawberry.field(
        description="The ledger of allocation changes, newest first: one member's, or "
        "everyone's for those who read all; a member reads its own."
    )
    async def ledger(
        self,
        info: strawberry.Info,
        organisation_id: OrganisationIdArgument = None,
        first: First = None,
        after: After = None,
    ) -> Connection[AllocationEntryType]:
        page = await service.ledger(
            db=context_of(info).db,
            standing=self.standing,
            condition_id=parse_id(self.id, "id"),
            organisation_id=parse_optional_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[AllocationEntryType].of(page, AllocationEntryType.of)

    @strawberry.field(
        description="Transfers of this condition, newest first: all of them for those who read "
        "all, a member's own (sent or received) for a member."
    )
    async def transfers(
        self,
        info: strawberry.Info,
        status: Annotated[
            TransferStatus | None, strawberry.argument(description="Only transfers in it.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[AllocationTransferType]:
        page = await service.list_transfers(
            db=context_of(info).db,
            standing=self.standing,
            condition_id=parse_id(self.id, "id"),
            status=status,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[AllocationTransferType].of(page, AllocationTransferType.of)

    @classmethod
    def of(cls, view: service.ConditionView) -> PermitConditionType:
        condition = view.condition
        mine = view.viewer_allocation
        return cls(
            id=_id(condition.id),
            permit_id=_id(condition.permit_id),
            parameter=condition.parameter,
            material=MaterialType.of(view.material) if view.material else None,
            title=condition.title,
            cap=plain_number(condition.cap),
            unit=UnitType.of(view.unit),
            frequency=condition.frequency,
            allocated=plain_number(condition.allocated),
            unallocated=plain_number(condition.cap - condition.allocated),
            allocations=[AllocationType.of(a, view.organisations) for a in view.allocations],
            viewer_allocation=AllocationType.of(mine, view.organisations) if mine else None,
            version=condition.version,
            created_at=condition.created_at,
            updated_at=condition.updated_at,
            standing=view.standing,
        )


@strawberry.type(
    name="Permit",
    description="An umbrella permit: issued by an authority to a cluster association (the "
    "holder) for a period, covering member organisations whose caps it shares out.",
)
class PermitType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    reference: str = strawberry.field(description="The authority's number for it.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="What it permits, its terms.")
    valid_from: date = strawberry.field(description="The first day it is valid.")
    valid_to: date = strawberry.field(description="The last day it is valid.")
    transfer_rule: TransferRule = strawberry.field(description="How members transfer allocation.")
    return_due_days: int = strawberry.field(
        description="A period's return is due this many days after the period ends."
    )
    holder: OrganisationType = strawberry.field(description="The cluster association holding it.")
    authority: OrganisationType = strawberry.field(description="The authority that issued it.")
    cluster: ClusterType = strawberry.field(description="The holder's cluster.")
    viewer_standing: PermitViewerStanding = strawberry.field(
        description="What the viewer is to the permit."
    )
    version: int = strawberry.field(
        description="Bumped on every change; send it back as `expectedVersion` when updating."
    )
    created_at: datetime = strawberry.field(description="When it was issued.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    standing: strawberry.Private[Standing]

    @strawberry.field(description="Spans of cover, in the order they were opened.")
    async def members(
        self,
        info: strawberry.Info,
        current: Annotated[
            bool | None,
            strawberry.argument(
                description="True: open spans only; false: ended ones only; omitted: all."
            ),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[PermitMemberType]:
        page = await service.list_members(
            db=context_of(info).db,
            standing=self.standing,
            current=current,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PermitMemberType].of(page, PermitMemberType.of)

    @strawberry.field(description="The conditions, in the order they were added.")
    async def conditions(self, info: strawberry.Info) -> list[PermitConditionType]:
        views = await service.list_conditions(db=context_of(info).db, standing=self.standing)
        return [PermitConditionType.of(v) for v in views]

    @classmethod
    def of(cls, view: service.PermitView) -> PermitType:
        permit = view.permit
        return cls(
            id=_id(permit.id),
            reference=permit.reference,
            title=permit.title,
            description=permit.description,
            valid_from=permit.valid_from,
            valid_to=permit.valid_to,
            transfer_rule=permit.transfer_rule,
            return_due_days=permit.return_due_days,
            holder=OrganisationType.of(view.holder),
            authority=OrganisationType.of(view.authority),
            cluster=ClusterType.of(view.holder.cluster),
            viewer_standing=PermitViewerStanding.of(view.standing),
            version=permit.version,
            created_at=permit.created_at,
            updated_at=permit.updated_at,
            standing=view.standing,
        )


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(description="A new umbrella permit, issued by the authority you act for.")
class PermitIssueInput:
    holder_organisation_id: strawberry.ID = strawberry.field(
        description="The cluster association that holds it: a community or an institution."
    )
    reference: str = strawberry.field(description="Your number for it, unique among yours.")
    title: str = strawberry.field(description="3 to 200 characters.")
    valid_from: date = strawberry.field(description="The first day it is valid.")
    valid_to: date = strawberry.field(description="The last day it is valid.")
    description: str = strawberry.field(default="", description="What it permits, its terms.")
    transfer_rule: TransferRule = strawberry.field(
        default=TransferRule.FREE, description="How members transfer allocation; FREE if omitted."
    )
    return_due_days: int = strawberry.field(
        default=15, description="Days after a period's end that its return is due (0 to 120)."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retried request issues nothing new."
    )

    def to_service(self) -> service.PermitDraft:
        return service.PermitDraft(
            id=parse_optional_id(self.id, "id"),
            holder_id=parse_id(self.holder_organisation_id, "holderOrganisationId"),
            reference=self.reference,
            title=self.title,
            description=self.description,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            transfer_rule=self.transfer_rule,
            return_due_days=self.return_due_days,
        )


@strawberry.input(
    description="Changes to a permit; omitted fields stay. The holder's admins change the "
    "title, description, transfer rule and return due days; the authority the validity dates."
)
class PermitUpdateInput:
    id: strawberry.ID = strawberry.field(description="The permit.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New description.")
    transfer_rule: TransferRule | None = strawberry.field(
        default=None, description="New transfer rule (pending transfers keep waiting)."
    )
    return_due_days: int | None = strawberry.field(
        default=None, description="New days until a return is due."
    )
    valid_from: date | None = strawberry.field(default=None, description="New first day.")
    valid_to: date | None = strawberry.field(default=None, description="New last day.")

    def to_service(self) -> service.PermitChanges:
        return service.PermitChanges(
            title=self.title,
            description=self.description,
            transfer_rule=self.transfer_rule,
            return_due_days=self.return_due_days,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


@strawberry.input(description="An organisation to cover by a permit.")
class PermitMemberAddInput:
    permit_id: strawberry.ID = strawberry.field(description="The permit.")
    organisation_id: strawberry.ID = strawberry.field(
        description="An organisation of the permit's cluster."
    )
    covered_from: date = strawberry.field(description="The first day covered, within validity.")


@strawberry.input(description="A member whose cover ends.")
class PermitMemberRemoveInput:
    permit_id: strawberry.ID = strawberry.field(description="The permit.")
    organisation_id: strawberry.ID = strawberry.field(description="The covered organisation.")
    covered_to: date | None = strawberry.field(
        default=None,
        description="The last day covered; today in the cluster's time zone when omitted.",
    )


@strawberry.input(description="A new condition of a permit.")
class PermitConditionAddInput:
    permit_id: strawberry.ID = strawberry.field(description="The permit.")
    parameter: Parameter = strawberry.field(description="What it caps.")
    title: str = strawberry.field(description="3 to 200 characters.")
    cap: Decimal = strawberry.field(description="The cap per period, more than zero.")
    unit: str = strawberry.field(description="A mass unit code of UN/ECE Rec 20 (KGM, TNE ...).")
    frequency: Frequency = strawberry.field(description="The reporting period.")
    material_code: str | None = strawberry.field(
        default=None,
        description="For waste parameters: an EWC entry, chapter or sub-chapter of the "
        "catalogue (ewc-03-01-05); none for the others.",
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retried request adds nothing new."
    )

    def to_service(self) -> service.ConditionDraft:
        return service.ConditionDraft(
            id=parse_optional_id(self.id, "id"),
            permit_id=parse_id(self.permit_id, "permitId"),
            parameter=self.parameter,
            material_code=self.material_code,
            title=self.title,
            cap=self.cap,
            unit_code=self.unit,
            frequency=self.frequency,
        )


@strawberry.input(description="Changes to a condition; omitted fields stay.")
class PermitConditionUpdateInput:
    id: strawberry.ID = strawberry.field(description="The condition.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    cap: Decimal | None = strawberry.field(
        default=None, description="New cap; never below what is allocated (CONFLICT)."
    )


@strawberry.input(description="A member's allocation of a condition.")
class PermitAllocationSetInput:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    organisation_id: strawberry.ID = strawberry.field(description="A currently covered member.")
    amount: Decimal = strawberry.field(
        description="Its share per period in the condition's unit, zero or more."
    )


@strawberry.input(description="A transfer of your organisation's allocation to another member.")
class PermitAllocationTransferInput:
    condition_id: strawberry.ID = strawberry.field(description="The condition.")
    to_organisation_id: strawberry.ID = strawberry.field(
        description="Another currently covered member."
    )
    amount: Decimal = strawberry.field(description="How much, more than zero.")
    note: str = strawberry.field(default="", description="Why, for the other member and holder.")
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retried request is not done twice."
    )

    def to_service(self) -> service.TransferRequest:
        return service.TransferRequest(
            id=parse_optional_id(self.id, "id"),
            condition_id=parse_id(self.condition_id, "conditionId"),
            to_organisation_id=parse_id(self.to_organisation_id, "toOrganisationId"),
            amount=self.amount,
            note=self.note,
        )


@strawberry.input(description="The holder's decision on a pending transfer.")
class PermitTransferDecideInput:
    id: strawberry.ID = strawberry.field(description="The transfer.")
    approve: bool = strawberry.field(description="True approves it, false refuses it.")
    reason: str = strawberry.field(default="", description="Why, for the two members.")


# --- payloads --------------------------------------------------------------------------------


@strawberry.type(description="The permit after a mutation.")
class PermitPayload(Payload):
    permit: PermitType | None = strawberry.field(
        default=None, description="The permit; null when there are errors."
    )


@strawberry.type(description="A span of cover after a mutation, with its permit.")
class PermitMemberPayload(Payload):
    member: PermitMemberType | None = strawberry.field(
        default=None, description="The span; null when there are errors."
    )
    permit: PermitType | None = strawberry.field(
        default=None, description="The permit; null when there are errors."
    )


@strawberry.type(description="The condition after a mutation.")
class PermitConditionPayload(Payload):
    condition: PermitConditionType | None = strawberry.field(
        default=None, description="The condition; null when there are errors."
    )


@strawberry.type(description="The allocation after a mutation, with its condition.")
class PermitAllocationPayload(Payload):
    allocation: AllocationType | None = strawberry.field(
        default=None, description="The member's allocation; null when there are errors."
    )
    condition: PermitConditionType | None = strawberry.field(
        default=None, description="The condition; null when there are errors."
    )


@strawberry.type(description="The transfer after a mutation, with its condition.")
class PermitTransferPayload(Payload):
    transfer: AllocationTransferType | None = strawberry.field(
        default=None, description="The transfer; null when there are errors."
    )
