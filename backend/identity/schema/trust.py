"""Platform admins' trust decisions in GraphQL: verifying organisations, disabling accounts, and
the audit records both leave. Thin resolvers over ``identity.service.trust``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAdmin
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First
from backend.graphql.types import Payload, context_of, parse_id, parse_optional_id, signed_in
from backend.identity import models, service
from backend.identity.models import AuditAction
from backend.identity.schema.types import OrganisationType
from backend.kit.pagination import PageRequest

strawberry.enum(
    AuditAction,
    description="A platform admin's trust decision: an account disabled or enabled, an "
    "organisation verified or its verification withdrawn.",
)


def _id_or_none(value: object | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


@strawberry.type(
    name="AuditRecord",
    description="One trust decision of a platform admin, kept as it was made.",
)
class AuditRecordType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    action: AuditAction = strawberry.field(description="What was decided.")
    actor_id: strawberry.ID | None = strawberry.field(
        description="The platform admin who decided; null once their account is deleted."
    )
    actor_name: str = strawberry.field(description="Their display name at the time.")
    subject_user_id: strawberry.ID | None = strawberry.field(
        description="The account concerned, for account decisions."
    )
    subject_organisation_id: strawberry.ID | None = strawberry.field(
        description="The organisation concerned, for verification decisions."
    )
    reason: str = strawberry.field(description="Why, in the admin's words; may be empty.")
    created_at: datetime = strawberry.field(description="When it was decided.")

    @classmethod
    def of(cls, record: models.AuditRecord) -> AuditRecordType:
        return cls(
            id=strawberry.ID(str(record.id)),
            action=record.action,
            actor_id=_id_or_none(record.actor_id),
            actor_name=record.actor_name,
            subject_user_id=_id_or_none(record.subject_user_id),
            subject_organisation_id=_id_or_none(record.subject_organisation_id),
            reason=record.reason,
            created_at=record.created_at,
        )


@strawberry.input(description="Narrow the audit records.")
class AuditRecordFilter:
    action: AuditAction | None = strawberry.field(default=None, description="Only this action.")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only decisions about this organisation."
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only decisions about this account."
    )


@strawberry.input(description="Verify an organisation (platform admins).")
class OrganisationVerifyInput:
    organisation_id: strawberry.ID = strawberry.field(description="The organisation.")
    note: str = strawberry.field(
        default="",
        description="How it was checked (a letter, a call to the registrar...), up to 1,000 "
        "characters; kept in the audit record.",
    )


@strawberry.input(description="Withdraw an organisation's verification (platform admins).")
class OrganisationUnverifyInput:
    organisation_id: strawberry.ID = strawberry.field(description="The organisation.")
    reason: str = strawberry.field(description="Why, 3-1,000 characters; kept in the audit record.")


@strawberry.input(description="Disable an account (platform admins).")
class AccountDisableInput:
    user_id: strawberry.ID = strawberry.field(description="The account.")
    reason: str = strawberry.field(description="Why, 3-1,000 characters; kept in the audit record.")


@strawberry.input(description="Enable a disabled account again (platform admins).")
class AccountEnableInput:
    user_id: strawberry.ID = strawberry.field(description="The account.")
    note: str = strawberry.field(
        default="", description="Why, up to 1,000 characters; kept in the audit record."
    )


@strawberry.type(description="Result of `organisationVerify` and `organisationUnverify`.")
class OrganisationVerificationPayload(Payload):
    organisation: OrganisationType | None = strawberry.field(
        default=None, description="The organisation as it is now (see `verified`)."
    )


@strawberry.type(description="Result of `accountDisable` and `accountEnable`.")
class AccountStatusPayload(Payload):
    user_id: strawberry.ID | None = strawberry.field(default=None, description="The account.")
    active: bool | None = strawberry.field(
        default=None, description="Whether it can sign in and act now."
    )


_INPUT = "The fields of the request, described on its input type."


@strawberry.type
class TrustQuery:
    @strawberry.field(
        description="Platform admins' trust decisions, newest first (platform admins).",
        permission_classes=[IsAdmin],
    )
    async def audit_records(
        self,
        info: strawberry.Info,
        filter: Annotated[
            AuditRecordFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[AuditRecordType]:
        given = filter or AuditRecordFilter()
        page = await service.list_audit_records(
            db=context_of(info).db,
            viewer=signed_in(info),
            filter=service.AuditFilter(
                action=given.action,
                organisation_id=parse_optional_id(given.organisation_id, "filter.organisationId"),
                user_id=parse_optional_id(given.user_id, "filter.userId"),
            ),
            page=PageRequest.of(first, after),
        )
        return Connection[AuditRecordType].of(page, AuditRecordType.of)


@strawberry.type
class TrustMutation:
    @payload_mutation(
        description="Verify an organisation after checking who it is. A verified institution "
        "reads other organisations' data its role allows (such as impact ledgers) from its "
        "members' next request. Verifying a verified organisation changes nothing.",
        gates=(IsAdmin,),
    )
    async def organisation_verify(
        self,
        info: strawberry.Info,
        input: Annotated[OrganisationVerifyInput, strawberry.argument(description=_INPUT)],
    ) -> OrganisationVerificationPayload:
        return await _set_verified(info, input.organisation_id, verified=True, reason=input.note)

    @payload_mutation(
        description="Withdraw an organisation's verification; its reading rights end on its "
        "members' next request.",
        gates=(IsAdmin,),
    )
    async def organisation_unverify(
        self,
        info: strawberry.Info,
        input: Annotated[OrganisationUnverifyInput, strawberry.argument(description=_INPUT)],
    ) -> OrganisationVerificationPayload:
        return await _set_verified(info, input.organisation_id, verified=False, reason=input.reason)

    @payload_mutation(
        description="Disable an account: it cannot sign in, its sign-ins are revoked and its "
        "access tokens stop working on their next request. Not your own.",
        gates=(IsAdmin,),
    )
    async def account_disable(
        self,
        info: strawberry.Info,
        input: Annotated[AccountDisableInput, strawberry.argument(description=_INPUT)],
    ) -> AccountStatusPayload:
        return await _set_active(info, input.user_id, active=False, reason=input.reason)

    @payload_mutation(
        description="Enable a disabled account; its owner signs in again. CONFLICT for an "
        "account deleted at its owner's request (accountDelete, eic delete-person).",
        gates=(IsAdmin,),
    )
    async def account_enable(
        self,
        info: strawberry.Info,
        input: Annotated[AccountEnableInput, strawberry.argument(description=_INPUT)],
    ) -> AccountStatusPayload:
        return await _set_active(info, input.user_id, active=True, reason=input.note)


async def _set_verified(
    info: strawberry.Info, organisation_id: strawberry.ID, *, verified: bool, reason: str
) -> OrganisationVerificationPayload:
    context = context_of(info)
    organisation = await service.set_organisation_verified(
        db=context.db,
        viewer=signed_in(info),
        organisation_id=parse_id(organisation_id, "organisationId"),
        verified=verified,
        reason=reason,
        now=context.clock.now(),
    )
    return OrganisationVerificationPayload(organisation=OrganisationType.of(organisation))


async def _set_active(
    info: strawberry.Info, user_id: strawberry.ID, *, active: bool, reason: str
) -> AccountStatusPayload:
    context = context_of(info)
    user = await service.set_account_active(
        db=context.db,
        viewer=signed_in(info),
        user_id=parse_id(user_id, "userId"),
        active=active,
        reason=reason,
        now=context.clock.now(),
        broadcaster=context.broadcaster,
    )
    return AccountStatusPayload(user_id=strawberry.ID(str(user.id)), active=user.is_active)
