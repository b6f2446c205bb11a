"""Who may do what with a licence: every licence operation asked by each kind of viewer, on a
fresh licence of the holder's (naming as its authority the institution the viewer is, for the
authorities), with the answer it should get."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQL
from tests.licences import kit
from tests.licences.kit import People

OK, EMPTY, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED = (
    "OK",
    "EMPTY",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNAUTHENTICATED",
)
VIEWERS = (
    "anonymous",
    "holder",  # an admin of the holder, acting for it
    "member",  # a plain member of the holder
    "other_firm",
    "authority",  # the issuing authority, a verified institution
    "unverified_authority",  # named as the authority, but not verified by the platform
    "other_institution",  # verified, not named
    "admin",  # a platform admin
)


def row(**cells: str) -> dict[str, str]:
    expected = dict.fromkeys(VIEWERS, FORBIDDEN) | {"anonymous": UNAUTHENTICATED}
    assert set(cells) <= set(VIEWERS)
    return expected | cells


NOT_FOR_STRANGERS = {
    "other_firm": NOT_FOUND,
    "unverified_authority": NOT_FOUND,
    "other_institution": NOT_FOUND,
}
EXPECTED: dict[str, dict[str, str]] = {
    "wasteLicences": row(
        holder=OK,
        member=OK,
        authority=OK,
        admin=OK,
        other_firm=EMPTY,
        unverified_authority=EMPTY,
        other_institution=EMPTY,
    ),
    "wasteLicence": row(holder=OK, member=OK, authority=OK, admin=OK, **NOT_FOR_STRANGERS),
    # each records a licence of the organisation it acts for; a platform admin acts for none
    "wasteLicenceCreate": row(
        holder=OK, other_firm=OK, authority=OK, unverified_authority=OK, other_institution=OK
    ),
    "wasteLicenceUpdate": row(holder=OK, **NOT_FOR_STRANGERS),
    "wasteLicenceDelete": row(holder=OK, **NOT_FOR_STRANGERS),
    "wasteLicenceVerify": row(authority=OK, admin=OK, **NOT_FOR_STRANGERS),
    "wasteLicenceUnverify": row(authority=OK, admin=OK, **NOT_FOR_STRANGERS),
}


@pytest.fixture
async def people(gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str) -> People:
    return await kit.people(gql, register, cluster_id, platform_admin_token)


def classify(body: dict[str, Any], field: str) -> str:
    if body.get("errors"):
        code: str = body["errors"][0]["extensions"]["code"]
        return code
    data = body["data"][field]
    if data is None:
        return NOT_FOUND
    if data.get("errors"):
        payload_code: str = data["errors"][0]["code"]
        return payload_code
    if data.get("totalCount") == 0:
        return EMPTY
    return OK


async def ask(gql: GraphQL, people: People, operation: str, viewer: str, counter: int) -> str:
    """One cell: a fresh licence of the holder's, then the operation as ``viewer``."""
    authority = (
        people.unverified_authority if viewer == "unverified_authority" else people.authority
    )
    licence = await kit.create(
        gql,
        people.holder.access_token,
        number=f"P-{counter}",
        authorityId=authority.organisation_id,
    )
    if operation == "wasteLicenceUnverify":
        await kit.verify_licence(gql, people.admin_token, licence["id"])
    variables: dict[str, Any] = {
        "wasteLicences": {},
        "wasteLicence": {"id": licence["id"]},
        "wasteLicenceCreate": {"input": kit.licence_input(number=f"C-{counter}")},
        "wasteLicenceUpdate": {"input": {"id": licence["id"], "note": "Changed"}},
        "wasteLicenceDelete": {"id": licence["id"]},
        "wasteLicenceVerify": {"input": {"id": licence["id"]}},
        "wasteLicenceUnverify": {"input": {"id": licence["id"], "reason": "Suspended"}},
    }[operation]
    document = {
        "wasteLicences": kit.LICENCES,
        "wasteLicence": kit.LICENCE,
        "wasteLicenceCreate": kit.CREATE,
        "wasteLicenceUpdate": kit.UPDATE,
        "wasteLicenceDelete": kit.DELETE,
        "wasteLicenceVerify": kit.VERIFY,
        "wasteLicenceUnverify": kit.UNVERIFY,
    }[operation]
    token = people.token(viewer)
    body = await gql(document, variables, token=token or "")
    return classify(body, operation)


@pytest.mark.parametrize("operation", list(EXPECTED))
async def test_who_may_do_what_with_a_licence(gql: GraphQL, people: People, operation: str) -> None:
    answers = {
        viewer: await ask(gql, people, operation, viewer, counter)
        for counter, viewer in enumerate(VIEWERS)
    }
    assert answers == EXPECTED[operation]


async def test_a_plain_member_reads_but_does_not_edit_its_organisations_licence(
    gql: GraphQL, people: People
) -> None:
    licence = await kit.create(gql, people.holder.access_token)
    body = await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "note": "x"}},
        token=people.member.access_token,
    )
    assert body["data"]["wasteLicenceUpdate"] == {
        "wasteLicence": None,
        "errors": [
            {
                "code": FORBIDDEN,
                "message": "Only an admin of the licence's holder, acting for it, may do this",
                "field": None,
            }
        ],
    }
