"""A busy thread (issue 16, item 6): every post of a thread updates the thread's row (its reply
count and last activity) and its forum's, so postCreate writes those rows as the last statements
of its unit of work and holds them only until the commit, not through all its other statements;
the counts stay exact whatever order concurrent posts commit in."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from backend.auth.viewer import Role, Viewer
from backend.forums import service
from backend.forums.models import Post
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError
from tests.conftest import CLOCK_START, Account, GraphQL
from tests.forums.kit import POST_CREATE, a_thread

THREAD = "query($id: ID!) { thread(id: $id) { replyCount lastActivityAt forumId locked } }"
FORUM = "query($id: ID!) { forum(id: $id) { lastActivityAt } }"


def _writes_thread(statement: str) -> bool:
    """Whether a statement locks or writes a thread's row."""
    words = " ".join(statement.split())
    return words.startswith("UPDATE forum_threads") or (
        "FOR UPDATE" in words and "forum_threads" in words
    )


def _change_log(statement: str) -> bool:
    return "sync_log_state" in statement or "sync_changes" in statement


def _viewer(account: Account) -> Viewer:
    return Viewer(
        user_id=uuid.UUID(account.user_id),
        role=Role.COMMUNITY,
        organisation_id=uuid.UUID(account.organisation_id or ""),
        token_id="busy-thread",
    )


async def test_a_post_writes_its_thread_and_forum_last(
    gql: GraphQL, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    with sql_statements() as log:
        answer = await gql(
            POST_CREATE, {"input": {"threadId": thread_id, "body": "Hay"}}, token=shg.access_token
        )
    assert answer["data"]["postCreate"]["errors"] == [], answer
    first = next(i for i, statement in enumerate(log.statements) if _writes_thread(statement))
    # Everything else of the post (the post, following, notifications, its view) came before
    # the thread's row was touched; after it, only the forum's and the change log's.
    assert any(s.startswith("INSERT INTO forum_posts") for s in log.statements[:first])
    held = [
        " ".join(statement.split()[:2])
        for statement in log.statements[first:]
        if not _change_log(statement)
    ]
    assert held == ["UPDATE forum_threads", "UPDATE forums"], log.statements[first:]


async def test_fifty_concurrent_posts_are_all_counted_and_the_latest_wins(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    viewer = _viewer(shg)
    broadcaster = InProcessBroadcaster()
    start = CLOCK_START + timedelta(hours=1)
    # The latest post is sent first: posts commit in another order than their times.
    times = [start + timedelta(seconds=50 - n) for n in range(50)]
    posted = await asyncio.gather(
        *(
            service.create_post(
                db=db,
                viewer=viewer,
                draft=service.PostDraft(thread_id=uuid.UUID(thread_id), body=f"Bale {n}"),
                broadcaster=broadcaster,
                now=moment,
            )
            for n, moment in enumerate(times)
        )
    )
    assert len({view.post.id for view in posted}) == 50
    thread = (await gql(THREAD, {"id": thread_id}, token=shg.access_token))["data"]["thread"]
    assert thread["replyCount"] == 50
    assert thread["lastActivityAt"] == max(times).isoformat()
    forum = await gql(FORUM, {"id": thread["forumId"]}, token=shg.access_token)
    assert forum["data"]["forum"]["lastActivityAt"] == max(times).isoformat()
    async with db.read() as session:
        rows = await session.scalars(select(Post.id).where(Post.thread_id == uuid.UUID(thread_id)))
        assert len(rows.all()) == 50


async def _waiting_on_a_lock(db: Database, deadline: float) -> list[str]:
    """The statements of this database's sessions that wait for a lock, once there is one."""
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while time.monotonic() < deadline:
            waiting = (
                await autocommit.execute(
                    text(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                )
            ).scalars()
            if found := list(waiting):
                return found
            await asyncio.sleep(0.02)  # polling: the server's view of locks has no event
    return []


async def test_a_post_waits_for_the_thread_row_only_at_its_last_statement_on_postgresql(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    """Another transaction holds the thread's row (here: a moderator locking the thread, not
    yet committed). The post does all its work, waits at its final UPDATE, and once the lock
    is committed answers THREAD_LOCKED with nothing of it kept."""
    if db.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    async with db.engine.connect() as moderator:
        await moderator.execute(
            text("UPDATE forum_threads SET locked_at = now(), version = version + 1 WHERE id = :t"),
            {"t": uuid.UUID(thread_id)},
        )
        posting = asyncio.create_task(
            service.create_post(
                db=db,
                viewer=_viewer(shg),
                draft=service.PostDraft(thread_id=uuid.UUID(thread_id), body="Straw"),
                broadcaster=InProcessBroadcaster(),
                now=CLOCK_START + timedelta(hours=1),
            )
        )
        waiting = await _waiting_on_a_lock(db, time.monotonic() + 10)
        await moderator.commit()
    with pytest.raises(ServiceError) as refused:
        await posting
    assert [" ".join(query.split()[:2]) for query in waiting] == ["UPDATE forum_threads"]
    assert refused.value.code is ErrorCode.THREAD_LOCKED
    thread = (await gql(THREAD, {"id": thread_id}, token=shg.access_token))["data"]["thread"]
    assert (thread["replyCount"], thread["locked"]) == (0, True)
    async with db.read() as session:
        assert (await session.scalars(select(Post.id))).all() == []
