"""Forum operations and helpers shared by the forum tests and the sync tests: opening a forum,
starting a thread, posting, joining a community, a community's thread ready-made, and reading
errors and times out of answers. Not a test module."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import CLOCK_START, Account, GraphQL
from tests.identity.kit import invite_code

FORUM_CREATE = """
mutation F($input: ForumCreateInput!) {
  forumCreate(input: $input) {
    forum { id visibility threadCount canModerate }
    errors { code message field }
  }
}
"""
THREAD_CREATE = """
mutation T($input: ThreadCreateInput!) {
  threadCreate(input: $input) { thread { id title replyCount tags } errors { code message field } }
}
"""
POST_CREATE = """
mutation P($input: PostCreateInput!) {
  postCreate(input: $input) { post { id body replyToId } errors { code message field } }
}
"""
POST_EDIT = """
mutation E($input: PostEditInput!) {
  postEdit(input: $input) {
    post { id body editedAt version deleted }
    errors { code message field }
  }
}
"""
FORUM_UPDATE = """
mutation U($input: ForumUpdateInput!) {
  forumUpdate(input: $input) {
    forum { id title description visibility version }
    errors { code message field }
  }
}
"""


async def join(gql: GraphQL, register: Any, admin: Account, email: str, role: str = "MEMBER"):
    """Someone joining ``admin``'s organisation with an invite."""
    account: Account = await register(email, invite_code=await invite_code(gql, admin, role))
    return account


async def open_forum(
    gql: GraphQL, token: str, visibility: str = "CLUSTER", title: str = "Feed and fodder", **extra
) -> str:
    body = await gql(
        FORUM_CREATE, {"input": {"title": title, "visibility": visibility, **extra}}, token=token
    )
    assert body["data"]["forumCreate"]["errors"] == [], body
    forum_id: str = body["data"]["forumCreate"]["forum"]["id"]
    return forum_id


async def start_thread(
    gql: GraphQL, token: str, forum_id: str, title: str = "Feed prices", **extra: Any
) -> str:
    body = await gql(
        THREAD_CREATE,
        {"input": {"forumId": forum_id, "title": title, "body": "Who has quotes?", **extra}},
        token=token,
    )
    assert body["data"]["threadCreate"]["errors"] == [], body
    thread_id: str = body["data"]["threadCreate"]["thread"]["id"]
    return thread_id


async def post(gql: GraphQL, token: str, thread_id: str, text: str, **extra: Any) -> str:
    body = await gql(
        POST_CREATE, {"input": {"threadId": thread_id, "body": text, **extra}}, token=token
    )
    assert body["data"]["postCreate"]["errors"] == [], body
    post_id: str = body["data"]["postCreate"]["post"]["id"]
    return post_id


async def a_thread(
    gql: GraphQL, register: Any, cluster_id: str, visibility: str
) -> tuple[Account, str]:
    """A community (``shg``) with a forum of ``visibility`` and a thread its admin started."""
    shg: Account = await register(
        "shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY"
    )
    forum_id = await open_forum(gql, shg.access_token, visibility, title="Corner")
    thread_id = await start_thread(gql, shg.access_token, forum_id, "Feed", body="?")
    return shg, thread_id


async def a_members_post(
    gql: GraphQL, register: Any, cluster_id: str, visibility: str = "MEMBERS"
) -> tuple[Account, Account, str, str]:
    """:func:`a_thread` in which a member of the community posted "Call 555":
    (shg, member, thread_id, post_id)."""
    shg, thread_id = await a_thread(gql, register, cluster_id, visibility)
    member = await join(gql, register, shg, "member@example.org")
    post_id = await post(gql, member.access_token, thread_id, "Call 555")
    return shg, member, thread_id, post_id


def errors_of(body: dict[str, Any], mutation: str) -> list[tuple[str, str | None]]:
    """(code, field) of a mutation payload's errors; fails on a GraphQL error instead."""
    assert "errors" not in body, body
    return [(e["code"], e["field"]) for e in body["data"][mutation]["errors"]]


def query_codes(body: dict[str, Any]) -> list[str]:
    """The codes of a query's GraphQL errors."""
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def iso(minutes: int) -> str:
    """The test clock ``minutes`` after its start, as the API writes times."""
    return (CLOCK_START + timedelta(minutes=minutes)).isoformat()
