"""What organisations do (an ISIC Rev. 4 class) and whether cluster insights may name them:
setting both at sign-up and with organisationUpdate, the checks on the code, who reads the
privacy choice, and that a page of organisations reads them in a fixed number of statements."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.identity.models import Organisation, OrganisationKind
from backend.kit.db import Database
from tests.conftest import PASSWORD, REGISTER, SIGN_IN, GraphQL, organisation_input
from tests.identity.kit import invite_code

UPDATE = """
mutation Update($input: OrganisationUpdateInput!) {
  organisationUpdate(input: $input) {
    organisation { id name version activity { code level title } namedInInsights }
    errors { code message field }
  }
}
"""
ORGANISATION = """
query One($id: ID!) {
  organisation(id: $id) { name version activity { code level title } namedInInsights }
}
"""
PRIVACY = "query One($id: ID!) { organisation(id: $id) { name namedInInsights } }"
ME = """
query {
  me {
    organisation { name activity { code title } namedInInsights }
    memberships { role organisation { name namedInInsights } }
  }
}
"""
JOIN = """
mutation Join($code: String!) {
  organisationJoin(input: { inviteCode: $code }) { membership { role } errors { code } }
}
"""
SAWMILLING = {"code": "1610", "level": "CLASS", "title": "Sawmilling and planing of wood"}
NOT_AN_ACTIVITY = "Not an ISIC Rev. 4 activity code"


def refused(*errors: tuple[str, str | None]) -> dict[str, Any]:
    """The whole response of an organisationUpdate refused with VALIDATION errors."""
    return {
        "data": {
            "organisationUpdate": {
                "organisation": None,
                "errors": [
                    {"code": "VALIDATION", "message": message, "field": field}
                    for message, field in errors
                ],
            }
        }
    }


async def read(gql: GraphQL, organisation_id: str | None, token: str) -> Any:
    body = await gql(ORGANISATION, {"id": organisation_id}, token=token)
    assert "errors" not in body, body
    return body["data"]["organisation"]


# ---------------------------------------------------------------------------------------------
# organisationUpdate


async def test_admin_names_a_class_and_opts_out_of_being_named(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm that has not said what it does, named in insights by default
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    assert await read(gql, admin.organisation_id, admin.access_token) == {
        "name": "Hokubo Sawmill",
        "version": 1,
        "activity": None,
        "namedInInsights": True,
    }

    # when its admin names its class and opts out of being named, at the version they saw
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": admin.organisation_id,
                "activityCode": "1610",
                "namedInInsights": False,
                "expectedVersion": 1,
            }
        },
        token=admin.access_token,
    )

    # then both are set, one version on
    assert body == {
        "data": {
            "organisationUpdate": {
                "organisation": {
                    "id": admin.organisation_id,
                    "name": "Hokubo Sawmill",
                    "version": 2,
                    "activity": SAWMILLING,
                    "namedInInsights": False,
                },
                "errors": [],
            }
        }
    }
    # and a fresh read shows the same
    assert await read(gql, admin.organisation_id, admin.access_token) == {
        "name": "Hokubo Sawmill",
        "version": 2,
        "activity": SAWMILLING,
        "namedInInsights": False,
    }


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # levels above a class: two organisations in one division may do different things
        ("16", "16 is a division of ISIC Rev. 4: choose one of its classes (four digits)"),
        ("161", "161 is a group of ISIC Rev. 4: choose one of its classes (four digits)"),
        ("C", "C is a section of ISIC Rev. 4: choose one of its classes (four digits)"),
        # the shape of a class, but no such class; and not a code at all
        ("1619", NOT_AN_ACTIVITY),
        ("9999", NOT_AN_ACTIVITY),
        ("16.10", NOT_AN_ACTIVITY),
        ("", NOT_AN_ACTIVITY),
        ("x" * 300, NOT_AN_ACTIVITY),
    ],
)
async def test_anything_but_an_existing_class_is_refused_and_nothing_changes(
    gql: GraphQL, register: Any, cluster_id: str, code: str, message: str
) -> None:
    # given a firm
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    before = await read(gql, admin.organisation_id, admin.access_token)

    # when its admin names something other than an existing class, with a new name
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Renamed", "activityCode": code}},
        token=admin.access_token,
    )

    # then it is a validation error on activityCode and neither field changes
    assert body == refused((message, "activityCode"))
    assert await read(gql, admin.organisation_id, admin.access_token) == before


async def test_a_bad_class_and_a_bad_subtype_are_reported_together(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")

    # when its admin sends a community subtype and a division
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "subtype": "SHG", "activityCode": "16"}},
        token=admin.access_token,
    )

    # then the app hears of both at once
    assert body == refused(
        (
            "A FIRM organisation's subtype is one of: LARGE_ENTERPRISE, MEDIUM_ENTERPRISE, "
            "MICRO_ENTERPRISE, SMALL_ENTERPRISE",
            "subtype",
        ),
        (
            "16 is a division of ISIC Rev. 4: choose one of its classes (four digits)",
            "activityCode",
        ),
    )


async def test_omitted_leaves_the_activity_and_null_clears_it(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm that named its class and opted out
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    first = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "activityCode": "1610", "namedInInsights": False}},
        token=admin.access_token,
    )
    assert first["data"]["organisationUpdate"]["errors"] == []

    # when its admin changes only the name
    renamed = await gql(
        UPDATE, {"input": {"id": admin.organisation_id, "name": "Hokubo"}}, token=admin.access_token
    )

    # then the activity and the choice stay
    assert renamed["data"]["organisationUpdate"]["organisation"] == {
        "id": admin.organisation_id,
        "name": "Hokubo",
        "version": 3,
        "activity": SAWMILLING,
        "namedInInsights": False,
    }

    # when the admin sends a null activity (and a null choice, which leaves it)
    cleared = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "activityCode": None, "namedInInsights": None}},
        token=admin.access_token,
    )

    # then the activity is cleared and the choice stays
    assert cleared["data"]["organisationUpdate"]["organisation"] == {
        "id": admin.organisation_id,
        "name": "Hokubo",
        "version": 4,
        "activity": None,
        "namedInInsights": False,
    }
    assert await read(gql, admin.organisation_id, admin.access_token) == {
        "name": "Hokubo",
        "version": 4,
        "activity": None,
        "namedInInsights": False,
    }


async def test_an_offline_edit_of_the_activity_at_a_stale_version_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm whose activity was set online after an offline app read it at version 1
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    online = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "activityCode": "1610", "expectedVersion": 1}},
        token=admin.access_token,
    )
    assert online["data"]["organisationUpdate"]["errors"] == []

    # when the offline app syncs its own choice made at version 1
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "activityCode": "1623", "expectedVersion": 1}},
        token=admin.access_token,
    )

    # then it is a conflict and the online choice stays
    assert body["data"]["organisationUpdate"]["errors"] == [
        {
            "code": "CONFLICT",
            "message": "The organisation was changed meanwhile (now version 2); reload it and "
            "apply your edit again",
            "field": "expectedVersion",
        }
    ]
    assert (await read(gql, admin.organisation_id, admin.access_token))["activity"] == SAWMILLING


async def test_a_plain_member_may_not_change_the_activity_or_the_choice(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a MEMBER of a firm
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    member = await register("member@sawmill.example", invite_code=await invite_code(gql, admin))

    # when the member opts the firm out of being named
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "namedInInsights": False}},
        token=member.access_token,
    )

    # then it is forbidden, as any other change of the firm
    assert body["data"]["organisationUpdate"]["errors"] == [
        {
            "code": "FORBIDDEN",
            "message": "Only this organisation's admins, acting for it, may change it",
            "field": None,
        }
    ]
    assert (await read(gql, admin.organisation_id, admin.access_token))["namedInInsights"] is True


# ---------------------------------------------------------------------------------------------
# accountRegister


async def sign_in(gql: GraphQL, email: str) -> str:
    body = await gql(SIGN_IN, {"input": {"email": email, "password": PASSWORD}})
    assert body["data"]["tokenCreate"]["errors"] == [], body
    token: str = body["data"]["tokenCreate"]["accessToken"]
    return token


async def organisations_in(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Organisation)) or 0)


async def test_a_new_organisation_says_what_it_does_at_sign_up(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a new firm that names its class and opts out of being named
    organisation = organisation_input(
        cluster_id, name="Hokubo Sawmill", activityCode="1610", namedInInsights=False
    )
    account = {
        "email": "tanaka@sawmill.example",
        "password": PASSWORD,
        "displayName": "Tanaka",
        "organisation": organisation,
    }

    # when the person registers and signs in
    body = await gql(REGISTER, {"input": account})
    assert body == {"data": {"accountRegister": {"user": None, "errors": []}}}
    me = await gql(ME, token=await sign_in(gql, "tanaka@sawmill.example"))

    # then their organisation carries both
    assert me == {
        "data": {
            "me": {
                "organisation": {
                    "name": "Hokubo Sawmill",
                    "activity": {"code": "1610", "title": "Sawmilling and planing of wood"},
                    "namedInInsights": False,
                },
                "memberships": [
                    {
                        "role": "ADMIN",
                        "organisation": {"name": "Hokubo Sawmill", "namedInInsights": False},
                    }
                ],
            }
        }
    }


async def test_a_new_organisation_without_them_has_no_activity_and_is_named(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a new firm that says nothing of either
    account = {
        "email": "tanaka@sawmill.example",
        "password": PASSWORD,
        "displayName": "Tanaka",
        "organisation": organisation_input(cluster_id, name="Hokubo Sawmill"),
    }

    # when the person registers and signs in
    assert (await gql(REGISTER, {"input": account}))["data"]["accountRegister"]["errors"] == []
    me = await gql(ME, token=await sign_in(gql, "tanaka@sawmill.example"))

    # then it has no activity yet and insights may name it
    assert me["data"]["me"]["organisation"] == {
        "name": "Hokubo Sawmill",
        "activity": None,
        "namedInInsights": True,
    }


@pytest.mark.parametrize("email_has_an_account", [False, True])
async def test_sign_up_with_a_division_is_refused_whatever_the_email(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, email_has_an_account: bool
) -> None:
    # given an email with or without an account, and a new firm that names a division
    if email_has_an_account:
        await register("tanaka@sawmill.example", cluster_id, name="Existing Firm")
    before = await organisations_in(db)
    account = {
        "email": "tanaka@sawmill.example",
        "password": PASSWORD,
        "displayName": "Tanaka",
        "organisation": organisation_input(cluster_id, name="Hokubo Sawmill", activityCode="16"),
    }

    # when the person registers
    body = await gql(REGISTER, {"input": account})

    # then the code is refused in the same words either way (the answer does not tell whether
    # the email has an account) and no organisation is made
    assert body == {
        "data": {
            "accountRegister": {
                "user": None,
                "errors": [
                    {
                        "code": "VALIDATION",
                        "message": "16 is a division of ISIC Rev. 4: choose one of its classes "
                        "(four digits)",
                        "field": "organisation.activityCode",
                    }
                ],
            }
        }
    }
    assert await organisations_in(db) == before


# ---------------------------------------------------------------------------------------------
# Who reads namedInInsights


async def test_only_members_and_platform_admins_read_the_choice(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # given a firm that opted out, a plain member of it, and the admin of another firm
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    opted_out = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "namedInInsights": False}},
        token=admin.access_token,
    )
    assert opted_out["data"]["organisationUpdate"]["errors"] == []
    member = await register("member@sawmill.example", invite_code=await invite_code(gql, admin))
    stranger = await register("admin@bark.example", cluster_id, name="Bark Traders")

    # when each reads the firm, and so does somebody without a token
    def seen(body: dict[str, Any]) -> Any:
        assert "errors" not in body, body
        return body["data"]["organisation"]

    variables = {"id": admin.organisation_id}
    by_admin = seen(await gql(PRIVACY, variables, token=admin.access_token))
    by_member = seen(await gql(PRIVACY, variables, token=member.access_token))
    by_stranger = seen(await gql(PRIVACY, variables, token=stranger.access_token))
    by_platform_admin = seen(await gql(PRIVACY, variables, token=platform_admin_token))
    by_anonymous = seen(await gql(PRIVACY, variables, token=""))

    # then its own people and platform admins see the choice; everyone else gets null
    assert [by_admin, by_member, by_platform_admin] == [
        {"name": "Hokubo Sawmill", "namedInInsights": False}
    ] * 3
    assert [by_stranger, by_anonymous] == [{"name": "Hokubo Sawmill", "namedInInsights": None}] * 2


async def test_a_member_acting_for_another_of_their_organisations_still_reads_the_choice(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm that opted out, and the admin of another firm who also joined it
    admin = await register("admin@sawmill.example", cluster_id, name="Hokubo Sawmill")
    await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "namedInInsights": False}},
        token=admin.access_token,
    )
    both = await register("both@bark.example", cluster_id, name="Bark Traders")
    joined = await gql(JOIN, {"code": await invite_code(gql, admin)}, token=both.access_token)
    assert joined["data"]["organisationJoin"]["errors"] == []

    # when they read their memberships, still acting for their own firm
    me = await gql(ME, token=both.access_token)

    # then they see the choice of both organisations they belong to
    assert me["data"]["me"]["memberships"] == [
        {"role": "ADMIN", "organisation": {"name": "Bark Traders", "namedInInsights": True}},
        {"role": "MEMBER", "organisation": {"name": "Hokubo Sawmill", "namedInInsights": False}},
    ]
    body = await gql(PRIVACY, {"id": admin.organisation_id}, token=both.access_token)
    assert body == {"data": {"organisation": {"name": "Hokubo Sawmill", "namedInInsights": False}}}


# ---------------------------------------------------------------------------------------------
# Statements


CLASSES = ["0111", "0112", "0230", "1010", "1061", "1610", "1621", "1623", "1629", "3510"]
DIRECTORY = """
query Directory($first: Int) {
  organisations(first: $first) { edges { node { id name %s } } }
}
"""
WITH_ACTIVITY = DIRECTORY % "activity { code title level } namedInInsights"
WITHOUT = DIRECTORY % ""


def queries(log: Any) -> list[str]:
    """The statements that read or write (SQLite's BEGIN of each transaction left out: the
    PostgreSQL driver sends none through the cursor)."""
    return [s for s in log.statements if not s.lstrip().upper().startswith("BEGIN")]


async def insert_organisations(db: Database, cluster_id: str, count: int) -> None:
    """Firms straight into the table, each with a class (ten different ones), some opted out."""
    async with db.write() as session:
        session.add_all(
            Organisation(
                name=f"Firm {index:03d}",
                kind=OrganisationKind.FIRM,
                cluster_id=uuid.UUID(cluster_id),
                lat=35.0,
                lon=133.7,
                place_name="Maniwa",
                activity_code=CLASSES[index % len(CLASSES)],
                named_in_insights=index % 3 != 0,
            )
            for index in range(count)
        )


async def test_a_page_of_100_organisations_reads_activities_and_choices_as_one_does(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # given 100 firms with activities, and a signed-in viewer who belongs to none of them (the
    # viewer's own firm sorts last by name)
    await insert_organisations(db, cluster_id, 100)
    viewer = await register("viewer@zz.example", cluster_id, name="Zz Viewer Firm")
    gql.token = viewer.access_token

    # when a page of 1 and one of 100 are read with each organisation's activity and choice,
    # and a page of 100 without them
    with sql_statements() as one:
        page_of_one = await gql(WITH_ACTIVITY, {"first": 1})
    with sql_statements() as hundred:
        page_of_hundred = await gql(WITH_ACTIVITY, {"first": 100})
    with sql_statements() as plain:
        await gql(WITHOUT, {"first": 100})

    # then both pages are complete
    assert page_of_one["data"]["organisations"]["edges"][0]["node"] == {
        "id": page_of_one["data"]["organisations"]["edges"][0]["node"]["id"],
        "name": "Firm 000",
        "activity": {
            "code": "0111",
            "title": "Growing of cereals (except rice), leguminous crops and oil seeds",
            "level": "CLASS",
        },
        "namedInInsights": None,
    }
    nodes = [e["node"] for e in page_of_hundred["data"]["organisations"]["edges"]]
    assert [n["activity"]["code"] for n in nodes] == [CLASSES[i % 10] for i in range(100)]
    assert {n["namedInInsights"] for n in nodes} == {None}
    # and cost the same statements: the page's own, one for the activities and one for the
    # viewer's memberships among the organisations
    assert len(queries(one)) == len(queries(hundred)) == len(queries(plain)) + 2, (
        queries(one),
        queries(hundred),
    )
    # (the two loaders are dispatched in one tick, in no set order)
    loads = sorted(re.findall(r"FROM (\w+)", q)[0] for q in queries(hundred)[-2:])
    assert loads == ["activities", "memberships"]


async def test_a_platform_admin_reads_a_page_of_choices_without_a_membership_statement(
    gql: GraphQL, db: Database, cluster_id: str, platform_admin_token: str, sql_statements: Any
) -> None:
    # given 30 firms, a third of them opted out
    await insert_organisations(db, cluster_id, 30)
    gql.token = platform_admin_token

    # when a platform admin reads them with their choices
    with sql_statements() as with_choices:
        body = await gql(DIRECTORY % "namedInInsights", {"first": 30})
    with sql_statements() as plain:
        await gql(WITHOUT, {"first": 30})

    # then every choice shows, and reading them cost nothing more
    nodes = [e["node"] for e in body["data"]["organisations"]["edges"]]
    assert [n["namedInInsights"] for n in nodes] == [i % 3 != 0 for i in range(30)]
    assert len(queries(with_choices)) == len(queries(plain)), queries(with_choices)
