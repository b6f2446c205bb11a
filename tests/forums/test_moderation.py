"""Moderation of forums through GraphQL: reports and the report queue, hiding and restoring
posts, locking and pinning threads (and the posts and edits that stops), named moderators, and
each rule allowed and refused."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from tests.conftest import Account, GraphQL
from tests.forums.kit import (
    POST_CREATE,
    POST_EDIT,
    a_members_post,
    errors_of,
    iso,
    open_forum,
    post,
    query_codes,
    start_thread,
)
from tests.identity.kit import invite_code

REPORT = """
mutation Report($input: PostReportInput!) {
  postReport(input: $input) {
    report {
      id postId threadId postBody postHidden postAuthor { userId } reason status reporterName
      createdAt resolvedAt resolution
    }
    errors { code message field }
  }
}
"""
REPORTS = """
query Reports($forum: ID!) {
  reports(forumId: $forum) {
    totalCount
    edges { node { id postId reason status reporterName postBody postHidden resolution } }
  }
}
"""
REPORTS_BY_STATUS = """
query Reports($forum: ID!, $status: ReportStatus) {
  reports(forumId: $forum, status: $status) {
    totalCount
    edges { node { id status resolution resolvedAt } }
  }
}
"""
RESOLVE = """
mutation Resolve($id: ID!, $resolution: String!) {
  reportResolve(id: $id, resolution: $resolution) {
    report { id status resolvedAt resolution }
    errors { code message field }
  }
}
"""
HIDE = """
mutation Hide($id: ID!, $reason: String!) {
  postHide(id: $id, reason: $reason) {
    post { id hidden body hiddenReason }
    errors { code message field }
  }
}
"""
RESTORE = """
mutation Restore($id: ID!) {
  postRestore(id: $id) { post { id hidden body hiddenReason } errors { code message field } }
}
"""
LOCK = """
mutation Lock($id: ID!, $locked: Boolean!) {
  threadLock(id: $id, locked: $locked) {
    thread { id locked lockedAt } errors { code message field }
  }
}
"""
PIN = """
mutation Pin($id: ID!, $pinned: Boolean!) {
  threadPin(id: $id, pinned: $pinned) { thread { id pinned } errors { code message field } }
}
"""
MODERATOR_SET = """
mutation Moderator($forum: ID!, $user: ID!, $remove: Boolean!) {
  forumModeratorSet(forumId: $forum, userId: $user, remove: $remove) {
    forum { id canModerate }
    errors { code message field }
  }
}
"""
FORUM_UPDATE = """
mutation U($input: ForumUpdateInput!) {
  forumUpdate(input: $input) { forum { id description } errors { code message field } }
}
"""
POSTS = """
query Posts($id: ID!) {
  posts(threadId: $id) {
    edges { node { id body hidden hiddenReason deleted canModerate canEdit } }
  }
}
"""
THREADS = """
query Threads($forum: ID!) { threads(forumId: $forum) { edges { node { id title } } } }
"""
CAN_MODERATE = """
query Can($forum: ID!, $thread: ID!) {
  forum(id: $forum) { canModerate }
  thread(id: $thread) { canModerate locked pinned }
}
"""


# ---------------------------------------------------------------------------------------------
# The scene: a community's CLUSTER forum with a thread and a post by a firm


@dataclass
class Scene:
    admin: Account  # the owning community's admin
    member: Account  # a plain member of the community
    moderator: Account  # a firm's person, named moderator of the forum
    author: Account  # a firm's person who wrote the post
    reporter: Account  # a firm's person who reported it
    platform_token: str
    forum_id: str
    thread_id: str
    post_id: str
    report_id: str

    def token(self, role: str) -> str:
        if role == "platform":
            return self.platform_token
        account: Account = getattr(self, role)
        return account.access_token


async def name_moderator(
    gql: GraphQL, token: str, forum_id: str, user_id: str, remove: bool = False
) -> dict[str, Any]:
    body = await gql(
        MODERATOR_SET, {"forum": forum_id, "user": user_id, "remove": remove}, token=token
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["forumModeratorSet"]
    return payload


@pytest.fixture
async def scene(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str, clock: ManualClock
) -> Scene:
    admin = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await register("member@example.org", invite_code=await invite_code(gql, admin))
    moderator = await register("mod@example.org", cluster_id, name="Moderating Firm")
    author = await register("author@example.org", cluster_id, name="Writing Firm")
    reporter = await register("reporter@example.org", cluster_id, name="Reporting Firm")
    forum_id = await open_forum(gql, admin.access_token, "CLUSTER")
    named = await name_moderator(gql, admin.access_token, forum_id, moderator.user_id)
    assert named["errors"] == [], named
    clock.advance(timedelta(minutes=1))
    thread_id = await start_thread(gql, author.access_token, forum_id, "Feed prices")
    clock.advance(timedelta(minutes=1))
    post_id = await post(gql, author.access_token, thread_id, "Buy from my cousin only")
    clock.advance(timedelta(minutes=1))
    reported = await gql(
        REPORT,
        {"input": {"postId": post_id, "reason": "Advertising"}},
        token=reporter.access_token,
    )
    assert reported["data"]["postReport"]["errors"] == [], reported
    return Scene(
        admin=admin,
        member=member,
        moderator=moderator,
        author=author,
        reporter=reporter,
        platform_token=platform_admin_token,
        forum_id=forum_id,
        thread_id=thread_id,
        post_id=post_id,
        report_id=reported["data"]["postReport"]["report"]["id"],
    )


MODERATORS = ("admin", "moderator", "platform")
NOT_MODERATORS = ("member", "author", "reporter")


# ---------------------------------------------------------------------------------------------
# postReport


async def test_any_reader_reports_a_post_and_again_gets_the_same_report(
    gql: GraphQL, scene: Scene, register: Any, clock: ManualClock
) -> None:
    # the scene's report, as the reporter got it
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.admin.access_token)
    assert queue["data"]["reports"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "id": scene.report_id,
                    "postId": scene.post_id,
                    "reason": "Advertising",
                    "status": "OPEN",
                    "reporterName": "reporter",
                    "postBody": "Buy from my cousin only",
                    "postHidden": False,
                    "resolution": "",
                }
            }
        ],
    }
    # reporting again returns the same report
    clock.advance(timedelta(minutes=1))
    again = await gql(
        REPORT,
        {"input": {"postId": scene.post_id, "reason": "Advertising, again"}},
        token=scene.reporter.access_token,
    )
    assert again["data"]["postReport"]["errors"] == [], again
    report = again["data"]["postReport"]["report"]
    assert (report["id"], report["status"], report["postId"], report["threadId"]) == (
        scene.report_id,
        "OPEN",
        scene.post_id,
        scene.thread_id,
    )
    # any reader may report: a plain member, the author themselves, a moderator
    for who in (scene.member, scene.author, scene.moderator):
        reported = await gql(
            REPORT,
            {"input": {"postId": scene.post_id, "reason": "Please look"}},
            token=who.access_token,
        )
        assert reported["data"]["postReport"]["errors"] == [], (who.email, reported)
        assert reported["data"]["postReport"]["report"]["id"] != scene.report_id
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.admin.access_token)
    assert queue["data"]["reports"]["totalCount"] == 4


async def test_a_report_needs_a_reason(gql: GraphQL, scene: Scene) -> None:
    for reason in ("", "  ab  ", "r" * 1001, "bell\x07"):
        refused = await gql(
            REPORT,
            {"input": {"postId": scene.post_id, "reason": reason}},
            token=scene.member.access_token,
        )
        assert errors_of(refused, "postReport") == [("VALIDATION", "reason")], reason
        assert refused["data"]["postReport"]["report"] is None
    fine = await gql(
        REPORT,
        {"input": {"postId": scene.post_id, "reason": "Spam"}},
        token=scene.member.access_token,
    )
    assert errors_of(fine, "postReport") == []
    assert fine["data"]["postReport"]["report"]["reason"] == "Spam"


async def test_only_readers_report(gql: GraphQL, register: Any, cluster_id: str) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    thread_id = await start_thread(gql, shg.access_token, forum_id, "Members only")
    post_id = await post(gql, shg.access_token, thread_id, "Inside talk")
    outsider = await gql(
        REPORT, {"input": {"postId": post_id, "reason": "Curious"}}, token=firm.access_token
    )
    assert errors_of(outsider, "postReport") == [("NOT_FOUND", "postId")]
    unknown = await gql(
        REPORT,
        {"input": {"postId": str(uuid.uuid4()), "reason": "Curious"}},
        token=shg.access_token,
    )
    assert errors_of(unknown, "postReport") == [("NOT_FOUND", "postId")]
    anonymous = await gql(REPORT, {"input": {"postId": post_id, "reason": "Curious"}}, token="")
    assert errors_of(anonymous, "postReport") == [("UNAUTHENTICATED", None)]
    queue = await gql(REPORTS, {"forum": forum_id}, token=shg.access_token)
    assert queue["data"]["reports"]["totalCount"] == 0


async def test_reporting_a_hidden_post_does_not_show_what_it_said(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg, _member, _, post_id = await a_members_post(gql, register, cluster_id)
    reporter = await register("other@example.org", invite_code=await invite_code(gql, shg))
    await gql(HIDE, {"id": post_id, "reason": "spam"}, token=shg.access_token)
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


async def test_twin_reports_sent_at_once_are_one_report(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg, _member, _, post_id = await a_members_post(gql, register, cluster_id)
    answers = await asyncio.gather(
        *(
            gql(REPORT, {"input": {"postId": post_id, "reason": "Spam"}}, token=shg.access_token)
            for _ in range(8)
        )
    )
    ids = {a["data"]["postReport"]["report"]["id"] for a in answers}
    assert [a["data"]["postReport"]["errors"] for a in answers] == [[]] * 8
    assert len(ids) == 1


# ---------------------------------------------------------------------------------------------
# reports(forumId)


@pytest.mark.parametrize("role", MODERATORS)
async def test_moderators_see_the_report_queue(gql: GraphQL, scene: Scene, role: str) -> None:
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.token(role))
    assert "errors" not in queue, queue
    assert [e["node"]["id"] for e in queue["data"]["reports"]["edges"]] == [scene.report_id]


@pytest.mark.parametrize("role", NOT_MODERATORS)
async def test_others_may_not_see_the_report_queue(gql: GraphQL, scene: Scene, role: str) -> None:
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.token(role))
    assert queue["data"] is None
    assert query_codes(queue) == ["FORBIDDEN"]


async def test_the_report_queue_needs_signing_in(gql: GraphQL, scene: Scene) -> None:
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token="")
    assert query_codes(queue) == ["UNAUTHENTICATED"]


async def test_a_members_forum_queue_is_not_found_for_outsiders(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    outsider = await gql(REPORTS, {"forum": forum_id}, token=firm.access_token)
    assert query_codes(outsider) == ["NOT_FOUND"]
    # platform admins read and moderate every forum
    platform = await gql(REPORTS, {"forum": forum_id}, token=platform_admin_token)
    assert platform["data"]["reports"] == {"totalCount": 0, "edges": []}


# ---------------------------------------------------------------------------------------------
# postHide and postRestore


async def test_a_hidden_post_is_hidden_from_readers_only(gql: GraphQL, scene: Scene) -> None:
    hidden = await gql(
        HIDE, {"id": scene.post_id, "reason": "Advertising"}, token=scene.moderator.access_token
    )
    assert hidden["data"]["postHide"] == {
        "post": {
            "id": scene.post_id,
            "hidden": True,
            "body": "Buy from my cousin only",
            "hiddenReason": "Advertising",
        },
        "errors": [],
    }
    for role in ("member", "reporter"):
        listed = await gql(POSTS, {"id": scene.thread_id}, token=scene.token(role))
        assert listed["data"]["posts"]["edges"] == [
            {
                "node": {
                    "id": scene.post_id,
                    "body": None,
                    "hidden": True,
                    "hiddenReason": None,
                    "deleted": False,
                    "canModerate": False,
                    "canEdit": False,
                }
            }
        ], role
    for role in ("author", *MODERATORS):
        listed = await gql(POSTS, {"id": scene.thread_id}, token=scene.token(role))
        node = listed["data"]["posts"]["edges"][0]["node"]
        assert (node["body"], node["hidden"], node["hiddenReason"]) == (
            "Buy from my cousin only",
            True,
            "Advertising",
        ), role
        assert node["canModerate"] is (role != "author"), role
        assert node["canEdit"] is (role == "author"), role
    # the queue tells the moderators the post is hidden now
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.admin.access_token)
    assert queue["data"]["reports"]["edges"][0]["node"]["postHidden"] is True
    # restored, everyone reads it again
    restored = await gql(RESTORE, {"id": scene.post_id}, token=scene.admin.access_token)
    assert restored["data"]["postRestore"] == {
        "post": {
            "id": scene.post_id,
            "hidden": False,
            "body": "Buy from my cousin only",
            "hiddenReason": None,
        },
        "errors": [],
    }
    listed = await gql(POSTS, {"id": scene.thread_id}, token=scene.reporter.access_token)
    node = listed["data"]["posts"]["edges"][0]["node"]
    assert (node["body"], node["hidden"], node["hiddenReason"]) == (
        "Buy from my cousin only",
        False,
        None,
    )


async def test_hiding_needs_a_reason_of_at_most_1000_characters(gql: GraphQL, scene: Scene) -> None:
    refused = await gql(
        HIDE, {"id": scene.post_id, "reason": "r" * 1001}, token=scene.admin.access_token
    )
    assert errors_of(refused, "postHide") == [("VALIDATION", "reason")]


# ---------------------------------------------------------------------------------------------
# threadLock and threadPin


async def test_a_locked_thread_takes_no_posts_until_unlocked(
    gql: GraphQL, scene: Scene, clock: ManualClock
) -> None:
    clock.advance(timedelta(minutes=10))
    locked = await gql(
        LOCK, {"id": scene.thread_id, "locked": True}, token=scene.admin.access_token
    )
    assert locked["data"]["threadLock"] == {
        "thread": {"id": scene.thread_id, "locked": True, "lockedAt": iso(13)},
        "errors": [],
    }
    for role in ("author", "member", "admin", "moderator", "platform"):
        refused = await gql(
            POST_CREATE,
            {"input": {"threadId": scene.thread_id, "body": "One more thing"}},
            token=scene.token(role),
        )
        assert errors_of(refused, "postCreate") == [("THREAD_LOCKED", "threadId")], role
    # locking again keeps the first lock's time
    clock.advance(timedelta(minutes=1))
    again = await gql(LOCK, {"id": scene.thread_id, "locked": True}, token=scene.admin.access_token)
    assert again["data"]["threadLock"]["thread"]["lockedAt"] == iso(13)
    posts = await gql(POSTS, {"id": scene.thread_id}, token=scene.admin.access_token)
    assert len(posts["data"]["posts"]["edges"]) == 1
    unlocked = await gql(
        LOCK, {"id": scene.thread_id, "locked": False}, token=scene.moderator.access_token
    )
    assert unlocked["data"]["threadLock"] == {
        "thread": {"id": scene.thread_id, "locked": False, "lockedAt": None},
        "errors": [],
    }
    allowed = await gql(
        POST_CREATE,
        {"input": {"threadId": scene.thread_id, "body": "One more thing"}},
        token=scene.author.access_token,
    )
    assert errors_of(allowed, "postCreate") == []


async def test_no_edits_in_locked_threads_nor_of_hidden_posts(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg, member, thread_id, post_id = await a_members_post(gql, register, cluster_id)
    await gql(HIDE, {"id": post_id, "reason": "spam"}, token=shg.access_token)
    hidden = await gql(
        POST_EDIT, {"input": {"id": post_id, "body": "Now nice"}}, token=member.access_token
    )
    assert hidden["data"]["postEdit"]["errors"] == [
        {
            "code": "CONFLICT",
            "message": "A moderator hid this post; it cannot be edited now",
            "field": None,
        }
    ]
    await gql(RESTORE, {"id": post_id}, token=shg.access_token)
    await gql(LOCK, {"id": thread_id, "locked": True}, token=shg.access_token)
    locked = await gql(
        POST_EDIT, {"input": {"id": post_id, "body": "Now nice"}}, token=member.access_token
    )
    assert locked["data"]["postEdit"]["errors"] == [
        {"code": "THREAD_LOCKED", "message": "This thread is locked; no edits", "field": None}
    ]


async def test_a_pinned_thread_comes_first(gql: GraphQL, scene: Scene, clock: ManualClock) -> None:
    clock.advance(timedelta(minutes=1))
    newer = await start_thread(gql, scene.member.access_token, scene.forum_id, "Newer thread")

    async def order() -> list[str]:
        body = await gql(THREADS, {"forum": scene.forum_id}, token=scene.member.access_token)
        return [edge["node"]["id"] for edge in body["data"]["threads"]["edges"]]

    assert await order() == [newer, scene.thread_id]
    pinned = await gql(PIN, {"id": scene.thread_id, "pinned": True}, token=scene.admin.access_token)
    assert pinned["data"]["threadPin"] == {
        "thread": {"id": scene.thread_id, "pinned": True},
        "errors": [],
    }
    assert await order() == [scene.thread_id, newer]
    unpinned = await gql(PIN, {"id": scene.thread_id, "pinned": False}, token=scene.platform_token)
    assert unpinned["data"]["threadPin"]["errors"] == []
    assert await order() == [newer, scene.thread_id]


# ---------------------------------------------------------------------------------------------
# reportResolve


async def test_resolving_a_report(gql: GraphQL, scene: Scene, clock: ManualClock) -> None:
    clock.advance(timedelta(minutes=10))
    resolved = await gql(
        RESOLVE,
        {"id": scene.report_id, "resolution": "  Hid the post  "},
        token=scene.moderator.access_token,
    )
    assert resolved["data"]["reportResolve"] == {
        "report": {
            "id": scene.report_id,
            "status": "RESOLVED",
            "resolvedAt": iso(13),
            "resolution": "Hid the post",
        },
        "errors": [],
    }
    # resolving again changes nothing
    clock.advance(timedelta(minutes=1))
    again = await gql(
        RESOLVE, {"id": scene.report_id, "resolution": "Other"}, token=scene.admin.access_token
    )
    assert again["data"]["reportResolve"]["report"] == resolved["data"]["reportResolve"]["report"]
    token = scene.admin.access_token
    open_queue = await gql(REPORTS, {"forum": scene.forum_id}, token=token)
    assert open_queue["data"]["reports"] == {"totalCount": 0, "edges": []}
    done = await gql(
        REPORTS_BY_STATUS, {"forum": scene.forum_id, "status": "RESOLVED"}, token=token
    )
    assert [e["node"]["id"] for e in done["data"]["reports"]["edges"]] == [scene.report_id]
    every = await gql(REPORTS_BY_STATUS, {"forum": scene.forum_id, "status": None}, token=token)
    assert every["data"]["reports"]["totalCount"] == 1
    # reported again after it was resolved: the same report opens again
    reopened = await gql(
        REPORT,
        {"input": {"postId": scene.post_id, "reason": "Still advertising"}},
        token=scene.reporter.access_token,
    )
    report = reopened["data"]["postReport"]["report"]
    assert (report["id"], report["status"], report["resolvedAt"], report["resolution"]) == (
        scene.report_id,
        "OPEN",
        None,
        "",
    )
    open_queue = await gql(REPORTS, {"forum": scene.forum_id}, token=token)
    assert open_queue["data"]["reports"]["totalCount"] == 1


async def test_resolving_an_unknown_report(gql: GraphQL, scene: Scene) -> None:
    body = await gql(
        RESOLVE, {"id": str(uuid.uuid4()), "resolution": ""}, token=scene.admin.access_token
    )
    assert errors_of(body, "reportResolve") == [("NOT_FOUND", "id")]


# ---------------------------------------------------------------------------------------------
# forumModeratorSet


async def test_a_moderator_must_be_able_to_read_the_forum(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await register("member@example.org", invite_code=await invite_code(gql, shg))
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    refused = await name_moderator(gql, shg.access_token, forum_id, firm.user_id)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", "userId")]
    assert refused["forum"] is None
    named = await name_moderator(gql, shg.access_token, forum_id, member.user_id)
    assert named == {"forum": {"id": forum_id, "canModerate": True}, "errors": []}
    # the firm still cannot moderate (nor read) it
    queue = await gql(REPORTS, {"forum": forum_id}, token=firm.access_token)
    assert query_codes(queue) == ["NOT_FOUND"]
    # naming twice is harmless
    twice = await name_moderator(gql, shg.access_token, forum_id, member.user_id)
    assert twice["errors"] == []
    queue = await gql(REPORTS, {"forum": forum_id}, token=member.access_token)
    assert "errors" not in queue, queue


async def test_an_unknown_person_cannot_be_named_moderator(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    for visibility in ("MEMBERS", "CLUSTER", "PUBLIC"):
        forum_id = await open_forum(gql, shg.access_token, visibility)
        body = await gql(
            MODERATOR_SET,
            {"forum": forum_id, "user": str(uuid.uuid4()), "remove": False},
            token=shg.access_token,
        )
        assert "errors" not in body, (visibility, body)
        assert errors_of(body, "forumModeratorSet") == [("VALIDATION", "userId")], visibility


async def test_removing_a_moderator_takes_the_rights_away(gql: GraphQL, scene: Scene) -> None:
    mod = scene.moderator.access_token
    can = await gql(CAN_MODERATE, {"forum": scene.forum_id, "thread": scene.thread_id}, token=mod)
    assert can["data"]["forum"]["canModerate"] is True
    assert can["data"]["thread"]["canModerate"] is True
    hidden = await gql(HIDE, {"id": scene.post_id, "reason": "Ads"}, token=mod)
    assert errors_of(hidden, "postHide") == []
    removed = await name_moderator(
        gql, scene.admin.access_token, scene.forum_id, scene.moderator.user_id, remove=True
    )
    assert removed == {"forum": {"id": scene.forum_id, "canModerate": True}, "errors": []}
    can = await gql(CAN_MODERATE, {"forum": scene.forum_id, "thread": scene.thread_id}, token=mod)
    assert can["data"]["forum"]["canModerate"] is False
    assert can["data"]["thread"]["canModerate"] is False
    assert query_codes(await gql(REPORTS, {"forum": scene.forum_id}, token=mod)) == ["FORBIDDEN"]
    restore = await gql(RESTORE, {"id": scene.post_id}, token=mod)
    assert errors_of(restore, "postRestore") == [("FORBIDDEN", None)]
    lock = await gql(LOCK, {"id": scene.thread_id, "locked": True}, token=mod)
    assert errors_of(lock, "threadLock") == [("FORBIDDEN", None)]
    # no longer a moderator, they are a reader: the hidden post's text is gone for them
    listed = await gql(POSTS, {"id": scene.thread_id}, token=mod)
    assert listed["data"]["posts"]["edges"][0]["node"]["body"] is None
    # removing someone who is not a moderator is harmless
    again = await name_moderator(
        gql, scene.admin.access_token, scene.forum_id, scene.moderator.user_id, remove=True
    )
    assert again["errors"] == []


# ---------------------------------------------------------------------------------------------
# Each rule of forums:moderate, allowed and refused


async def moderation_outcomes(gql: GraphQL, scene: Scene, token: str) -> dict[str, Any]:
    """What each moderation action answers to ``token``: [] for done, else the error codes."""
    outcomes: dict[str, Any] = {}
    can = await gql(CAN_MODERATE, {"forum": scene.forum_id, "thread": scene.thread_id}, token=token)
    outcomes["canModerate"] = tuple(
        (can["data"][kind] or {}).get("canModerate") for kind in ("forum", "thread")
    )
    outcomes["reports"] = query_codes(await gql(REPORTS, {"forum": scene.forum_id}, token=token))
    actions = [
        ("postHide", HIDE, {"id": scene.post_id, "reason": "Ads"}),
        ("postRestore", RESTORE, {"id": scene.post_id}),
        ("threadLock", LOCK, {"id": scene.thread_id, "locked": True}),
        ("threadLock:off", LOCK, {"id": scene.thread_id, "locked": False}),
        ("threadPin", PIN, {"id": scene.thread_id, "pinned": True}),
        ("threadPin:off", PIN, {"id": scene.thread_id, "pinned": False}),
        (
            "forumUpdate",
            FORUM_UPDATE,
            {"input": {"id": scene.forum_id, "description": "Moderated"}},
        ),
        (
            "forumModeratorSet",
            MODERATOR_SET,
            {"forum": scene.forum_id, "user": scene.member.user_id, "remove": False},
        ),
        (
            "forumModeratorSet:remove",
            MODERATOR_SET,
            {"forum": scene.forum_id, "user": scene.member.user_id, "remove": True},
        ),
        ("reportResolve", RESOLVE, {"id": scene.report_id, "resolution": "Done"}),
    ]
    for name, document, variables in actions:
        body = await gql(document, variables, token=token)
        outcomes[name] = [code for code, _ in errors_of(body, name.split(":")[0])]
    return outcomes


ACTIONS = (
    "postHide",
    "postRestore",
    "threadLock",
    "threadLock:off",
    "threadPin",
    "threadPin:off",
    "forumUpdate",
    "forumModeratorSet",
    "forumModeratorSet:remove",
)


# Who may read the forum and who moderates it: the community's admins and platform admins,
# not the moderators they named (a named moderator could otherwise open a MEMBERS forum).
MANAGING = ("forumUpdate", "forumModeratorSet", "forumModeratorSet:remove")


@pytest.mark.parametrize("role", MODERATORS)
async def test_moderators_may_moderate(gql: GraphQL, scene: Scene, role: str) -> None:
    outcomes = await moderation_outcomes(gql, scene, scene.token(role))
    managing = [] if role != "moderator" else ["FORBIDDEN"]
    assert outcomes == {
        "canModerate": (True, True),
        "reports": [],
        **{action: managing if action in MANAGING else [] for action in ACTIONS},
        "reportResolve": [],
    }


@pytest.mark.parametrize("role", NOT_MODERATORS)
async def test_others_may_not_moderate(gql: GraphQL, scene: Scene, role: str) -> None:
    outcomes = await moderation_outcomes(gql, scene, scene.token(role))
    assert outcomes == {
        "canModerate": (False, False),
        "reports": ["FORBIDDEN"],
        **{action: ["FORBIDDEN"] for action in ACTIONS},
        # a report is not even shown to exist to those who may not resolve it
        "reportResolve": ["NOT_FOUND"],
    }
    # and nothing changed
    state = await gql(
        CAN_MODERATE,
        {"forum": scene.forum_id, "thread": scene.thread_id},
        token=scene.admin.access_token,
    )
    assert (state["data"]["thread"]["locked"], state["data"]["thread"]["pinned"]) == (False, False)
    queue = await gql(REPORTS, {"forum": scene.forum_id}, token=scene.admin.access_token)
    assert queue["data"]["reports"]["totalCount"] == 1
    listed = await gql(POSTS, {"id": scene.thread_id}, token=scene.member.access_token)
    assert listed["data"]["posts"]["edges"][0]["node"]["hidden"] is False


async def test_moderation_needs_signing_in(gql: GraphQL, scene: Scene) -> None:
    outcomes = await moderation_outcomes(gql, scene, "")
    assert outcomes == {
        "canModerate": (None, None),  # a CLUSTER forum is not shown to anonymous people
        "reports": ["UNAUTHENTICATED"],
        **{action: ["UNAUTHENTICATED"] for action in ACTIONS},
        "reportResolve": ["UNAUTHENTICATED"],
    }
