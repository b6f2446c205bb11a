"""Who came to a cluster's events (cluster insights): confirmed registrations of the events
starting in a period, by the kind of organisation registered for, and the events held by kind of
organiser; and the statements that costs, the same for one event or ten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.events import service
from backend.identity.models import OrganisationKind
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.events.kit import (
    APPROVE,
    CANCEL_EVENT,
    CANCEL_REGISTRATION,
    create_event,
    published_event,
    register_for,
)
from tests.identity.kit import invite_code, second_cluster
from tests.kit import begins

FIRM, COMMUNITY, INSTITUTION = (
    OrganisationKind.FIRM,
    OrganisationKind.COMMUNITY,
    OrganisationKind.INSTITUTION,
)
STARTS = datetime(2027, 3, 10, tzinfo=UTC)
ENDS = datetime(2027, 3, 20, tzinfo=UTC)


def at(moment: datetime) -> dict[str, str]:
    """An event's times: two hours from ``moment``."""
    return {
        "startsAt": moment.isoformat(),
        "endsAt": (moment + timedelta(hours=2)).isoformat(),
    }


async def ok(gql: GraphQL, operation: str, name: str, token: str, **variables: Any) -> None:
    body = await gql(operation, variables, token=token)
    assert body["data"][name]["errors"] == [], body


async def test_attendance_and_events_held_in_the_period(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, platform_admin_token: str
) -> None:
    # given a university, a community, two firms and a second person of the first firm
    uni = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    b = await register("b@firm.example", cluster_id, name="Farm B")
    a2 = await register("a2@firm.example", invite_code=await invite_code(gql, a))

    # a seminar on the period's first instant: Farm A's two people (2 seats and 1), the
    # community (3 seats) and a platform admin acting for no organisation; Farm B cancelled
    seminar = await published_event(gql, uni.access_token, cluster_id, **at(STARTS))
    await register_for(gql, a.access_token, seminar, seats=2)
    await register_for(gql, a2.access_token, seminar)
    await register_for(gql, shg.access_token, seminar, seats=3)
    await register_for(gql, platform_admin_token, seminar)
    cancelled = await register_for(gql, b.access_token, seminar)
    await ok(
        gql, CANCEL_REGISTRATION, "eventRegistrationCancel", b.access_token, id=cancelled["id"]
    )

    # a one-seat workshop: Farm A confirmed, Farm B on the waiting list
    workshop = await published_event(
        gql,
        uni.access_token,
        cluster_id,
        kind="WORKSHOP",
        capacity=1,
        **at(STARTS + timedelta(days=5)),
    )
    await register_for(gql, a.access_token, workshop)
    assert (await register_for(gql, b.access_token, workshop))["status"] == "WAITLISTED"

    # the community's meeting, which approves registrations: the university approved, Farm B
    # still pending
    meeting = await published_event(
        gql,
        shg.access_token,
        cluster_id,
        kind="COMMUNITY_MEETING",
        requiresApproval=True,
        **at(ENDS - timedelta(hours=1)),
    )
    pending = await register_for(gql, uni.access_token, meeting)
    await ok(gql, APPROVE, "eventRegistrationApprove", shg.access_token, id=pending["id"])
    assert (await register_for(gql, b.access_token, meeting))["status"] == "PENDING_APPROVAL"

    # and events that do not count, each with Farm A registered: before the period, at its end
    # (excluded), cancelled, in another cluster; and a draft
    for moment in (STARTS - timedelta(hours=1), ENDS):
        event_id = await published_event(gql, uni.access_token, cluster_id, **at(moment))
        await register_for(gql, a.access_token, event_id)
    called_off = await published_event(
        gql, uni.access_token, cluster_id, **at(STARTS + timedelta(days=1))
    )
    await register_for(gql, a.access_token, called_off)
    await ok(gql, CANCEL_EVENT, "eventCancel", uni.access_token, id=called_off)
    rice = await second_cluster(db)
    elsewhere = await published_event(gql, uni.access_token, rice, **at(STARTS + timedelta(days=2)))
    await register_for(gql, a.access_token, elsewhere)
    await create_event(gql, uni.access_token, cluster_id, **at(STARTS + timedelta(days=3)))

    # when the period's attendance and events are read
    attendance = await service.attendance_by_organisation_kind(
        db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
    )
    held = await service.events_held(
        db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
    )

    # then
    assert attendance == [
        # Farm A: two people at the seminar (3 seats), one at the workshop
        service.AttendanceByKind(
            kind=FIRM, registrations=3, seats=4, organisations=1, people=2, events=2
        ),
        service.AttendanceByKind(
            kind=COMMUNITY, registrations=1, seats=3, organisations=1, people=1, events=1
        ),
        service.AttendanceByKind(
            kind=INSTITUTION, registrations=1, seats=1, organisations=1, people=1, events=1
        ),
        service.AttendanceByKind(
            kind=None, registrations=1, seats=1, organisations=0, people=1, events=1
        ),
    ]
    assert held == service.EventsHeld(total=3, by_kind={FIRM: 0, COMMUNITY: 1, INSTITUTION: 2})
    # the other cluster has the university's one event there and Farm A's registration
    assert await service.attendance_by_organisation_kind(
        db=db, cluster_id=uuid.UUID(rice), starts_at=STARTS, ends_at=ENDS
    ) == [
        service.AttendanceByKind(
            kind=FIRM, registrations=1, seats=1, organisations=1, people=1, events=1
        )
    ]
    assert await service.events_held(
        db=db, cluster_id=uuid.UUID(rice), starts_at=STARTS, ends_at=ENDS
    ) == service.EventsHeld(total=1, by_kind={FIRM: 0, COMMUNITY: 0, INSTITUTION: 1})
    # and a period without events is empty
    later = {
        "starts_at": datetime(2027, 4, 1, tzinfo=UTC),
        "ends_at": datetime(2027, 5, 1, tzinfo=UTC),
    }
    assert (
        await service.attendance_by_organisation_kind(
            db=db, cluster_id=uuid.UUID(cluster_id), **later
        )
        == []
    )
    assert await service.events_held(
        db=db, cluster_id=uuid.UUID(cluster_id), **later
    ) == service.EventsHeld(total=0, by_kind={FIRM: 0, COMMUNITY: 0, INSTITUTION: 0})


async def test_attendance_costs_one_statement_and_events_held_one_for_one_event_or_ten(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, sql_statements: Any
) -> None:
    uni = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")

    async def events(count: int) -> None:
        for n in range(count):
            event_id = await published_event(
                gql, uni.access_token, cluster_id, **at(STARTS + timedelta(hours=n))
            )
            for person in (shg, a):
                await register_for(gql, person.access_token, event_id)

    async def counted() -> tuple[int, int, list[service.AttendanceByKind], service.EventsHeld]:
        period = {"cluster_id": uuid.UUID(cluster_id), "starts_at": STARTS, "ends_at": ENDS}
        with sql_statements() as attendance_log:
            attendance = await service.attendance_by_organisation_kind(db=db, **period)
        with sql_statements() as held_log:
            held = await service.events_held(db=db, **period)
        return attendance_log.count, held_log.count, attendance, held

    # given one event, then ten
    await events(1)
    one = await counted()
    await events(9)
    ten = await counted()

    # then each read is one statement (plus SQLite's BEGIN) both times
    assert one[:2] == ten[:2] == (1 + begins(db), 1 + begins(db))
    assert [(row.kind, row.events) for row in one[2]] == [(FIRM, 1), (COMMUNITY, 1)]
    assert [(row.kind, row.events) for row in ten[2]] == [(FIRM, 10), (COMMUNITY, 10)]
    assert (one[3].total, ten[3].total) == (1, 10)
