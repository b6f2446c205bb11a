"""Regressions found in review: what a report shows, edits after moderation, odd tags,
concurrent twins, and a subscriber who loses access."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backend.forums.service import live
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.forums.kit import FORUM_CREATE, POST_CREATE, THREAD_CREATE
from tests.forums.live_kit import live_server, post, receive, subscribed, until_listening
from tests.identity.kit import REMOVE, invite_code

REPORT = """
mutation R($input: PostReportInput!) {
  postReport(input: $input) { report { id postBody } errors { code message field } }
}
"""
HIDE = 'mutation H($id: ID!) { postHide(id: $id, reason: "spam") { errors { code } } }'
LOCK = "mutation L($id: ID!) { threadLock(id: $id) { errors { code } } }"
EDIT = """
mutation E($input: PostEditInput!) { postEdit(input: $input) { errors { code message field } } }
"""


async def _scene(gql: Any, register: Any, cluster_id: str, visibility: str = "MEMBERS") -> Any:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await register("member@example.org", invite_code=await invite_code(gql, shg))
    forum = await gql(
        FORUM_CREATE,
        {"input": {"title": "Corner", "visibility": visibility}},
        token=shg.access_token,
    )
    forum_id = forum["data"]["forumCreate"]["forum"]["id"]
    thread = await gql(
        THREAD_CREATE,
        {"input": {"forumId": forum_id, "title": "Feed", "body": "?"}},
        token=shg.access_token,
    )
    thread_id = thread["data"]["threadCreate"]["thread"]["id"]
    posted = await gql(
        POST_CREATE,
        {"input": {"threadId": thread_id, "body": "Call 555"}},
        token=member.access_token,
    )
    return shg, member, thread_id, posted["data"]["postCreate"]["post"]["id"]


async def test_reporting_a_hidden_post_does_not_show_what_it_said(
    gql: Any, register: Any, cluster_id: str
) -> None:
    shg, _member, _, post_id = await _scene(gql, register, cluster_id)
    reporter = await register("other@example.org", invite_code=await invite_code(gql, shg))
    await gql(HIDE, {"id": post_id}, token=shg.access_token)
    reported = await gql(
        REPORT, {"input": {"postId": post_id, "reason": "Spam again"}}, token=reporter.access_token
    )
    assert reported["data"]["postReport"]["report"]["postBody"] is None
    # while the moderators' queue shows it
    queue = await gql(
        "query Q($id: ID!) { reports(forumId: $id) { edges { node { postBody } } } }",
        {
            "id": (await gql("{ forums { edges { node { id } } } }", token=shg.access_token))[
                "data"
            ]["forums"]["edges"][0]["node"]["id"]
        },
        token=shg.access_token,
    )
    assert queue["data"]["reports"]["edges"] == [{"node": {"postBody": "Call 555"}}]


async def test_no_edits_in_locked_threads_nor_of_hidden_posts(
    gql: Any, register: Any, cluster_id: str
) -> None:
    shg, member, thread_id, post_id = await _scene(gql, register, cluster_id)
    await gql(HIDE, {"id": post_id}, token=shg.access_token)
    hidden = await gql(
        EDIT, {"input": {"id": post_id, "body": "Now nice"}}, token=member.access_token
    )
    assert hidden["data"]["postEdit"]["errors"] == [
        {
            "code": "CONFLICT",
            "message": "A moderator hid this post; it cannot be edited now",
            "field": None,
        }
    ]
    await gql(
        "mutation R($id: ID!) { postRestore(id: $id) { errors { code } } }",
        {"id": post_id},
        token=shg.access_token,
    )
    await gql(LOCK, {"id": thread_id}, token=shg.access_token)
    locked = await gql(
        EDIT, {"input": {"id": post_id, "body": "Now nice"}}, token=member.access_token
    )
    assert locked["data"]["postEdit"]["errors"] == [
        {"code": "THREAD_LOCKED", "message": "This thread is locked; no edits", "field": None}
    ]


async def test_a_tag_with_a_control_character_is_a_validation_error(
    gql: Any, register: Any, cluster_id: str
) -> None:
    _shg, _, thread_id, _ = await _scene(gql, register, cluster_id, "PUBLIC")
    forum_id = (await gql("query($id: ID!) { thread(id: $id) { forumId } }", {"id": thread_id}))[
        "data"
    ]["thread"]["forumId"]
    answer = await gql(
        "query($f: ID!, $t: String) { threads(forumId: $f, tag: $t) { totalCount } }",
        {"f": forum_id, "t": "a\u0000b"},
    )
    assert answer["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "tag"}


async def test_twin_reports_sent_at_once_are_one_report(
    gql: Any, register: Any, cluster_id: str
) -> None:
    shg, _member, _, post_id = await _scene(gql, register, cluster_id)
    answers = await asyncio.gather(
        *(
            gql(REPORT, {"input": {"postId": post_id, "reason": "Spam"}}, token=shg.access_token)
            for _ in range(8)
        )
    )
    ids = {a["data"]["postReport"]["report"]["id"] for a in answers}
    assert [a["data"]["postReport"]["errors"] for a in answers] == [[]] * 8
    assert len(ids) == 1


async def test_a_subscriber_who_loses_access_stops_receiving(
    gql: Any,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a member subscribed to a MEMBERS thread, with memberships re-read on every post
    monkeypatch.setattr(live, "READER_REFRESH_SECONDS", 0.0)
    shg, member, thread_id, _ = await _scene(gql, register, cluster_id)
    broadcaster = InProcessBroadcaster()
    async with (
        live_server(settings, db, clock, broadcaster) as address,
        subscribed(address, member.access_token, thread_id) as ws,
    ):
        await until_listening(broadcaster, thread_id)
        # when the community removes them and then posts
        removed = await gql(
            REMOVE,
            {"organisationId": shg.organisation_id, "userId": member.user_id},
            token=shg.access_token,
        )
        assert removed["data"]["organisationMemberRemove"]["errors"] == []
        await post(address, shg.access_token, thread_id, "Members only")
        # then the subscription ends without the post
        assert await receive(ws) == {"id": "1", "type": "complete"}
