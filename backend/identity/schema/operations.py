"""Identity queries and mutations: thin resolvers over the identity service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.auth.permissions import IsAdmin, IsAuthenticated
from backend.auth.ratelimit import Budget
from backend.auth.viewer import Anonymous
from backend.graphql.budgets import ReadBudget
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First
from backend.graphql.types import context_of, parse_id, parse_optional_id, signed_in
from backend.graphql.types import given as unless_omitted
from backend.idempotency import SecretAnswer
from backend.identity import service
from backend.identity.schema.types import (
    AccountRegisterInput,
    AccountRegisterPayload,
    ClusterCreateInput,
    ClusterCreatePayload,
    ClusterFilter,
    ClusterType,
    Member,
    MembershipType,
    MeType,
    OrganisationFilter,
    OrganisationInviteCreateInput,
    OrganisationInviteCreatePayload,
    OrganisationInviteType,
    OrganisationJoinInput,
    OrganisationJoinPayload,
    OrganisationMemberRemoveInput,
    OrganisationMemberRemovePayload,
    OrganisationType,
    OrganisationUpdateInput,
    OrganisationUpdatePayload,
    TokenCreateInput,
    TokenPayload,
    TokenRefreshInput,
    TokenRevokeInput,
    TokenRevokePayload,
    UserType,
)
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest


@strawberry.type
class IdentityQuery:
    @strawberry.field(
        description="The signed-in person, their active organisation and role; null when the "
        "request has no valid access token."
    )
    async def me(self, info: strawberry.Info) -> MeType | None:
        context = context_of(info)
        if isinstance(context.viewer, Anonymous):
            return None
        me = await service.get_me(db=context.db, viewer=context.viewer)
        if me is None:
            return None
        return MeType(
            user=UserType.of(me.user),
            organisation=OrganisationType.of(me.organisation) if me.organisation else None,
            role=me.role,
            memberships=[MembershipType.of(m) for m in me.memberships],
        )

    @strawberry.field(description="Clusters on the platform, by name.")
    async def clusters(
        self,
        info: strawberry.Info,
        filter: Annotated[
            ClusterFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[ClusterType]:
        given = filter or ClusterFilter()
        page = await service.list_clusters(
            db=context_of(info).db,
            filter=service.ClusterFilter(
                country=given.country, sector=given.sector, search=given.search
            ),
            page=PageRequest.of(first, after),
        )
        return Connection[ClusterType].of(page, ClusterType.of)

    @strawberry.field(description="One cluster; null if there is none with this id.")
    async def cluster(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> ClusterType | None:
        try:
            cluster_id = parse_id(id, "id")
        except ServiceError:
            return None
        cluster = await service.get_cluster(db=context_of(info).db, cluster_id=cluster_id)
        return ClusterType.of(cluster) if cluster else None

    @strawberry.field(description="One organisation; null if there is none with this id.")
    async def organisation(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")],
    ) -> OrganisationType | None:
        try:
            organisation_id = parse_id(id, "id")
        except ServiceError:
            return None
        organisation = await service.get_organisation(
            db=context_of(info).db, organisation_id=organisation_id
        )
        return OrganisationType.of(organisation) if organisation else None

    @strawberry.field(
        description="The people of an organisation, in the order they joined (its members and "
        "platform admins only).",
        permission_classes=[IsAuthenticated],
    )
    async def organisation_members(
        self,
        info: strawberry.Info,
        organisation_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organisation.")
        ],
        first: First = None,
        after: After = None,
    ) -> Connection[Member]:
        page = await service.list_members(
            db=context_of(info).db,
            viewer=signed_in(info),
            organisation_id=parse_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
        )
        return Connection[Member].of(page, Member.of)

    @strawberry.field(
        description="The directory of organisations, by name. Rate-limited (THROTTLED with "
        "`extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def organisations(
        self,
        info: strawberry.Info,
        filter: Annotated[
            OrganisationFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[OrganisationType]:
        given = filter or OrganisationFilter()
        page = await service.list_organisations(
            db=context_of(info).db,
            filter=service.OrganisationFilter(
                cluster_id=parse_optional_id(given.cluster_id, "filter.clusterId"),
                kind=given.kind,
                subtype=given.subtype,
                search=given.search,
                verified=given.verified,
            ),
            page=PageRequest.of(first, after),
        )
        return Connection[OrganisationType].of(page, OrganisationType.of)


@strawberry.type
class IdentityMutation:
    @payload_mutation(
        description="Ask for an account with a new organisation (the person becomes its admin) "
        "or with an invite code, then sign in with `tokenCreate`. The answer is the same "
        "whether or not the email already has an account (its owner gets a notification "
        "instead), so it never tells which emails have one. Rate-limited per address "
        "(THROTTLED with `retryAfter`).",
        budget=Budget.REGISTRATIONS,
    )
    async def account_register(
        self,
        info: strawberry.Info,
        input: Annotated[
            AccountRegisterInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> AccountRegisterPayload:
        context = context_of(info)
        new_organisation = None
        if input.organisation is not None:
            given = input.organisation
            new_organisation = service.NewOrganisation(
                name=given.name,
                kind=given.kind,
                subtype=given.subtype,
                cluster_id=given.cluster_id,
                location=given.location.to_service(),
                description=given.description,
                activity_code=given.activity_code,
                named_in_insights=given.named_in_insights,
            )
        await service.register_account(
            db=context.db,
            security=context.security,
            email=input.email,
            password=input.password,
            display_name=input.display_name,
            organisation=new_organisation,
            invite_code=input.invite_code,
            now=context.clock.now(),
        )
        # One answer whether or not the email already had an account: nobody learns which
        # emails have one (the owner of one is notified).
        return AccountRegisterPayload()

    @payload_mutation(
        description="Sign in: an access token and a refresh token for one organisation. Failed "
        "attempts back off per account and address, doubling after three; loose ceilings per "
        "account and per address stop sprays (THROTTLED with `retryAfter`).",
        # Its only secret input is a password, too guessable to derive a key from; a retry
        # simply signs in again.
        secret_answer=SecretAnswer.NOT_KEPT,
    )
    async def token_create(
        self,
        info: strawberry.Info,
        input: Annotated[
            TokenCreateInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> TokenPayload:
        context = context_of(info)
        pair = await service.create_token(
            db=context.db,
            security=context.security,
            email=input.email,
            password=input.password,
            organisation_id=parse_optional_id(input.organisation_id, "organisationId"),
            client_address=context.client_address,
        )
        return TokenPayload.of(pair)

    @payload_mutation(
        description="Exchange a refresh token for a new pair, optionally acting for another of "
        "your organisations. Each refresh token works once; using one twice revokes the whole "
        "sign-in (TOKEN_REUSED).",
        # A retry after a lost answer must get the same pair: running again would present a
        # rotated token and revoke the sign-in. The refresh token it carries opens the answer.
        secret_answer=SecretAnswer.SEALED,
    )
    async def token_refresh(
        self,
        info: strawberry.Info,
        input: Annotated[
            TokenRefreshInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> TokenPayload:
        context = context_of(info)
        pair = await service.refresh_token(
            db=context.db,
            security=context.security,
            refresh_token=input.refresh_token,
            organisation_id=parse_optional_id(input.organisation_id, "organisationId"),
        )
        return TokenPayload.of(pair)

    @payload_mutation(description="Sign out: revoke the refresh token and its whole sign-in.")
    async def token_revoke(
        self,
        info: strawberry.Info,
        input: Annotated[
            TokenRevokeInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> TokenRevokePayload:
        context = context_of(info)
        await service.revoke_token(
            db=context.db,
            security=context.security,
            refresh_token=input.refresh_token,
            broadcaster=context.broadcaster,
        )
        return TokenRevokePayload(revoked=True)

    @payload_mutation(
        description="Make an invite code for the organisation you act for (its admins only).",
        gates=(IsAuthenticated,),
        # A retry gets the same invite, not a second live code; the access token opens it.
        secret_answer=SecretAnswer.SEALED,
    )
    async def organisation_invite_create(
        self,
        info: strawberry.Info,
        input: Annotated[
            OrganisationInviteCreateInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> OrganisationInviteCreatePayload:
        context = context_of(info)
        issued = await service.create_invite(
            db=context.db,
            viewer=signed_in(info),
            organisation_id=parse_id(input.organisation_id, "organisationId"),
            role=input.role,
            max_uses=input.max_uses,
            expires_in_days=input.expires_in_days,
            now=context.clock.now(),
        )
        invite = issued.invite
        return OrganisationInviteCreatePayload(
            invite=OrganisationInviteType(
                id=strawberry.ID(str(invite.id)),
                code=issued.code,
                role=invite.role,
                max_uses=invite.max_uses,
                uses=invite.uses,
                expires_at=invite.expires_at,
            )
        )

    @payload_mutation(
        description="Join another organisation with an invite code.", gates=(IsAuthenticated,)
    )
    async def organisation_join(
        self,
        info: strawberry.Info,
        input: Annotated[
            OrganisationJoinInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> OrganisationJoinPayload:
        context = context_of(info)
        membership = await service.join_organisation(
            db=context.db,
            viewer=signed_in(info),
            invite_code=input.invite_code,
            now=context.clock.now(),
            broadcaster=context.broadcaster,
        )
        return OrganisationJoinPayload(membership=MembershipType.of(membership))

    @payload_mutation(
        description="Change the organisation you act for (its admins, or platform admins).",
        gates=(IsAuthenticated,),
    )
    async def organisation_update(
        self,
        info: strawberry.Info,
        input: Annotated[
            OrganisationUpdateInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> OrganisationUpdatePayload:
        context = context_of(info)
        organisation = await service.update_organisation(
            db=context.db,
            viewer=signed_in(info),
            organisation_id=parse_id(input.id, "id"),
            changes=service.OrganisationChanges(
                name=input.name,
                subtype=input.subtype,
                description=input.description,
                location=input.location.to_service() if input.location else None,
                activity_code=unless_omitted(input.activity_code),
                named_in_insights=input.named_in_insights,
            ),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return OrganisationUpdatePayload(organisation=OrganisationType.of(organisation))

    @payload_mutation(
        description="Remove a person from the organisation you act for (its admins), or leave "
        "an organisation yourself. The last admin cannot be removed.",
        gates=(IsAuthenticated,),
    )
    async def organisation_member_remove(
        self,
        info: strawberry.Info,
        input: Annotated[
            OrganisationMemberRemoveInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> OrganisationMemberRemovePayload:
        context = context_of(info)
        removed = await service.remove_member(
            db=context.db,
            viewer=signed_in(info),
            organisation_id=parse_id(input.organisation_id, "organisationId"),
            user_id=parse_id(input.user_id, "userId"),
            now=context.clock.now(),
            broadcaster=context.broadcaster,
        )
        return OrganisationMemberRemovePayload(removed_user_id=strawberry.ID(str(removed)))

    @payload_mutation(description="Open a new cluster.", gates=(IsAdmin,))
    async def cluster_create(
        self,
        info: strawberry.Info,
        input: Annotated[
            ClusterCreateInput,
            strawberry.argument(
                description="The fields of the request, described on its input type."
            ),
        ],
    ) -> ClusterCreatePayload:
        cluster = await service.create_cluster(
            db=context_of(info).db,
            cluster=service.NewCluster(
                slug=input.slug,
                name=input.name,
                region=input.region,
                country=input.country,
                sector=input.sector,
                centre=input.centre.to_service(),
                currency=input.currency,
                languages=input.languages,
                timezone=input.timezone,
                description=input.description,
            ),
        )
        return ClusterCreatePayload(cluster=ClusterType.of(cluster))
