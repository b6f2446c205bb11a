"""Trust is earned, not declared (issue 15, item 5): anyone can register an institution, but
only one a platform admin has verified reads other organisations' data; every verification,
its withdrawal and every disabled account leaves an audit record."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD, SIGN_IN, Account, GraphQL

IMPACT = """
query Impact($org: ID, $cluster: ID) {
  impactSummary(organisationId: $org, clusterId: $cluster) { tradesCompleted }
}
"""
VERIFY = """
mutation Verify($input: OrganisationVerifyInput!) {
  organisationVerify(input: $input) {
    organisation { id verified verifiedAt }
    errors { code message field }
  }
}
"""
UNVERIFY = """
mutation Unverify($input: OrganisationUnverifyInput!) {
  organisationUnverify(input: $input) {
    organisation { id verified verifiedAt }
    errors { code message field }
  }
}
"""
AUDIT = """
query Audit($filter: AuditRecordFilter) {
  auditRecords(filter: $filter) {
    totalCount
    edges { node { action actorName subjectOrganisationId subjectUserId reason } }
  }
}
"""
ORGANISATION = "query O($id: ID!) { organisation(id: $id) { verified verifiedAt } }"
QUEUE = """
{ organisations(filter: {kind: INSTITUTION, verified: false}) { edges { node { name } } } }
"""


def impact_code(body: dict[str, Any]) -> str:
    """OK, or the code of the error that refused the read."""
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else "OK"


@pytest.fixture
async def firm(register: Any, cluster_id: str) -> Account:
    account: Account = await register("mill@example.org", cluster_id, name="Sawmill")
    return account


@pytest.fixture
async def university(register: Any, cluster_id: str) -> Account:
    account: Account = await register(
        "lab@uni.example.org",
        cluster_id,
        name="Okayama University Biomass Lab",
        kind="INSTITUTION",
        subtype="UNIVERSITY",
    )
    return account


async def test_a_new_institution_is_unverified_and_reads_only_its_own_impact(
    gql: GraphQL, firm: Account, university: Account, cluster_id: str
) -> None:
    # Given an institution that just registered itself
    shown = await gql(ORGANISATION, {"id": university.organisation_id})
    assert shown == {"data": {"organisation": {"verified": False, "verifiedAt": None}}}

    # when it reads a firm's impact ledger, the whole cluster's, and its own
    token = university.access_token
    other = await gql(IMPACT, {"org": firm.organisation_id}, token=token)
    cluster = await gql(IMPACT, {"cluster": cluster_id}, token=token)
    own = await gql(IMPACT, {"org": university.organisation_id}, token=token)

    # then only its own is open to it, and the refusal says what would open the rest
    assert (impact_code(other), impact_code(cluster), impact_code(own)) == (
        "FORBIDDEN",
        "FORBIDDEN",
        "OK",
    )
    assert "verified" in other["errors"][0]["message"]


async def test_verification_opens_reading_on_the_next_request_and_withdrawal_closes_it(
    gql: GraphQL, firm: Account, university: Account, platform_admin_token: str
) -> None:
    token = university.access_token  # the same token throughout: no new sign-in needed

    # When a platform admin verifies the institution
    verified = await gql(
        VERIFY,
        {"input": {"organisationId": university.organisation_id, "note": "Letter from the dean"}},
        token=platform_admin_token,
    )
    payload = verified["data"]["organisationVerify"]
    assert payload["errors"] == [], verified
    assert payload["organisation"]["verified"] is True
    # then its next request reads the firm's ledger
    assert impact_code(await gql(IMPACT, {"org": firm.organisation_id}, token=token)) == "OK"

    # and when the verification is withdrawn, the next request no longer does
    withdrawn = await gql(
        UNVERIFY,
        {"input": {"organisationId": university.organisation_id, "reason": "Lab closed"}},
        token=platform_admin_token,
    )
    assert withdrawn["data"]["organisationUnverify"]["organisation"]["verified"] is False
    refused = await gql(IMPACT, {"org": firm.organisation_id}, token=token)
    assert impact_code(refused) == "FORBIDDEN"

    # and both decisions are on record, newest first, with who made them and why
    audit = await gql(
        AUDIT,
        {"filter": {"organisationId": university.organisation_id}},
        token=platform_admin_token,
    )
    assert audit["data"]["auditRecords"] == {
        "totalCount": 2,
        "edges": [
            {
                "node": {
                    "action": "ORGANISATION_UNVERIFIED",
                    "actorName": "Platform Admin",
                    "subjectOrganisationId": university.organisation_id,
                    "subjectUserId": None,
                    "reason": "Lab closed",
                }
            },
            {
                "node": {
                    "action": "ORGANISATION_VERIFIED",
                    "actorName": "Platform Admin",
                    "subjectOrganisationId": university.organisation_id,
                    "subjectUserId": None,
                    "reason": "Letter from the dean",
                }
            },
        ],
    }


async def test_verifying_twice_records_one_decision(
    gql: GraphQL, university: Account, platform_admin_token: str
) -> None:
    given = {"input": {"organisationId": university.organisation_id}}
    first = await gql(VERIFY, given, token=platform_admin_token)
    again = await gql(VERIFY, given, token=platform_admin_token)
    assert first["data"] == again["data"]
    audit = await gql(
        AUDIT, {"filter": {"action": "ORGANISATION_VERIFIED"}}, token=platform_admin_token
    )
    assert audit["data"]["auditRecords"]["totalCount"] == 1


async def test_only_platform_admins_verify_or_read_the_audit(
    gql: GraphQL, firm: Account, university: Account
) -> None:
    given = {"input": {"organisationId": university.organisation_id}}
    # An institution cannot verify itself, a firm cannot verify it, nobody anonymous can
    answers = [
        (await gql(VERIFY, given, token=token))["data"]["organisationVerify"]["errors"][0]["code"]
        for token in (university.access_token, firm.access_token, "")
    ]
    assert answers == ["FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]
    audit = await gql(AUDIT, token=university.access_token)
    assert audit["data"] is None
    assert audit["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    shown = await gql(ORGANISATION, {"id": university.organisation_id})
    assert shown["data"]["organisation"]["verified"] is False


async def test_bad_verification_requests_get_typed_errors(
    gql: GraphQL, university: Account, platform_admin_token: str
) -> None:
    no_reason = await gql(
        UNVERIFY,
        {"input": {"organisationId": university.organisation_id, "reason": " "}},
        token=platform_admin_token,
    )
    unknown = await gql(
        VERIFY,
        {"input": {"organisationId": "00000000-0000-0000-0000-000000000000"}},
        token=platform_admin_token,
    )
    assert [
        (e["code"], e["field"]) for e in no_reason["data"]["organisationUnverify"]["errors"]
    ] == [("VALIDATION", "reason")]
    assert [(e["code"], e["field"]) for e in unknown["data"]["organisationVerify"]["errors"]] == [
        ("NOT_FOUND", "organisationId")
    ]


async def test_the_queue_lists_institutions_waiting_for_a_check(
    gql: GraphQL, university: Account, platform_admin_token: str
) -> None:
    waiting = await gql(QUEUE, token=platform_admin_token)
    assert waiting["data"]["organisations"]["edges"] == [
        {"node": {"name": "Okayama University Biomass Lab"}}
    ]
    await gql(
        VERIFY,
        {"input": {"organisationId": university.organisation_id}},
        token=platform_admin_token,
    )
    assert (await gql(QUEUE, token=platform_admin_token))["data"]["organisations"]["edges"] == []


DISABLE = """
mutation D($input: AccountDisableInput!) {
  accountDisable(input: $input) { userId active errors { code field } }
}
"""
ENABLE = """
mutation E($input: AccountEnableInput!) {
  accountEnable(input: $input) { userId active errors { code field } }
}
"""


async def test_a_disabled_account_signs_in_again_once_enabled_and_both_are_recorded(
    gql: GraphQL, firm: Account, platform_admin_token: str
) -> None:
    sign_in = {"input": {"email": firm.email, "password": PASSWORD}}
    disabled = await gql(
        DISABLE,
        {"input": {"userId": firm.user_id, "reason": "Fake listings"}},
        token=platform_admin_token,
    )
    assert disabled["data"]["accountDisable"] == {
        "userId": firm.user_id,
        "active": False,
        "errors": [],
    }
    refused = await gql(SIGN_IN, sign_in, token="")
    assert refused["data"]["tokenCreate"]["errors"][0]["code"] == "INVALID_CREDENTIALS"

    enabled = await gql(ENABLE, {"input": {"userId": firm.user_id}}, token=platform_admin_token)
    assert enabled["data"]["accountEnable"]["active"] is True
    signed_in = await gql(SIGN_IN, sign_in, token="")
    assert signed_in["data"]["tokenCreate"]["errors"] == []

    audit = await gql(AUDIT, {"filter": {"userId": firm.user_id}}, token=platform_admin_token)
    assert [e["node"]["action"] for e in audit["data"]["auditRecords"]["edges"]] == [
        "ACCOUNT_ENABLED",
        "ACCOUNT_DISABLED",
    ]


async def test_a_platform_admin_cannot_disable_themselves_and_reasons_are_required(
    gql: GraphQL, firm: Account, platform_admin_token: str
) -> None:
    me = await gql("{ me { user { id } } }", token=platform_admin_token)
    own_id = me["data"]["me"]["user"]["id"]
    itself = await gql(
        DISABLE, {"input": {"userId": own_id, "reason": "Oops"}}, token=platform_admin_token
    )
    no_reason = await gql(
        DISABLE, {"input": {"userId": firm.user_id, "reason": ""}}, token=platform_admin_token
    )
    by_a_firm = await gql(
        DISABLE, {"input": {"userId": firm.user_id, "reason": "Rival"}}, token=firm.access_token
    )
    assert [
        [(e["code"], e["field"]) for e in body["data"]["accountDisable"]["errors"]]
        for body in (itself, no_reason, by_a_firm)
    ] == [[("FORBIDDEN", "userId")], [("VALIDATION", "reason")], [("FORBIDDEN", None)]]
