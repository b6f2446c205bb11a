"""Who may do what with events (the events:... rules of backend/events/policies.py), allowed and
refused, through the API: GraphQL payloads and errors, and the participants' CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.events.kit import (
    APPROVE,
    CANCEL_EVENT,
    CANCEL_REGISTRATION,
    CHECK_IN,
    CREATE,
    PUBLISH,
    REGISTER,
    REJECT,
    STARTS,
    UPDATE,
    create_event,
    event_input,
    failed,
    listed_ids,
    publish,
    published_event,
    read_event,
    register_for,
)
from tests.identity.kit import invite_code, second_cluster, sign_in
from tests.kit import iso, problem

PARTICIPANTS = """
query Participants($eventId: ID!) {
  eventParticipants(eventId: $eventId) {
    edges {
      node {
        displayName email organisationName organisationId
        registration { status seats waitlistPosition note }
      }
    }
    totalCount
  }
}
"""
JOIN = """
mutation Join($input: OrganisationJoinInput!) {
  organisationJoin(input: $input) { membership { role } errors { code } }
}
"""
ONLINE_URL = "query Url($id: ID!) { event(id: $id) { onlineUrl myRegistration { status } } }"
PAYLOAD_EVENT = """
mutation Approve($id: ID!) {
  eventRegistrationApprove(id: $id) {
    registration { status event { canManage onlineUrl myRegistration { id } } }
    errors { code message field }
  }
}
"""

NOT_FOUND_EVENT = problem("NOT_FOUND", "Event not found", "id")
NOT_FOUND_REGISTRATION = problem("NOT_FOUND", "Registration not found", "id")
MANAGE_FORBIDDEN = problem(
    "FORBIDDEN", "Only the organising organisation, acting for it, may do this"
)
CANCEL_FORBIDDEN = problem(
    "FORBIDDEN", "Only the organising organisation or a platform admin may cancel it"
)
UNAUTHENTICATED = problem("UNAUTHENTICATED", "Sign in to do this")


@dataclass
class People:
    """An institution that organises (two members), and everyone else."""

    lab: Account  # the organising institution's admin
    colleague: Account  # another member of it
    # A firm's admin who also joined the lab: acting for the firm, or for the lab.
    dual_as_firm: str
    dual_as_lab: str
    other_lab: Account  # another institution
    firm: Account
    community: Account
    admin: str  # a platform admin

    def outsiders(self) -> dict[str, str]:
        """Signed-in people who do not act for the organising institution."""
        return {
            "another institution": self.other_lab.access_token,
            "a firm": self.firm.access_token,
            "a community": self.community.access_token,
            "a lab member acting for their firm": self.dual_as_firm,
        }


@pytest.fixture
async def people(gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str) -> People:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    colleague = await register(
        "colleague@uni.example",
        invite_code=await invite_code(gql, lab),
    )
    dual = await register("dual@firm.example", cluster_id, name="Dual Firm")
    code = await invite_code(gql, lab)
    joined = await gql(JOIN, {"input": {"inviteCode": code}}, token=dual.access_token)
    assert joined["data"]["organisationJoin"]["errors"] == [], joined
    return People(
        lab=lab,
        colleague=colleague,
        dual_as_firm=await sign_in(gql, dual.email, dual.organisation_id),
        dual_as_lab=await sign_in(gql, dual.email, lab.organisation_id),
        other_lab=await register(
            "cc@uni.example", cluster_id, name="Chugoku College", kind="INSTITUTION"
        ),
        firm=await register("a@firm.example", cluster_id, name="Firm A"),
        community=await register(
            "shg@village.example", cluster_id, name="Hiruzen SHG", kind="COMMUNITY"
        ),
        admin=platform_admin_token,
    )


def gql_error(body: dict[str, Any]) -> tuple[Any, list[tuple[str, Any, dict[str, Any]]]]:
    """(data, [(message, path, extensions)]) of a query that failed."""
    return body["data"], [(e["message"], e["path"], e["extensions"]) for e in body["errors"]]


# ---------------------------------------------------------------------------------------------
# events:create


async def test_institutions_create_every_kind_in_any_cluster(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    elsewhere = await second_cluster(db)
    created = []
    for kind in ("SEMINAR", "WORKSHOP", "FIELD_DEMONSTRATION", "COMMUNITY_MEETING"):
        event = await create_event(gql, lab.access_token, elsewhere, kind=kind)
        created.append((event["kind"], event["status"], event["cluster"]["id"]))
    assert created == [
        ("SEMINAR", "DRAFT", elsewhere),
        ("WORKSHOP", "DRAFT", elsewhere),
        ("FIELD_DEMONSTRATION", "DRAFT", elsewhere),
        ("COMMUNITY_MEETING", "DRAFT", elsewhere),
    ]


async def test_communities_create_community_meetings_in_their_own_cluster_only(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg = await register("shg@village.example", cluster_id, name="Hiruzen SHG", kind="COMMUNITY")
    elsewhere = await second_cluster(db)

    meeting = await create_event(gql, shg.access_token, cluster_id, kind="COMMUNITY_MEETING")
    assert (
        meeting["kind"],
        meeting["status"],
        meeting["organiser"]["kind"],
        meeting["canManage"],
    ) == (
        "COMMUNITY_MEETING",
        "DRAFT",
        "COMMUNITY",
        True,
    )

    for kind in ("SEMINAR", "WORKSHOP", "FIELD_DEMONSTRATION"):
        body = await gql(
            CREATE, {"input": event_input(cluster_id, kind=kind)}, token=shg.access_token
        )
        assert body["data"]["eventCreate"] == failed(
            [problem("FORBIDDEN", "Communities may create community meetings only")]
        ), kind

    body = await gql(
        CREATE,
        {"input": event_input(elsewhere, kind="COMMUNITY_MEETING")},
        token=shg.access_token,
    )
    assert body["data"]["eventCreate"] == failed(
        [problem("VALIDATION", "Communities hold meetings in their own cluster", "clusterId")]
    )

    # Nor can a meeting be turned into a seminar afterwards.
    body = await gql(
        UPDATE, {"input": {"id": meeting["id"], "kind": "SEMINAR"}}, token=shg.access_token
    )
    assert body["data"]["eventUpdate"] == failed(
        [problem("FORBIDDEN", "Communities may create community meetings only")]
    )
    assert await read_event(gql, meeting["id"], shg.access_token) == meeting


async def test_firms_admins_and_anonymous_cannot_create(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    form = {"input": event_input(cluster_id)}
    refused = failed([problem("FORBIDDEN", "Only institutions and communities may do this")])
    for token in (people.firm.access_token, people.dual_as_firm, people.admin):
        body = await gql(CREATE, form, token=token)
        assert body["data"]["eventCreate"] == refused
    body = await gql(CREATE, form, token="")
    assert body["data"]["eventCreate"] == failed([UNAUTHENTICATED])
    body = await gql(CREATE, form, token="not-a-token")
    assert body["data"]["eventCreate"] == failed(
        [problem("UNAUTHENTICATED", "The access token is not valid; sign in again")]
    )
    # The same person acting for the lab may.
    created = await gql(CREATE, form, token=people.dual_as_lab)
    assert created["data"]["eventCreate"]["errors"] == []
    assert created["data"]["eventCreate"]["event"]["organiser"]["id"] == people.lab.organisation_id


# ---------------------------------------------------------------------------------------------
# events:manage — update and publish


async def test_members_acting_for_the_organisers_update_and_publish(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    event = await create_event(gql, people.lab.access_token, cluster_id)
    for version, token in enumerate((people.colleague.access_token, people.dual_as_lab), start=2):
        body = await gql(
            UPDATE,
            {
                "input": {
                    "id": event["id"],
                    "expectedVersion": version - 1,
                    "title": f"v{version} talk",
                }
            },
            token=token,
        )
        assert body["data"]["eventUpdate"]["errors"] == [], body
        assert (
            body["data"]["eventUpdate"]["event"]["title"],
            body["data"]["eventUpdate"]["event"]["version"],
            body["data"]["eventUpdate"]["event"]["canManage"],
        ) == (f"v{version} talk", version, True)
    published = await publish(gql, people.colleague.access_token, event["id"])
    assert (published["status"], published["version"]) == ("PUBLISHED", 4)


async def test_others_cannot_update_or_publish_a_published_event(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id)
    before = await read_event(gql, event_id, people.lab.access_token)

    for who, token in {**people.outsiders(), "a platform admin": people.admin}.items():
        body = await gql(UPDATE, {"input": {"id": event_id, "title": "Taken over"}}, token=token)
        assert body["data"]["eventUpdate"] == failed([MANAGE_FORBIDDEN]), who
        body = await gql(PUBLISH, {"id": event_id}, token=token)
        assert body["data"]["eventPublish"] == failed([MANAGE_FORBIDDEN]), who
    body = await gql(UPDATE, {"input": {"id": event_id, "title": "Taken over"}}, token="")
    assert body["data"]["eventUpdate"] == failed([UNAUTHENTICATED])
    body = await gql(PUBLISH, {"id": event_id}, token="")
    assert body["data"]["eventPublish"] == failed([UNAUTHENTICATED])

    assert await read_event(gql, event_id, people.lab.access_token) == before


async def test_others_cannot_see_or_manage_a_draft(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    event = await create_event(gql, people.lab.access_token, cluster_id)

    for who, token in people.outsiders().items():
        body = await gql(UPDATE, {"input": {"id": event["id"], "title": "Taken"}}, token=token)
        assert body["data"]["eventUpdate"] == failed([NOT_FOUND_EVENT]), who
        body = await gql(PUBLISH, {"id": event["id"]}, token=token)
        assert body["data"]["eventPublish"] == failed([NOT_FOUND_EVENT]), who
    # Platform admins see drafts, but do not edit other people's events.
    body = await gql(UPDATE, {"input": {"id": event["id"], "title": "Taken"}}, token=people.admin)
    assert body["data"]["eventUpdate"] == failed([MANAGE_FORBIDDEN])
    body = await gql(PUBLISH, {"id": event["id"]}, token=people.admin)
    assert body["data"]["eventPublish"] == failed([MANAGE_FORBIDDEN])

    assert await read_event(gql, event["id"], people.lab.access_token) == event


# ---------------------------------------------------------------------------------------------
# events:manage — approve, reject, check in


async def test_only_the_organisers_approve_reject_and_check_in(
    gql: GraphQL, people: People, cluster_id: str, clock: ManualClock
) -> None:
    event_id = await published_event(
        gql, people.lab.access_token, cluster_id, requiresApproval=True
    )
    registrant = people.firm
    first = await register_for(gql, registrant.access_token, event_id)
    second = await register_for(gql, people.other_lab.access_token, event_id)
    assert (first["status"], second["status"]) == ("PENDING_APPROVAL", "PENDING_APPROVAL")

    refusals = {
        # Those who neither organise nor registered do not learn the registration exists.
        "a community": (people.community.access_token, NOT_FOUND_REGISTRATION),
        "a lab member acting for their firm": (people.dual_as_firm, NOT_FOUND_REGISTRATION),
        "a platform admin": (people.admin, NOT_FOUND_REGISTRATION),
        # The registrant is not an organiser.
        "the registrant": (registrant.access_token, MANAGE_FORBIDDEN),
    }
    for who, (token, expected) in refusals.items():
        body = await gql(APPROVE, {"id": first["id"]}, token=token)
        assert body["data"]["eventRegistrationApprove"] == failed([expected], "registration"), who
        body = await gql(REJECT, {"id": first["id"]}, token=token)
        assert body["data"]["eventRegistrationReject"] == failed([expected], "registration"), who
    for name, operation in (
        ("eventRegistrationApprove", APPROVE),
        ("eventRegistrationReject", REJECT),
        ("eventCheckIn", CHECK_IN),
    ):
        body = await gql(operation, {"id": first["id"]}, token="")
        assert body["data"][name] == failed([UNAUTHENTICATED], "registration")

    approved = await gql(APPROVE, {"id": first["id"]}, token=people.colleague.access_token)
    assert approved["data"]["eventRegistrationApprove"] == {
        "registration": {**first, "status": "CONFIRMED", "confirmedAt": iso(clock.now())},
        "errors": [],
    }
    rejected = await gql(REJECT, {"id": second["id"], "reason": "Full"}, token=people.dual_as_lab)
    assert rejected["data"]["eventRegistrationReject"] == {
        "registration": {**second, "status": "REJECTED"},
        "errors": [],
    }

    clock.set(STARTS)
    for who, (token, expected) in refusals.items():
        body = await gql(CHECK_IN, {"id": first["id"]}, token=token)
        assert body["data"]["eventCheckIn"] == failed([expected], "registration"), who
    body = await gql(CHECK_IN, {"id": first["id"]}, token=people.lab.access_token)
    assert body["data"]["eventCheckIn"]["registration"]["checkedInAt"] == iso(STARTS), body


async def test_a_mutation_payload_shows_the_viewers_own_registration(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    """registration.event.myRegistration is "the viewer's registration": when an organiser
    approves somebody, it is the organiser's (none), not the registrant's."""
    event_id = await published_event(
        gql, people.lab.access_token, cluster_id, requiresApproval=True
    )
    pending = await register_for(gql, people.firm.access_token, event_id)
    body = await gql(PAYLOAD_EVENT, {"id": pending["id"]}, token=people.lab.access_token)
    assert body["data"]["eventRegistrationApprove"] == {
        "registration": {
            "status": "CONFIRMED",
            "event": {
                "canManage": True,
                "onlineUrl": "https://meet.example.org/boiler",
                "myRegistration": None,
            },
        },
        "errors": [],
    }, f"the registrant's registration is {pending['id']}"


# ---------------------------------------------------------------------------------------------
# events:cancel


async def test_organisers_and_platform_admins_cancel_events(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    own = await published_event(gql, people.lab.access_token, cluster_id, title="Own seminar")
    moderated = await published_event(gql, people.lab.access_token, cluster_id, title="Spam")
    draft = await create_event(gql, people.lab.access_token, cluster_id, title="Spam draft")

    body = await gql(
        CANCEL_EVENT, {"id": own, "reason": "Snow"}, token=people.colleague.access_token
    )
    assert body["data"]["eventCancel"]["errors"] == [], body
    assert (
        body["data"]["eventCancel"]["event"]["status"],
        body["data"]["eventCancel"]["event"]["cancellationReason"],
    ) == ("CANCELLED", "Snow")

    for event_id in (moderated, draft["id"]):
        body = await gql(CANCEL_EVENT, {"id": event_id, "reason": "Spam"}, token=people.admin)
        assert body["data"]["eventCancel"]["errors"] == [], body
        cancelled = body["data"]["eventCancel"]["event"]
        assert (cancelled["status"], cancelled["canManage"], cancelled["onlineUrl"]) == (
            "CANCELLED",
            False,
            None,
        )


async def test_others_cannot_cancel_events(gql: GraphQL, people: People, cluster_id: str) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id)
    draft = await create_event(gql, people.lab.access_token, cluster_id)
    for who, token in people.outsiders().items():
        body = await gql(CANCEL_EVENT, {"id": event_id}, token=token)
        assert body["data"]["eventCancel"] == failed([CANCEL_FORBIDDEN]), who
        body = await gql(CANCEL_EVENT, {"id": draft["id"]}, token=token)
        assert body["data"]["eventCancel"] == failed([NOT_FOUND_EVENT]), who
    body = await gql(CANCEL_EVENT, {"id": event_id}, token="")
    assert body["data"]["eventCancel"] == failed([UNAUTHENTICATED])

    assert (await read_event(gql, event_id) or {})["status"] == "PUBLISHED"
    assert (await read_event(gql, draft["id"], people.lab.access_token) or {})["status"] == "DRAFT"


# ---------------------------------------------------------------------------------------------
# events:participants_read


async def test_organisers_and_platform_admins_list_participants(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id, capacity=1)
    await register_for(gql, people.firm.access_token, event_id, note="Two of us may come")
    await register_for(gql, people.community.access_token, event_id)
    expected = {
        "edges": [
            {
                "node": {
                    "displayName": "a",
                    "email": "a@firm.example",
                    "organisationName": "Firm A",
                    "organisationId": people.firm.organisation_id,
                    "registration": {
                        "status": "CONFIRMED",
                        "seats": 1,
                        "waitlistPosition": None,
                        "note": "Two of us may come",
                    },
                }
            },
            {
                "node": {
                    "displayName": "shg",
                    "email": "shg@village.example",
                    "organisationName": "Hiruzen SHG",
                    "organisationId": people.community.organisation_id,
                    "registration": {
                        "status": "WAITLISTED",
                        "seats": 1,
                        "waitlistPosition": 1,
                        "note": "",
                    },
                }
            },
        ],
        "totalCount": 2,
    }
    for token in (people.lab.access_token, people.dual_as_lab, people.admin):
        body = await gql(PARTICIPANTS, {"eventId": event_id}, token=token)
        assert body == {"data": {"eventParticipants": expected}}


async def test_others_cannot_list_participants(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id)
    draft = await create_event(gql, people.lab.access_token, cluster_id)
    await register_for(gql, people.firm.access_token, event_id)

    for who, token in people.outsiders().items():
        body = await gql(PARTICIPANTS, {"eventId": event_id}, token=token)
        assert gql_error(body) == (
            None,
            [
                (
                    "Only the organisers see who registered",
                    ["eventParticipants"],
                    {"code": "FORBIDDEN", "field": None},
                )
            ],
        ), who
        body = await gql(PARTICIPANTS, {"eventId": draft["id"]}, token=token)
        assert gql_error(body) == (
            None,
            [("Event not found", ["eventParticipants"], {"code": "NOT_FOUND", "field": "eventId"})],
        ), who
    # Admins see the draft's (empty) list.
    body = await gql(PARTICIPANTS, {"eventId": draft["id"]}, token=people.admin)
    assert body == {"data": {"eventParticipants": {"edges": [], "totalCount": 0}}}


# ---------------------------------------------------------------------------------------------
# The participants' CSV export (events:participants_read over REST)


async def test_the_participants_export(
    gql: GraphQL, client: httpx.AsyncClient, people: People, cluster_id: str, clock: ManualClock
) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id, capacity=1)
    draft = await create_event(gql, people.lab.access_token, cluster_id)
    other_draft = await create_event(gql, people.other_lab.access_token, cluster_id)
    await register_for(gql, people.firm.access_token, event_id, note="=HYPERLINK(1)")
    clock.advance(timedelta(minutes=5))
    await register_for(gql, people.community.access_token, event_id)

    async def export(event: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.get(f"/exports/events/{event}/participants.csv", headers=headers)

    response = await export(event_id, None)
    assert (response.status_code, response.json()) == (
        401,
        {"error": {"code": "UNAUTHENTICATED", "message": "Send an access token to export"}},
    )
    response = await export(event_id, "not-a-token")
    assert response.status_code == 401

    forbidden = {
        "error": {"code": "FORBIDDEN", "message": "Only the organisers see who registered"}
    }
    for who, token in people.outsiders().items():
        response = await export(event_id, token)
        assert (response.status_code, response.json()) == (403, forbidden), who

    not_found = {"error": {"code": "NOT_FOUND", "message": "Event not found"}}
    for event, token in (
        ("00000000-0000-4000-8000-000000000000", people.lab.access_token),
        ("not-a-uuid", people.lab.access_token),
        (draft["id"], people.firm.access_token),
        (draft["id"], people.other_lab.access_token),
        (other_draft["id"], people.lab.access_token),
    ):
        response = await export(event, token)
        assert (response.status_code, response.json()) == (404, not_found), (event, token)

    expected_csv = (
        "position,status,seats,name,email,organisation,registered_at,confirmed_at,"
        "checked_in_at,note\r\n"
        "1,CONFIRMED,1,a,a@firm.example,Firm A,2027-03-01T00:00:00+00:00,"
        "2027-03-01T00:00:00+00:00,,'=HYPERLINK(1)\r\n"
        "2,WAITLISTED,1,shg,shg@village.example,Hiruzen SHG,2027-03-01T00:05:00+00:00,,,\r\n"
    )
    for token in (people.lab.access_token, people.colleague.access_token, people.admin):
        response = await export(event_id, token)
        assert response.status_code == 200, response.text
        assert response.text == expected_csv
        assert (
            response.headers["content-type"],
            response.headers["content-disposition"],
            response.headers["cache-control"],
        ) == (
            "text/csv; charset=utf-8",
            f'attachment; filename="participants-{event_id}.csv"',
            "private, no-store",
        )
    # A draft's (empty) export: its organisers and admins.
    for token in (people.lab.access_token, people.admin):
        response = await export(draft["id"], token)
        assert (response.status_code, response.text) == (
            200,
            expected_csv.split("\r\n")[0] + "\r\n",
        )


# ---------------------------------------------------------------------------------------------
# events:read — drafts


async def test_drafts_are_visible_to_their_organisers_and_platform_admins_only(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    draft = await create_event(gql, people.lab.access_token, cluster_id)
    assert await read_event(gql, draft["id"], people.colleague.access_token) == draft
    assert await read_event(gql, draft["id"], people.dual_as_lab) == draft
    assert await read_event(gql, draft["id"], people.admin) == {
        **draft,
        "canManage": False,
        "onlineUrl": None,
    }
    for who, token in {**people.outsiders(), "anonymous": ""}.items():
        assert await read_event(gql, draft["id"], token) is None, who
    # Nor can outsiders register for it.
    for who, token in people.outsiders().items():
        body = await gql(REGISTER, {"input": {"eventId": draft["id"]}}, token=token)
        assert body["data"]["eventRegister"] == failed(
            [problem("NOT_FOUND", "Event not found", "eventId")], "registration"
        ), who
    # Never listed, not even to the organisers (they have organisedEvents).
    for token in (people.lab.access_token, people.admin, ""):
        assert await listed_ids(gql, token) == []
        assert await listed_ids(gql, token, includeCancelled=True) == []

    await publish(gql, people.lab.access_token, draft["id"])
    public = await read_event(gql, draft["id"])
    assert public is not None
    assert (public["status"], public["canManage"]) == ("PUBLISHED", False)
    assert await listed_ids(gql) == [(draft["id"], "PUBLISHED")]


async def test_a_draft_cancelled_before_publication_stays_private(
    gql: GraphQL, client: httpx.AsyncClient, people: People, cluster_id: str
) -> None:
    """It never was public; cancelling it must not publish it as CANCELLED."""
    draft = await create_event(gql, people.lab.access_token, cluster_id, title="Unannounced plan")
    body = await gql(CANCEL_EVENT, {"id": draft["id"]}, token=people.lab.access_token)
    assert body["data"]["eventCancel"]["errors"] == [], body
    assert (await read_event(gql, draft["id"], people.lab.access_token) or {})["status"] == (
        "CANCELLED"
    )

    calendar = await client.get(f"/calendar/events/{draft['id']}.ics")
    seen_by_others = {
        "anonymous event(id)": await read_event(gql, draft["id"]),
        "a firm's event(id)": await read_event(gql, draft["id"], people.firm.access_token),
        "events(includeCancelled)": await listed_ids(gql, includeCancelled=True),
        "public calendar file": calendar.status_code,
    }
    assert seen_by_others == {
        "anonymous event(id)": None,
        "a firm's event(id)": None,
        "events(includeCancelled)": [],
        "public calendar file": 404,
    }


# ---------------------------------------------------------------------------------------------
# events:online_url


async def test_the_online_link_is_for_organisers_and_confirmed_participants(
    gql: GraphQL, people: People, cluster_id: str
) -> None:
    link = "https://meet.example.org/boiler"
    event_id = await published_event(gql, people.lab.access_token, cluster_id, capacity=1)
    approval = await published_event(
        gql, people.lab.access_token, cluster_id, requiresApproval=True
    )
    confirmed = await register_for(gql, people.firm.access_token, event_id)
    await register_for(gql, people.community.access_token, event_id)  # waitlisted
    pending = await register_for(gql, people.other_lab.access_token, approval)

    async def seen(event: str, token: str) -> dict[str, Any]:
        body = await gql(ONLINE_URL, {"id": event}, token=token)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["event"]
        return result

    assert await seen(event_id, people.lab.access_token) == {
        "onlineUrl": link,
        "myRegistration": None,
    }
    assert await seen(event_id, people.dual_as_lab) == {"onlineUrl": link, "myRegistration": None}
    assert await seen(event_id, people.firm.access_token) == {
        "onlineUrl": link,
        "myRegistration": {"status": "CONFIRMED"},
    }
    assert await seen(event_id, people.community.access_token) == {
        "onlineUrl": None,
        "myRegistration": {"status": "WAITLISTED"},
    }
    assert await seen(approval, people.other_lab.access_token) == {
        "onlineUrl": None,
        "myRegistration": {"status": "PENDING_APPROVAL"},
    }
    for token in ("", people.admin, people.dual_as_firm, people.other_lab.access_token):
        assert await seen(event_id, token) == {"onlineUrl": None, "myRegistration": None}

    # Approved: confirmed, and the link shows.
    body = await gql(APPROVE, {"id": pending["id"]}, token=people.lab.access_token)
    assert body["data"]["eventRegistrationApprove"]["errors"] == []
    assert await seen(approval, people.other_lab.access_token) == {
        "onlineUrl": link,
        "myRegistration": {"status": "CONFIRMED"},
    }
    # Cancelled: gone again; the waitlisted person moves up and gets it.
    body = await gql(CANCEL_REGISTRATION, {"id": confirmed["id"]}, token=people.firm.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == []
    assert await seen(event_id, people.firm.access_token) == {
        "onlineUrl": None,
        "myRegistration": {"status": "CANCELLED"},
    }
    assert await seen(event_id, people.community.access_token) == {
        "onlineUrl": link,
        "myRegistration": {"status": "CONFIRMED"},
    }


# ---------------------------------------------------------------------------------------------
# events:registration_cancel


async def test_only_the_registrant_cancels_a_registration(
    gql: GraphQL, people: People, cluster_id: str, clock: ManualClock
) -> None:
    event_id = await published_event(gql, people.lab.access_token, cluster_id)
    registration = await register_for(gql, people.firm.access_token, event_id)

    refusals = {
        "a community": (people.community.access_token, NOT_FOUND_REGISTRATION),
        "a lab member acting for their firm": (people.dual_as_firm, NOT_FOUND_REGISTRATION),
        "a platform admin": (people.admin, NOT_FOUND_REGISTRATION),
        # The organisers know the registration, but reject rather than cancel it.
        "an organiser": (
            people.lab.access_token,
            problem("FORBIDDEN", "Only the person who registered may cancel the registration"),
        ),
        "anonymous": ("", UNAUTHENTICATED),
    }
    for who, (token, expected) in refusals.items():
        body = await gql(CANCEL_REGISTRATION, {"id": registration["id"]}, token=token)
        assert body["data"]["eventRegistrationCancel"] == failed([expected], "registration"), who

    clock.advance(timedelta(hours=1))
    body = await gql(
        CANCEL_REGISTRATION, {"id": registration["id"]}, token=people.firm.access_token
    )
    assert body["data"]["eventRegistrationCancel"] == {
        "registration": {
            **registration,
            "status": "CANCELLED",
            "cancelledAt": "2027-03-01T01:00:00+00:00",
        },
        "errors": [],
    }


# ---------------------------------------------------------------------------------------------
# Signed-in queries


@pytest.mark.parametrize(
    "query",
    [
        "{ myRegistrations { edges { node { id } } } }",
        "{ organisedEvents { edges { node { id } } } }",
        '{ eventParticipants(eventId: "00000000-0000-4000-8000-000000000000") '
        "{ edges { node { email } } } }",
        "{ notifications { edges { node { id } } } }",
    ],
)
async def test_signed_in_queries_refuse_anonymous_callers(
    gql: GraphQL, people: People, query: str
) -> None:
    body = await gql(query, token="")
    field = query.split("{", 2)[1].split("(")[0].strip()
    assert gql_error(body) == (
        None,
        [("Sign in to do this", [field], {"code": "UNAUTHENTICATED"})],
    )
