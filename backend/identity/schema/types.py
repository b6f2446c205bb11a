"""GraphQL types, inputs and payloads of identity: accounts, tokens, organisations and clusters."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.catalogue.schema import ActivityType, activity_by_code
from backend.graphql.types import GeoPoint, Location, LocationInput, Payload, context_of
from backend.identity import models, service
from backend.identity.models import MembershipRole, OrganisationKind, OrganisationSubtype, Sector
from backend.kit.db import Database

# Registered as GraphQL enums here, so the models stay free of Strawberry.
strawberry.enum(
    Role,
    description="What a token may do: the kind of its active organisation, or ADMIN for "
    "platform admins.",
)
strawberry.enum(Sector, description="The industry a cluster is built around.")
strawberry.enum(
    OrganisationKind,
    description="What an organisation is; it sets the role of tokens issued for it.",
)
strawberry.enum(
    OrganisationSubtype,
    description="Finer kind: enterprise size for firms (MICRO_ENTERPRISE ...); SHG, NPO or "
    "COOPERATIVE for communities; UNIVERSITY ... NATIONAL_GOVERNMENT for institutions.",
)
strawberry.enum(
    MembershipRole,
    description="A person's role in an organisation: ADMIN manages it, MEMBER acts for it.",
)


# ---------------------------------------------------------------------------------------------
# Types


@strawberry.type(
    name="Cluster",
    description="An eco-industrial cluster: firms of one region "
    "and sector that share materials, knowledge and infrastructure.",
)
class ClusterType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    slug: str = strawberry.field(description="Short stable name for URLs, such as `maniwa-wood`.")
    name: str = strawberry.field(description="Display name.")
    region: str = strawberry.field(description="State, prefecture or province.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    sector: Sector = strawberry.field(description="The industry the cluster is built around.")
    centre: GeoPoint = strawberry.field(description="Approximate centre, for maps and distances.")
    currency: str = strawberry.field(description="Default ISO 4217 currency of prices.")
    languages: list[str] = strawberry.field(
        description="BCP 47 tags of the languages used in the cluster, most used first."
    )
    timezone: str = strawberry.field(description="IANA time zone, such as `Asia/Tokyo`.")
    description: str = strawberry.field(description="What the cluster does together.")
    created_at: datetime = strawberry.field(description="When the cluster was added.")

    @classmethod
    def of(cls, cluster: models.Cluster) -> ClusterType:
        return cls(
            id=strawberry.ID(str(cluster.id)),
            slug=cluster.slug,
            name=cluster.name,
            region=cluster.region,
            country=cluster.country,
            sector=cluster.sector,
            centre=GeoPoint(lat=cluster.centre_lat, lon=cluster.centre_lon),
            currency=cluster.currency,
            languages=list(cluster.languages),
            timezone=cluster.timezone,
            description=cluster.description,
            created_at=cluster.created_at,
        )


@strawberry.type(name="Organisation", description="A firm, community group or institution.")
class OrganisationType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    name: str = strawberry.field(description="Display name.")
    kind: OrganisationKind = strawberry.field(description="Firm, community or institution.")
    subtype: OrganisationSubtype | None = strawberry.field(description="Finer kind, if given.")
    description: str = strawberry.field(description="What the organisation does.")
    location: Location = strawberry.field(description="Where the organisation is.")
    cluster: ClusterType = strawberry.field(description="The cluster it belongs to.")
    created_at: datetime = strawberry.field(description="When it joined the platform.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    version: int = strawberry.field(
        description="Bumped on every change; send it back as `expectedVersion` when updating."
    )
    trust_score: int = strawberry.field(
        description="0-100, from partners' reviews (70 %, a Bayesian average starting from 3 "
        "stars) and completed trades (30 %). A newcomer scores 35."
    )
    trades_completed: int = strawberry.field(
        description="Marketplace trades it completed, as supplier or receiver."
    )
    reviews_count: int = strawberry.field(description="Reviews trading partners gave it.")
    rating_average: float | None = strawberry.field(
        description="Average of those reviews' stars (1-5); null without reviews."
    )
    verified: bool = strawberry.field(
        description="Whether a platform admin has checked that it is who it says it is. Show "
        "unverified institutions as such: until verified they read only what a firm reads."
    )
    verified_at: datetime | None = strawberry.field(
        description="When it was verified; null while unverified."
    )
    # The columns behind `activity` and `namedInInsights`, whose answers need the request (its
    # loaders, its viewer).
    activity_code: strawberry.Private[str | None]
    named: strawberry.Private[bool]

    @strawberry.field(
        description="What it does: an ISIC Rev. 4 class (four digits), such as `1610` Sawmilling "
        "and planing of wood; null until its admins say. Cluster insights tell links within one "
        "activity from links along a supply chain by it."
    )
    async def activity(self, info: strawberry.Info) -> ActivityType | None:
        return await activity_by_code(info, self.activity_code)

    @strawberry.field(
        description="Whether cluster insights may show it by name to the cluster's verified "
        "institutions; when false they show it as a firm in its activity. Its own members and "
        "platform admins see this choice; null for everyone else."
    )
    async def named_in_insights(self, info: strawberry.Info) -> bool | None:
        context = context_of(info)
        viewer = context.viewer
        if isinstance(viewer, Anonymous):
            return None
        loader = context.loader(
            "identity:privacy_readable", lambda: _privacy_readable_loader(context.db, viewer)
        )
        return self.named if await loader.load(uuid.UUID(self.id)) else None

    @classmethod
    def of(cls, organisation: models.Organisation) -> OrganisationType:
        return cls(
            id=strawberry.ID(str(organisation.id)),
            name=organisation.name,
            kind=organisation.kind,
            subtype=organisation.subtype,
            description=organisation.description,
            location=Location(
                lat=organisation.lat, lon=organisation.lon, place_name=organisation.place_name
            ),
            cluster=ClusterType.of(organisation.cluster),
            created_at=organisation.created_at,
            updated_at=organisation.updated_at,
            version=organisation.version,
            trust_score=organisation.trust_score,
            trades_completed=organisation.trades_completed,
            reviews_count=organisation.reviews_count,
            rating_average=(
                round(organisation.rating_total / organisation.reviews_count, 2)
                if organisation.reviews_count
                else None
            ),
            verified=organisation.verified_at is not None,
            verified_at=organisation.verified_at,
            activity_code=organisation.activity_code,
            named=organisation.named_in_insights,
        )


def _privacy_readable_loader(db: Database, viewer: Viewer) -> DataLoader[uuid.UUID, bool]:
    """Whether the viewer may read each organisation's privacy choices: a page of
    organisations asks one by one, the service answers for all of them at once."""

    async def load(organisation_ids: list[uuid.UUID]) -> list[bool]:
        readable = await service.privacy_readable(
            db=db, viewer=viewer, organisation_ids=organisation_ids
        )
        return [o in readable for o in organisation_ids]

    return DataLoader(load_fn=load)


@strawberry.type(name="User", description="A person with an account.")
class UserType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    email: str = strawberry.field(description="Sign-in email, lower-cased.")
    display_name: str = strawberry.field(description="Name shown to others.")
    is_platform_admin: bool = strawberry.field(description="Whether they administer the platform.")
    created_at: datetime = strawberry.field(description="When the account was made.")

    @classmethod
    def of(cls, user: models.User) -> UserType:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            is_platform_admin=user.is_platform_admin,
            created_at=user.created_at,
        )


@strawberry.type(name="Membership", description="A person's place in an organisation.")
class MembershipType:
    organisation: OrganisationType = strawberry.field(description="The organisation.")
    role: MembershipRole = strawberry.field(description="ADMIN or MEMBER.")
    joined_at: datetime = strawberry.field(description="When they joined it.")

    @classmethod
    def of(cls, membership: models.Membership) -> MembershipType:
        return cls(
            organisation=OrganisationType.of(membership.organisation),
            role=membership.role,
            joined_at=membership.created_at,
        )


@strawberry.type(description="A person in an organisation, as its members see them.")
class Member:
    user_id: strawberry.ID = strawberry.field(description="The person's id.")
    display_name: str = strawberry.field(description="Name shown to others.")
    email: str = strawberry.field(description="Sign-in email, for the organisation's contacts.")
    role: MembershipRole = strawberry.field(description="ADMIN or MEMBER.")
    joined_at: datetime = strawberry.field(description="When they joined.")

    @classmethod
    def of(cls, membership: models.Membership) -> Member:
        return cls(
            user_id=strawberry.ID(str(membership.user_id)),
            display_name=membership.user.display_name,
            email=membership.user.email,
            role=membership.role,
            joined_at=membership.created_at,
        )


@strawberry.type(name="Me", description="The signed-in person and whom they act for.")
class MeType:
    user: UserType = strawberry.field(description="The person.")
    organisation: OrganisationType | None = strawberry.field(
        description="The organisation this token acts for; null for a platform admin token."
    )
    role: Role = strawberry.field(description="The role this token carries.")
    memberships: list[MembershipType] = strawberry.field(
        description="Every organisation the person belongs to, oldest first: the choices for "
        "`tokenCreate(input: {organisationId})`."
    )


@strawberry.type(
    name="OrganisationInvite",
    description="A code that lets people join an organisation. The code is shown only once.",
)
class OrganisationInviteType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    code: str = strawberry.field(
        description="The code to share, such as `K7QD-9MXA-3PRT`; only its hash is kept, so it "
        "cannot be shown again."
    )
    role: MembershipRole = strawberry.field(description="The role people who join get.")
    max_uses: int = strawberry.field(description="How many people can join with it.")
    uses: int = strawberry.field(description="How many have joined with it.")
    expires_at: datetime = strawberry.field(description="When it stops working.")


# ---------------------------------------------------------------------------------------------
# Inputs


@strawberry.input(description="A new organisation, created together with an account.")
class NewOrganisationInput:
    name: str = strawberry.field(description="Display name, 2 to 200 characters.")
    kind: OrganisationKind = strawberry.field(description="Firm, community or institution.")
    cluster_id: strawberry.ID = strawberry.field(description="The cluster it belongs to.")
    location: LocationInput = strawberry.field(description="Where it is.")
    subtype: OrganisationSubtype | None = strawberry.field(
        default=None, description="Finer kind; must fit the kind."
    )
    description: str = strawberry.field(default="", description="What it does, optional.")
    activity_code: str | None = strawberry.field(
        default=None,
        description="What it does as an ISIC Rev. 4 class (four digits; pick one with "
        "`activities`), optional. VALIDATION for any other code.",
    )
    named_in_insights: bool = strawberry.field(
        default=True,
        description="Whether cluster insights may name it to the cluster's verified "
        "institutions (false: shown as a firm in its activity).",
    )


@strawberry.input(description="Sign up: a person with a new organisation or an invite code.")
class AccountRegisterInput:
    email: str = strawberry.field(description="Sign-in email.")
    password: str = strawberry.field(description="At least 10 characters.")
    display_name: str = strawberry.field(description="Name shown to others.")
    organisation: NewOrganisationInput | None = strawberry.field(
        default=None, description="A new organisation the person will administer."
    )
    invite_code: str | None = strawberry.field(
        default=None, description="Join an existing organisation instead (give one of the two)."
    )


@strawberry.input(description="Sign in.")
class TokenCreateInput:
    email: str = strawberry.field(description="Sign-in email.")
    password: str = strawberry.field(description="Password.")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The organisation to act for; the earliest joined when omitted (platform "
        "admins get an ADMIN token when omitted).",
    )


@strawberry.input(description="A refresh token to exchange, optionally for another organisation.")
class TokenRefreshInput:
    refresh_token: str = strawberry.field(description="The refresh token from the last sign-in.")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Switch to this organisation (one of `me.memberships`); the current one "
        "when omitted.",
    )


@strawberry.input(description="A refresh token to revoke.")
class TokenRevokeInput:
    refresh_token: str = strawberry.field(description="The refresh token from the last sign-in.")


@strawberry.input(description="A new invite code for an organisation.")
class OrganisationInviteCreateInput:
    organisation_id: strawberry.ID = strawberry.field(description="The organisation.")
    role: MembershipRole = strawberry.field(
        default=MembershipRole.MEMBER, description="Role of people who join."
    )
    max_uses: int = strawberry.field(default=1, description="How many people may use it, 1-500.")
    expires_in_days: int = strawberry.field(default=7, description="Days it stays valid, 1-90.")


@strawberry.input(description="Join an organisation with an invite code.")
class OrganisationJoinInput:
    invite_code: str = strawberry.field(description="The code, with or without dashes.")


@strawberry.input(description="Take a person out of an organisation (or leave it yourself).")
class OrganisationMemberRemoveInput:
    organisation_id: strawberry.ID = strawberry.field(description="The organisation.")
    user_id: strawberry.ID = strawberry.field(description="The person; your own id to leave.")


@strawberry.input(description="Changes to an organisation; omitted fields stay as they are.")
class OrganisationUpdateInput:
    id: strawberry.ID = strawberry.field(description="The organisation.")
    name: str | None = strawberry.field(default=None, description="New display name.")
    subtype: OrganisationSubtype | None = strawberry.field(default=None, description="New subtype.")
    description: str | None = strawberry.field(default=None, description="New description.")
    location: LocationInput | None = strawberry.field(default=None, description="New location.")
    activity_code: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="New activity, an ISIC Rev. 4 class (four digits; VALIDATION for any other "
        "code); null clears it.",
    )
    named_in_insights: bool | None = strawberry.field(
        default=None,
        description="Whether cluster insights may name it to the cluster's verified "
        "institutions (false: shown as a firm in its activity).",
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description="The version the app last saw; a CONFLICT error if it changed since.",
    )


@strawberry.input(description="A new cluster (platform admins).")
class ClusterCreateInput:
    slug: str = strawberry.field(description="Short stable name, such as `maniwa-wood`.")
    name: str = strawberry.field(description="Display name.")
    region: str = strawberry.field(description="State, prefecture or province.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    sector: Sector = strawberry.field(description="The industry it is built around.")
    centre: LocationInput = strawberry.field(description="Approximate centre.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    languages: list[str] = strawberry.field(description="BCP 47 language tags.")
    timezone: str = strawberry.field(description="IANA time zone.")
    description: str = strawberry.field(default="", description="What the cluster does.")


@strawberry.input(description="Narrow the list of clusters.")
class ClusterFilter:
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 code.")
    sector: Sector | None = strawberry.field(default=None, description="Only this sector.")
    search: str | None = strawberry.field(
        default=None, description="Part of the name or region, any case."
    )


@strawberry.input(description="Narrow the list of organisations.")
class OrganisationFilter:
    cluster_id: strawberry.ID | None = strawberry.field(default=None, description="Only here.")
    kind: OrganisationKind | None = strawberry.field(default=None, description="Only this kind.")
    subtype: OrganisationSubtype | None = strawberry.field(
        default=None, description="Only this subtype."
    )
    search: str | None = strawberry.field(default=None, description="Part of the name, any case.")
    verified: bool | None = strawberry.field(
        default=None,
        description="Only verified (true) or unverified (false) ones: the platform admins' "
        "queue of institutions waiting for a check.",
    )


# ---------------------------------------------------------------------------------------------
# Payloads


@strawberry.type(description="Result of `accountRegister`.")
class AccountRegisterPayload(Payload):
    user: UserType | None = strawberry.field(
        default=None,
        description="Always null: the answer does not say whether the email already had an "
        "account (its owner is notified instead).",
        deprecation_reason="Registration no longer tells whether it created an account; an "
        "empty `errors` means the request was accepted. Sign in with `tokenCreate`.",
    )


@strawberry.type(description="Result of `tokenCreate` and `tokenRefresh`.")
class TokenPayload(Payload):
    access_token: str | None = strawberry.field(
        default=None, description="Send as `Authorization: Bearer <token>`; lives ~15 minutes."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the access token expires."
    )
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Exchange with `tokenRefresh` for a new pair; works once (it rotates).",
    )
    refresh_expires_at: datetime | None = strawberry.field(
        default=None, description="When the refresh token expires."
    )
    role: Role | None = strawberry.field(default=None, description="The role the token carries.")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The organisation the token acts for."
    )

    @classmethod
    def of(cls, pair: service.TokenPair) -> TokenPayload:
        return cls(
            access_token=pair.access_token,
            expires_at=pair.expires_at,
            refresh_token=pair.refresh_token,
            refresh_expires_at=pair.refresh_expires_at,
            role=pair.role,
            organisation_id=strawberry.ID(str(pair.organisation_id))
            if pair.organisation_id
            else None,
        )


@strawberry.type(description="Result of `tokenRevoke`.")
class TokenRevokePayload(Payload):
    revoked: bool = strawberry.field(
        default=False, description="True when the sign-in's tokens are revoked."
    )


@strawberry.type(description="Result of `organisationInviteCreate`.")
class OrganisationInviteCreatePayload(Payload):
    invite: OrganisationInviteType | None = strawberry.field(
        default=None, description="The invite, with its code (shown only now)."
    )


@strawberry.type(description="Result of `organisationJoin`.")
class OrganisationJoinPayload(Payload):
    membership: MembershipType | None = strawberry.field(
        default=None, description="The new membership. Get a token for it with `tokenCreate`."
    )


@strawberry.type(description="Result of `organisationMemberRemove`.")
class OrganisationMemberRemovePayload(Payload):
    removed_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The person who no longer belongs to the organisation."
    )


@strawberry.type(description="Result of `organisationUpdate`.")
class OrganisationUpdatePayload(Payload):
    organisation: OrganisationType | None = strawberry.field(
        default=None, description="The organisation as it is now."
    )


@strawberry.type(description="Result of `clusterCreate`.")
class ClusterCreatePayload(Payload):
    cluster: ClusterType | None = strawberry.field(default=None, description="The new cluster.")
