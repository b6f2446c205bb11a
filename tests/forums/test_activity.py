"""The activity of a cluster's forums (cluster insights): threads started and replies posted in a
period, the organisations behind them and the threads written in by two organisations or more;
and the statements that costs, the same for one thread or ten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.forums import service
from backend.identity.models import OrganisationKind
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.forums.kit import join, open_forum, post, start_thread
from tests.identity.kit import second_cluster
from tests.kit import begins

FIRM, COMMUNITY, INSTITUTION = (
    OrganisationKind.FIRM,
    OrganisationKind.COMMUNITY,
    OrganisationKind.INSTITUTION,
)
STARTS = datetime(2027, 3, 2, tzinfo=UTC)
ENDS = datetime(2027, 3, 5, tzinfo=UTC)
HIDE = """
mutation Hide($id: ID!, $reason: String!) {
  postHide(id: $id, reason: $reason) { post { id } errors { code message field } }
}
"""
DELETE = "mutation Delete($id: ID!) { postDelete(id: $id) { post { id } errors { code } } }"


async def test_activity_of_the_cluster_s_forums_in_the_period(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # given a community, a university, three firms and a second person of the first firm
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    uni = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    b = await register("b@firm.example", cluster_id, name="Farm B")
    c = await register("c@firm.example", cluster_id, name="Farm C")
    a2 = await join(gql, register, a, "a2@firm.example")
    # the community's cluster forum, public forum, members' forum and a forum nobody used
    fodder = await open_forum(gql, shg.access_token, "CLUSTER", title="Feed and fodder")
    boilers = await open_forum(gql, shg.access_token, "PUBLIC", title="Boilers")
    members = await open_forum(gql, shg.access_token, "MEMBERS", title="Our savings")
    await open_forum(gql, shg.access_token, "CLUSTER", title="Quiet")

    # a thread the community started before the period, with a reply before it too; in the
    # period Farm A and Farm B reply, Farm C's reply is hidden and the community's deleted
    prices = await start_thread(gql, shg.access_token, fodder, "Feed prices")
    clock.set(STARTS - timedelta(hours=1))
    await post(gql, b.access_token, prices, "Early")
    clock.set(STARTS)
    await post(gql, a.access_token, prices, "We pay 30")
    clock.set(STARTS + timedelta(days=1))
    await post(gql, b.access_token, prices, "We pay 28")
    hidden = await post(gql, c.access_token, prices, "Buy from my cousin")
    body = await gql(HIDE, {"id": hidden, "reason": "Advertising"}, token=shg.access_token)
    assert body["data"]["postHide"]["errors"] == [], body
    deleted = await post(gql, shg.access_token, prices, "Oops")
    body = await gql(DELETE, {"id": deleted}, token=shg.access_token)
    assert body["data"]["postDelete"]["errors"] == [], body
    # a thread Farm A started in the period, with replies from its own two people only
    hay = await start_thread(gql, a.access_token, fodder, "Hay")
    await post(gql, a.access_token, hay, "Bales of 20 kg")
    await post(gql, a2.access_token, hay, "Or 25")
    # the university's thread in the public forum, on the period's last day
    clock.set(ENDS - timedelta(minutes=1))
    await start_thread(gql, uni.access_token, boilers, "Gasifier trial")

    # and what does not count: a thread and a reply at the period's end (excluded), the
    # members' forum, and another cluster's forum in the period
    clock.set(ENDS)
    late = await start_thread(gql, shg.access_token, boilers, "Late")
    await post(gql, b.access_token, late, "Late too")
    clock.set(STARTS + timedelta(days=1))
    own = await start_thread(gql, shg.access_token, members, "Dues")
    await post(gql, (await join(gql, register, shg, "m@example.org")).access_token, own, "Paid")
    rice = await second_cluster(db)
    mill = await register("mill@rice.example", rice, name="Rice SHG", kind="COMMUNITY")
    husk = await start_thread(
        gql, mill.access_token, await open_forum(gql, mill.access_token), "Husk"
    )
    await post(
        gql, (await register("f@rice.example", rice, name="Rice Farm")).access_token, husk, "Me"
    )

    # when the cluster's forum activity of the period is read
    activity = await service.forum_activity(
        db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
    )

    # then two forums were used: two threads started (Hay, Gasifier trial), four replies
    # (A and B in Feed prices, A's two people in Hay), by Farm A, Farm B and the university;
    # Feed prices is the one thread two organisations wrote in
    assert activity == service.ForumActivity(
        forums=2,
        threads=2,
        posts=4,
        organisations=3,
        threads_across_organisations=1,
        by_kind={FIRM: 2, COMMUNITY: 0, INSTITUTION: 1},
    )
    # the other cluster's forum is its own
    assert await service.forum_activity(
        db=db, cluster_id=uuid.UUID(rice), starts_at=STARTS, ends_at=ENDS
    ) == service.ForumActivity(
        forums=1,
        threads=1,
        posts=1,
        organisations=2,
        threads_across_organisations=1,
        by_kind={FIRM: 1, COMMUNITY: 1, INSTITUTION: 0},
    )
    # and a period without activity is all zeros
    assert await service.forum_activity(
        db=db,
        cluster_id=uuid.UUID(cluster_id),
        starts_at=datetime(2027, 4, 1, tzinfo=UTC),
        ends_at=datetime(2027, 5, 1, tzinfo=UTC),
    ) == service.ForumActivity(
        forums=0,
        threads=0,
        posts=0,
        organisations=0,
        threads_across_organisations=0,
        by_kind={FIRM: 0, COMMUNITY: 0, INSTITUTION: 0},
    )


async def test_forum_activity_costs_two_statements_for_one_thread_or_ten(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    clock: ManualClock,
    sql_statements: Any,
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    forum = await open_forum(gql, shg.access_token)
    clock.set(STARTS)

    async def threads(count: int) -> None:
        for n in range(count):
            thread_id = await start_thread(gql, shg.access_token, forum, f"Question {n}")
            await post(gql, a.access_token, thread_id, "Answer")

    async def counted() -> tuple[int, service.ForumActivity]:
        with sql_statements() as log:
            activity = await service.forum_activity(
                db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
            )
        return log.count, activity

    # given one thread with a reply, then ten
    await threads(1)
    one, of_one = await counted()
    await threads(9)
    ten, of_ten = await counted()

    # then the read is two statements (plus SQLite's BEGIN) both times
    assert one == ten == 2 + begins(db)
    assert (of_one.threads, of_one.posts, of_one.threads_across_organisations) == (1, 1, 1)
    assert (of_ten.threads, of_ten.posts, of_ten.threads_across_organisations) == (10, 10, 10)
