"""Forums, threads and posts through GraphQL: who opens forums, how threads are listed and paged,
posting and replying, editing, deleting, reactions, client ids, notifications and the cost of
the lists in SQL statements."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.forums.service.thread_screen import POSTS
from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.pagination import encode_cursor
from backend.kit.validation import Place
from tests.conftest import Account, GraphQL
from tests.forums.kit import (
    FORUM_CREATE,
    FORUM_UPDATE,
    POST_CREATE,
    POST_EDIT,
    THREAD_CREATE,
    a_members_post,
    errors_of,
    iso,
    join,
    open_forum,
    post,
    query_codes,
    start_thread,
)
from tests.kit import AppCalls, app_operation, begins

FORUM_CREATE_FULL = """
mutation F($input: ForumCreateInput!) {
  forumCreate(input: $input) {
    forum {
      id title description visibility threadCount lastActivityAt canModerate version
      cluster { id } organisation { id }
    }
    errors { code message field }
  }
}
"""
FORUM = """
query Forum($id: ID!) { forum(id: $id) { id threadCount lastActivityAt version } }
"""
FORUMS = "{ forums { totalCount edges { node { id } } } }"
THREAD_CREATE_FULL = """
mutation T($input: ThreadCreateInput!) {
  threadCreate(input: $input) {
    thread {
      id forumId forumTitle title body language tags pinned locked replyCount
      lastActivityAt createdAt author { userId displayName organisationId }
    }
    errors { code message field }
  }
}
"""
THREAD = """
query Thread($id: ID!) { thread(id: $id) { id replyCount lastActivityAt pinned locked } }
"""
THREADS = """
query Threads($forum: ID!, $tag: String, $first: Int, $after: String) {
  threads(forumId: $forum, tag: $tag, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title } }
  }
}
"""
THREADS_FULL = """
query Threads($forum: ID!, $first: Int) {
  threads(forumId: $forum, first: $first) {
    totalCount
    edges {
      node {
        id forumTitle title tags pinned locked replyCount lastActivityAt canModerate
        author { userId displayName organisationId organisationName }
      }
    }
  }
}
"""
THREAD_PIN = """
mutation Pin($id: ID!, $pinned: Boolean!) {
  threadPin(id: $id, pinned: $pinned) { thread { id pinned } errors { code message field } }
}
"""
POST_CREATE_FULL = """
mutation P($input: PostCreateInput!) {
  postCreate(input: $input) {
    post {
      id threadId body replyToId deleted hidden version createdAt editedAt canEdit
      mentionedOrganisationIds author { userId displayName organisationId }
    }
    errors { code message field }
  }
}
"""
POSTS_FULL = """
query Posts($id: ID!, $first: Int) {
  posts(threadId: $id, first: $first) {
    totalCount
    edges {
      node {
        id body replyToId deleted hidden editedAt version canEdit
        author { userId displayName organisationId organisationName }
        reactions { reaction count mine }
      }
    }
  }
}
"""
POST_DELETE = """
mutation D($id: ID!) {
  postDelete(id: $id) { post { id body deleted version } errors { code message field } }
}
"""
POST_REACT = """
mutation R($input: PostReactInput!) {
  postReact(input: $input) {
    post { id reactions { reaction count mine } }
    errors { code message field }
  }
}
"""
NOTIFICATIONS = """
{ notifications { totalCount edges { node { kind title body subjectType subjectId } } } }
"""
REACTIONS = ("LIKE", "THANKS", "HELPFUL", "AGREE")


# ---------------------------------------------------------------------------------------------
# Helpers


async def titles(gql: GraphQL, token: str | None, forum_id: str, **variables: Any) -> list[str]:
    body = await gql(THREADS, {"forum": forum_id, **variables}, token=token or "")
    assert "errors" not in body, body
    return [edge["node"]["title"] for edge in body["data"]["threads"]["edges"]]


async def posts_of(gql: GraphQL, token: str | None, thread_id: str) -> list[dict[str, Any]]:
    body = await gql(POSTS_FULL, {"id": thread_id}, token=token or "")
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["posts"]["edges"]]


async def notifications_of(gql: GraphQL, account: Account) -> list[dict[str, Any]]:
    body = await gql(NOTIFICATIONS, token=account.access_token)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["notifications"]["edges"]]


async def second_cluster(db: Database) -> str:
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="other-wood",
            name="Other Wood Cluster",
            region="Tottori",
            country="JP",
            sector=Sector.WOOD,
            centre=Place(lat=35.5, lon=134.2),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )
    return str(cluster.id)


# ---------------------------------------------------------------------------------------------
# forumCreate and forumUpdate


async def test_a_community_admin_opens_a_forum_of_their_community(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    created = await gql(
        FORUM_CREATE_FULL,
        {
            "input": {
                "title": "  Members' corner ",
                "description": "Talk among us",
                "visibility": "MEMBERS",
            }
        },
        token=shg.access_token,
    )
    forum = created["data"]["forumCreate"]
    assert forum["errors"] == [], created
    assert {k: v for k, v in forum["forum"].items() if k != "id"} == {
        "title": "Members' corner",
        "description": "Talk among us",
        "visibility": "MEMBERS",
        "threadCount": 0,
        "lastActivityAt": iso(0),
        "canModerate": True,
        "version": 1,
        "cluster": {"id": cluster_id},
        "organisation": {"id": shg.organisation_id},
    }


async def test_members_who_are_not_admins_and_firms_cannot_open_forums(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await join(gql, register, shg, "member@example.org")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    for account in (member, firm):
        for visibility in ("PUBLIC", "CLUSTER", "MEMBERS"):
            refused = await gql(
                FORUM_CREATE,
                {"input": {"title": "Our corner", "visibility": visibility}},
                token=account.access_token,
            )
            assert errors_of(refused, "forumCreate") == [("FORBIDDEN", None)], (account, refused)
            assert refused["data"]["forumCreate"]["forum"] is None
    anonymous = await gql(
        FORUM_CREATE, {"input": {"title": "Our corner", "visibility": "PUBLIC"}}, token=""
    )
    assert errors_of(anonymous, "forumCreate") == [("UNAUTHENTICATED", None)]
    assert (await gql(FORUMS, token=shg.access_token))["data"]["forums"]["totalCount"] == 0


async def test_a_community_admin_cannot_open_a_forum_in_another_cluster(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    elsewhere = await second_cluster(db)
    refused = await gql(
        FORUM_CREATE,
        {"input": {"title": "Our corner", "visibility": "PUBLIC", "clusterId": elsewhere}},
        token=shg.access_token,
    )
    assert errors_of(refused, "forumCreate") == [("VALIDATION", "clusterId")]
    # with other problems, all of them at once
    several = await gql(
        FORUM_CREATE,
        {"input": {"title": "x", "visibility": "PUBLIC", "clusterId": elsewhere}},
        token=shg.access_token,
    )
    assert sorted(errors_of(several, "forumCreate")) == [
        ("VALIDATION", "clusterId"),
        ("VALIDATION", "title"),
    ]
    same = await gql(
        FORUM_CREATE_FULL,
        {"input": {"title": "Our corner", "visibility": "PUBLIC", "clusterId": cluster_id}},
        token=shg.access_token,
    )
    assert same["data"]["forumCreate"]["forum"]["cluster"] == {"id": cluster_id}, same


async def test_platform_admins_open_cluster_forums_but_not_members_ones(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    opened = await gql(
        FORUM_CREATE_FULL,
        {"input": {"title": "Cluster news", "visibility": "CLUSTER", "clusterId": cluster_id}},
        token=platform_admin_token,
    )
    forum = opened["data"]["forumCreate"]
    assert forum["errors"] == [], opened
    assert forum["forum"]["cluster"] == {"id": cluster_id}
    assert forum["forum"]["organisation"] is None
    assert forum["forum"]["canModerate"] is True
    members = await gql(
        FORUM_CREATE,
        {"input": {"title": "Cluster news", "visibility": "MEMBERS", "clusterId": cluster_id}},
        token=platform_admin_token,
    )
    assert errors_of(members, "forumCreate") == [("VALIDATION", "visibility")]
    no_cluster = await gql(
        FORUM_CREATE,
        {"input": {"title": "Cluster news", "visibility": "PUBLIC"}},
        token=platform_admin_token,
    )
    assert errors_of(no_cluster, "forumCreate") == [("VALIDATION", "clusterId")]
    unknown = await gql(
        FORUM_CREATE,
        {
            "input": {
                "title": "Cluster news",
                "visibility": "PUBLIC",
                "clusterId": str(uuid.uuid4()),
            }
        },
        token=platform_admin_token,
    )
    assert errors_of(unknown, "forumCreate") == [("NOT_FOUND", "clusterId")]
    # a member of the cluster reads the cluster forum, and does not moderate it
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    seen = await gql(
        "query($id: ID!) { forum(id: $id) { id canModerate } }",
        {"id": forum["forum"]["id"]},
        token=firm.access_token,
    )
    assert seen["data"]["forum"] == {"id": forum["forum"]["id"], "canModerate": False}


async def test_forum_validation_errors_come_all_at_once(
    gql: GraphQL, platform_admin_token: str
) -> None:
    body = await gql(
        FORUM_CREATE,
        {"input": {"title": " x ", "description": "d" * 5001, "visibility": "MEMBERS"}},
        token=platform_admin_token,
    )
    assert sorted(errors_of(body, "forumCreate")) == [
        ("VALIDATION", "clusterId"),
        ("VALIDATION", "description"),
        ("VALIDATION", "title"),
        ("VALIDATION", "visibility"),
    ]
    assert (await gql(FORUMS, token=platform_admin_token))["data"]["forums"]["totalCount"] == 0


async def test_forum_create_with_a_client_id_is_idempotent(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    other = await register("npo@example.org", cluster_id, name="River NPO", kind="COMMUNITY")
    client_id = str(uuid.uuid4())
    sent = {"input": {"id": client_id, "title": "Members' corner", "visibility": "CLUSTER"}}
    first = await gql(FORUM_CREATE_FULL, sent, token=shg.access_token)
    again = await gql(FORUM_CREATE_FULL, sent, token=shg.access_token)
    assert first["data"]["forumCreate"]["errors"] == [], first
    assert first["data"]["forumCreate"]["forum"]["id"] == client_id
    assert again == first
    listed = await gql(FORUMS, token=shg.access_token)
    assert listed["data"]["forums"]["totalCount"] == 1
    taken = await gql(FORUM_CREATE, sent, token=other.access_token)
    assert errors_of(taken, "forumCreate") == [("CONFLICT", "id")]


async def test_forum_update_checks_the_expected_version(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await join(gql, register, shg, "member@example.org")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    updated = await gql(
        FORUM_UPDATE,
        {"input": {"id": forum_id, "expectedVersion": 1, "title": "Renamed corner"}},
        token=shg.access_token,
    )
    assert updated["data"]["forumUpdate"] == {
        "forum": {
            "id": forum_id,
            "title": "Renamed corner",
            "description": "",
            "visibility": "MEMBERS",
            "version": 2,
        },
        "errors": [],
    }
    stale = await gql(
        FORUM_UPDATE,
        {"input": {"id": forum_id, "expectedVersion": 1, "visibility": "CLUSTER"}},
        token=shg.access_token,
    )
    assert errors_of(stale, "forumUpdate") == [("CONFLICT", "expectedVersion")]
    refused = await gql(
        FORUM_UPDATE,
        {"input": {"id": forum_id, "expectedVersion": 2, "title": "Mine now"}},
        token=member.access_token,
    )
    assert errors_of(refused, "forumUpdate") == [("FORBIDDEN", None)]
    invalid = await gql(
        FORUM_UPDATE,
        {"input": {"id": forum_id, "expectedVersion": 2, "title": "x", "description": "d" * 5001}},
        token=shg.access_token,
    )
    assert sorted(errors_of(invalid, "forumUpdate")) == [
        ("VALIDATION", "description"),
        ("VALIDATION", "title"),
    ]
    current = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert current["data"]["forum"]["version"] == 2


async def test_a_cluster_forum_cannot_become_a_members_forum(
    gql: GraphQL, cluster_id: str, platform_admin_token: str
) -> None:
    forum_id = await open_forum(gql, platform_admin_token, "PUBLIC", clusterId=cluster_id)
    body = await gql(
        FORUM_UPDATE,
        {"input": {"id": forum_id, "visibility": "MEMBERS"}},
        token=platform_admin_token,
    )
    assert errors_of(body, "forumUpdate") == [("VALIDATION", "visibility")]


# ---------------------------------------------------------------------------------------------
# Reading and writing by visibility (forums:read, forums:write)


async def test_who_reads_and_writes_by_visibility(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await join(gql, register, shg, "member@example.org")
    neighbour = await register("firm@example.org", cluster_id, name="Some Firm")
    far = await register("far@example.org", await second_cluster(db), name="Far Firm")
    readers = {
        "PUBLIC": {"shg", "member", "neighbour", "far", "anonymous"},
        "CLUSTER": {"shg", "member", "neighbour"},
        "MEMBERS": {"shg", "member"},
    }
    tokens = {
        "shg": shg.access_token,
        "member": member.access_token,
        "neighbour": neighbour.access_token,
        "far": far.access_token,
        "anonymous": "",
    }
    for visibility, allowed in readers.items():
        forum_id = await open_forum(gql, shg.access_token, visibility, title=f"{visibility} talk")
        thread_id = await start_thread(gql, shg.access_token, forum_id)
        for who, token in tokens.items():
            seen = await gql(FORUM, {"id": forum_id}, token=token)
            listed = await gql(THREADS, {"forum": forum_id}, token=token)
            written = await gql(
                THREAD_CREATE,
                {"input": {"forumId": forum_id, "title": f"From {who}", "body": "Hello"}},
                token=token,
            )
            posted = await gql(
                POST_CREATE, {"input": {"threadId": thread_id, "body": "Hi"}}, token=token
            )
            context = (visibility, who)
            if who in allowed:
                assert seen["data"]["forum"] is not None, context
                assert "errors" not in listed, context
                if who == "anonymous":
                    assert errors_of(written, "threadCreate") == [("UNAUTHENTICATED", None)]
                    assert errors_of(posted, "postCreate") == [("UNAUTHENTICATED", None)]
                else:
                    assert errors_of(written, "threadCreate") == [], context
                    assert errors_of(posted, "postCreate") == [], context
            else:
                assert seen["data"]["forum"] is None, context
                assert query_codes(listed) == ["NOT_FOUND"], context
                if who == "anonymous":
                    assert errors_of(written, "threadCreate") == [("UNAUTHENTICATED", None)]
                    assert errors_of(posted, "postCreate") == [("UNAUTHENTICATED", None)]
                else:
                    assert errors_of(written, "threadCreate") == [("NOT_FOUND", "forumId")]
                    assert errors_of(posted, "postCreate") == [("NOT_FOUND", "threadId")]


# ---------------------------------------------------------------------------------------------
# threadCreate


async def test_thread_create_cleans_tags_and_moves_the_forum(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    clock.advance(timedelta(minutes=5))
    created = await gql(
        THREAD_CREATE_FULL,
        {
            "input": {
                "forumId": forum_id,
                "title": "  Feed prices  ",
                "body": "Who has quotes?\nWe need 2 t.",
                "language": "ja",
                "tags": ["Feed", " feed ", "FEED", "Winter   Prices", "winter prices"],
            }
        },
        token=firm.access_token,
    )
    thread = created["data"]["threadCreate"]
    assert thread["errors"] == [], created
    assert {k: v for k, v in thread["thread"].items() if k != "id"} == {
        "forumId": forum_id,
        "forumTitle": "Feed and fodder",
        "title": "Feed prices",
        "body": "Who has quotes?\nWe need 2 t.",
        "language": "ja",
        "tags": ["feed", "winter prices"],
        "pinned": False,
        "locked": False,
        "replyCount": 0,
        "lastActivityAt": iso(5),
        "createdAt": iso(5),
        "author": {
            "userId": firm.user_id,
            "displayName": "firm",
            "organisationId": firm.organisation_id,
        },
    }
    forum = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert forum["data"]["forum"]["threadCount"] == 1
    assert forum["data"]["forum"]["lastActivityAt"] == iso(5)
    clock.advance(timedelta(minutes=5))
    await start_thread(gql, shg.access_token, forum_id, title="Second")
    forum = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert forum["data"]["forum"]["threadCount"] == 2
    assert forum["data"]["forum"]["lastActivityAt"] == iso(10)


async def test_thread_validation_errors_come_all_at_once(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    body = await gql(
        THREAD_CREATE,
        {
            "input": {
                "forumId": forum_id,
                "title": "ab",
                "body": "   ",
                "language": "not a language",
                "tags": ["fine", "   ", "x" * 41, "bad\x07tag"],
            }
        },
        token=shg.access_token,
    )
    assert sorted(errors_of(body, "threadCreate")) == [
        ("VALIDATION", "body"),
        ("VALIDATION", "language"),
        ("VALIDATION", "tags.1"),
        ("VALIDATION", "tags.2"),
        ("VALIDATION", "tags.3"),
        ("VALIDATION", "title"),
    ]
    too_many = await gql(
        THREAD_CREATE,
        {
            "input": {
                "forumId": forum_id,
                "title": "Many tags",
                "body": "Text",
                "tags": [f"tag{i}" for i in range(11)],
            }
        },
        token=shg.access_token,
    )
    assert errors_of(too_many, "threadCreate") == [("VALIDATION", "tags")]
    long_body = await gql(
        THREAD_CREATE,
        {"input": {"forumId": forum_id, "title": "Long", "body": "b" * 20_001}},
        token=shg.access_token,
    )
    assert errors_of(long_body, "threadCreate") == [("VALIDATION", "body")]
    ten = await gql(
        THREAD_CREATE,
        {
            "input": {
                "forumId": forum_id,
                "title": "Ten tags",
                "body": "Text",
                "tags": [f"tag{i}" for i in range(10)],
            }
        },
        token=shg.access_token,
    )
    assert errors_of(ten, "threadCreate") == []
    forum = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert forum["data"]["forum"]["threadCount"] == 1


async def test_thread_create_with_a_client_id_is_idempotent(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    client_id = str(uuid.uuid4())
    sent = {"input": {"id": client_id, "forumId": forum_id, "title": "Feed", "body": "Quotes?"}}
    first = await gql(THREAD_CREATE_FULL, sent, token=firm.access_token)
    again = await gql(THREAD_CREATE_FULL, sent, token=firm.access_token)
    assert first["data"]["threadCreate"]["errors"] == [], first
    assert first["data"]["threadCreate"]["thread"]["id"] == client_id
    assert again == first
    forum = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert forum["data"]["forum"]["threadCount"] == 1
    assert (await titles(gql, shg.access_token, forum_id)) == ["Feed"]
    taken = await gql(THREAD_CREATE, sent, token=shg.access_token)
    assert errors_of(taken, "threadCreate") == [("CONFLICT", "id")]


# ---------------------------------------------------------------------------------------------
# threads(forumId): order, pages, tags


async def test_threads_pinned_first_then_latest_activity(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    ids = {}
    for title in ("Apple", "Banana", "Cherry"):
        clock.advance(timedelta(minutes=1))
        ids[title] = await start_thread(gql, shg.access_token, forum_id, title=title)
    assert await titles(gql, shg.access_token, forum_id) == ["Cherry", "Banana", "Apple"]
    # a new post moves its thread up
    clock.advance(timedelta(minutes=1))
    await post(gql, shg.access_token, ids["Apple"], "Bump")
    assert await titles(gql, shg.access_token, forum_id) == ["Apple", "Cherry", "Banana"]
    thread = await gql(THREAD, {"id": ids["Apple"]}, token=shg.access_token)
    assert thread["data"]["thread"]["lastActivityAt"] == iso(4)
    # a pinned thread comes first whatever its activity
    pinned = await gql(THREAD_PIN, {"id": ids["Banana"], "pinned": True}, token=shg.access_token)
    assert pinned["data"]["threadPin"] == {
        "thread": {"id": ids["Banana"], "pinned": True},
        "errors": [],
    }
    assert await titles(gql, shg.access_token, forum_id) == ["Banana", "Apple", "Cherry"]
    clock.advance(timedelta(minutes=1))
    await post(gql, shg.access_token, ids["Cherry"], "Bump")
    assert await titles(gql, shg.access_token, forum_id) == ["Banana", "Cherry", "Apple"]
    unpinned = await gql(THREAD_PIN, {"id": ids["Banana"], "pinned": False}, token=shg.access_token)
    assert unpinned["data"]["threadPin"]["errors"] == []
    assert await titles(gql, shg.access_token, forum_id) == ["Cherry", "Apple", "Banana"]


async def test_threads_page_with_cursors_over_25_threads(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    ids = []
    for number in range(25):
        clock.advance(timedelta(minutes=1))
        ids.append(await start_thread(gql, shg.access_token, forum_id, title=f"Thread {number:02}"))
    # the oldest is pinned: it leads, then the newest first
    await gql(THREAD_PIN, {"id": ids[0], "pinned": True}, token=shg.access_token)
    expected = ["Thread 00"] + [f"Thread {n:02}" for n in range(24, 0, -1)]
    for size in (1, 7, 10, 25):
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            body = await gql(
                THREADS, {"forum": forum_id, "first": size, "after": after}, token=shg.access_token
            )
            assert "errors" not in body, body
            threads = body["data"]["threads"]
            assert threads["totalCount"] == 25
            assert threads["pageInfo"]["hasPreviousPage"] is (after is not None)
            edges = threads["edges"]
            assert threads["pageInfo"]["startCursor"] == edges[0]["cursor"]
            assert threads["pageInfo"]["endCursor"] == edges[-1]["cursor"]
            seen.extend(edge["node"]["title"] for edge in edges)
            pages += 1
            if not threads["pageInfo"]["hasNextPage"]:
                break
            after = threads["pageInfo"]["endCursor"]
        assert seen == expected, size
        assert pages == -(-25 // size), size
    # a cursor from another list is refused
    bad = await gql(
        THREADS, {"forum": forum_id, "first": 5, "after": "not-a-cursor"}, token=shg.access_token
    )
    assert query_codes(bad) == ["VALIDATION"]


async def test_threads_second_page_without_pinned_threads(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    for title in ("Oldest", "Middle", "Newest"):
        clock.advance(timedelta(minutes=1))
        await start_thread(gql, shg.access_token, forum_id, title=title)
    first = await gql(THREADS, {"forum": forum_id, "first": 2}, token=shg.access_token)
    page = first["data"]["threads"]
    assert [e["node"]["title"] for e in page["edges"]] == ["Newest", "Middle"]
    assert page["pageInfo"]["hasNextPage"] is True
    second = await gql(
        THREADS,
        {"forum": forum_id, "first": 2, "after": page["pageInfo"]["endCursor"]},
        token=shg.access_token,
    )
    assert "errors" not in second, second
    assert [e["node"]["title"] for e in second["data"]["threads"]["edges"]] == ["Oldest"]


async def test_threads_filter_by_tag(gql: GraphQL, register: Any, cluster_id: str) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    await start_thread(gql, shg.access_token, forum_id, title="One", tags=["Feed", "prices"])
    await start_thread(gql, shg.access_token, forum_id, title="Two", tags=["feed"])
    await start_thread(gql, shg.access_token, forum_id, title="Three", tags=["feeder"])
    await start_thread(gql, shg.access_token, forum_id, title="Four")
    assert sorted(await titles(gql, shg.access_token, forum_id, tag="feed")) == ["One", "Two"]
    assert sorted(await titles(gql, shg.access_token, forum_id, tag=" FEED ")) == ["One", "Two"]
    assert await titles(gql, shg.access_token, forum_id, tag="prices") == ["One"]
    assert await titles(gql, shg.access_token, forum_id, tag="fee") == []
    counted = await gql(THREADS, {"forum": forum_id, "tag": "feed"}, token=shg.access_token)
    assert counted["data"]["threads"]["totalCount"] == 2


async def test_threads_filter_by_a_tag_in_japanese(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    created = await gql(
        THREAD_CREATE_FULL,
        {"input": {"forumId": forum_id, "title": "Chips", "body": "Text", "tags": ["木材"]}},
        token=shg.access_token,
    )
    assert created["data"]["threadCreate"]["thread"]["tags"] == ["木材"]
    await start_thread(gql, shg.access_token, forum_id, title="Other", tags=["feed"])
    assert await titles(gql, shg.access_token, forum_id, tag="木材") == ["Chips"]


async def test_threads_tag_filter_takes_wildcards_literally(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    await start_thread(gql, shg.access_token, forum_id, title="Feed", tags=["feed"])
    await start_thread(gql, shg.access_token, forum_id, title="Percent", tags=["100%"])
    assert await titles(gql, shg.access_token, forum_id, tag="fee_") == []
    assert await titles(gql, shg.access_token, forum_id, tag="%") == []
    assert await titles(gql, shg.access_token, forum_id, tag="100%") == ["Percent"]


async def test_a_tag_with_a_control_character_is_a_validation_error(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    _shg, _, thread_id, _ = await a_members_post(gql, register, cluster_id, "PUBLIC")
    forum_id = (await gql("query($id: ID!) { thread(id: $id) { forumId } }", {"id": thread_id}))[
        "data"
    ]["thread"]["forumId"]
    answer = await gql(
        "query($f: ID!, $t: String) { threads(forumId: $f, tag: $t) { totalCount } }",
        {"f": forum_id, "t": "a\u0000b"},
    )
    assert answer["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "tag"}


# ---------------------------------------------------------------------------------------------
# postCreate


async def test_posting_to_the_thread_and_replying_to_a_post(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    clock.advance(timedelta(minutes=1))
    first = await gql(
        POST_CREATE_FULL,
        {"input": {"threadId": thread_id, "body": "  Mill quotes 14,500  "}},
        token=firm.access_token,
    )
    created = first["data"]["postCreate"]
    assert created["errors"] == [], first
    post_id = created["post"]["id"]
    assert {k: v for k, v in created["post"].items() if k != "id"} == {
        "threadId": thread_id,
        "body": "Mill quotes 14,500",
        "replyToId": None,
        "deleted": False,
        "hidden": False,
        "version": 1,
        "createdAt": iso(1),
        "editedAt": None,
        "canEdit": True,
        "mentionedOrganisationIds": [],
        "author": {
            "userId": firm.user_id,
            "displayName": "firm",
            "organisationId": firm.organisation_id,
        },
    }
    clock.advance(timedelta(minutes=1))
    reply = await gql(
        POST_CREATE_FULL,
        {"input": {"threadId": thread_id, "body": "Thanks!", "replyToId": post_id}},
        token=shg.access_token,
    )
    assert reply["data"]["postCreate"]["errors"] == [], reply
    assert reply["data"]["postCreate"]["post"]["replyToId"] == post_id
    assert reply["data"]["postCreate"]["post"]["canEdit"] is True
    thread = await gql(THREAD, {"id": thread_id}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 2
    assert thread["data"]["thread"]["lastActivityAt"] == iso(2)
    forum = await gql(FORUM, {"id": forum_id}, token=shg.access_token)
    assert forum["data"]["forum"]["lastActivityAt"] == iso(2)
    listed = await posts_of(gql, firm.access_token, thread_id)
    assert [(p["body"], p["replyToId"], p["canEdit"]) for p in listed] == [
        ("Mill quotes 14,500", None, True),
        ("Thanks!", post_id, False),
    ]


async def test_replying_to_a_post_of_another_thread_is_refused(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    here = await start_thread(gql, shg.access_token, forum_id, title="Here")
    there = await start_thread(gql, shg.access_token, forum_id, title="There")
    elsewhere = await post(gql, shg.access_token, there, "Over there")
    for reply_to in (elsewhere, str(uuid.uuid4())):
        refused = await gql(
            POST_CREATE,
            {"input": {"threadId": here, "body": "Answer", "replyToId": reply_to}},
            token=shg.access_token,
        )
        assert errors_of(refused, "postCreate") == [("VALIDATION", "replyToId")]
    thread = await gql(THREAD, {"id": here}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 0


async def test_post_validation(gql: GraphQL, register: Any, cluster_id: str) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    for body in ("   ", "b" * 20_001, "bell\x07"):
        refused = await gql(
            POST_CREATE, {"input": {"threadId": thread_id, "body": body}}, token=shg.access_token
        )
        assert errors_of(refused, "postCreate") == [("VALIDATION", "body")], body
    unknown = await gql(
        POST_CREATE,
        {
            "input": {
                "threadId": thread_id,
                "body": "Hello @someone",
                "mentionedOrganisationIds": [shg.organisation_id, str(uuid.uuid4())],
            }
        },
        token=shg.access_token,
    )
    assert errors_of(unknown, "postCreate") == [("NOT_FOUND", "mentionedOrganisationIds.1")]
    too_many = await gql(
        POST_CREATE,
        {
            "input": {
                "threadId": thread_id,
                "body": "Hello all",
                "mentionedOrganisationIds": [shg.organisation_id] * 11,
            }
        },
        token=shg.access_token,
    )
    assert errors_of(too_many, "postCreate") == [("VALIDATION", "mentionedOrganisationIds")]
    no_thread = await gql(
        POST_CREATE,
        {"input": {"threadId": str(uuid.uuid4()), "body": "Hi"}},
        token=shg.access_token,
    )
    assert errors_of(no_thread, "postCreate") == [("NOT_FOUND", "threadId")]
    thread = await gql(THREAD, {"id": thread_id}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 0


async def test_post_create_with_a_client_id_is_idempotent(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    client_id = str(uuid.uuid4())
    sent = {"input": {"id": client_id, "threadId": thread_id, "body": "Quote: 14,500"}}
    first = await gql(POST_CREATE_FULL, sent, token=firm.access_token)
    again = await gql(POST_CREATE_FULL, sent, token=firm.access_token)
    assert first["data"]["postCreate"]["errors"] == [], first
    assert first["data"]["postCreate"]["post"]["id"] == client_id
    assert again == first
    thread = await gql(THREAD, {"id": thread_id}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 1
    assert len(await posts_of(gql, shg.access_token, thread_id)) == 1
    # the thread's author was told once
    assert [n["kind"] for n in await notifications_of(gql, shg)] == ["FORUM_REPLY"]
    taken = await gql(POST_CREATE, sent, token=shg.access_token)
    assert errors_of(taken, "postCreate") == [("CONFLICT", "id")]


# ---------------------------------------------------------------------------------------------
# postEdit and postDelete


async def test_the_author_edits_a_post_and_a_stale_version_conflicts(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    post_id = await post(gql, firm.access_token, thread_id, "Quote: 14,000")
    clock.advance(timedelta(minutes=3))
    edited = await gql(
        POST_EDIT,
        {"input": {"id": post_id, "body": " Quote: 14,500 ", "expectedVersion": 1}},
        token=firm.access_token,
    )
    assert edited["data"]["postEdit"] == {
        "post": {
            "id": post_id,
            "body": "Quote: 14,500",
            "editedAt": iso(3),
            "version": 2,
            "deleted": False,
        },
        "errors": [],
    }
    # the edit time is kept and readers see the new text
    listed = await posts_of(gql, shg.access_token, thread_id)
    assert (listed[0]["body"], listed[0]["editedAt"], listed[0]["version"]) == (
        "Quote: 14,500",
        iso(3),
        2,
    )
    clock.advance(timedelta(minutes=1))
    stale = await gql(
        POST_EDIT,
        {"input": {"id": post_id, "body": "Quote: 13,000", "expectedVersion": 1}},
        token=firm.access_token,
    )
    assert errors_of(stale, "postEdit") == [("CONFLICT", "expectedVersion")]
    assert stale["data"]["postEdit"]["post"] is None
    # someone else, even the forum's moderator, may not edit it
    for other in (shg,):
        refused = await gql(
            POST_EDIT,
            {"input": {"id": post_id, "body": "Rewritten", "expectedVersion": 2}},
            token=other.access_token,
        )
        assert errors_of(refused, "postEdit") == [("FORBIDDEN", None)]
    invalid = await gql(
        POST_EDIT, {"input": {"id": post_id, "body": "  "}}, token=firm.access_token
    )
    assert errors_of(invalid, "postEdit") == [("VALIDATION", "body")]
    listed = await posts_of(gql, shg.access_token, thread_id)
    assert (listed[0]["body"], listed[0]["editedAt"], listed[0]["version"]) == (
        "Quote: 14,500",
        iso(3),
        2,
    )
    # an edit without expectedVersion is applied
    unchecked = await gql(
        POST_EDIT, {"input": {"id": post_id, "body": "Quote: 15,000"}}, token=firm.access_token
    )
    assert unchecked["data"]["postEdit"]["post"]["editedAt"] == iso(4)
    assert unchecked["data"]["postEdit"]["post"]["version"] == 3


async def test_others_cannot_edit_or_delete_a_post(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await join(gql, register, shg, "member@example.org")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    colleague = await join(gql, register, firm, "colleague@example.org")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    post_id = await post(gql, firm.access_token, thread_id, "Quote: 14,000")
    for other in (shg, member, colleague):
        edit = await gql(
            POST_EDIT, {"input": {"id": post_id, "body": "Changed"}}, token=other.access_token
        )
        assert errors_of(edit, "postEdit") == [("FORBIDDEN", None)], other.email
        removed = await gql(POST_DELETE, {"id": post_id}, token=other.access_token)
        assert errors_of(removed, "postDelete") == [("FORBIDDEN", None)], other.email
    listed = await posts_of(gql, shg.access_token, thread_id)
    assert (listed[0]["body"], listed[0]["deleted"]) == ("Quote: 14,000", False)


async def test_the_author_deletes_a_post_and_replies_stay(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    clock.advance(timedelta(minutes=1))
    post_id = await post(gql, firm.access_token, thread_id, "Quote: 14,000")
    clock.advance(timedelta(minutes=1))
    reply_id = await post(gql, shg.access_token, thread_id, "Thanks", replyToId=post_id)
    assert (await gql(THREAD, {"id": thread_id}, token=shg.access_token))["data"]["thread"][
        "replyCount"
    ] == 2
    clock.advance(timedelta(minutes=1))
    deleted = await gql(POST_DELETE, {"id": post_id}, token=firm.access_token)
    assert deleted["data"]["postDelete"] == {
        "post": {"id": post_id, "body": None, "deleted": True, "version": 2},
        "errors": [],
    }
    for viewer in (shg, firm):
        listed = await posts_of(gql, viewer.access_token, thread_id)
        assert [(p["id"], p["body"], p["deleted"], p["replyToId"]) for p in listed] == [
            (post_id, None, True, None),
            (reply_id, "Thanks", False, post_id),
        ]
    thread = await gql(THREAD, {"id": thread_id}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 1
    # deleting again changes nothing
    again = await gql(POST_DELETE, {"id": post_id}, token=firm.access_token)
    assert again["data"]["postDelete"]["errors"] == []
    thread = await gql(THREAD, {"id": thread_id}, token=shg.access_token)
    assert thread["data"]["thread"]["replyCount"] == 1
    # a deleted post takes no edits and no reactions
    edit = await gql(POST_EDIT, {"input": {"id": post_id, "body": "Back"}}, token=firm.access_token)
    assert errors_of(edit, "postEdit") == [("CONFLICT", None)]
    react = await gql(
        POST_REACT, {"input": {"postId": post_id, "reaction": "LIKE"}}, token=shg.access_token
    )
    assert errors_of(react, "postReact") == [("CONFLICT", None)]


# ---------------------------------------------------------------------------------------------
# postReact


def reactions_of(node: dict[str, Any]) -> dict[str, tuple[int, bool]]:
    return {r["reaction"]: (r["count"], r["mine"]) for r in node["reactions"]}


async def test_reactions_count_per_post_and_mine_per_viewer(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "PUBLIC")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    post_id = await post(gql, firm.access_token, thread_id, "Quote: 14,000")
    # each reaction, from shg
    for reaction in REACTIONS:
        reacted = await gql(
            POST_REACT, {"input": {"postId": post_id, "reaction": reaction}}, token=shg.access_token
        )
        assert reacted["data"]["postReact"]["errors"] == [], reacted
    after = reactions_of(reacted["data"]["postReact"]["post"])
    assert after == dict.fromkeys(REACTIONS, (1, True))
    # twice changes nothing
    twice = await gql(
        POST_REACT, {"input": {"postId": post_id, "reaction": "LIKE"}}, token=shg.access_token
    )
    assert reactions_of(twice["data"]["postReact"]["post"])["LIKE"] == (1, True)
    # another person's LIKE counts, and is theirs
    theirs = await gql(
        POST_REACT, {"input": {"postId": post_id, "reaction": "LIKE"}}, token=firm.access_token
    )
    assert reactions_of(theirs["data"]["postReact"]["post"]) == {
        "LIKE": (2, True),
        "THANKS": (1, False),
        "HELPFUL": (1, False),
        "AGREE": (1, False),
    }
    # taking back
    taken = await gql(
        POST_REACT,
        {"input": {"postId": post_id, "reaction": "THANKS", "active": False}},
        token=shg.access_token,
    )
    assert reactions_of(taken["data"]["postReact"]["post"])["THANKS"] == (0, False)
    taken_again = await gql(
        POST_REACT,
        {"input": {"postId": post_id, "reaction": "THANKS", "active": False}},
        token=shg.access_token,
    )
    assert taken_again["data"]["postReact"]["errors"] == []
    assert reactions_of(taken_again["data"]["postReact"]["post"])["THANKS"] == (0, False)
    # firm takes back a reaction it never gave: nothing happens to shg's
    nothing = await gql(
        POST_REACT,
        {"input": {"postId": post_id, "reaction": "AGREE", "active": False}},
        token=firm.access_token,
    )
    assert reactions_of(nothing["data"]["postReact"]["post"])["AGREE"] == (1, False)
    # as each viewer sees it in the list, in a fixed order
    expected = {
        shg.access_token: [
            ("LIKE", 2, True),
            ("THANKS", 0, False),
            ("HELPFUL", 1, True),
            ("AGREE", 1, True),
        ],
        firm.access_token: [
            ("LIKE", 2, True),
            ("THANKS", 0, False),
            ("HELPFUL", 1, False),
            ("AGREE", 1, False),
        ],
        "": [("LIKE", 2, False), ("THANKS", 0, False), ("HELPFUL", 1, False), ("AGREE", 1, False)],
    }
    for token, reactions in expected.items():
        listed = await posts_of(gql, token, thread_id)
        assert [(r["reaction"], r["count"], r["mine"]) for r in listed[0]["reactions"]] == (
            reactions
        ), token


async def test_reacting_is_for_signed_in_readers(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    far = await register("far@example.org", await second_cluster(db), name="Far Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    post_id = await post(gql, shg.access_token, thread_id, "Hello")
    outsider = await gql(
        POST_REACT, {"input": {"postId": post_id, "reaction": "LIKE"}}, token=far.access_token
    )
    assert errors_of(outsider, "postReact") == [("NOT_FOUND", "postId")]
    anonymous = await gql(POST_REACT, {"input": {"postId": post_id, "reaction": "LIKE"}}, token="")
    assert errors_of(anonymous, "postReact") == [("UNAUTHENTICATED", None)]
    listed = await posts_of(gql, shg.access_token, thread_id)
    assert reactions_of(listed[0])["LIKE"] == (0, False)


# ---------------------------------------------------------------------------------------------
# Notifications


async def test_notifications_of_replies_and_mentions(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    colleague = await join(gql, register, firm, "colleague@example.org")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    mill_worker = await join(gql, register, mill, "worker@example.org")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id, title="Feed prices")

    # the thread's author posting in their own thread is not told
    clock.advance(timedelta(minutes=1))
    await post(gql, shg.access_token, thread_id, "Anyone?")
    assert await notifications_of(gql, shg) == []

    # a reply to the thread tells its author
    clock.advance(timedelta(minutes=1))
    firm_post = await post(gql, firm.access_token, thread_id, "Quote: 14,000")
    told = await notifications_of(gql, shg)
    assert told == [
        {
            "kind": "FORUM_REPLY",
            "title": "New reply: Feed prices",
            "body": "Quote: 14,000",
            "subjectType": "FORUM_THREAD",
            "subjectId": thread_id,
        }
    ]
    assert await notifications_of(gql, firm) == []

    # a reply to a post tells that post's author (and the thread's author)
    clock.advance(timedelta(minutes=1))
    await post(gql, mill.access_token, thread_id, "Cheaper here", replyToId=firm_post)
    assert [n["kind"] for n in await notifications_of(gql, firm)] == ["FORUM_REPLY"]
    assert [n["kind"] for n in await notifications_of(gql, shg)] == ["FORUM_REPLY"] * 2
    assert await notifications_of(gql, colleague) == []
    assert await notifications_of(gql, mill) == []

    # a mention tells the organisation's members; the poster never hears of their own post;
    # a person both replied to and mentioned is told once
    clock.advance(timedelta(minutes=1))
    await post(
        gql,
        mill_worker.access_token,
        thread_id,
        "@Some Firm @Sawmill what do you say?",
        replyToId=firm_post,
        mentionedOrganisationIds=[firm.organisation_id, mill.organisation_id],
    )
    firm_told = await notifications_of(gql, firm)
    assert [n["kind"] for n in firm_told] == ["FORUM_REPLY", "FORUM_REPLY"]
    colleague_told = await notifications_of(gql, colleague)
    assert colleague_told == [
        {
            "kind": "FORUM_MENTION",
            "title": "Your organisation was mentioned: Feed prices",
            "body": "@Some Firm @Sawmill what do you say?",
            "subjectType": "FORUM_THREAD",
            "subjectId": thread_id,
        }
    ]
    assert [n["kind"] for n in await notifications_of(gql, mill)] == ["FORUM_MENTION"]
    assert await notifications_of(gql, mill_worker) == []
    assert [n["kind"] for n in await notifications_of(gql, shg)] == ["FORUM_REPLY"] * 3


async def test_the_poster_mentioning_their_own_organisation_is_not_told(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await join(gql, register, shg, "member@example.org")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    await post(
        gql,
        shg.access_token,
        thread_id,
        "Everyone, look",
        mentionedOrganisationIds=[shg.organisation_id],
    )
    assert await notifications_of(gql, shg) == []
    assert [n["kind"] for n in await notifications_of(gql, member)] == ["FORUM_MENTION"]


async def test_mentions_reach_only_those_who_can_read_the_forum(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    await post(
        gql,
        shg.access_token,
        thread_id,
        "Secret plans about Some Firm",
        mentionedOrganisationIds=[firm.organisation_id],
    )
    assert await notifications_of(gql, firm) == []


# ---------------------------------------------------------------------------------------------
# SQL statements per list


async def test_posts_cost_the_same_statements_for_1_and_20(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock, sql_statements: Any
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    authors = [shg, firm, mill]
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    post_ids = []
    for number in range(20):
        clock.advance(timedelta(minutes=1))
        author = authors[number % 3]
        reply_to = {"replyToId": post_ids[-1]} if post_ids and number % 2 else {}
        post_ids.append(
            await post(gql, author.access_token, thread_id, f"Post {number}", **reply_to)
        )
    for number, post_id in enumerate(post_ids):
        for reactor in authors[: 1 + number % 3]:
            await gql(
                POST_REACT,
                {"input": {"postId": post_id, "reaction": REACTIONS[number % 4]}},
                token=reactor.access_token,
            )
    counts = {}
    pages = {}
    for size in (1, 20):
        with sql_statements() as log:
            body = await gql(POSTS_FULL, {"id": thread_id, "first": size}, token=firm.access_token)
        assert "errors" not in body, body
        pages[size] = body["data"]["posts"]["edges"]
        counts[size] = log.count
    assert len(pages[1]) == 1
    assert len(pages[20]) == 20
    assert {p["node"]["author"]["displayName"] for p in pages[20]} == {"shg", "firm", "mill"}
    assert any(r["mine"] for p in pages[20] for r in p["node"]["reactions"])
    assert sum(r["count"] for p in pages[20] for r in p["node"]["reactions"]) == 39
    assert counts[1] == counts[20], counts


async def test_threads_cost_the_same_statements_for_1_and_20(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock, sql_statements: Any
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    authors = [shg, firm, mill]
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    for number in range(20):
        clock.advance(timedelta(minutes=1))
        await start_thread(
            gql,
            authors[number % 3].access_token,
            forum_id,
            title=f"Thread {number}",
            tags=[f"tag{number % 4}"],
        )
    counts = {}
    pages = {}
    for size in (1, 20):
        with sql_statements() as log:
            body = await gql(
                THREADS_FULL, {"forum": forum_id, "first": size}, token=firm.access_token
            )
        assert "errors" not in body, body
        pages[size] = body["data"]["threads"]["edges"]
        counts[size] = log.count
    assert len(pages[1]) == 1
    assert len(pages[20]) == 20
    assert {t["node"]["author"]["organisationName"] for t in pages[20]} == {
        "Women's Union",
        "Some Firm",
        "Sawmill",
    }
    assert counts[1] == counts[20], counts


# ---------------------------------------------------------------------------------------------
# What the apps' forum mutations cost


async def test_the_apps_forum_mutations_cost_pinned_statements_and_answer_as_a_reload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    """Statement counts of the apps' own documents (clients/operations/forums.graphql), and
    each payload as the thread screen shows the thread or post right after: a payload built
    from the unit of work's rows must not differ from one read back."""
    begin = begins(db)
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    farm = await register("farm@example.org", cluster_id, name="Hill Farm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    app = AppCalls(gql, sql_statements)

    # when the sawmill starts a thread (with the app's own id), the farm replies and the
    # sawmill thanks it
    thread_input = {
        "forumId": forum_id,
        "title": "Sawdust for mushroom beds",
        "body": "Who takes 2 t a month?",
        "tags": ["sawdust", "Mushrooms"],
        "id": str(uuid.uuid4()),
    }
    started = await app.send("ThreadCreate", "ThreadCreate", mill.access_token, input=thread_input)
    thread_id = started["thread"]["id"]
    seen_by_mill = await app.read("ThreadDetail", mill.access_token, threadId=thread_id)
    reply = {"threadId": thread_id, "body": "We do, from March", "id": str(uuid.uuid4())}
    posted = await app.send("PostCreate", "PostCreate", farm.access_token, input=reply)
    seen_by_farm = await app.read("ThreadDetail", farm.access_token, threadId=thread_id)
    thanks = {"postId": reply["id"], "reaction": "THANKS"}
    reacted = await app.send("PostReact", "PostReact", mill.access_token, input=thanks)
    seen_after = await app.read("ThreadDetail", mill.access_token, threadId=thread_id)

    # then each answer is what the thread screen shows right after
    thread = started["thread"]
    assert thread == {name: seen_by_mill["thread"][name] for name in thread}
    assert thread["viewerFollows"] is True
    assert [edge["node"] for edge in seen_by_farm["posts"]["edges"]] == [posted["post"]]
    [after] = [edge["node"] for edge in seen_after["posts"]["edges"]]
    assert reacted["post"] == {"id": after["id"], "reactions": after["reactions"]}
    assert {"reaction": "THANKS", "count": 1, "mine": True} in reacted["post"]["reactions"]

    # Each count includes the check that the sender's sign-in still stands (1, in a read
    # transaction of its own), and who the sender is in the forums (memberships and named
    # moderations, 2). SQLite sends each transaction's BEGIN as a statement of its own.
    access = 1 + begin
    assert app.counts == {
        # who (2), the forum if readable and its community (2), the id's thread (none: not a
        # retry), insert, the forum's thread count, following it; the author and the author's
        # organisation (2); sync log (sequence, changes). The thread, its forum and that its
        # author follows it are known: nothing is read back.
        "ThreadCreate": 12 + begin + access,
        # who (2), the thread if readable and its forum (2), the id's post (none), insert,
        # following the thread, the thread's author told (readers among them, preferences,
        # devices, insert); the author and the author's organisation (2; a new post has no
        # reactions); the thread's count and activity, the forum's activity (2, last: see
        # forums.service.posts); sync log (2)
        "PostCreate": 17 + begin + access,
        # who (2), the post, its thread if readable and its forum (3), the sender's reaction
        # (none), inserted in a savepoint (3); the post's author and the author's organisation
        # (2), its reactions and the sender's (2). Reactions are not in the offline copy: no
        # sync log.
        "PostReact": 13 + begin + access,
    }, app.statements


async def test_the_thread_screen_costs_the_same_statements_for_one_post_or_thirty(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    """ThreadDetail (the apps' thread screen): its two root fields read the viewer's
    memberships and the thread once between them, and the page's authors and reactions come
    with a fixed number of statements whatever the page size."""
    begin = begins(db)
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    farm = await register("farm@example.org", cluster_id, name="Hill Farm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, mill.access_token, forum_id, title="Sawdust beds")
    counts: dict[str, int] = {}

    async def screen(label: str) -> Any:
        with sql_statements() as log:
            body = await gql(
                app_operation("ThreadDetail"), {"threadId": thread_id}, token=mill.access_token
            )
        assert "errors" not in body, body
        counts[label] = log.count
        return body["data"]["posts"]

    # given a thread with one reply (with a reaction), then thirty-one
    first = await post(gql, farm.access_token, thread_id, "We take it")
    reacted = await gql(
        POST_REACT, {"input": {"postId": first, "reaction": "THANKS"}}, token=mill.access_token
    )
    assert reacted["data"]["postReact"]["errors"] == []
    one = await screen("one post")
    for number in range(30):
        author = (farm, shg)[number % 2]
        await post(gql, author.access_token, thread_id, f"Reply {number}")
    many = await screen("thirty posts")

    # then both cost the sign-in check (1), the thread field's unit of work (memberships,
    # moderations, the thread with its card's forum, author and following: 3) and the posts
    # field's (count, page with authors, reactions with the viewer's own: 3)
    assert counts == {"one post": 7 + 3 * begin, "thirty posts": 7 + 3 * begin}
    [only] = one["edges"]
    assert only["node"]["reactions"][1] == {"reaction": "THANKS", "count": 1, "mine": True}
    assert only["node"]["author"]["organisationName"] == "Hill Farm"
    assert many["totalCount"] == 31
    assert len(many["edges"]) == 30
    assert many["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["author"]["organisationName"] for edge in many["edges"][1:3]] == [
        "Hill Farm",
        "Women's Union",
    ]


POSTS_PAGED = """
query Posts($id: ID!, $first: Int, $after: String) {
  posts(threadId: $id, first: $first, after: $after) {
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id createdAt author { userId displayName organisationName } } }
  }
}
"""


async def test_the_thread_screens_cursors_are_the_posts_sort_keys_and_page_on(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    """The posts' cursors (spelt out with orjson in the thread screen) are what
    ``encode_cursor`` writes for the posts' order, and ``after`` one of them gives the posts
    after it; posts by one author show the same author."""
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    mill = await register("mill@example.org", cluster_id, name="Sawmill")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, mill.access_token, forum_id)
    posted = []
    for number in range(5):
        clock.advance(timedelta(minutes=1))
        author = (shg, mill)[number % 2]
        posted.append(await post(gql, author.access_token, thread_id, f"Post {number}"))

    # when the sawmill reads the posts two at a time
    seen: list[Any] = []
    after = None
    for _ in range(3):
        body = await gql(
            POSTS_PAGED, {"id": thread_id, "first": 2, "after": after}, token=mill.access_token
        )
        assert "errors" not in body, body
        page = body["data"]["posts"]
        seen.extend(page["edges"])
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
        assert page["pageInfo"]["hasPreviousPage"] is (len(seen) > 2)
    assert page["pageInfo"]["hasNextPage"] is False

    # then every post came once, in order, each cursor is encode_cursor's for it
    assert [edge["node"]["id"] for edge in seen] == posted
    for edge in seen:
        node = edge["node"]
        keys = [datetime.fromisoformat(node["createdAt"]), uuid.UUID(node["id"])]
        assert edge["cursor"] == encode_cursor(POSTS, keys)
    authors = [edge["node"]["author"] for edge in seen]
    assert authors[0] == authors[2] == authors[4] != authors[1] == authors[3]
    assert [a["organisationName"] for a in authors[:2]] == ["Women's Union", "Sawmill"]
