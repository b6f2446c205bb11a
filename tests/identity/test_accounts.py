"""accountRegister: a person with a new organisation, or with an invite code."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from backend.identity.models import Membership, Organisation, OrganisationInvite, User
from backend.kit.db import Database, utcnow
from tests.conftest import PASSWORD, REGISTER, SIGN_IN, GraphQL, organisation_input

ME = """
query {
  me {
    user { email displayName isPlatformAdmin }
    role
    organisation { name kind subtype }
    memberships { role organisation { name } }
  }
}
"""
INVITE_CREATE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""


async def row_counts(db: Database) -> dict[str, int]:
    """How many people, organisations, memberships and invites the database holds."""
    counts = {}
    async with db.read() as session:
        for model in (User, Organisation, Membership):
            counts[model.__tablename__] = await session.scalar(
                select(func.count()).select_from(model)
            )
    return counts


async def invite_uses(db: Database) -> list[int]:
    async with db.read() as session:
        return list((await session.scalars(select(OrganisationInvite.uses))).all())


def account_input(email: str = "tanaka@pellets.example", **fields: Any) -> dict[str, Any]:
    return {"email": email, "password": PASSWORD, "displayName": "Tanaka", **fields}


# Every accepted registration, whether or not it made an account.
ACCEPTED = {"data": {"accountRegister": {"user": None, "errors": []}}}


async def emails(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.scalars(select(User.email).order_by(User.email))).all())


def failure(*errors: tuple[str, str, str | None]) -> dict[str, Any]:
    """The whole response of a refused accountRegister."""
    return {
        "data": {
            "accountRegister": {
                "user": None,
                "errors": [
                    {"code": code, "message": message, "field": field}
                    for code, message, field in errors
                ],
            }
        }
    }


async def make_invite(gql: GraphQL, register: Any, cluster_id: str, **invite: Any) -> str:
    """An invite code of a freshly registered firm, made by its admin."""
    admin = await register("admin@inviting.example", cluster_id, name="Inviting Firm")
    created = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id, **invite}},
        token=admin.access_token,
    )
    assert created["data"]["organisationInviteCreate"]["errors"] == [], created
    code: str = created["data"]["organisationInviteCreate"]["invite"]["code"]
    return code


async def test_register_with_new_organisation_makes_the_person_its_admin(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given an email typed with capitals and spaces, and a new community organisation
    new_account = account_input(
        email="  Tanaka@Pellets.Example ",
        organisation=organisation_input(
            cluster_id, name="Maniwa Women's SHG", kind="COMMUNITY", subtype="SHG"
        ),
    )

    # when the person registers
    registered = await gql(REGISTER, {"input": new_account})

    # then it is accepted (the answer never says whether an account was made) and the account
    # exists with the normalised email
    assert registered == ACCEPTED
    assert await emails(db) == ["tanaka@pellets.example"]
    assert await row_counts(db) == {"users": 1, "organisations": 1, "memberships": 1}

    # and signing in acts for the new organisation, whose admin the person is
    signed_in = await gql(
        SIGN_IN, {"input": {"email": "TANAKA@pellets.example", "password": PASSWORD}}
    )
    pair = signed_in["data"]["tokenCreate"]
    assert pair["errors"] == []
    assert pair["role"] == "COMMUNITY"
    me = await gql(ME, token=pair["accessToken"])
    assert me == {
        "data": {
            "me": {
                "user": {
                    "email": "tanaka@pellets.example",
                    "displayName": "Tanaka",
                    "isPlatformAdmin": False,
                },
                "role": "COMMUNITY",
                "organisation": {
                    "name": "Maniwa Women's SHG",
                    "kind": "COMMUNITY",
                    "subtype": "SHG",
                },
                "memberships": [{"role": "ADMIN", "organisation": {"name": "Maniwa Women's SHG"}}],
            }
        }
    }


async def test_register_reports_every_problem_at_once_and_writes_nothing(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given an input wrong in every field a person can get wrong, with an invite code as well
    organisation = organisation_input(cluster_id, name="Pellet Works", kind="FIRM", subtype="SHG")
    organisation["location"] = {"lat": 90.5, "lon": -180.1, "placeName": "Nowhere"}
    bad = {
        "email": "not-an-email",
        "password": "short",
        "displayName": "   ",
        "organisation": organisation,
        "inviteCode": "ABCD-EFGH-JKLM",
    }

    # when it is sent
    body = await gql(REGISTER, {"input": bad})

    # then every problem comes back in one response, each with the path of its field
    assert body == failure(
        ("VALIDATION", "Enter a valid email address", "email"),
        ("VALIDATION", "Use at least 10 characters", "password"),
        ("VALIDATION", "Must have at least 1 characters", "displayName"),
        ("VALIDATION", "Give either a new organisation or an invite code", "organisation"),
        (
            "VALIDATION",
            "A FIRM organisation's subtype is one of: LARGE_ENTERPRISE, MEDIUM_ENTERPRISE, "
            "MICRO_ENTERPRISE, SMALL_ENTERPRISE",
            "organisation.subtype",
        ),
        ("VALIDATION", "Latitude must be between -90 and 90", "organisation.location.lat"),
        ("VALIDATION", "Longitude must be between -180 and 180", "organisation.location.lon"),
    )
    # and nothing was written
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_checks_organisation_name_and_long_password(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a one-letter organisation name and a password over the maximum length
    new_account = account_input(
        password="x" * 257, organisation=organisation_input(cluster_id, name=" A ")
    )

    # when it is sent
    body = await gql(REGISTER, {"input": new_account})

    # then both are refused
    assert body == failure(
        ("VALIDATION", "Use at most 256 characters", "password"),
        ("VALIDATION", "Must have at least 2 characters", "organisation.name"),
    )
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_refuses_the_email_as_password(gql: GraphQL, db: Database) -> None:
    # given a password that is the email address itself
    new_account = account_input(
        email="tanaka@pellets.example", password="Tanaka@Pellets.example", inviteCode="X"
    )

    # when it is sent
    body = await gql(REGISTER, {"input": new_account})

    # then it is refused before any invite is looked at
    assert body == failure(
        ("VALIDATION", "The password must not be the email address", "password"),
    )
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_needs_an_organisation_or_an_invite(gql: GraphQL, db: Database) -> None:
    # given neither a new organisation nor an invite code
    # when the person registers
    body = await gql(REGISTER, {"input": account_input()})

    # then they are told to give one of the two
    assert body == failure(
        ("VALIDATION", "Give either a new organisation or an invite code", "organisation"),
    )
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_in_unknown_cluster_is_not_found_and_writes_nothing(
    gql: GraphQL, db: Database
) -> None:
    # given a well-formed id of no cluster
    new_account = account_input(organisation=organisation_input(str(uuid.uuid4())))

    # when the person registers
    body = await gql(REGISTER, {"input": new_account})

    # then the cluster is not found and the account was not kept either
    assert body == failure(("NOT_FOUND", "Cluster not found", "organisation.clusterId"))
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_with_malformed_cluster_id_is_a_validation_error(
    gql: GraphQL, db: Database
) -> None:
    # given a cluster id that is no id at all
    new_account = account_input(organisation=organisation_input("maniwa"))

    # when the person registers
    body = await gql(REGISTER, {"input": new_account})

    # then it is a validation error on that field, not a crash
    assert body == failure(("VALIDATION", "Not a valid id", "organisation.clusterId"))
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_reports_malformed_cluster_id_with_the_other_problems(
    gql: GraphQL, db: Database
) -> None:
    # given a malformed cluster id and a bad email in one input
    new_account = account_input(
        email="tanaka-at-pellets", organisation=organisation_input("maniwa")
    )

    # when the person registers
    body = await gql(REGISTER, {"input": new_account})

    # then both problems come back at once, as for every other field
    assert body == failure(
        ("VALIDATION", "Enter a valid email address", "email"),
        ("VALIDATION", "Not a valid id", "organisation.clusterId"),
    )
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_register_refuses_nul_character_in_display_name(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a display name with a NUL character (PostgreSQL text cannot hold one)
    new_account = account_input(
        displayName="Tanaka\u0000", organisation=organisation_input(cluster_id)
    )

    # when the person registers
    body = await gql(REGISTER, {"input": new_account})

    # then it is a validation error on the display name on every database, not a crash
    assert "errors" not in body, body
    payload = body["data"]["accountRegister"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "displayName")]
    assert payload["user"] is None
    assert await row_counts(db) == {"users": 0, "organisations": 0, "memberships": 0}


async def test_concurrent_registrations_of_one_email_make_one_account(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given two apps registering the same person at once, in different case
    attempts = [
        account_input(
            email=email, organisation=organisation_input(cluster_id, name=f"Firm {number}")
        )
        for number, email in enumerate(["tanaka@pellets.example", "Tanaka@Pellets.Example"])
    ]

    # when both are sent together
    results = await asyncio.gather(*(gql(REGISTER, {"input": a}) for a in attempts))

    # then one account is made, and both are answered alike (the later one is an email with an
    # account like any other: it changes nothing)
    assert results == [ACCEPTED, ACCEPTED]
    assert await row_counts(db) == {"users": 1, "organisations": 1, "memberships": 1}


@pytest.mark.parametrize(
    "second_email",
    ["tanaka@pellets.example", "TANAKA@Pellets.EXAMPLE", " tanaka@pellets.example "],
    ids=["same", "other-case", "spaces"],
)
async def test_register_twice_with_one_email_adds_nothing_and_says_nothing(
    gql: GraphQL, db: Database, cluster_id: str, second_email: str
) -> None:
    # given an account
    first = await gql(
        REGISTER,
        {"input": account_input(organisation=organisation_input(cluster_id, name="First Firm"))},
    )
    assert first["data"]["accountRegister"]["errors"] == []

    # when somebody registers the same email again, with its own organisation
    second = await gql(
        REGISTER,
        {
            "input": account_input(
                email=second_email, organisation=organisation_input(cluster_id, name="Second Firm")
            )
        },
    )

    # then it is answered as a new registration would be (tests/security/test_enumeration.py),
    # and neither an account nor an organisation is added
    assert second == ACCEPTED
    assert await row_counts(db) == {"users": 1, "organisations": 1, "memberships": 1}


@pytest.mark.parametrize("role", ["MEMBER", "ADMIN"])
async def test_register_with_invite_joins_its_organisation_with_its_role(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, role: str
) -> None:
    # given an invite of an existing firm
    code = await make_invite(gql, register, cluster_id, role=role, maxUses=2)

    # when a person registers with it (lower case, no dashes)
    registered = await gql(
        REGISTER,
        {
            "input": account_input(
                email="sato@pellets.example", inviteCode=code.replace("-", "").lower()
            )
        },
    )

    # then they have an account, and no organisation of their own
    assert registered == ACCEPTED
    assert await row_counts(db) == {"users": 2, "organisations": 1, "memberships": 2}
    assert await invite_uses(db) == [1]

    # and signing in acts for the inviting firm with the invite's role
    signed_in = await gql(
        SIGN_IN, {"input": {"email": "sato@pellets.example", "password": PASSWORD}}
    )
    me = await gql(ME, token=signed_in["data"]["tokenCreate"]["accessToken"])
    assert me == {
        "data": {
            "me": {
                "user": {
                    "email": "sato@pellets.example",
                    "displayName": "Tanaka",
                    "isPlatformAdmin": False,
                },
                "role": "FIRM",
                "organisation": {"name": "Inviting Firm", "kind": "FIRM", "subtype": None},
                "memberships": [{"role": role, "organisation": {"name": "Inviting Firm"}}],
            }
        }
    }


async def _expire_invites(db: Database) -> None:
    async with db.write() as session:
        await session.execute(
            update(OrganisationInvite).values(expires_at=utcnow() - timedelta(seconds=1))
        )


async def _revoke_invites(db: Database) -> None:
    async with db.write() as session:
        await session.execute(update(OrganisationInvite).values(revoked_at=utcnow()))


async def _use_up_invite(gql: GraphQL, code: str) -> None:
    used = await gql(
        REGISTER, {"input": account_input(email="first@pellets.example", inviteCode=code)}
    )
    assert used["data"]["accountRegister"]["errors"] == [], used


@pytest.mark.parametrize("spoil", ["expired", "revoked", "used-up", "unknown"])
async def test_register_with_an_unusable_invite_is_refused_and_writes_nothing(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, spoil: str
) -> None:
    # given an invite for one person that can no longer be used
    code = await make_invite(gql, register, cluster_id, maxUses=1)
    if spoil == "expired":
        await _expire_invites(db)
    elif spoil == "revoked":
        await _revoke_invites(db)
    elif spoil == "used-up":
        await _use_up_invite(gql, code)
    else:
        code = "ZZZZ-ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ-ZZZZ" else "YYYY-YYYY-YYYY"
    before = await row_counts(db)
    uses_before = await invite_uses(db)

    # when a person registers with it
    body = await gql(
        REGISTER, {"input": account_input(email="late@pellets.example", inviteCode=code)}
    )

    # then the invite is invalid, and neither the account nor a use of the invite is kept
    assert body == failure(
        (
            "INVITE_INVALID",
            "This invite code is unknown, expired or already used up; ask for a new one",
            "inviteCode",
        )
    )
    assert await row_counts(db) == before
    assert await invite_uses(db) == uses_before
