"""Forum operations and helpers shared by the forum tests and the sync tests: opening a forum,
starting a thread, posting, and joining a community. Not a test module."""

from __future__ import annotations

from typing import Any

from tests.conftest import Account, GraphQL
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
