"""The Privacy screen of the app: "Download my data" and "Delete my account"."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.auth.ratelimit import Budget
from backend.graphql.budgets import ReadBudget
from backend.graphql.errors import payload_mutation
from backend.graphql.types import Payload, context_of, signed_in
from backend.privacy import service


@strawberry.type(description="The signed-in person's own data, as a JSON document.")
class PersonalDataExport:
    generated_at: datetime = strawberry.field(description="When it was read.")
    complete: bool = strawberry.field(
        description="False when a section was longer than the app's copy holds (2,000 rows "
        "each); the platform's operator sends the whole file on request."
    )
    format: str = strawberry.field(description="The document's format and version.")
    document: str = strawberry.field(
        description="The document as JSON text, to save as a .json file or share: the "
        "person's profile, memberships, sign-ins (no tokens), devices, notifications, their "
        "own forum threads, posts, reactions and reports, event registrations, pledges, and "
        "what they did for their organisations. Never other people's data."
    )


@strawberry.input(description="Delete the signed-in person's account.")
class AccountDeleteInput:
    password: str = strawberry.field(
        description="The account's password again: a token left signed in on a shared phone "
        "is not enough to delete an account."
    )


@strawberry.type(description="Result of `accountDelete`.")
class AccountDeletePayload(Payload):
    deleted: bool | None = strawberry.field(
        default=None,
        description="True: the account is anonymised and every sign-in of it has ended; the "
        "app signs out and forgets its tokens.",
    )
    deleted_at: datetime | None = strawberry.field(default=None, description="When.")


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="Everything the platform keeps about the signed-in person, for a "
        "'Download my data' button (a GDPR or DPDP access request). Heavy: one read of every "
        "domain; ask once per press. THROTTLED (with retryAfter) past a few exports an hour "
        "per account.",
        permission_classes=[IsAuthenticated],
        # each selection reads up to thousands of rows per section: aliases must not multiply it
        extensions=[ReadBudget(Budget.EXPORTS_BY_ACCOUNT)],
    )
    async def my_data_export(self, info: strawberry.Info) -> PersonalDataExport:
        context = context_of(info)
        export = await service.collect_export(
            db=context.db, user_id=signed_in(info).user_id, now=context.clock.now()
        )
        return PersonalDataExport(
            generated_at=export.generated_at,
            complete=export.complete,
            format=service.FORMAT,
            document=json.dumps(export.document, ensure_ascii=False),
        )


@strawberry.type
class PrivacyMutation:
    @payload_mutation(
        description="Delete your own account (a GDPR or DPDP erasure request): your name and "
        "email are replaced, your password, devices, notifications, reactions and follows are "
        "erased, your upcoming event places and open pledges are given up, and every sign-in "
        "ends at once. What you did for organisations (trades, listings, posts) stays, shown as "
        "by 'Deleted user'. INVALID_CREDENTIALS for a wrong password (counted like sign-in's), "
        "CONFLICT while you are the last admin of an organisation with other members.",
        gates=(IsAuthenticated,),
    )
    async def account_delete(
        self,
        info: strawberry.Info,
        input: Annotated[
            AccountDeleteInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> AccountDeletePayload:
        context = context_of(info)
        deletion = await service.delete_my_account(
            db=context.db,
            security=context.security,
            viewer=signed_in(info),
            password=input.password,
            client_address=context.client_address,
            now=context.clock.now(),
            broadcaster=context.broadcaster,
        )
        return AccountDeletePayload(deleted=True, deleted_at=deletion.deleted_at)
