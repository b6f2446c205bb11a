"""GraphQL types, inputs and payloads of waste licences."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from backend.graphql.types import Payload, given, parse_optional_id
from backend.identity.schema import OrganisationType
from backend.kit.validation import UNCHANGED
from backend.licences import service
from backend.licences.models import LicensedOperation
from backend.licences.service import LicenceStatus
from backend.marketplace.schema.types import MaterialType

strawberry.enum(
    LicensedOperation,
    description="What a licence allows to be done with the waste it covers: COLLECTION, "
    "TRANSPORT, STORAGE, TREATMENT, RECOVERY or DISPOSAL.",
)
strawberry.enum(
    LicenceStatus,
    description="Where today (the holder's cluster time zone) falls in the licence's period: "
    "NOT_YET_VALID before its first day, VALID from its first to its last day, EXPIRED after.",
)


@strawberry.type(
    name="WasteLicence",
    description="A waste licence an organisation holds. Hazardous waste (EWC entries with an "
    "asterisk) is offered to and traded with an organisation only while it holds a verified "
    "licence, valid that day, covering the waste's code.",
)
class WasteLicenceType:
    id: strawberry.ID = strawberry.field(
        description="Opaque id (the app's own UUID if it gave one)."
    )
    holder: OrganisationType = strawberry.field(description="The organisation holding it.")
    issuer_name: str = strawberry.field(description="The issuing authority, as printed.")
    authority: OrganisationType | None = strawberry.field(
        description="The issuing authority's institution on the platform, when it has one: it "
        "may verify the licence."
    )
    number: str = strawberry.field(description="The licence number, as printed.")
    covered_materials: list[MaterialType] = strawberry.field(
        description="The EWC chapters, sub-chapters and entries it covers (a chapter or "
        "sub-chapter covers every entry below it), in catalogue order."
    )
    operations: list[LicensedOperation] = strawberry.field(
        description="What it allows to be done with the waste."
    )
    valid_from: date = strawberry.field(description="First day it is valid.")
    valid_to: date = strawberry.field(description="Last day it is valid.")
    status: LicenceStatus = strawberry.field(description="As of today.")
    verified: bool = strawberry.field(
        description="Whether a platform admin or the issuing authority verified it; only a "
        "verified licence counts. Changing its terms withdraws the verification."
    )
    verified_at: datetime | None = strawberry.field(description="When it was verified.")
    note: str = strawberry.field(description="The holder's note (conditions, scope).")
    version: int = strawberry.field(description="Increases with every change; send it back.")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def of(cls, view: service.LicenceView) -> WasteLicenceType:
        licence = view.licence
        return cls(
            id=strawberry.ID(str(licence.id)),
            holder=OrganisationType.of(view.holder),
            issuer_name=licence.issuer_name,
            authority=None if view.authority is None else OrganisationType.of(view.authority),
            number=licence.number,
            covered_materials=[MaterialType.of(m) for m in view.materials],
            operations=[LicensedOperation(o) for o in licence.operations],
            valid_from=licence.valid_from,
            valid_to=licence.valid_to,
            status=view.status,
            verified=licence.verified_at is not None,
            verified_at=licence.verified_at,
            note=licence.note,
            version=licence.version,
            created_at=licence.created_at,
            updated_at=licence.updated_at,
        )


@strawberry.input(
    description="A licence of the organisation you act for (its admins); it starts unverified."
)
class WasteLicenceCreateInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID; sending it again returns the same licence."
    )
    issuer_name: str = strawberry.field(description="The issuing authority, as printed.")
    authority_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The issuing authority's institution on the platform, if it has one.",
    )
    number: str = strawberry.field(description="The licence number, as printed.")
    material_codes: list[str] = strawberry.field(
        description="Covered EWC codes as catalogue codes: chapters (`ewc-19`), sub-chapters "
        "(`ewc-19-08`) or entries (`ewc-19-08-11`)."
    )
    operations: list[LicensedOperation] = strawberry.field(
        description="What it allows, at least one."
    )
    valid_from: date = strawberry.field(description="First day it is valid.")
    valid_to: date = strawberry.field(description="Last day it is valid, not before validFrom.")
    note: str = strawberry.field(default="", description="A note (conditions, scope).")

    def to_service(self) -> service.LicenceDraft:
        return service.LicenceDraft(
            id=parse_optional_id(self.id, "id"),
            issuer_name=self.issuer_name,
            authority_id=parse_optional_id(self.authority_id, "authorityId"),
            number=self.number,
            material_codes=self.material_codes,
            operations=self.operations,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            note=self.note,
        )


@strawberry.input(
    description="Changes to a licence; omitted fields stay. Changing any term (all but the "
    "note) withdraws its verification: it must be checked again."
)
class WasteLicenceUpdateInput:
    id: strawberry.ID = strawberry.field(description="The licence.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )
    issuer_name: str | None = strawberry.field(default=None, description="New issuer name.")
    authority_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="New authority; null removes it."
    )
    number: str | None = strawberry.field(default=None, description="New number.")
    material_codes: list[str] | None = strawberry.field(
        default=None, description="New covered codes, replacing the old."
    )
    operations: list[LicensedOperation] | None = strawberry.field(
        default=None, description="New operations, replacing the old."
    )
    valid_from: date | None = strawberry.field(default=None, description="New first day.")
    valid_to: date | None = strawberry.field(default=None, description="New last day.")
    note: str | None = strawberry.field(default=None, description="New note.")

    def to_service(self) -> service.LicenceChanges:
        authority = given(self.authority_id)
        return service.LicenceChanges(
            issuer_name=self.issuer_name,
            authority_id=(
                authority if authority is UNCHANGED else parse_optional_id(authority, "authorityId")
            ),
            number=self.number,
            material_codes=self.material_codes,
            operations=self.operations,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            note=self.note,
        )


@strawberry.input(description="Verify a licence, as its authority or a platform admin.")
class WasteLicenceVerifyInput:
    id: strawberry.ID = strawberry.field(description="The licence.")
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version whose terms you checked; if the holder changed it since, "
        "CONFLICT.",
    )


@strawberry.input(description="Withdraw a licence's verification, saying why.")
class WasteLicenceUnverifyInput:
    id: strawberry.ID = strawberry.field(description="The licence.")
    reason: str = strawberry.field(description="Why, for the holder (3 to 500 characters).")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )


@strawberry.input(description="Narrow the licences; every given condition must hold.")
class WasteLicenceFilter:
    verified: bool | None = strawberry.field(
        default=None, description="Only verified (true) or unverified (false, a verifier's queue)."
    )
    holder_id: strawberry.ID | None = strawberry.field(
        default=None, description="One holder's licences."
    )
    authority_id: strawberry.ID | None = strawberry.field(
        default=None, description="Licences naming this authority."
    )

    def to_service(self) -> service.LicenceFilter:
        return service.LicenceFilter(
            verified=self.verified,
            holder_id=parse_optional_id(self.holder_id, "filter.holderId"),
            authority_id=parse_optional_id(self.authority_id, "filter.authorityId"),
        )


@strawberry.type(description="The licence after a mutation.")
class WasteLicencePayload(Payload):
    waste_licence: WasteLicenceType | None = strawberry.field(
        default=None, description="The licence; null when there are errors."
    )


@strawberry.type(description="Result of `wasteLicenceDelete`.")
class WasteLicenceDeletePayload(Payload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the deleted licence."
    )
