"""A forum once, end to end: a community opens it, members talk, a moderator steps in."""

from __future__ import annotations

from typing import Any

from tests.forums.kit import FORUM_CREATE, POST_CREATE, THREAD_CREATE

POSTS = """
query Posts($id: ID!) {
  posts(threadId: $id) {
    totalCount
    edges { node { body hidden deleted author { displayName } reactions { reaction count mine } } }
  }
}
"""


async def test_a_members_forum_from_first_thread_to_moderation(
    gql: Any, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    outsider = await register("firm@example.org", cluster_id, name="Some Firm")
    forum = await gql(
        FORUM_CREATE,
        {"input": {"title": "Members' corner", "visibility": "MEMBERS"}},
        token=shg.access_token,
    )
    assert forum["data"]["forumCreate"]["errors"] == [], forum
    forum_id = forum["data"]["forumCreate"]["forum"]["id"]
    thread = await gql(
        THREAD_CREATE,
        {
            "input": {
                "forumId": forum_id,
                "title": "Feed prices",
                "body": "Who has quotes?",
                "tags": ["Feed", "prices"],
            }
        },
        token=shg.access_token,
    )
    assert thread["data"]["threadCreate"]["errors"] == [], thread
    thread_id = thread["data"]["threadCreate"]["thread"]["id"]
    post = await gql(
        POST_CREATE,
        {"input": {"threadId": thread_id, "body": "Mill quotes 14,500"}},
        token=shg.access_token,
    )
    assert post["data"]["postCreate"]["errors"] == [], post
    post_id = post["data"]["postCreate"]["post"]["id"]
    reacted = await gql(
        "mutation R($i: PostReactInput!) { postReact(input: $i) { errors { code } } }",
        {"i": {"postId": post_id, "reaction": "THANKS"}},
        token=shg.access_token,
    )
    assert reacted["data"]["postReact"]["errors"] == []
    hidden = await gql(
        'mutation H($id: ID!) { postHide(id: $id, reason: "test") { post { hidden body } '
        "errors { code } } }",
        {"id": post_id},
        token=shg.access_token,
    )
    assert hidden["data"]["postHide"] == {
        "post": {"hidden": True, "body": "Mill quotes 14,500"},
        "errors": [],
    }
    posts = await gql(POSTS, {"id": thread_id}, token=shg.access_token)
    assert posts["data"]["posts"]["totalCount"] == 1, posts
    node = posts["data"]["posts"]["edges"][0]["node"]
    assert node["reactions"][1] == {"reaction": "THANKS", "count": 1, "mine": True}
    # the outsider learns nothing: not the forum, the thread or the posts
    assert (
        await gql(
            "query($id: ID!) { forum(id: $id) { id } }",
            {"id": forum_id},
            token=outsider.access_token,
        )
    )["data"]["forum"] is None
    assert (
        await gql(
            "query($id: ID!) { thread(id: $id) { id } }",
            {"id": thread_id},
            token=outsider.access_token,
        )
    )["data"]["thread"] is None
    denied = await gql(POSTS, {"id": thread_id}, token=outsider.access_token)
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND", denied
    listed = await gql("{ forums { totalCount } }", token=outsider.access_token)
    assert listed["data"]["forums"]["totalCount"] == 0
