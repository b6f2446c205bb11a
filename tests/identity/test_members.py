"""organisationMembers and organisationMemberRemove."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import GraphQL
from tests.identity.kit import REMOVE, invite_code

MEMBERS = """
query Members($id: ID!) {
  organisationMembers(organisationId: $id) {
    totalCount edges { node { userId displayName email role } }
  }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  tokenRefresh(input: {refreshToken: $token}) { accessToken errors { code } }
}
"""


async def team(gql: GraphQL, register: Any, cluster_id: str, role: str = "MEMBER") -> tuple:
    admin = await register("sato@lumber.example", cluster_id, name="Maniwa Lumber")
    member = await register("ito@lumber.example", invite_code=await invite_code(gql, admin, role))
    return admin, member


async def test_members_see_who_belongs_in_joining_order(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an admin and a member who joined with an invite
    admin, member = await team(gql, register, cluster_id)
    # when either lists the members
    for account in (admin, member):
        body = await gql(MEMBERS, {"id": admin.organisation_id}, token=account.access_token)
        # then both people are there, the founder first
        assert body == {
            "data": {
                "organisationMembers": {
                    "totalCount": 2,
                    "edges": [
                        {
                            "node": {
                                "userId": admin.user_id,
                                "displayName": "sato",
                                "email": "sato@lumber.example",
                                "role": "ADMIN",
                            }
                        },
                        {
                            "node": {
                                "userId": member.user_id,
                                "displayName": "ito",
                                "email": "ito@lumber.example",
                                "role": "MEMBER",
                            }
                        },
                    ],
                }
            }
        }


async def test_outsiders_cannot_list_members(gql: GraphQL, register: Any, cluster_id: str) -> None:
    admin, _ = await team(gql, register, cluster_id)
    outsider = await register("tanaka@pellets.example", cluster_id)
    body = await gql(MEMBERS, {"id": admin.organisation_id}, token=outsider.access_token)
    anonymous = await gql(MEMBERS, {"id": admin.organisation_id}, token="")
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]


async def test_an_admin_removes_a_member_whose_session_then_ends(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    admin, member = await team(gql, register, cluster_id)
    removed = await gql(
        REMOVE,
        {"organisationId": admin.organisation_id, "userId": member.user_id},
        token=admin.access_token,
    )
    assert removed == {
        "data": {"organisationMemberRemove": {"removedUserId": member.user_id, "errors": []}}
    }
    listed = await gql(MEMBERS, {"id": admin.organisation_id}, token=admin.access_token)
    assert listed["data"]["organisationMembers"]["totalCount"] == 1
    refreshed = await gql(REFRESH, {"token": member.refresh_token}, token="")
    assert refreshed["data"]["tokenRefresh"]["errors"] == [{"code": "TOKEN_INVALID"}]


async def test_a_member_may_leave_but_not_remove_others(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    admin, member = await team(gql, register, cluster_id)
    refused = await gql(
        REMOVE,
        {"organisationId": admin.organisation_id, "userId": admin.user_id},
        token=member.access_token,
    )
    assert [e["code"] for e in refused["data"]["organisationMemberRemove"]["errors"]] == [
        "FORBIDDEN"
    ]
    left = await gql(
        REMOVE,
        {"organisationId": admin.organisation_id, "userId": member.user_id},
        token=member.access_token,
    )
    assert left["data"]["organisationMemberRemove"]["errors"] == []


async def test_the_last_admin_cannot_leave(gql: GraphQL, register: Any, cluster_id: str) -> None:
    admin, _ = await team(gql, register, cluster_id)
    body = await gql(
        REMOVE,
        {"organisationId": admin.organisation_id, "userId": admin.user_id},
        token=admin.access_token,
    )
    assert body["data"]["organisationMemberRemove"] == {
        "removedUserId": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "An organisation keeps at least one admin; make another member "
                "admin first",
                "field": "userId",
            }
        ],
    }


async def test_two_admins_removing_each_other_at_once_leave_one_admin(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given two admins (the second invited as ADMIN and signed in for the organisation)
    first, second = await team(gql, register, cluster_id, role="ADMIN")
    # when each removes the other at the same moment
    results = await asyncio.gather(
        gql(
            REMOVE,
            {"organisationId": first.organisation_id, "userId": second.user_id},
            token=first.access_token,
        ),
        gql(
            REMOVE,
            {"organisationId": first.organisation_id, "userId": first.user_id},
            token=second.access_token,
        ),
    )
    # then one removal goes through and the other is refused: one admin remains
    outcomes = sorted(
        [e["code"] for e in r["data"]["organisationMemberRemove"]["errors"]] for r in results
    )
    assert outcomes == [[], ["CONFLICT"]] or outcomes == [[], ["FORBIDDEN"]]
    remaining = await gql(
        MEMBERS,
        {"id": first.organisation_id},
        token=first.access_token
        if results[0]["data"]["organisationMemberRemove"]["errors"] == []
        else second.access_token,
    )
    assert [e["node"]["role"] for e in remaining["data"]["organisationMembers"]["edges"]] == [
        "ADMIN"
    ]
