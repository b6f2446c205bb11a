"""Organisations: invites, joining, updates, the directory and its pagination."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.identity import service as identity_service
from backend.identity.models import (
    Membership,
    Organisation,
    OrganisationInvite,
    OrganisationKind,
    OrganisationSubtype,
    Sector,
)
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.validation import Place
from tests.conftest import GraphQL
from tests.identity.kit import sign_in

INVITE_CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")

INVITE_CREATE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) {
    invite { id code role maxUses uses expiresAt }
    errors { code message field }
  }
}
"""
JOIN = """
mutation Join($input: OrganisationJoinInput!) {
  organisationJoin(input: $input) {
    membership { role organisation { id name } }
    errors { code message field }
  }
}
"""
ORGANISATION_FIELDS = """
  id name kind subtype description
  location { lat lon placeName }
  cluster { id slug }
  createdAt updatedAt version
"""
UPDATE = f"""
mutation Update($input: OrganisationUpdateInput!) {{
  organisationUpdate(input: $input) {{
    organisation {{ {ORGANISATION_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""
ORGANISATION = f"query One($id: ID!) {{ organisation(id: $id) {{ {ORGANISATION_FIELDS} }} }}"
ORGANISATION_NAMES = """
query List($filter: OrganisationFilter, $first: Int, $after: String) {
  organisations(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}
"""
ME_MEMBERSHIPS = "query { me { memberships { role organisation { name } } } }"

FORBIDDEN_INVITE = {
    "code": "FORBIDDEN",
    "message": "Only this organisation's admins, acting for it, may invite people",
    "field": None,
}
FORBIDDEN_UPDATE = {
    "code": "FORBIDDEN",
    "message": "Only this organisation's admins, acting for it, may change it",
    "field": None,
}
UNAUTHENTICATED = {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}
INVITE_INVALID = {
    "code": "INVITE_INVALID",
    "message": "This invite code is unknown, expired or already used up; ask for a new one",
    "field": "inviteCode",
}


# ---------------------------------------------------------------------------------------------
# Helpers


async def create_invite(gql: GraphQL, token: str, organisation_id: str, **invite: Any) -> str:
    created = await gql(
        INVITE_CREATE, {"input": {"organisationId": organisation_id, **invite}}, token=token
    )
    assert created["data"]["organisationInviteCreate"]["errors"] == [], created
    code: str = created["data"]["organisationInviteCreate"]["invite"]["code"]
    return code


async def join(gql: GraphQL, token: str, code: str) -> dict[str, Any]:
    body = await gql(JOIN, {"input": {"inviteCode": code}}, token=token)
    payload: dict[str, Any] = body["data"]["organisationJoin"]
    return payload


async def read_organisation(gql: GraphQL, organisation_id: str) -> dict[str, Any] | None:
    body = await gql(ORGANISATION, {"id": organisation_id})
    organisation: dict[str, Any] | None = body["data"]["organisation"]
    return organisation


async def invites_in_db(db: Database) -> list[tuple[int, int]]:
    """(uses, max_uses) of every invite."""
    async with db.read() as session:
        rows = await session.execute(select(OrganisationInvite.uses, OrganisationInvite.max_uses))
        return [(uses, max_uses) for uses, max_uses in rows.all()]


async def members_of(db: Database, organisation_id: str) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == uuid.UUID(organisation_id))
        )
    return int(count or 0)


async def insert_organisations(
    db: Database, cluster_id: str, names: list[str], **columns: Any
) -> list[str]:
    """Rows straight into the table: fast, for lists and pagination."""
    organisations = [
        Organisation(
            name=name,
            kind=columns.get("kind", OrganisationKind.FIRM),
            subtype=columns.get("subtype"),
            cluster_id=uuid.UUID(cluster_id),
            lat=35.0,
            lon=133.7,
            place_name="Maniwa",
        )
        for name in names
    ]
    async with db.write() as session:
        session.add_all(organisations)
    return [str(o.id) for o in organisations]


async def make_cluster(db: Database, slug: str) -> str:
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug=slug,
            name=f"Cluster {slug}",
            region="Tamil Nadu",
            country="IN",
            sector=Sector.SERICULTURE,
            centre=Place(lat=12.74, lon=77.83),
            currency="INR",
            languages=["ta", "en"],
            timezone="Asia/Kolkata",
        ),
    )
    return str(cluster.id)


def cursor_of(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------
# organisationInviteCreate


async def test_admin_acting_for_organisation_creates_invite(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given the admin of a firm, signed in for it
    admin = await register("admin@pellets.example", cluster_id)

    # when they create an invite for three people, valid for ten days
    body = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id, "maxUses": 3, "expiresInDays": 10}},
        token=admin.access_token,
    )

    # then they get a readable code, unused, with the default MEMBER role, for ten days from now
    invite = body["data"]["organisationInviteCreate"]["invite"]
    assert body == {
        "data": {
            "organisationInviteCreate": {
                "invite": {
                    "id": invite["id"],
                    "code": invite["code"],
                    "role": "MEMBER",
                    "maxUses": 3,
                    "uses": 0,
                    "expiresAt": invite["expiresAt"],
                },
                "errors": [],
            }
        }
    }
    assert INVITE_CODE.fullmatch(invite["code"]), invite["code"]
    assert datetime.fromisoformat(invite["expiresAt"]) == clock.now() + timedelta(days=10)
    # and only the code's hash is stored
    assert await invites_in_db(db) == [(0, 3)]
    async with db.read() as session:
        stored = await session.scalar(select(OrganisationInvite.code_hash))
    assert stored is not None
    assert invite["code"].replace("-", "") not in stored


async def test_invite_defaults_to_one_use_for_seven_days(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given the admin of a firm
    admin = await register("admin@pellets.example", cluster_id)

    # when they create an invite giving only the organisation
    body = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id}},
        token=admin.access_token,
    )

    # then it lets one person join within seven days
    invite = body["data"]["organisationInviteCreate"]["invite"]
    assert (invite["role"], invite["maxUses"], invite["uses"]) == ("MEMBER", 1, 0)
    assert datetime.fromisoformat(invite["expiresAt"]) == clock.now() + timedelta(days=7)


async def test_plain_member_may_not_create_invite(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a MEMBER of a firm, signed in for it
    admin = await register("admin@pellets.example", cluster_id)
    code = await create_invite(gql, admin.access_token, admin.organisation_id)
    member = await register("member@pellets.example", invite_code=code)
    assert member.organisation_id == admin.organisation_id

    # when the member tries to create an invite
    body = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id}},
        token=member.access_token,
    )

    # then it is forbidden, in the payload, and no invite is added
    assert body == {
        "data": {"organisationInviteCreate": {"invite": None, "errors": [FORBIDDEN_INVITE]}}
    }
    assert await invites_in_db(db) == [(1, 1)]


async def test_admin_of_another_organisation_may_not_create_invite(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given two firms, each with its admin
    owner = await register("owner@pellets.example", cluster_id, name="Pellet Works")
    stranger = await register("stranger@bark.example", cluster_id, name="Bark Traders")

    # when the other firm's admin asks for an invite to the first firm by its id
    body = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": owner.organisation_id}},
        token=stranger.access_token,
    )

    # then it is forbidden and nothing is stored
    assert body == {
        "data": {"organisationInviteCreate": {"invite": None, "errors": [FORBIDDEN_INVITE]}}
    }
    assert await invites_in_db(db) == []


async def test_admin_must_act_for_the_organisation_to_invite(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a person who administers two firms, signed in for the first
    first = await register("tanaka@pellets.example", cluster_id, name="Pellet Works")
    second = await register("owner@bark.example", cluster_id, name="Bark Traders")
    admin_code = await create_invite(gql, second.access_token, second.organisation_id, role="ADMIN")
    joined = await join(gql, first.access_token, admin_code)
    assert joined["errors"] == []
    assert joined["membership"]["role"] == "ADMIN"

    # when they ask for an invite to the second firm with the first firm's token
    refused = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": second.organisation_id}},
        token=first.access_token,
    )

    # then it is forbidden
    assert refused == {
        "data": {"organisationInviteCreate": {"invite": None, "errors": [FORBIDDEN_INVITE]}}
    }
    assert await invites_in_db(db) == [(1, 1)]

    # and with a token for the second firm the same request succeeds
    second_token = await sign_in(gql, first.email, second.organisation_id)
    allowed = await gql(
        INVITE_CREATE, {"input": {"organisationId": second.organisation_id}}, token=second_token
    )
    assert allowed["data"]["organisationInviteCreate"]["errors"] == []


async def test_anonymous_invite_create_is_unauthenticated_in_payload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm and nobody signed in
    admin = await register("admin@pellets.example", cluster_id)

    # when an invite is asked for without a token
    body = await gql(INVITE_CREATE, {"input": {"organisationId": admin.organisation_id}})

    # then the payload says to sign in; the request itself does not fail
    assert body == {
        "data": {"organisationInviteCreate": {"invite": None, "errors": [UNAUTHENTICATED]}}
    }
    assert await invites_in_db(db) == []


@pytest.mark.parametrize(
    ("limits", "errors"),
    [
        ({"maxUses": 0}, [("maxUses", "Must be between 1 and 500")]),
        ({"maxUses": 501}, [("maxUses", "Must be between 1 and 500")]),
        ({"expiresInDays": 0}, [("expiresInDays", "Must be between 1 and 90")]),
        ({"expiresInDays": 91}, [("expiresInDays", "Must be between 1 and 90")]),
        (
            {"maxUses": -1, "expiresInDays": -1},
            [
                ("maxUses", "Must be between 1 and 500"),
                ("expiresInDays", "Must be between 1 and 90"),
            ],
        ),
    ],
)
async def test_invite_limits_are_validated(
    gql: GraphQL,
    db: Database,
    register: Any,
    cluster_id: str,
    limits: dict[str, int],
    errors: list[tuple[str, str]],
) -> None:
    # given the admin of a firm
    admin = await register("admin@pellets.example", cluster_id)

    # when they ask for an invite with limits out of range
    body = await gql(
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id, **limits}},
        token=admin.access_token,
    )

    # then every limit out of range is reported and no invite is made
    assert body == {
        "data": {
            "organisationInviteCreate": {
                "invite": None,
                "errors": [
                    {"code": "VALIDATION", "message": message, "field": field}
                    for field, message in errors
                ],
            }
        }
    }
    assert await invites_in_db(db) == []


async def test_invite_limits_at_the_bounds_are_accepted(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given the admin of a firm
    admin = await register("admin@pellets.example", cluster_id)

    # when they ask for the largest invite allowed
    code = await create_invite(
        gql, admin.access_token, admin.organisation_id, maxUses=500, expiresInDays=90
    )

    # then it is made
    assert INVITE_CODE.fullmatch(code)
    assert await invites_in_db(db) == [(0, 500)]


@pytest.mark.parametrize(
    ("organisation_id", "expected"),
    [
        (str(uuid.uuid4()), {"code": "NOT_FOUND", "message": "Organisation not found"}),
        ("pellet-works", {"code": "VALIDATION", "message": "Not a valid id"}),
    ],
    ids=["unknown", "malformed"],
)
async def test_invite_for_missing_organisation(
    gql: GraphQL, register: Any, cluster_id: str, organisation_id: str, expected: dict[str, str]
) -> None:
    # given a signed-in admin
    admin = await register("admin@pellets.example", cluster_id)

    # when they ask for an invite to an organisation that does not exist
    body = await gql(
        INVITE_CREATE, {"input": {"organisationId": organisation_id}}, token=admin.access_token
    )

    # then the payload names the field at fault
    assert body == {
        "data": {
            "organisationInviteCreate": {
                "invite": None,
                "errors": [{**expected, "field": "organisationId"}],
            }
        }
    }


# ---------------------------------------------------------------------------------------------
# organisationJoin


@pytest.mark.parametrize(
    "typed",
    [lambda c: c, lambda c: c.replace("-", ""), lambda c: c.lower(), lambda c: f" {c.lower()} "],
    ids=["as-issued", "no-dashes", "lower-case", "lower-case-spaces"],
)
async def test_join_with_invite_code_as_people_type_it(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, typed: Any
) -> None:
    # given a firm's invite and a person of another organisation
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    code = await create_invite(gql, admin.access_token, admin.organisation_id)
    person = await register("sato@shg.example", cluster_id, name="Maniwa SHG", kind="COMMUNITY")

    # when the person joins with the code as they typed it
    joined = await join(gql, person.access_token, typed(code))

    # then they are a MEMBER of the firm as well, and the invite has one use
    assert joined == {
        "membership": {
            "role": "MEMBER",
            "organisation": {"id": admin.organisation_id, "name": "Pellet Works"},
        },
        "errors": [],
    }
    me = await gql(ME_MEMBERSHIPS, token=person.access_token)
    assert me == {
        "data": {
            "me": {
                "memberships": [
                    {"role": "ADMIN", "organisation": {"name": "Maniwa SHG"}},
                    {"role": "MEMBER", "organisation": {"name": "Pellet Works"}},
                ]
            }
        }
    }
    assert await invites_in_db(db) == [(1, 1)]


async def test_joining_twice_is_a_conflict_and_takes_no_use(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a person who joined a firm with an invite for two
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    code = await create_invite(gql, admin.access_token, admin.organisation_id, maxUses=2)
    person = await register("sato@bark.example", cluster_id, name="Bark Traders")
    assert (await join(gql, person.access_token, code))["errors"] == []

    # when they join again with the same code
    again = await join(gql, person.access_token, code)

    # then it is a conflict, and the second use is not taken
    assert again == {
        "membership": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "You are already a member of this organisation",
                "field": "inviteCode",
            }
        ],
    }
    assert await invites_in_db(db) == [(1, 2)]
    assert await members_of(db, admin.organisation_id) == 2


async def test_join_with_unknown_code_is_invalid(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a signed-in person and no invites
    person = await register("sato@bark.example", cluster_id)

    # when they join with a made-up code
    body = await gql(JOIN, {"input": {"inviteCode": "ABCD-EFGH-JKLM"}}, token=person.access_token)

    # then the code is invalid
    assert body == {"data": {"organisationJoin": {"membership": None, "errors": [INVITE_INVALID]}}}


async def test_invite_stops_working_when_the_app_clock_reaches_its_expiry(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a firm's invite valid for one day, and a person of another organisation
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    code = await create_invite(gql, admin.access_token, admin.organisation_id, expiresInDays=1)
    person = await register("sato@shg.example", cluster_id, name="Maniwa SHG", kind="COMMUNITY")

    # when the app's clock reaches the end of that day and the person joins
    clock.advance(timedelta(days=1))
    joined = await join(gql, person.access_token, code)

    # then the invite no longer works and keeps its use
    assert joined == {"membership": None, "errors": [INVITE_INVALID]}
    assert await invites_in_db(db) == [(0, 1)]


async def test_anonymous_join_is_unauthenticated_in_payload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a valid invite
    admin = await register("admin@pellets.example", cluster_id)
    code = await create_invite(gql, admin.access_token, admin.organisation_id)

    # when somebody without a token uses it
    body = await gql(JOIN, {"input": {"inviteCode": code}})

    # then they are asked to sign in, and the invite keeps its use
    assert body == {"data": {"organisationJoin": {"membership": None, "errors": [UNAUTHENTICATED]}}}
    assert await invites_in_db(db) == [(0, 1)]


async def test_concurrent_joins_never_overuse_an_invite(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given an invite for five people and 25 different signed-in people
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    code = await create_invite(gql, admin.access_token, admin.organisation_id, maxUses=5)
    people = [
        await register(f"person{i:02d}@bark.example", cluster_id, name=f"Bark Traders {i:02d}")
        for i in range(25)
    ]

    # when all of them join at the same time
    results = await asyncio.gather(*(join(gql, p.access_token, code) for p in people))

    # then exactly five join and twenty are told the invite is used up
    joined = [r for r in results if r["errors"] == []]
    refused = [r for r in results if r["errors"] != []]
    assert len(joined) == 5
    assert all(r["membership"]["organisation"]["id"] == admin.organisation_id for r in joined)
    assert refused == [{"membership": None, "errors": [INVITE_INVALID]}] * 20
    # and the database agrees
    assert await invites_in_db(db) == [(5, 5)]
    assert await members_of(db, admin.organisation_id) == 1 + 5


# ---------------------------------------------------------------------------------------------
# organisationUpdate


async def test_admin_updates_organisation_and_version_bumps(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a firm as it is now, and an hour later
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    before = await read_organisation(gql, admin.organisation_id)
    assert before is not None
    assert before["version"] == 1
    clock.advance(timedelta(hours=1))

    # when its admin changes every field, naming the version they saw
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": admin.organisation_id,
                "name": "  Maniwa Pellet Works ",
                "subtype": "SMALL_ENTERPRISE",
                "description": "Pellets and cat sand from shavings",
                "location": {"lat": 35.1, "lon": 133.8, "placeName": " Hokubo "},
                "expectedVersion": 1,
            }
        },
        token=admin.access_token,
    )

    # then the organisation comes back changed, one version on, updated now
    updated = body["data"]["organisationUpdate"]["organisation"]
    assert body == {
        "data": {
            "organisationUpdate": {
                "organisation": {
                    "id": admin.organisation_id,
                    "name": "Maniwa Pellet Works",
                    "kind": "FIRM",
                    "subtype": "SMALL_ENTERPRISE",
                    "description": "Pellets and cat sand from shavings",
                    "location": {"lat": 35.1, "lon": 133.8, "placeName": "Hokubo"},
                    "cluster": {"id": cluster_id, "slug": "test-wood"},
                    "createdAt": before["createdAt"],
                    "updatedAt": updated["updatedAt"],
                    "version": 2,
                },
                "errors": [],
            }
        }
    }
    assert datetime.fromisoformat(updated["updatedAt"]) == clock.now()
    assert datetime.fromisoformat(before["updatedAt"]) < clock.now()
    # and a fresh read shows the same
    assert await read_organisation(gql, admin.organisation_id) == updated


async def test_update_leaves_omitted_fields_alone(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a firm with a description, and a minute later
    admin = await register(
        "admin@pellets.example", cluster_id, name="Pellet Works", description="Pellets"
    )
    before = await read_organisation(gql, admin.organisation_id)
    assert before is not None
    clock.advance(timedelta(minutes=1))

    # when its admin changes only the name, without a version
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Pellet Works 2"}},
        token=admin.access_token,
    )

    # then only the name, the version and updatedAt change
    after = body["data"]["organisationUpdate"]["organisation"]
    assert body["data"]["organisationUpdate"]["errors"] == []
    assert after == {
        **before,
        "name": "Pellet Works 2",
        "version": 2,
        "updatedAt": after["updatedAt"],
    }
    assert after["updatedAt"] != before["updatedAt"]


async def test_admin_of_another_organisation_may_not_update_it(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given two firms
    owner = await register("owner@pellets.example", cluster_id, name="Pellet Works")
    stranger = await register("stranger@bark.example", cluster_id, name="Bark Traders")
    before = await read_organisation(gql, owner.organisation_id)

    # when the other firm's admin renames the first by its id
    body = await gql(
        UPDATE,
        {"input": {"id": owner.organisation_id, "name": "Hijacked"}},
        token=stranger.access_token,
    )

    # then it is forbidden and the firm is unchanged
    assert body == {
        "data": {"organisationUpdate": {"organisation": None, "errors": [FORBIDDEN_UPDATE]}}
    }
    assert await read_organisation(gql, owner.organisation_id) == before


async def test_plain_member_may_not_update_organisation(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a MEMBER of a firm, signed in for it
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    code = await create_invite(gql, admin.access_token, admin.organisation_id)
    member = await register("member@pellets.example", invite_code=code)
    before = await read_organisation(gql, admin.organisation_id)

    # when the member renames the firm
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Renamed"}},
        token=member.access_token,
    )

    # then it is forbidden and the firm is unchanged
    assert body == {
        "data": {"organisationUpdate": {"organisation": None, "errors": [FORBIDDEN_UPDATE]}}
    }
    assert await read_organisation(gql, admin.organisation_id) == before


async def test_platform_admin_may_update_any_organisation(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # given a firm
    owner = await register("owner@pellets.example", cluster_id, name="Pellet Works")

    # when a platform admin renames it
    body = await gql(
        UPDATE,
        {"input": {"id": owner.organisation_id, "name": "Pellet Works (verified)"}},
        token=platform_admin_token,
    )

    # then the change is made
    payload = body["data"]["organisationUpdate"]
    assert payload["errors"] == []
    assert (payload["organisation"]["name"], payload["organisation"]["version"]) == (
        "Pellet Works (verified)",
        2,
    )
    assert await read_organisation(gql, owner.organisation_id) == payload["organisation"]


async def test_stale_expected_version_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm that was changed once since an offline app read it (at version 1)
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    first = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Online Name", "expectedVersion": 1}},
        token=admin.access_token,
    )
    assert first["data"]["organisationUpdate"]["errors"] == []
    current = await read_organisation(gql, admin.organisation_id)

    # when the offline app syncs its edit made at version 1
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Offline Name", "expectedVersion": 1}},
        token=admin.access_token,
    )

    # then it is a conflict on the version and the online change stays
    assert body == {
        "data": {
            "organisationUpdate": {
                "organisation": None,
                "errors": [
                    {
                        "code": "CONFLICT",
                        "message": "The organisation was changed meanwhile (now version 2); "
                        "reload it and apply your edit again",
                        "field": "expectedVersion",
                    }
                ],
            }
        }
    }
    assert await read_organisation(gql, admin.organisation_id) == current


async def test_update_validation_reports_all_problems_and_changes_nothing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    before = await read_organisation(gql, admin.organisation_id)

    # when its admin sends a one-letter name and a location off the globe
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": admin.organisation_id,
                "name": "P",
                "location": {"lat": -91, "lon": 181},
            }
        },
        token=admin.access_token,
    )

    # then every problem is reported and nothing changes
    assert body == {
        "data": {
            "organisationUpdate": {
                "organisation": None,
                "errors": [
                    {
                        "code": "VALIDATION",
                        "message": "Must have at least 2 characters",
                        "field": "name",
                    },
                    {
                        "code": "VALIDATION",
                        "message": "Latitude must be between -90 and 90",
                        "field": "location.lat",
                    },
                    {
                        "code": "VALIDATION",
                        "message": "Longitude must be between -180 and 180",
                        "field": "location.lon",
                    },
                ],
            }
        }
    }
    assert await read_organisation(gql, admin.organisation_id) == before


async def test_update_subtype_must_fit_kind(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a firm
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    before = await read_organisation(gql, admin.organisation_id)

    # when its admin gives it a community subtype
    body = await gql(
        UPDATE,
        {"input": {"id": admin.organisation_id, "name": "Renamed", "subtype": "SHG"}},
        token=admin.access_token,
    )

    # then the subtype is refused and the name is not changed either
    assert body == {
        "data": {
            "organisationUpdate": {
                "organisation": None,
                "errors": [
                    {
                        "code": "VALIDATION",
                        "message": "A FIRM organisation's subtype is one of: LARGE_ENTERPRISE, "
                        "MEDIUM_ENTERPRISE, MICRO_ENTERPRISE, SMALL_ENTERPRISE",
                        "field": "subtype",
                    }
                ],
            }
        }
    }
    assert await read_organisation(gql, admin.organisation_id) == before


async def test_anonymous_update_is_unauthenticated_in_payload(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    admin = await register("admin@pellets.example", cluster_id, name="Pellet Works")
    before = await read_organisation(gql, admin.organisation_id)

    # when somebody without a token renames it
    body = await gql(UPDATE, {"input": {"id": admin.organisation_id, "name": "Anonymous"}})

    # then they are asked to sign in, and nothing changes
    assert body == {
        "data": {"organisationUpdate": {"organisation": None, "errors": [UNAUTHENTICATED]}}
    }
    assert await read_organisation(gql, admin.organisation_id) == before


# ---------------------------------------------------------------------------------------------
# organisation(id) and organisations


async def test_organisation_by_id(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a registered community group
    admin = await register(
        "admin@shg.example",
        cluster_id,
        name="Maniwa SHG",
        kind="COMMUNITY",
        subtype="SHG",
        description="Savings and bark crafts",
    )

    # when anybody reads it by id
    body = await gql(ORGANISATION, {"id": admin.organisation_id})

    # then the whole organisation comes back with its cluster
    organisation = body["data"]["organisation"]
    assert body == {
        "data": {
            "organisation": {
                "id": admin.organisation_id,
                "name": "Maniwa SHG",
                "kind": "COMMUNITY",
                "subtype": "SHG",
                "description": "Savings and bark crafts",
                "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
                "cluster": {"id": cluster_id, "slug": "test-wood"},
                "createdAt": organisation["createdAt"],
                "updatedAt": organisation["updatedAt"],
                "version": 1,
            }
        }
    }
    # and it was created and last changed when it registered, by the app's clock
    assert datetime.fromisoformat(organisation["createdAt"]) == clock.now()
    assert datetime.fromisoformat(organisation["updatedAt"]) == clock.now()


@pytest.mark.parametrize(
    "organisation_id", [str(uuid.uuid4()), "not-an-id", ""], ids=["unknown", "malformed", "empty"]
)
async def test_organisation_that_does_not_exist_is_null(
    gql: GraphQL, db: Database, organisation_id: str
) -> None:
    # given no such organisation
    # when it is asked for
    body = await gql(ORGANISATION, {"id": organisation_id})

    # then the answer is null, without errors
    assert body == {"data": {"organisation": None}}


async def test_organisations_filter_by_cluster_kind_and_subtype(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given organisations of several kinds in two clusters
    other_cluster = await make_cluster(db, "hosur-silk")
    [wood_firm] = await insert_organisations(
        db, cluster_id, ["Wood Firm"], subtype=OrganisationSubtype.SMALL_ENTERPRISE
    )
    [wood_shg] = await insert_organisations(
        db,
        cluster_id,
        ["Wood SHG"],
        kind=OrganisationKind.COMMUNITY,
        subtype=OrganisationSubtype.SHG,
    )
    [wood_npo] = await insert_organisations(
        db,
        cluster_id,
        ["Wood NPO"],
        kind=OrganisationKind.COMMUNITY,
        subtype=OrganisationSubtype.NPO,
    )
    [silk_firm] = await insert_organisations(db, other_cluster, ["Silk Firm"])
    [silk_shg] = await insert_organisations(
        db,
        other_cluster,
        ["Silk SHG"],
        kind=OrganisationKind.COMMUNITY,
        subtype=OrganisationSubtype.SHG,
    )

    async def names(filter: dict[str, Any] | None) -> tuple[list[tuple[str, str]], int]:
        body = await gql(ORGANISATION_NAMES, {"filter": filter})
        connection = body["data"]["organisations"]
        return (
            [(e["node"]["id"], e["node"]["name"]) for e in connection["edges"]],
            connection["totalCount"],
        )

    # when the directory is filtered, then only the matching ones come back, by name
    assert await names(None) == (
        [
            (silk_firm, "Silk Firm"),
            (silk_shg, "Silk SHG"),
            (wood_firm, "Wood Firm"),
            (wood_npo, "Wood NPO"),
            (wood_shg, "Wood SHG"),
        ],
        5,
    )
    assert await names({"clusterId": cluster_id}) == (
        [(wood_firm, "Wood Firm"), (wood_npo, "Wood NPO"), (wood_shg, "Wood SHG")],
        3,
    )
    assert await names({"kind": "COMMUNITY"}) == (
        [(silk_shg, "Silk SHG"), (wood_npo, "Wood NPO"), (wood_shg, "Wood SHG")],
        3,
    )
    assert await names({"subtype": "SHG"}) == ([(silk_shg, "Silk SHG"), (wood_shg, "Wood SHG")], 2)
    assert await names({"clusterId": other_cluster, "kind": "COMMUNITY"}) == (
        [(silk_shg, "Silk SHG")],
        1,
    )
    assert await names({"kind": "INSTITUTION"}) == ([], 0)
    assert await names({"clusterId": str(uuid.uuid4())}) == ([], 0)


async def test_organisations_filter_by_malformed_cluster_id_is_a_validation_error(
    gql: GraphQL, db: Database
) -> None:
    # given a cluster id that is no id
    # when the directory is filtered by it
    body = await gql('query { organisations(filter: {clusterId: "wood"}) { totalCount } }')

    # then it is a validation error on the filter field
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Not a valid id",
                "locations": [{"line": 1, "column": 9}],
                "path": ["organisations"],
                "extensions": {"code": "VALIDATION", "field": "filter.clusterId"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("pellet", ["100% Pellets", "1000 Pellets Missing", "Pellet Works"]),
        ("PELLET", ["100% Pellets", "1000 Pellets Missing", "Pellet Works"]),
        ("%", ["100% Pellets"]),
        ("100%", ["100% Pellets"]),
        ("_", ["Rice_Husk Traders"]),
        ("e_h", ["Rice_Husk Traders"]),
        ("\\", ["Back\\Slash Co"]),
        ("  husk ", ["RiceXHusk Traders", "Rice_Husk Traders"]),
        ("nothing like it", []),
    ],
)
async def test_organisations_search_takes_wildcards_literally(
    gql: GraphQL, db: Database, cluster_id: str, search: str, expected: list[str]
) -> None:
    # given names with LIKE wildcards and near misses
    await insert_organisations(
        db,
        cluster_id,
        [
            "100% Pellets",
            "1000 Pellets Missing",
            "Pellet Works",
            "Rice_Husk Traders",
            "RiceXHusk Traders",
            "Back\\Slash Co",
        ],
    )

    # when the directory is searched
    body = await gql(ORGANISATION_NAMES, {"filter": {"search": search}})

    # then "%", "_" and "\" match only themselves
    connection = body["data"]["organisations"]
    assert [e["node"]["name"] for e in connection["edges"]] == expected
    assert connection["totalCount"] == len(expected)


async def test_organisations_search_with_nul_character_is_no_crash(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given an organisation, and a search text with a NUL character (no name can hold one)
    await insert_organisations(db, cluster_id, ["Pellet Works"])

    # when the directory is searched with it
    body = await gql(ORGANISATION_NAMES, {"filter": {"search": "Pellet\u0000"}})

    # then nothing matches (or the search is refused as invalid), on every database
    if "errors" in body:
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "VALIDATION", "field": "filter.search"}
        ], body
    else:
        assert body["data"]["organisations"]["totalCount"] == 0


async def test_organisations_first_defaults_to_twenty(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given 25 organisations
    await insert_organisations(db, cluster_id, [f"Org {i:02d}" for i in range(25)])

    # when the directory is read without `first`
    body = await gql(ORGANISATION_NAMES)

    # then the first twenty come back, and the page says more follow
    connection = body["data"]["organisations"]
    assert [e["node"]["name"] for e in connection["edges"]] == [f"Org {i:02d}" for i in range(20)]
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": connection["edges"][0]["cursor"],
        "endCursor": connection["edges"][-1]["cursor"],
    }
    assert connection["totalCount"] == 25


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_organisations_first_out_of_range_is_a_validation_error(
    gql: GraphQL, db: Database, first: int
) -> None:
    # given a page size outside 1..100
    # when the directory is read with it
    body = await gql(
        "query($first: Int) { organisations(first: $first) { totalCount } }", {"first": first}
    )

    # then the request fails with a VALIDATION error on `first`
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "first must be between 1 and 100",
                "locations": [{"line": 1, "column": 22}],
                "path": ["organisations"],
                "extensions": {"code": "VALIDATION", "field": "first"},
            }
        ],
    }


async def test_organisations_hundred_is_the_largest_page(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given 101 organisations
    await insert_organisations(db, cluster_id, [f"Org {i:03d}" for i in range(101)])

    # when a page of 100 is asked for
    body = await gql(ORGANISATION_NAMES, {"first": 100})

    # then it has 100 items and one more follows
    connection = body["data"]["organisations"]
    assert len(connection["edges"]) == 100
    assert (connection["pageInfo"]["hasNextPage"], connection["totalCount"]) == (True, 101)


async def test_organisation_cursors_walk_every_item_once(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given 25 organisations, several sharing a name (so the id breaks ties)
    names = [f"Org {i % 10:02d}" for i in range(25)]
    ids = await insert_organisations(db, cluster_id, names)
    expected = [
        (str(i), n) for n, i in sorted((n, uuid.UUID(i)) for n, i in zip(names, ids, strict=True))
    ]

    # when the directory is walked seven at a time
    seen: list[tuple[str, str]] = []
    pages = []
    after = None
    while True:
        body = await gql(ORGANISATION_NAMES, {"first": 7, "after": after})
        connection = body["data"]["organisations"]
        seen += [(e["node"]["id"], e["node"]["name"]) for e in connection["edges"]]
        pages.append(
            (
                len(connection["edges"]),
                connection["pageInfo"]["hasNextPage"],
                connection["pageInfo"]["hasPreviousPage"],
                connection["totalCount"],
            )
        )
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert len(pages) < 5, "the walk does not end"
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]

    # then every organisation comes exactly once, in order, with no gaps
    assert seen == expected
    assert pages == [
        (7, True, False, 25),
        (7, True, True, 25),
        (7, True, True, 25),
        (4, False, True, 25),
    ]


async def test_organisation_cursor_survives_inserts_before_it(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a first page read from a directory of ten
    await insert_organisations(db, cluster_id, [f"Org {i:02d}" for i in range(10)])
    first_page = (await gql(ORGANISATION_NAMES, {"first": 5}))["data"]["organisations"]
    assert [e["node"]["name"] for e in first_page["edges"]] == [f"Org {i:02d}" for i in range(5)]

    # when organisations sorting before the cursor are added, and the next page is read
    await insert_organisations(db, cluster_id, ["Org 00a", "Org 01a"])
    body = await gql(ORGANISATION_NAMES, {"first": 5, "after": first_page["pageInfo"]["endCursor"]})

    # then the next page continues where the first ended, without repeats
    assert [e["node"]["name"] for e in body["data"]["organisations"]["edges"]] == [
        f"Org {i:02d}" for i in range(5, 10)
    ]


@pytest.mark.parametrize(
    "after",
    [
        "not a cursor",
        "!!!",
        cursor_of({"s": "createdAt", "v": ["Org 01", str(uuid.uuid4())]}),
        cursor_of({"s": "name", "v": ["Org 01"]}),
        cursor_of({"s": "name", "v": ["Org 01", "not-a-uuid"]}),
        cursor_of({"s": "name", "v": ["Org 01", 12345]}),
        cursor_of({"s": "name", "v": ["Org 01", {"id": 1}]}),
        cursor_of({"v": ["Org 01", str(uuid.uuid4())]}),
        cursor_of(["name", "Org 01"]),
    ],
    ids=[
        "garbage",
        "not-base64",
        "other-sort",
        "too-few-values",
        "bad-uuid",
        "number-as-id",
        "object-as-id",
        "no-sort",
        "not-an-object",
    ],
)
async def test_organisations_bad_after_is_a_validation_error(
    gql: GraphQL, db: Database, cluster_id: str, after: str
) -> None:
    # given some organisations
    await insert_organisations(db, cluster_id, ["Org 01", "Org 02"])

    # when the directory is read after something that is not one of its cursors
    body = await gql(
        "query($after: String) { organisations(after: $after) { totalCount } }", {"after": after}
    )

    # then it is a VALIDATION error on `after`, not an internal error
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "after is not a cursor of this list",
                "locations": [{"line": 1, "column": 25}],
                "path": ["organisations"],
                "extensions": {"code": "VALIDATION", "field": "after"},
            }
        ],
    }


async def test_a_cluster_cursor_is_not_an_organisation_cursor(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a cursor from the list of clusters
    await insert_organisations(db, cluster_id, ["Org 01", "Org 02"])
    clusters = await gql("query { clusters { edges { cursor } } }")
    cluster_cursor = clusters["data"]["clusters"]["edges"][0]["cursor"]

    # when it is given to the list of organisations
    body = await gql(
        "query($after: String) { organisations(after: $after) { totalCount } }",
        {"after": cluster_cursor},
    )

    # then it is refused as a cursor of another list
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_organisations_page_costs_the_same_statements_for_1_and_20(
    gql: GraphQL, db: Database, cluster_id: str, sql_statements: Any
) -> None:
    # given 20 organisations
    await insert_organisations(db, cluster_id, [f"Org {i:02d}" for i in range(20)])
    query = """
    query($first: Int) {
      organisations(first: $first) {
        edges { node { id name cluster { id name slug } } }
        totalCount
      }
    }
    """

    # when a page of 1 and a page of 20 are read, with each organisation's cluster
    with sql_statements() as one:
        page_of_one = await gql(query, {"first": 1})
    with sql_statements() as twenty:
        page_of_twenty = await gql(query, {"first": 20})

    # then both pages are complete and cost the same number of statements
    assert len(page_of_one["data"]["organisations"]["edges"]) == 1
    edges = page_of_twenty["data"]["organisations"]["edges"]
    assert len(edges) == 20
    assert {e["node"]["cluster"]["slug"] for e in edges} == {"test-wood"}
    assert one.count == twenty.count, (one.statements, twenty.statements)
