"""Identity operations and helpers that tests of other domains use too: invites, removing a
member, signing in as an organisation, and a second cluster. Not a test module."""

from __future__ import annotations

from typing import Any

from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.db import Database
from backend.kit.validation import Place
from tests.conftest import PASSWORD, SIGN_IN, GraphQL

INVITE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""
REMOVE = """
mutation Remove($organisationId: ID!, $userId: ID!) {
  organisationMemberRemove(input: {organisationId: $organisationId, userId: $userId}) {
    removedUserId errors { code message field }
  }
}
"""

VERIFY = """
mutation Verify($input: OrganisationVerifyInput!) {
  organisationVerify(input: $input) { organisation { verified } errors { code message field } }
}
"""


async def verify(gql: GraphQL, admin_token: str, organisation_id: str | None) -> None:
    """A platform admin verifies the organisation (institutions then read across the cluster)."""
    body = await gql(VERIFY, {"input": {"organisationId": organisation_id}}, token=admin_token)
    assert body["data"]["organisationVerify"]["errors"] == [], body


async def invite_code(gql: GraphQL, admin: Any, role: str = "MEMBER") -> str:
    """A new invite to ``admin``'s organisation (an :class:`Account`), for ``role``."""
    body = await gql(
        INVITE,
        {"input": {"organisationId": admin.organisation_id, "role": role}},
        token=admin.access_token,
    )
    assert body["data"]["organisationInviteCreate"]["errors"] == [], body
    code: str = body["data"]["organisationInviteCreate"]["invite"]["code"]
    return code


async def sign_in(gql: GraphQL, email: str, organisation_id: str | None = None) -> str:
    """An access token for ``email`` acting for ``organisation_id`` (their default if None)."""
    body = await gql(
        SIGN_IN,
        {"input": {"email": email, "password": PASSWORD, "organisationId": organisation_id}},
        token="",
    )
    assert body["data"]["tokenCreate"]["errors"] == [], body
    token: str = body["data"]["tokenCreate"]["accessToken"]
    return token


async def second_cluster(db: Database) -> str:
    """A rice cluster in Thailand, besides the ``cluster_id`` fixture's wood cluster."""
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Chachoengsao",
            country="TH",
            sector=Sector.RICE,
            centre=Place(lat=13.69, lon=101.07),
            currency="THB",
            languages=["th"],
            timezone="Asia/Bangkok",
        ),
    )
    return str(cluster.id)
