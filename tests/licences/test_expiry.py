"""The expiry notice: a verified licence whose last day is within 30 days tells its holder's
people once, from the due-jobs runner, also when two runners work at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.notifications.models import Notification, NotificationKind
from backend.settings import Settings
from tests.conftest import GraphQL, seed_people
from tests.licences import kit
from tests.licences.kit import People

INBOX = """
query Inbox { notifications(first: 20) { edges { node { kind title body subjectId } } } }
"""


@pytest.fixture
async def people(gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str) -> People:
    return await kit.people(gql, register, cluster_id, platform_admin_token)


async def expiring_notices(db: Database) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).where(Notification.kind == NotificationKind.LICENCE_EXPIRING)
        )
    return int(count or 0)


async def test_a_verified_licence_ending_within_30_days_tells_its_holder_once(
    gql: GraphQL, db: Database, people: People, clock: ManualClock
) -> None:
    # given verified licences ending on 31 March and on 1 April, an unverified one ending on
    # 31 March, and today 1 March (Tokyo)
    ending = await kit.verified_licence(gql, people, validTo="2027-03-31")
    later = await kit.verified_licence(gql, people, number="OK-2027-0043", validTo="2027-04-01")
    await kit.create(gql, people.holder.access_token, number="OK-2027-0044", validTo="2027-03-31")

    # when the due jobs run, twice
    first = await run_due_jobs(db, clock)
    second = await run_due_jobs(db, clock)

    # then only the verified licence 30 days from its end is told, once, to both people
    assert (first.licence_expiry_notices, second.licence_expiry_notices) == (1, 0)
    told = {
        "kind": "LICENCE_EXPIRING",
        "title": "Licence OK-2027-0042 ends in 30 days",
        "body": "Okayama Prefecture OK-2027-0042 is valid until 2027-03-31. After that day "
        "hazardous waste it covers can no longer be offered to or traded with you.",
        "subjectId": ending["id"],
    }
    for person in (people.holder, people.member):
        inbox = await gql(INBOX, token=person.access_token)
        assert [e["node"] for e in inbox["data"]["notifications"]["edges"]][:1] == [told]

    # and the next day (Tokyo) the other one is told
    clock.set(datetime(2027, 3, 1, 15, 0, tzinfo=UTC))
    assert (await run_due_jobs(db, clock)).licence_expiry_notices == 1
    inbox = await gql(INBOX, token=people.holder.access_token)
    assert inbox["data"]["notifications"]["edges"][0]["node"]["subjectId"] == later["id"]
    assert await expiring_notices(db) == 4


async def test_a_renewed_licence_is_told_again_before_its_new_end(
    gql: GraphQL, db: Database, people: People, clock: ManualClock
) -> None:
    # given a licence told about its end on 10 March
    licence = await kit.verified_licence(gql, people, validTo="2027-03-10")
    assert (await run_due_jobs(db, clock)).licence_expiry_notices == 1
    # when it is renewed to 31 March (the new term is verified again)
    body = await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "validTo": "2027-03-31"}},
        token=people.holder.access_token,
    )
    assert body["data"]["wasteLicenceUpdate"]["errors"] == []
    assert (await run_due_jobs(db, clock)).licence_expiry_notices == 0  # not verified yet
    await kit.verify_licence(gql, people.admin_token, licence["id"])
    # then the new end is told as well
    assert (await run_due_jobs(db, clock)).licence_expiry_notices == 1
    inbox = await gql(INBOX, token=people.holder.access_token)
    titles = [e["node"]["title"] for e in inbox["data"]["notifications"]["edges"]]
    assert titles.count("Licence OK-2027-0042 ends in 30 days") == 1
    assert titles.count("Licence OK-2027-0042 ends in 9 days") == 1


async def test_an_expired_licence_is_not_told(
    gql: GraphQL, db: Database, people: People, clock: ManualClock
) -> None:
    await kit.verified_licence(gql, people, validFrom="2026-01-01", validTo="2027-02-28")
    assert (await run_due_jobs(db, clock)).licence_expiry_notices == 0


async def test_two_runners_at_once_tell_each_holder_once(
    gql: GraphQL,
    db: Database,
    settings: Settings,
    cluster_id: str,
    clock: ManualClock,
    platform_admin_token: str,
) -> None:
    # given eight firms, each with a verified licence ending within the month
    firms = await seed_people(db, settings, cluster_id, 8, prefix="holder")
    for index, firm in enumerate(firms):
        licence = await kit.create(
            gql,
            firm.token,
            validTo=(datetime(2027, 3, 5) + timedelta(days=index)).date().isoformat(),
        )
        await kit.verify_licence(gql, platform_admin_token, licence["id"])

    # when two runners, as two processes with their own connections, run at once, then again
    one, two = Database(db.url), Database(db.url)
    try:
        reports = await asyncio.gather(run_due_jobs(one, clock), run_due_jobs(two, clock))
        again = await asyncio.gather(run_due_jobs(one, clock), run_due_jobs(two, clock))
    finally:
        await one.dispose()
        await two.dispose()

    # then each licence is told by exactly one of them, once
    assert sum(r.licence_expiry_notices for r in reports) == 8, reports
    assert [r.licence_expiry_notices for r in again] == [0, 0]
    assert await expiring_notices(db) == 8
