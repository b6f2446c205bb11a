"""Deadlines of purchasing groups: what reads show at once, and what the due-job runner records.

Time is the injectable ManualClock (never a sleep), except for ``eic run-due-jobs``, which runs on
the system clock: its test sets deadlines in the real past.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from backend import cli
from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.notifications.models import Notification
from backend.purchasing.models import GroupStatus, PurchaseGroup
from backend.settings import Settings, get_settings
from tests.conftest import CLOCK_START, GraphQL, Person, seed_people

CREATE = """
mutation Create($input: PurchaseGroupCreateInput!) {
  purchaseGroupCreate(input: $input) {
    purchaseGroup { id status deadline }
    errors { code message field }
  }
}
"""
PLEDGE = """
mutation Pledge($input: PurchaseGroupPledgeInput!) {
  purchaseGroupPledge(input: $input) {
    pledge { id quantity status }
    errors { code message field }
  }
}
"""
WITHDRAW = """
mutation Withdraw($id: ID!) {
  purchaseGroupPledgeWithdraw(id: $id) {
    pledge { id status }
    errors { code message field }
  }
}
"""
GROUP_FIELDS = """
    id status pledgedQuantity participantsCount minimumReached canPledge secondsLeft
    version updatedAt closedAt orderedAt cancelledAt
"""
GROUP = f"""
query Group($id: ID!) {{ purchaseGroup(id: $id) {{ {GROUP_FIELDS} }} }}
"""
GROUPS_BY_STATUS = """
query Groups($status: GroupStatus!) {
  purchaseGroups(filter: {status: $status}, first: 100) { edges { node { id status } } }
}
"""
CLOSE = f"""
mutation Close($id: ID!) {{
  purchaseGroupClose(id: $id) {{
    purchaseGroup {{ {GROUP_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""
CANCEL = f"""
mutation Cancel($id: ID!, $reason: String!) {{
  purchaseGroupCancel(id: $id, reason: $reason) {{
    purchaseGroup {{ {GROUP_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""
MARK_ORDERED = f"""
mutation MarkOrdered($id: ID!) {{
  purchaseGroupMarkOrdered(id: $id) {{
    purchaseGroup {{ {GROUP_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""
NOTIFICATIONS = """
query Notifications {
  notifications(first: 100) { edges { node { kind title subjectId } } }
}
"""

TITLE = "Rice husk for the boilers"
DEADLINE = CLOCK_START + timedelta(days=2)  # 2027-03-03T00:00Z


def ok(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The payload of a mutation that must have succeeded."""
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    assert payload["errors"] == [], body
    return payload


async def create_group(
    gql: GraphQL, organiser: Person, *, deadline: datetime, title: str = TITLE, **extra: Any
) -> str:
    group_input = {
        "title": title,
        "itemName": "Rice husk, dry, loose",
        "unit": "TNE",
        "direction": "BUY",
        "minQuantity": "10",
        "priceTiers": [{"minQuantity": "1", "pricePerUnit": "30"}],
        "currency": "THB",
        "deadline": deadline.isoformat(),
        "visibility": "CLUSTER",
        **extra,
    }
    created = await gql(CREATE, {"input": group_input}, token=organiser.token)
    group_id: str = ok(created, "purchaseGroupCreate")["purchaseGroup"]["id"]
    return group_id


async def pledge(gql: GraphQL, person: Person, group_id: str, quantity: str) -> dict[str, Any]:
    body = await gql(
        PLEDGE, {"input": {"groupId": group_id, "quantity": quantity}}, token=person.token
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["purchaseGroupPledge"]
    return payload


async def pledged(gql: GraphQL, person: Person, group_id: str, quantity: str) -> str:
    """Pledge that must succeed; the pledge's id."""
    payload = await pledge(gql, person, group_id, quantity)
    assert payload["errors"] == [], payload
    pledge_id: str = payload["pledge"]["id"]
    return pledge_id


async def read_group(gql: GraphQL, group_id: str, token: str) -> dict[str, Any]:
    body = await gql(GROUP, {"id": group_id}, token=token)
    assert "errors" not in body, body
    group: dict[str, Any] = body["data"]["purchaseGroup"]
    return group


async def notices(gql: GraphQL, person: Person) -> list[tuple[str, str, str]]:
    """(kind, title, subjectId) of each of the person's notifications, newest first."""
    body = await gql(NOTIFICATIONS, token=person.token)
    assert "errors" not in body, body
    return [
        (e["node"]["kind"], e["node"]["title"], e["node"]["subjectId"])
        for e in body["data"]["notifications"]["edges"]
    ]


async def notice_counts(gql: GraphQL, person: Person) -> Counter[tuple[str, str]]:
    """How many notifications of each (kind, subjectId) the person has."""
    return Counter((kind, subject) for kind, _, subject in await notices(gql, person))


async def stored_status(db: Database, group_id: str) -> tuple[GroupStatus, datetime | None]:
    """What the database has recorded (not what reads show)."""
    async with db.read() as session:
        group = await session.get(PurchaseGroup, uuid.UUID(group_id))
        assert group is not None
        return group.status, group.closed_at


async def notification_count(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(Notification)) or 0


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# ---------------------------------------------------------------------------------------------
# Reads at the deadline, before any job


async def test_status_turns_at_the_deadline_instant_before_any_job(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given two groups with a minimum of 10 t: one with exactly 10 pledged, one with 9
    organiser, a, b, c, late = await seed_people(db, settings, cluster_id, 5)
    reached = await create_group(gql, organiser, deadline=DEADLINE)
    # (the same instant, given in Bangkok time)
    bangkok = DEADLINE.astimezone(timezone(timedelta(hours=7)))
    short = await create_group(gql, organiser, deadline=bangkok, title="Rice straw for mushrooms")
    await pledged(gql, a, reached, "6")
    await pledged(gql, b, reached, "4")
    await pledged(gql, c, short, "9")

    # when the clock stands one second before the deadline, both are still open
    clock.set(DEADLINE - timedelta(seconds=1))
    for group_id in (reached, short):
        group = await read_group(gql, group_id, organiser.token)
        assert (group["status"], group["secondsLeft"]) == ("OPEN", 1), group
    assert (await read_group(gql, reached, late.token))["canPledge"] is True

    # and at the deadline instant itself, with no job run, they read CONFIRMED and FAILED
    clock.set(DEADLINE)
    confirmed = await read_group(gql, reached, organiser.token)
    failed = await read_group(gql, short, organiser.token)
    assert {k: confirmed[k] for k in ("status", "pledgedQuantity", "minimumReached")} == {
        "status": "CONFIRMED",
        "pledgedQuantity": "10",
        "minimumReached": True,
    }
    assert {k: failed[k] for k in ("status", "pledgedQuantity", "minimumReached")} == {
        "status": "FAILED",
        "pledgedQuantity": "9",
        "minimumReached": False,
    }
    for group in (confirmed, failed):
        assert (group["secondsLeft"], group["canPledge"]) == (0, False), group
    # as participants see them too
    assert (await read_group(gql, reached, a.token))["status"] == "CONFIRMED"
    assert (await read_group(gql, short, c.token))["status"] == "FAILED"
    # and the list filters by the status as of now
    for status, expected in (("CONFIRMED", [reached]), ("FAILED", [short]), ("OPEN", [])):
        listed = await gql(GROUPS_BY_STATUS, {"status": status}, token=organiser.token)
        assert [e["node"]["id"] for e in listed["data"]["purchaseGroups"]["edges"]] == expected

    # and pledging is over for newcomers
    for group_id in (reached, short):
        refused = await pledge(gql, late, group_id, "1")
        assert refused["pledge"] is None
        assert [e["code"] for e in refused["errors"]] == ["DEADLINE_PASSED"], refused
    # while nothing has been recorded or told yet
    assert await stored_status(db, reached) == (GroupStatus.OPEN, None)
    assert await stored_status(db, short) == (GroupStatus.OPEN, None)
    assert await notification_count(db) == 0
    assert (await read_group(gql, reached, organiser.token))["pledgedQuantity"] == "10"

    # and a runner at that same instant records both, closed at the deadline
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 2
    assert await stored_status(db, reached) == (GroupStatus.CONFIRMED, DEADLINE)
    assert await stored_status(db, short) == (GroupStatus.FAILED, DEADLINE)
    assert await notice_counts(gql, a) == Counter({("PURCHASE_GROUP_CONFIRMED", reached): 1})
    assert await notice_counts(gql, c) == Counter({("PURCHASE_GROUP_FAILED", short): 1})


async def test_reads_after_the_deadline_do_not_change_with_recording(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group past its deadline with its minimum reached, read before any job
    organiser, a = await seed_people(db, settings, cluster_id, 2)
    group_id = await create_group(gql, organiser, deadline=DEADLINE)
    await pledged(gql, a, group_id, "12")
    clock.set(DEADLINE + timedelta(hours=5))
    before = await read_group(gql, group_id, a.token)
    # when the runner records it
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 1
    after = await read_group(gql, group_id, a.token)
    # then the status read is the same before and after
    assert before["status"] == after["status"] == "CONFIRMED"
    assert at(after["closedAt"]) == DEADLINE


# ---------------------------------------------------------------------------------------------
# The runner


async def test_runner_records_the_outcome_once_and_tells_each_active_participant_once(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group that reached its minimum: a and b pledged, w withdrew, r withdrew and
    # pledged again; a group below its minimum (c); and a group nobody pledged to
    organiser, a, b, w, r, c = await seed_people(db, settings, cluster_id, 6)
    reached = await create_group(gql, organiser, deadline=DEADLINE)
    short = await create_group(gql, organiser, deadline=DEADLINE, title="Rice straw for mushrooms")
    empty = await create_group(
        gql, organiser, deadline=DEADLINE + timedelta(hours=1), title="Bran for the fish ponds"
    )
    await pledged(gql, a, reached, "5")
    await pledged(gql, b, reached, "5")
    withdrawn = await pledged(gql, w, reached, "3")
    ok(await gql(WITHDRAW, {"id": withdrawn}, token=w.token), "purchaseGroupPledgeWithdraw")
    again = await pledged(gql, r, reached, "1")
    ok(await gql(WITHDRAW, {"id": again}, token=r.token), "purchaseGroupPledgeWithdraw")
    assert await pledged(gql, r, reached, "2") == again
    await pledged(gql, c, short, "4")

    # when the runner runs before the deadline, it records nothing
    clock.set(DEADLINE - timedelta(microseconds=1))
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    assert await notification_count(db) == 0

    # and after it, it records the three groups
    clock.set(DEADLINE + timedelta(hours=2))
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 3

    # then each reads its outcome, closed at its deadline (not when the runner ran)
    for group_id, status, closed_at in (
        (reached, "CONFIRMED", DEADLINE),
        (short, "FAILED", DEADLINE),
        (empty, "FAILED", DEADLINE + timedelta(hours=1)),
    ):
        group = await read_group(gql, group_id, organiser.token)
        assert (group["status"], at(group["closedAt"])) == (status, closed_at), group
        assert await stored_status(db, group_id) == (GroupStatus(status), closed_at)
    # and each active participant is told once; the withdrawn one and the organiser are not
    assert await notices(gql, a) == [("PURCHASE_GROUP_CONFIRMED", f"Confirmed: {TITLE}", reached)]
    assert await notices(gql, b) == [("PURCHASE_GROUP_CONFIRMED", f"Confirmed: {TITLE}", reached)]
    assert await notices(gql, r) == [("PURCHASE_GROUP_CONFIRMED", f"Confirmed: {TITLE}", reached)]
    assert await notices(gql, c) == [
        ("PURCHASE_GROUP_FAILED", "Did not go ahead: Rice straw for mushrooms", short)
    ]
    assert await notices(gql, w) == []
    assert await notices(gql, organiser) == []
    assert await notification_count(db) == 4

    # and a second run, even later, records and tells nothing more
    before = await read_group(gql, reached, organiser.token)
    clock.advance(timedelta(days=3))
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    assert await notification_count(db) == 4
    after = await read_group(gql, reached, organiser.token)
    assert {k: after[k] for k in ("status", "closedAt", "version", "updatedAt")} == {
        k: before[k] for k in ("status", "closedAt", "version", "updatedAt")
    }


async def test_two_runners_at_once_tell_everybody_once(
    gql: GraphQL,
    db: Database,
    settings: Settings,
    cluster_id: str,
    clock: ManualClock,
) -> None:
    # Given eight groups past their deadline, half reaching the minimum, three pledgers each
    organiser, *people = await seed_people(db, settings, cluster_id, 10)
    groups: dict[str, str] = {}
    for index in range(8):
        group_id = await create_group(
            gql,
            organiser,
            deadline=DEADLINE + timedelta(minutes=index),
            title=f"Rice husk lot {index}",
        )
        quantity = "4" if index % 2 == 0 else "3"  # 12 reaches the minimum of 10, 9 does not
        for person in people[index % 3 :: 3]:
            await pledged(gql, person, group_id, quantity)
        groups[group_id] = "PURCHASE_GROUP_CONFIRMED" if index % 2 == 0 else "PURCHASE_GROUP_FAILED"
    clock.set(DEADLINE + timedelta(days=1))

    # when two runners, as two processes with their own database connections, run at once
    one, two = Database(db.url), Database(db.url)
    try:
        reports = await asyncio.gather(run_due_jobs(one, clock), run_due_jobs(two, clock))
        # and once more each, afterwards
        again = await asyncio.gather(run_due_jobs(one, clock), run_due_jobs(two, clock))
    finally:
        await one.dispose()
        await two.dispose()

    # then every group is recorded by exactly one of them
    assert sum(r.purchase_groups_closed for r in reports) == 8, reports
    assert [r.purchase_groups_closed for r in again] == [0, 0]
    # and every participant is told once about each group they pledged to
    told = 0
    for index, person in enumerate(people):
        expected = Counter(
            {
                (kind, group_id): 1
                for position, (group_id, kind) in enumerate(groups.items())
                if person in people[position % 3 :: 3]
            }
        )
        assert await notice_counts(gql, person) == expected, (index, person)
        told += sum(expected.values())
    assert told == 8 * 3
    assert await notification_count(db) == 24
    for group_id, kind in groups.items():
        status = GroupStatus.CONFIRMED if kind.endswith("CONFIRMED") else GroupStatus.FAILED
        assert (await stored_status(db, group_id))[0] is status


@pytest.fixture
def cli_database(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``eic`` pointed at the test database through its environment, as an operator would."""
    monkeypatch.setenv("EIC_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_the_cli_command_records_due_groups_on_the_system_clock(
    gql: GraphQL,
    db: Database,
    settings: Settings,
    cluster_id: str,
    clock: ManualClock,
    cli_database: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given, created three hours ago, a group whose deadline passed an hour ago with its minimum
    # reached, and one whose deadline is tomorrow
    real_now = datetime.now(UTC).replace(microsecond=0)
    clock.set(real_now - timedelta(hours=3))
    organiser, a, b = await seed_people(db, settings, cluster_id, 3)
    due = await create_group(gql, organiser, deadline=real_now - timedelta(hours=1))
    later = await create_group(gql, organiser, deadline=real_now + timedelta(days=1), title="Later")
    await pledged(gql, a, due, "6")
    await pledged(gql, b, due, "6")
    await pledged(gql, a, later, "20")
    capsys.readouterr()

    # when `eic run-due-jobs` runs (its own event loop, so its own thread)
    assert await asyncio.to_thread(cli.main, ["run-due-jobs"]) == 0

    # then it says what it did, and the due group is recorded at its deadline
    assert capsys.readouterr().out == "Due jobs done: 1 purchase groups closed.\n"
    assert await stored_status(db, due) == (GroupStatus.CONFIRMED, real_now - timedelta(hours=1))
    assert await stored_status(db, later) == (GroupStatus.OPEN, None)
    clock.set(datetime.now(UTC))
    group = await read_group(gql, due, organiser.token)
    assert (group["status"], at(group["closedAt"])) == ("CONFIRMED", real_now - timedelta(hours=1))
    assert (await read_group(gql, later, organiser.token))["status"] == "OPEN"
    for person in (a, b):
        assert await notice_counts(gql, person) == Counter({("PURCHASE_GROUP_CONFIRMED", due): 1})

    # and running it again does nothing
    assert await asyncio.to_thread(cli.main, ["run-due-jobs"]) == 0
    assert capsys.readouterr().out == "Due jobs done: 0 purchase groups closed.\n"
    assert await notification_count(db) == 2


# ---------------------------------------------------------------------------------------------
# Organiser actions after the deadline, and groups the runner must leave alone


async def test_marking_ordered_after_the_deadline_records_the_outcome_first(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group that reads CONFIRMED after its deadline, with no job run yet
    organiser, a, b = await seed_people(db, settings, cluster_id, 3)
    group_id = await create_group(gql, organiser, deadline=DEADLINE)
    await pledged(gql, a, group_id, "7")
    await pledged(gql, b, group_id, "3")
    clock.set(DEADLINE + timedelta(hours=6))
    assert await stored_status(db, group_id) == (GroupStatus.OPEN, None)

    # when the organiser marks it ordered
    marked = ok(
        await gql(MARK_ORDERED, {"id": group_id}, token=organiser.token),
        "purchaseGroupMarkOrdered",
    )["purchaseGroup"]

    # then the outcome was recorded first (closed at the deadline), then the order
    assert marked["status"] == "ORDERED"
    assert at(marked["closedAt"]) == DEADLINE
    assert at(marked["orderedAt"]) == DEADLINE + timedelta(hours=6)
    assert await stored_status(db, group_id) == (GroupStatus.ORDERED, DEADLINE)
    # and each participant was told once that it was confirmed, and once that it was ordered
    expected = Counter(
        {("PURCHASE_GROUP_CONFIRMED", group_id): 1, ("PURCHASE_GROUP_ORDERED", group_id): 1}
    )
    for person in (a, b):
        assert await notice_counts(gql, person) == expected

    # and the runner afterwards finds nothing to do
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    for person in (a, b):
        assert await notice_counts(gql, person) == expected
    # and a retried mark changes nothing
    ok(await gql(MARK_ORDERED, {"id": group_id}, token=organiser.token), "purchaseGroupMarkOrdered")
    assert await notification_count(db) == 4


async def test_marking_ordered_while_a_runner_runs_tells_everybody_once(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given groups that read CONFIRMED after their deadline
    organiser, a, b = await seed_people(db, settings, cluster_id, 3)
    group_ids = []
    for index in range(4):
        group_id = await create_group(gql, organiser, deadline=DEADLINE, title=f"Husk lot {index}")
        await pledged(gql, a, group_id, "5")
        await pledged(gql, b, group_id, "5")
        group_ids.append(group_id)
    clock.set(DEADLINE + timedelta(minutes=1))

    # when the organiser marks them ordered while a runner (another process) records them
    runner = Database(db.url)
    try:
        results = await asyncio.gather(
            run_due_jobs(runner, clock),
            *(gql(MARK_ORDERED, {"id": g}, token=organiser.token) for g in group_ids),
        )
    finally:
        await runner.dispose()

    # then every mark succeeds, and each group was recorded by exactly one of the two
    report, *marks = results
    for mark in marks:
        group = ok(mark, "purchaseGroupMarkOrdered")["purchaseGroup"]
        assert (group["status"], at(group["closedAt"])) == ("ORDERED", DEADLINE)
    assert 0 <= report.purchase_groups_closed <= 4
    expected: Counter[tuple[str, str]] = Counter()
    for group_id in group_ids:
        expected[("PURCHASE_GROUP_CONFIRMED", group_id)] = 1
        expected[("PURCHASE_GROUP_ORDERED", group_id)] = 1
    for person in (a, b):
        assert await notice_counts(gql, person) == expected
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0


async def test_closing_after_the_deadline_records_it_closed_at_the_deadline(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group that reads CONFIRMED after its deadline
    organiser, a = await seed_people(db, settings, cluster_id, 2)
    group_id = await create_group(gql, organiser, deadline=DEADLINE)
    await pledged(gql, a, group_id, "10")
    clock.set(DEADLINE + timedelta(days=1))
    # when the organiser closes it (late), twice
    for _ in range(2):
        closed = ok(await gql(CLOSE, {"id": group_id}, token=organiser.token), "purchaseGroupClose")
        group = closed["purchaseGroup"]
        assert (group["status"], at(group["closedAt"])) == ("CONFIRMED", DEADLINE)
    # then the participant is told once, and the runner has nothing left
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    assert await notice_counts(gql, a) == Counter({("PURCHASE_GROUP_CONFIRMED", group_id): 1})


async def test_failed_actions_after_the_deadline_leave_the_recording_to_the_runner(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group that reads FAILED after its deadline
    organiser, a = await seed_people(db, settings, cluster_id, 2)
    group_id = await create_group(gql, organiser, deadline=DEADLINE)
    await pledged(gql, a, group_id, "4")
    clock.set(DEADLINE + timedelta(hours=1))
    # when the organiser tries to mark it ordered and to cancel it, both are refused
    for query, name, variables in (
        (MARK_ORDERED, "purchaseGroupMarkOrdered", {"id": group_id}),
        (CANCEL, "purchaseGroupCancel", {"id": group_id, "reason": "too late"}),
        (CLOSE, "purchaseGroupClose", {"id": group_id}),
    ):
        body = await gql(query, variables, token=organiser.token)
        assert "errors" not in body, body
        payload = body["data"][name]
        assert payload["purchaseGroup"] is None
        assert [e["code"] for e in payload["errors"]] == ["CONFLICT"], payload
        assert "FAILED" in payload["errors"][0]["message"], payload
    assert (await read_group(gql, group_id, organiser.token))["status"] == "FAILED"
    # then the participant is told by the runner, once
    assert (await run_due_jobs(db, clock)).purchase_groups_closed in (0, 1)
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    assert await notice_counts(gql, a) == Counter({("PURCHASE_GROUP_FAILED", group_id): 1})
    assert await stored_status(db, group_id) == (GroupStatus.FAILED, DEADLINE)


async def test_runner_leaves_cancelled_and_early_closed_groups_alone(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, clock: ManualClock
) -> None:
    # Given a group cancelled before its deadline, one closed early once its minimum was
    # reached, and one closed early and then ordered
    organiser, a, b = await seed_people(db, settings, cluster_id, 3)
    cancelled = await create_group(gql, organiser, deadline=DEADLINE, title="Cancelled lot")
    closed = await create_group(gql, organiser, deadline=DEADLINE, title="Closed lot")
    ordered = await create_group(gql, organiser, deadline=DEADLINE, title="Ordered lot")
    for group_id in (cancelled, closed, ordered):
        await pledged(gql, a, group_id, "6")
        await pledged(gql, b, group_id, "6")
    clock.set(DEADLINE - timedelta(days=1))
    ok(
        await gql(CANCEL, {"id": cancelled, "reason": "supplier gone"}, token=organiser.token),
        "purchaseGroupCancel",
    )
    early = ok(await gql(CLOSE, {"id": closed}, token=organiser.token), "purchaseGroupClose")
    assert at(early["purchaseGroup"]["closedAt"]) == DEADLINE - timedelta(days=1)
    ok(await gql(CLOSE, {"id": ordered}, token=organiser.token), "purchaseGroupClose")
    ok(await gql(MARK_ORDERED, {"id": ordered}, token=organiser.token), "purchaseGroupMarkOrdered")
    clock.set(DEADLINE + timedelta(days=1))
    before = {g: await read_group(gql, g, organiser.token) for g in (cancelled, closed, ordered)}
    told_before = {p.user_id: await notice_counts(gql, p) for p in (a, b)}
    expected = Counter(
        {
            ("PURCHASE_GROUP_CANCELLED", cancelled): 1,
            ("PURCHASE_GROUP_CONFIRMED", closed): 1,
            ("PURCHASE_GROUP_CONFIRMED", ordered): 1,
            ("PURCHASE_GROUP_ORDERED", ordered): 1,
        }
    )
    assert told_before == {a.user_id: expected, b.user_id: expected}

    # when the runner runs past their deadlines, twice
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 0

    # then none of them changed (status, version, closing time), and nobody was told again
    after = {g: await read_group(gql, g, organiser.token) for g in (cancelled, closed, ordered)}
    assert after == before
    assert [before[g]["status"] for g in (cancelled, closed, ordered)] == [
        "CANCELLED",
        "CONFIRMED",
        "ORDERED",
    ]
    assert at(after[closed]["closedAt"]) == DEADLINE - timedelta(days=1)
    assert after[cancelled]["closedAt"] is None
    assert {p.user_id: await notice_counts(gql, p) for p in (a, b)} == told_before
    assert await stored_status(db, cancelled) == (GroupStatus.CANCELLED, None)
