"""Who may see what of the forums, at every entry point.

The rule under test: nothing of a MEMBERS forum, not even its thread titles or counts, reaches
anyone outside the owning community; a forum, thread, post or report an outsider names by id
answers exactly as one that does not exist (NOT_FOUND, never FORBIDDEN) and nothing changes.
CLUSTER forums are for the members of any organisation of the cluster (by membership, whatever
organisation the token acts for); PUBLIC forums are read by anyone and written by the signed-in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.forums import service
from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.validation import Place
from backend.models import metadata
from backend.settings import Settings
from tests.conftest import CLOCK_START, Account, GraphQL
from tests.forums.live_kit import (
    live_server,
    post,
    receive,
    subscribed,
    until_listening,
)

# ---------------------------------------------------------------------------------------------
# Operations

FORUM_FIELDS = """
  id title description visibility cluster { id slug } organisation { id name }
  threadCount lastActivityAt canModerate version createdAt
"""
THREAD_FIELDS = """
  id forumId forumTitle title body language tags
  author { userId displayName organisationId organisationName }
  pinned locked lockedAt replyCount lastActivityAt createdAt canModerate version
"""
POST_FIELDS = """
  id threadId replyToId body deleted hidden hiddenReason
  author { userId displayName organisationId organisationName }
  mentionedOrganisationIds reactions { reaction count mine }
  createdAt editedAt canEdit canModerate version
"""
REPORT_FIELDS = """
  id postId threadId postBody postHidden
  postAuthor { userId displayName organisationId organisationName }
  reason status reporterName createdAt resolvedAt resolution
"""
ERRORS = "errors { code message field }"

FORUMS = f"""
query Forums($clusterId: ID, $organisationId: ID) {{
  forums(clusterId: $clusterId, organisationId: $organisationId) {{
    totalCount edges {{ node {{ {FORUM_FIELDS} }} }}
  }}
}}
"""
FORUM = f"query Forum($id: ID!) {{ forum(id: $id) {{ {FORUM_FIELDS} }} }}"
THREADS = f"""
query Threads($forumId: ID!) {{
  threads(forumId: $forumId) {{ totalCount edges {{ node {{ {THREAD_FIELDS} }} }} }}
}}
"""
THREAD = f"query Thread($id: ID!) {{ thread(id: $id) {{ {THREAD_FIELDS} }} }}"
POSTS = f"""
query Posts($threadId: ID!) {{
  posts(threadId: $threadId) {{ totalCount edges {{ node {{ {POST_FIELDS} }} }} }}
}}
"""
REPORTS = f"""
query Reports($forumId: ID!) {{
  reports(forumId: $forumId, status: null) {{ totalCount edges {{ node {{ {REPORT_FIELDS} }} }} }}
}}
"""
INBOX = """
query Inbox {
  notifications {
    totalCount
    edges { node { kind title body subjectType subjectId createdAt readAt } }
  }
}
"""

FORUM_CREATE = f"""
mutation ForumCreate($input: ForumCreateInput!) {{
  forumCreate(input: $input) {{ forum {{ {FORUM_FIELDS} }} {ERRORS} }}
}}
"""
FORUM_UPDATE = f"""
mutation ForumUpdate($input: ForumUpdateInput!) {{
  forumUpdate(input: $input) {{ forum {{ {FORUM_FIELDS} }} {ERRORS} }}
}}
"""
FORUM_MODERATOR_SET = f"""
mutation ModeratorSet($forumId: ID!, $userId: ID!) {{
  forumModeratorSet(forumId: $forumId, userId: $userId) {{ forum {{ {FORUM_FIELDS} }} {ERRORS} }}
}}
"""
THREAD_CREATE = f"""
mutation ThreadCreate($input: ThreadCreateInput!) {{
  threadCreate(input: $input) {{ thread {{ {THREAD_FIELDS} }} {ERRORS} }}
}}
"""
THREAD_LOCK = f"""
mutation ThreadLock($id: ID!) {{ threadLock(id: $id) {{ thread {{ {THREAD_FIELDS} }} {ERRORS} }} }}
"""
THREAD_PIN = f"""
mutation ThreadPin($id: ID!) {{ threadPin(id: $id) {{ thread {{ {THREAD_FIELDS} }} {ERRORS} }} }}
"""
POST_CREATE = f"""
mutation PostCreate($input: PostCreateInput!) {{
  postCreate(input: $input) {{ post {{ {POST_FIELDS} }} {ERRORS} }}
}}
"""
POST_EDIT = f"""
mutation PostEdit($input: PostEditInput!) {{
  postEdit(input: $input) {{ post {{ {POST_FIELDS} }} {ERRORS} }}
}}
"""
POST_DELETE = f"""
mutation PostDelete($id: ID!) {{ postDelete(id: $id) {{ post {{ {POST_FIELDS} }} {ERRORS} }} }}
"""
POST_REACT = f"""
mutation PostReact($input: PostReactInput!) {{
  postReact(input: $input) {{ post {{ {POST_FIELDS} }} {ERRORS} }}
}}
"""
POST_REPORT = f"""
mutation PostReport($input: PostReportInput!) {{
  postReport(input: $input) {{ report {{ {REPORT_FIELDS} }} {ERRORS} }}
}}
"""
POST_HIDE = f"""
mutation PostHide($id: ID!, $reason: String!) {{
  postHide(id: $id, reason: $reason) {{ post {{ {POST_FIELDS} }} {ERRORS} }}
}}
"""
POST_RESTORE = f"""
mutation PostRestore($id: ID!) {{ postRestore(id: $id) {{ post {{ {POST_FIELDS} }} {ERRORS} }} }}
"""
REPORT_RESOLVE = f"""
mutation ReportResolve($id: ID!) {{
  reportResolve(id: $id, resolution: "Dealt with") {{ report {{ {REPORT_FIELDS} }} {ERRORS} }}
}}
"""
INVITE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""
JOIN = """
mutation Join($input: OrganisationJoinInput!) {
  organisationJoin(input: $input) { membership { role } errors { code message field } }
}
"""
MEMBER_REMOVE = """
mutation Remove($organisationId: ID!, $userId: ID!) {
  organisationMemberRemove(input: {organisationId: $organisationId, userId: $userId}) {
    removedUserId errors { code message field }
  }
}
"""

REACTIONS = ("LIKE", "THANKS", "HELPFUL", "AGREE")
UNAUTHENTICATED = {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}


def at(minutes: int) -> str:
    """The test clock ``minutes`` after it started, as the API writes times."""
    return (CLOCK_START + timedelta(minutes=minutes)).isoformat()


def not_found(what: str, field: str | None) -> dict[str, Any]:
    return {"code": "NOT_FOUND", "message": f"{what} not found", "field": field}


def query_error(message: str, path: str, code: str, *field: str | None) -> dict[str, Any]:
    """A whole response of a query refused with an error (all its fields are non-null); a
    service's errors carry their ``field``, the sign-in gate's have none."""
    extensions: dict[str, Any] = {"code": code}
    if field:
        extensions["field"] = field[0]
    return {
        "data": None,
        "errors": [
            {
                "message": message,
                "locations": [{"line": 3, "column": 3}],
                "path": [path],
                "extensions": extensions,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Helpers


def ok(body: dict[str, Any], name: str, field: str) -> dict[str, Any]:
    payload = body["data"][name]
    assert payload["errors"] == [], body
    value: dict[str, Any] = payload[field]
    return value


async def invite(gql: GraphQL, admin: Account) -> str:
    body = await gql(
        INVITE,
        {"input": {"organisationId": admin.organisation_id, "role": "MEMBER"}},
        token=admin.access_token,
    )
    code: str = ok(body, "organisationInviteCreate", "invite")["code"]
    return code


async def join(gql: GraphQL, admin: Account, person: Account) -> None:
    """``person`` joins ``admin``'s organisation; their token still acts for their own."""
    body = await gql(
        JOIN, {"input": {"inviteCode": await invite(gql, admin)}}, token=person.access_token
    )
    assert body == {"data": {"organisationJoin": {"membership": {"role": "MEMBER"}, "errors": []}}}


async def second_cluster(db: Database) -> str:
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Niigata",
            country="JP",
            sector=Sector.WOOD,
            centre=Place(lat=37.9, lon=139.0),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )
    return str(cluster.id)


FORUM_TABLES = (
    "forums",
    "forum_threads",
    "forum_posts",
    "forum_post_reactions",
    "forum_reports",
    "forum_moderators",
    "notifications",
)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the forum tables and of the notifications, to show nothing changed."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with db.read() as session:
        for name in FORUM_TABLES:
            table = metadata.tables[name]
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[name] = [tuple(row) for row in result.all()]
    return rows


def author(account: Account, organisation_id: str | None, organisation: str) -> dict[str, Any]:
    return {
        "userId": account.user_id,
        "displayName": account.email.split("@")[0],
        "organisationId": organisation_id,
        "organisationName": organisation,
    }


def reactions(counts: dict[str, int] | None = None, mine: tuple[str, ...] = ()) -> list[dict]:
    counts = counts or {}
    return [
        {"reaction": reaction, "count": counts.get(reaction, 0), "mine": reaction in mine}
        for reaction in REACTIONS
    ]


# ---------------------------------------------------------------------------------------------
# A community with a MEMBERS forum, and the people around it


@dataclass
class World:
    cluster_id: str
    other_cluster_id: str
    shg: Account  # admin of the community "Women's Union"
    member: Account  # ito, a member; started the thread
    member2: Account  # kimura, a member; wrote the hidden post
    outsider: Account  # a firm in the same cluster
    neighbour: Account  # admin of another community in the same cluster
    stranger: Account  # a firm in another cluster
    admin_token: str  # platform admin
    forum_id: str  # the MEMBERS forum
    public_forum_id: str  # the same community's PUBLIC forum
    public_thread_id: str
    thread_id: str
    post_id: str  # ito's, replied to and reacted to
    reply_id: str  # shg's reply to it, mentioning three organisations
    hidden_id: str  # kimura's, reported by ito, hidden by shg
    report_id: str

    @property
    def community_id(self) -> str:
        assert self.shg.organisation_id is not None
        return self.shg.organisation_id

    def people(self) -> dict[str, Account | None]:
        """Those who must learn nothing of the MEMBERS forum (None: anonymous)."""
        return {
            "outsider": self.outsider,
            "neighbour": self.neighbour,
            "stranger": self.stranger,
            "anonymous": None,
        }


async def a_world(
    gql: GraphQL,
    register: Any,
    db: Database,
    clock: ManualClock,
    cluster_id: str,
    admin_token: str,
) -> World:
    def tick() -> None:
        clock.advance(timedelta(minutes=1))

    other_cluster_id = await second_cluster(db)
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    member = await register("ito@example.org", invite_code=await invite(gql, shg))
    member2 = await register("kimura@example.org", invite_code=await invite(gql, shg))
    outsider = await register("firm@example.org", cluster_id, name="Some Firm")
    neighbour = await register(
        "fishers@example.org", cluster_id, name="Fishers' Group", kind="COMMUNITY"
    )
    stranger = await register("stranger@example.org", other_cluster_id, name="Rice Mill")

    tick()  # 1
    forum_id = ok(
        await gql(
            FORUM_CREATE,
            {
                "input": {
                    "title": "Members' corner",
                    "description": "Prices and plans, for members",
                    "visibility": "MEMBERS",
                }
            },
            token=shg.access_token,
        ),
        "forumCreate",
        "forum",
    )["id"]
    tick()  # 2
    public_forum_id = ok(
        await gql(
            FORUM_CREATE,
            {"input": {"title": "Notice board", "visibility": "PUBLIC"}},
            token=shg.access_token,
        ),
        "forumCreate",
        "forum",
    )["id"]
    tick()  # 3
    thread_id = ok(
        await gql(
            THREAD_CREATE,
            {
                "input": {
                    "forumId": forum_id,
                    "title": "Feed prices",
                    "body": "Who has quotes?",
                    "tags": ["Feed", "prices"],
                }
            },
            token=member.access_token,
        ),
        "threadCreate",
        "thread",
    )["id"]
    tick()  # 4
    public_thread_id = ok(
        await gql(
            THREAD_CREATE,
            {"input": {"forumId": public_forum_id, "title": "Market day", "body": "Saturday"}},
            token=shg.access_token,
        ),
        "threadCreate",
        "thread",
    )["id"]
    tick()  # 5
    post_id = ok(
        await gql(
            POST_CREATE,
            {"input": {"threadId": thread_id, "body": "Mill quotes 14,500"}},
            token=member.access_token,
        ),
        "postCreate",
        "post",
    )["id"]
    tick()  # 6
    reply_id = ok(
        await gql(
            POST_CREATE,
            {
                "input": {
                    "threadId": thread_id,
                    "replyToId": post_id,
                    "body": "Thanks! Some Firm, Fishers' Group: do you sell feed?",
                    "mentionedOrganisationIds": [
                        outsider.organisation_id,
                        neighbour.organisation_id,
                        shg.organisation_id,
                    ],
                }
            },
            token=shg.access_token,
        ),
        "postCreate",
        "post",
    )["id"]
    tick()  # 7
    hidden_id = ok(
        await gql(
            POST_CREATE,
            {"input": {"threadId": thread_id, "body": "Cheap feed, call 555"}},
            token=member2.access_token,
        ),
        "postCreate",
        "post",
    )["id"]
    tick()  # 8
    for account, reaction in ((member2, "THANKS"), (shg, "LIKE")):
        ok(
            await gql(
                POST_REACT,
                {"input": {"postId": post_id, "reaction": reaction}},
                token=account.access_token,
            ),
            "postReact",
            "post",
        )
    tick()  # 9
    report_id = ok(
        await gql(
            POST_REPORT,
            {"input": {"postId": hidden_id, "reason": "Looks like an advert"}},
            token=member.access_token,
        ),
        "postReport",
        "report",
    )["id"]
    tick()  # 10
    ok(
        await gql(POST_HIDE, {"id": hidden_id, "reason": "Advertising"}, token=shg.access_token),
        "postHide",
        "post",
    )
    tick()  # 11
    return World(
        cluster_id=cluster_id,
        other_cluster_id=other_cluster_id,
        shg=shg,
        member=member,
        member2=member2,
        outsider=outsider,
        neighbour=neighbour,
        stranger=stranger,
        admin_token=admin_token,
        forum_id=forum_id,
        public_forum_id=public_forum_id,
        public_thread_id=public_thread_id,
        thread_id=thread_id,
        post_id=post_id,
        reply_id=reply_id,
        hidden_id=hidden_id,
        report_id=report_id,
    )


@pytest.fixture
async def world(
    gql: GraphQL,
    register: Any,
    db: Database,
    clock: ManualClock,
    cluster_id: str,
    platform_admin_token: str,
) -> World:
    return await a_world(gql, register, db, clock, cluster_id, platform_admin_token)


def token_of(account: Account | None) -> str:
    return account.access_token if account else ""


# What each viewer is shown of the world (moderator: the platform admin)


def members_forum(world: World, *, moderator: bool) -> dict[str, Any]:
    return {
        "id": world.forum_id,
        "title": "Members' corner",
        "description": "Prices and plans, for members",
        "visibility": "MEMBERS",
        "cluster": {"id": world.cluster_id, "slug": "test-wood"},
        "organisation": {"id": world.community_id, "name": "Women's Union"},
        "threadCount": 1,
        "lastActivityAt": at(7),
        "canModerate": moderator,
        "version": 1,
        "createdAt": at(1),
    }


def public_forum(world: World, *, moderator: bool = False) -> dict[str, Any]:
    return {
        "id": world.public_forum_id,
        "title": "Notice board",
        "description": "",
        "visibility": "PUBLIC",
        "cluster": {"id": world.cluster_id, "slug": "test-wood"},
        "organisation": {"id": world.community_id, "name": "Women's Union"},
        "threadCount": 1,
        "lastActivityAt": at(4),
        "canModerate": moderator,
        "version": 1,
        "createdAt": at(2),
    }


def the_thread(world: World, *, moderator: bool) -> dict[str, Any]:
    return {
        "id": world.thread_id,
        "forumId": world.forum_id,
        "forumTitle": "Members' corner",
        "title": "Feed prices",
        "body": "Who has quotes?",
        "language": "en",
        "tags": ["feed", "prices"],
        "author": author(world.member, world.community_id, "Women's Union"),
        "pinned": False,
        "locked": False,
        "lockedAt": None,
        "replyCount": 3,
        "lastActivityAt": at(7),
        "createdAt": at(3),
        "canModerate": moderator,
        "version": 1,
    }


def the_posts(world: World, viewer: Account | None, *, moderator: bool) -> list[dict[str, Any]]:
    viewer_id = viewer.user_id if viewer else None
    wu = world.community_id
    return [
        {
            "id": world.post_id,
            "threadId": world.thread_id,
            "replyToId": None,
            "body": "Mill quotes 14,500",
            "deleted": False,
            "hidden": False,
            "hiddenReason": None,
            "author": author(world.member, wu, "Women's Union"),
            "mentionedOrganisationIds": [],
            "reactions": reactions(
                {"LIKE": 1, "THANKS": 1},
                mine=(("THANKS",) if viewer_id == world.member2.user_id else ())
                + (("LIKE",) if viewer_id == world.shg.user_id else ()),
            ),
            "createdAt": at(5),
            "editedAt": None,
            "canEdit": viewer_id == world.member.user_id,
            "canModerate": moderator,
            "version": 1,
        },
        {
            "id": world.reply_id,
            "threadId": world.thread_id,
            "replyToId": world.post_id,
            "body": "Thanks! Some Firm, Fishers' Group: do you sell feed?",
            "deleted": False,
            "hidden": False,
            "hiddenReason": None,
            "author": author(world.shg, wu, "Women's Union"),
            "mentionedOrganisationIds": [
                world.outsider.organisation_id,
                world.neighbour.organisation_id,
                wu,
            ],
            "reactions": reactions(),
            "createdAt": at(6),
            "editedAt": None,
            "canEdit": viewer_id == world.shg.user_id,
            "canModerate": moderator,
            "version": 1,
        },
        {
            "id": world.hidden_id,
            "threadId": world.thread_id,
            "replyToId": None,
            # a hidden post's words are for its author and the moderators
            "body": "Cheap feed, call 555"
            if moderator or viewer_id == world.member2.user_id
            else None,
            "deleted": False,
            "hidden": True,
            "hiddenReason": "Advertising"
            if moderator or viewer_id == world.member2.user_id
            else None,
            "author": author(world.member2, wu, "Women's Union"),
            "mentionedOrganisationIds": [],
            "reactions": reactions(),
            "createdAt": at(7),
            "editedAt": None,
            "canEdit": viewer_id == world.member2.user_id,
            "canModerate": moderator,
            "version": 2,
        },
    ]


def the_report(world: World) -> dict[str, Any]:
    return {
        "id": world.report_id,
        "postId": world.hidden_id,
        "threadId": world.thread_id,
        "postBody": "Cheap feed, call 555",
        "postHidden": True,
        "postAuthor": author(world.member2, world.community_id, "Women's Union"),
        "reason": "Looks like an advert",
        "status": "OPEN",
        "reporterName": "ito",
        "createdAt": at(9),
        "resolvedAt": None,
        "resolution": "",
    }


def listing(*forums: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"forums": {"totalCount": len(forums), "edges": [{"node": f} for f in forums]}}}


# ---------------------------------------------------------------------------------------------
# The positive controls: members and platform admins see it all


async def test_a_member_reads_the_members_forum_everywhere(gql: GraphQL, world: World) -> None:
    token = world.member.access_token
    # forums, also filtered by the cluster and by the community: the MEMBERS forum first
    # (latest activity), then the community's PUBLIC one
    both = listing(members_forum(world, moderator=False), public_forum(world))
    assert await gql(FORUMS, {}, token=token) == both
    assert await gql(FORUMS, {"clusterId": world.cluster_id}, token=token) == both
    assert await gql(FORUMS, {"organisationId": world.community_id}, token=token) == both
    assert await gql(FORUM, {"id": world.forum_id}, token=token) == {
        "data": {"forum": members_forum(world, moderator=False)}
    }
    assert await gql(THREADS, {"forumId": world.forum_id}, token=token) == {
        "data": {
            "threads": {
                "totalCount": 1,
                "edges": [{"node": the_thread(world, moderator=False)}],
            }
        }
    }
    assert await gql(THREAD, {"id": world.thread_id}, token=token) == {
        "data": {"thread": the_thread(world, moderator=False)}
    }
    assert await gql(POSTS, {"threadId": world.thread_id}, token=token) == {
        "data": {
            "posts": {
                "totalCount": 3,
                "edges": [
                    {"node": node} for node in the_posts(world, world.member, moderator=False)
                ],
            }
        }
    }
    # the report queue is the moderators': a member who reads the forum may be told so
    assert await gql(REPORTS, {"forumId": world.forum_id}, token=token) == query_error(
        "Only this forum's moderators may do this", "reports", "FORBIDDEN", None
    )


async def test_a_platform_admin_reads_and_moderates_the_members_forum(
    gql: GraphQL, world: World
) -> None:
    token = world.admin_token
    both = listing(members_forum(world, moderator=True), public_forum(world, moderator=True))
    assert await gql(FORUMS, {}, token=token) == both
    assert await gql(FORUMS, {"clusterId": world.cluster_id}, token=token) == both
    assert await gql(FORUMS, {"organisationId": world.community_id}, token=token) == both
    assert await gql(FORUM, {"id": world.forum_id}, token=token) == {
        "data": {"forum": members_forum(world, moderator=True)}
    }
    assert await gql(THREADS, {"forumId": world.forum_id}, token=token) == {
        "data": {
            "threads": {"totalCount": 1, "edges": [{"node": the_thread(world, moderator=True)}]}
        }
    }
    assert await gql(THREAD, {"id": world.thread_id}, token=token) == {
        "data": {"thread": the_thread(world, moderator=True)}
    }
    assert await gql(POSTS, {"threadId": world.thread_id}, token=token) == {
        "data": {
            "posts": {
                "totalCount": 3,
                "edges": [{"node": node} for node in the_posts(world, None, moderator=True)],
            }
        }
    }
    assert await gql(REPORTS, {"forumId": world.forum_id}, token=token) == {
        "data": {"reports": {"totalCount": 1, "edges": [{"node": the_report(world)}]}}
    }
    # and the mutations reach the forum: lock the thread, then resolve the report
    locked = await gql(THREAD_LOCK, {"id": world.thread_id}, token=token)
    assert locked == {
        "data": {
            "threadLock": {
                "thread": {
                    **the_thread(world, moderator=True),
                    "locked": True,
                    "lockedAt": at(11),
                    "version": 2,
                },
                "errors": [],
            }
        }
    }
    resolved = await gql(REPORT_RESOLVE, {"id": world.report_id}, token=token)
    assert resolved == {
        "data": {
            "reportResolve": {
                "report": {
                    **the_report(world),
                    "status": "RESOLVED",
                    "resolvedAt": at(11),
                    "resolution": "Dealt with",
                },
                "errors": [],
            }
        }
    }


# ---------------------------------------------------------------------------------------------
# Outsiders: lists and reads by id

PEOPLE = ("outsider", "neighbour", "stranger", "anonymous")


@pytest.mark.parametrize("who", PEOPLE)
async def test_outsiders_do_not_find_the_members_forum_in_any_list(
    gql: GraphQL, world: World, who: str
) -> None:
    token = token_of(world.people()[who])
    only_public = listing(public_forum(world))
    # then only the community's PUBLIC forum is listed and counted: not the MEMBERS one, nor
    # its thread count
    assert await gql(FORUMS, {}, token=token) == only_public
    assert await gql(FORUMS, {"clusterId": world.cluster_id}, token=token) == only_public
    assert await gql(FORUMS, {"organisationId": world.community_id}, token=token) == only_public
    assert await gql(
        "query($o: ID) { forums(organisationId: $o) { totalCount } }",
        {"o": world.community_id},
        token=token,
    ) == {"data": {"forums": {"totalCount": 1}}}


@pytest.mark.parametrize("who", PEOPLE)
async def test_outsiders_reading_by_id_find_nothing(gql: GraphQL, world: World, who: str) -> None:
    token = token_of(world.people()[who])
    unknown = str(uuid.uuid4())
    for forum_id in (world.forum_id, unknown):
        assert await gql(FORUM, {"id": forum_id}, token=token) == {"data": {"forum": None}}
        assert await gql(THREADS, {"forumId": forum_id}, token=token) == query_error(
            "Forum not found", "threads", "NOT_FOUND", "forumId"
        )
    for thread_id in (world.thread_id, unknown):
        assert await gql(THREAD, {"id": thread_id}, token=token) == {"data": {"thread": None}}
        assert await gql(POSTS, {"threadId": thread_id}, token=token) == query_error(
            "Thread not found", "posts", "NOT_FOUND", "threadId"
        )
    # the public thread of the same community is there, for contrast
    public = await gql(THREAD, {"id": world.public_thread_id}, token=token)
    assert public["data"]["thread"]["id"] == world.public_thread_id
    for forum_id in (world.forum_id, unknown):
        refused = await gql(REPORTS, {"forumId": forum_id}, token=token)
        if who == "anonymous":
            assert refused == query_error("Sign in to do this", "reports", "UNAUTHENTICATED")
        else:
            assert refused == query_error("Forum not found", "reports", "NOT_FOUND", "forumId")


# ---------------------------------------------------------------------------------------------
# Outsiders: every mutation that names a forum, thread, post or report


@dataclass(frozen=True)
class Targets:
    forum: str
    thread: str
    post: str
    hidden: str
    report: str

    @classmethod
    def of(cls, world: World) -> Targets:
        return cls(world.forum_id, world.thread_id, world.post_id, world.hidden_id, world.report_id)

    @classmethod
    def unknown(cls) -> Targets:
        return cls(*(str(uuid.uuid4()) for _ in range(5)))


@dataclass(frozen=True)
class Attempt:
    name: str  # the mutation's field
    result: str  # the payload's object field
    operation: str
    variables: Callable[[Targets, str], dict[str, Any]]  # (targets, caller's user id)
    refusal: dict[str, Any]  # the error for a signed-in caller naming something unknown


ATTEMPTS = {
    "threadCreate": Attempt(
        "threadCreate",
        "thread",
        THREAD_CREATE,
        lambda t, _: {"input": {"forumId": t.forum, "title": "Let me in", "body": "Hello"}},
        not_found("Forum", "forumId"),
    ),
    "postCreate": Attempt(
        "postCreate",
        "post",
        POST_CREATE,
        lambda t, _: {"input": {"threadId": t.thread, "body": "Hello"}},
        not_found("Thread", "threadId"),
    ),
    "postCreate with replyToId": Attempt(
        "postCreate",
        "post",
        POST_CREATE,
        lambda t, _: {"input": {"threadId": t.thread, "replyToId": t.post, "body": "Hello"}},
        not_found("Thread", "threadId"),
    ),
    "postEdit": Attempt(
        "postEdit",
        "post",
        POST_EDIT,
        lambda t, _: {"input": {"id": t.post, "body": "Changed"}},
        not_found("Post", "id"),
    ),
    "postDelete": Attempt(
        "postDelete", "post", POST_DELETE, lambda t, _: {"id": t.post}, not_found("Post", "id")
    ),
    "postReact": Attempt(
        "postReact",
        "post",
        POST_REACT,
        lambda t, _: {"input": {"postId": t.post, "reaction": "LIKE"}},
        not_found("Post", "postId"),
    ),
    "postReact taken back": Attempt(
        "postReact",
        "post",
        POST_REACT,
        lambda t, _: {"input": {"postId": t.post, "reaction": "LIKE", "active": False}},
        not_found("Post", "postId"),
    ),
    "postReport": Attempt(
        "postReport",
        "report",
        POST_REPORT,
        lambda t, _: {"input": {"postId": t.post, "reason": "Curious"}},
        not_found("Post", "postId"),
    ),
    "postHide": Attempt(
        "postHide",
        "post",
        POST_HIDE,
        lambda t, _: {"id": t.post, "reason": "Mine now"},
        not_found("Post", "id"),
    ),
    "postRestore": Attempt(
        "postRestore", "post", POST_RESTORE, lambda t, _: {"id": t.hidden}, not_found("Post", "id")
    ),
    "threadLock": Attempt(
        "threadLock",
        "thread",
        THREAD_LOCK,
        lambda t, _: {"id": t.thread},
        not_found("Thread", "id"),
    ),
    "threadPin": Attempt(
        "threadPin", "thread", THREAD_PIN, lambda t, _: {"id": t.thread}, not_found("Thread", "id")
    ),
    "forumUpdate": Attempt(
        "forumUpdate",
        "forum",
        FORUM_UPDATE,
        lambda t, _: {"input": {"id": t.forum, "title": "Taken over", "visibility": "PUBLIC"}},
        not_found("Forum", "id"),
    ),
    "forumModeratorSet": Attempt(
        "forumModeratorSet",
        "forum",
        FORUM_MODERATOR_SET,
        lambda t, me: {"forumId": t.forum, "userId": me},
        not_found("Forum", "forumId"),
    ),
    "reportResolve": Attempt(
        "reportResolve",
        "report",
        REPORT_RESOLVE,
        lambda t, _: {"id": t.report},
        not_found("Report", "id"),
    ),
}


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
async def test_every_mutation_answers_outsiders_as_if_nothing_were_there(
    gql: GraphQL, db: Database, world: World, attempt: str
) -> None:
    # Given the MEMBERS forum with its thread, posts, reactions and report
    mutation = ATTEMPTS[attempt]
    before = await snapshot(db)
    for who, account in world.people().items():
        token = token_of(account)
        me = account.user_id if account else str(uuid.uuid4())
        # when someone outside the community names them, and names ids that exist nowhere
        named = await gql(
            mutation.operation, mutation.variables(Targets.of(world), me), token=token
        )
        unknown = await gql(
            mutation.operation, mutation.variables(Targets.unknown(), me), token=token
        )
        # then both answers are the same: NOT_FOUND (never FORBIDDEN, which would confirm that
        # something is there), or UNAUTHENTICATED for an anonymous client
        refusal = mutation.refusal if account else UNAUTHENTICATED
        expected = {"data": {mutation.name: {mutation.result: None, "errors": [refusal]}}}
        assert (who, named) == (who, expected)
        assert (who, unknown) == (who, expected)
    # and nothing changed: no row of the forums, and nobody was notified
    assert await snapshot(db) == before


@pytest.mark.parametrize("who", ["outsider", "neighbour", "stranger"])
async def test_a_reply_naming_a_members_post_from_elsewhere_is_as_to_an_unknown_post(
    gql: GraphQL, db: Database, world: World, who: str
) -> None:
    # Given someone who may post in the community's PUBLIC thread
    account = world.people()[who]
    assert account is not None
    before = await snapshot(db)
    # when they reply there to a post of the MEMBERS thread, and to a post that does not exist
    answers = [
        await gql(
            POST_CREATE,
            {
                "input": {
                    "threadId": world.public_thread_id,
                    "replyToId": reply_to,
                    "body": "Hello",
                }
            },
            token=account.access_token,
        )
        for reply_to in (world.post_id, str(uuid.uuid4()))
    ]
    # then the answers are the same, and nothing was posted
    refusal = {
        "code": "VALIDATION",
        "message": "Reply to a post of the same thread",
        "field": "replyToId",
    }
    assert answers == [{"data": {"postCreate": {"post": None, "errors": [refusal]}}}] * 2
    assert await snapshot(db) == before


# Client-chosen ids (for safe retries) are another way to name something.

PROBES = {
    "threadCreate with the thread's id": (
        "threadCreate",
        "thread",
        THREAD_CREATE,
        lambda w, thread_id: {
            "input": {"id": thread_id, "forumId": w.forum_id, "title": "Let me in", "body": "Hi"}
        },
        not_found("Forum", "forumId"),
    ),
    "postCreate with a post's id": (
        "postCreate",
        "post",
        POST_CREATE,
        lambda w, post_id: {"input": {"id": post_id, "threadId": w.thread_id, "body": "Hi"}},
        not_found("Thread", "threadId"),
    ),
}


@pytest.mark.parametrize("probe", list(PROBES))
@pytest.mark.parametrize("who", ["outsider", "neighbour", "stranger"])
async def test_a_client_chosen_id_tells_outsiders_nothing(
    gql: GraphQL, db: Database, world: World, who: str, probe: str
) -> None:
    # Given the MEMBERS forum's thread and post, whose ids an outsider learnt somehow
    name, result, operation, variables, refusal = PROBES[probe]
    account = world.people()[who]
    assert account is not None
    before = await snapshot(db)
    existing = world.thread_id if name == "threadCreate" else world.post_id
    # when the outsider sends them as the id of a new thread or post of the MEMBERS forum,
    # and a fresh id for comparison
    named = await gql(operation, variables(world, existing), token=account.access_token)
    fresh = await gql(operation, variables(world, str(uuid.uuid4())), token=account.access_token)
    # then both answer NOT_FOUND alike: a CONFLICT ("this id belongs to another ...") would
    # confirm that the thread or post exists
    expected = {"data": {name: {result: None, "errors": [refusal]}}}
    assert fresh == expected
    assert named == expected
    assert await snapshot(db) == before


async def test_a_firm_reusing_a_members_forum_id_learns_nothing(
    gql: GraphQL, db: Database, world: World
) -> None:
    # Given a firm, which may not open forums at all
    before = await snapshot(db)
    answers = [
        await gql(
            FORUM_CREATE,
            {"input": {"id": forum_id, "title": "Our corner", "visibility": "PUBLIC"}},
            token=world.outsider.access_token,
        )
        for forum_id in (str(uuid.uuid4()), world.forum_id)
    ]
    # then the MEMBERS forum's id changes nothing about the answer
    refused = {
        "code": "FORBIDDEN",
        "message": "Forums belong to communities or to clusters",
        "field": None,
    }
    assert answers == [{"data": {"forumCreate": {"forum": None, "errors": [refused]}}}] * 2
    assert await snapshot(db) == before


async def test_a_former_member_cannot_read_back_the_forum_by_retrying_their_own_writes(
    gql: GraphQL, register: Any, db: Database, clock: ManualClock, world: World
) -> None:
    # Given a person of a firm who joined the community and wrote a thread and a post with
    # their own ids (as apps do, for safe retries)
    sato = await register("sato@example.org", world.cluster_id, name="Sato Farm")
    await join(gql, world.shg, sato)
    thread_id, post_id = str(uuid.uuid4()), str(uuid.uuid4())
    new_thread = {"id": thread_id, "forumId": world.forum_id, "title": "Seeds", "body": "Who?"}
    new_post = {"id": post_id, "threadId": world.thread_id, "body": "Me too"}
    ok(
        await gql(THREAD_CREATE, {"input": new_thread}, token=sato.access_token),
        "threadCreate",
        "thread",
    )
    ok(await gql(POST_CREATE, {"input": new_post}, token=sato.access_token), "postCreate", "post")
    # and the community goes on after they are removed from it
    removed = await gql(
        MEMBER_REMOVE,
        {"organisationId": world.community_id, "userId": sato.user_id},
        token=world.shg.access_token,
    )
    assert removed == {
        "data": {"organisationMemberRemove": {"removedUserId": sato.user_id, "errors": []}}
    }
    clock.advance(timedelta(minutes=1))
    ok(
        await gql(
            POST_CREATE,
            {"input": {"threadId": thread_id, "body": "Seeds here"}},
            token=world.shg.access_token,
        ),
        "postCreate",
        "post",
    )
    ok(
        await gql(
            POST_REACT,
            {"input": {"postId": post_id, "reaction": "AGREE"}},
            token=world.member.access_token,
        ),
        "postReact",
        "post",
    )
    before = await snapshot(db)
    # when the former member reads their thread: it is gone for them
    assert await gql(THREAD, {"id": thread_id}, token=sato.access_token) == {
        "data": {"thread": None}
    }
    # and when they "retry" creating the thread and the post
    thread_again = await gql(THREAD_CREATE, {"input": new_thread}, token=sato.access_token)
    post_again = await gql(POST_CREATE, {"input": new_post}, token=sato.access_token)
    # then they learn nothing of it either (not the replies, reactions or counts since)
    assert (thread_again, post_again) == (
        {"data": {"threadCreate": {"thread": None, "errors": [not_found("Forum", "forumId")]}}},
        {"data": {"postCreate": {"post": None, "errors": [not_found("Thread", "threadId")]}}},
    )
    assert await snapshot(db) == before


# ---------------------------------------------------------------------------------------------
# Notifications


async def test_a_mention_reaches_members_and_never_an_outsider(gql: GraphQL, world: World) -> None:
    # Given the reply by the community's admin that answers ito's post and mentions the firm,
    # the neighbouring community and the community itself, and kimura's post in ito's thread
    def inbox(*notes: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {
                "notifications": {
                    "totalCount": len(notes),
                    "edges": [{"node": note} for note in notes],
                }
            }
        }

    def note(kind: str, title: str, body: str, minutes: int) -> dict[str, Any]:
        return {
            "kind": kind,
            "title": title,
            "body": body,
            "subjectType": "FORUM_THREAD",
            "subjectId": world.thread_id,
            "createdAt": at(minutes),
            "readAt": None,
        }

    reply = "Thanks! Some Firm, Fishers' Group: do you sell feed?"
    # then ito, whose thread and post were answered, is told of both replies (newest first)
    assert await gql(INBOX, token=world.member.access_token) == inbox(
        note("FORUM_REPLY", "New reply: Feed prices", "Cheap feed, call 555", 7),
        note("FORUM_REPLY", "New reply: Feed prices", reply, 6),
    )
    # kimura, a member of a mentioned organisation, is told of the mention
    assert await gql(INBOX, token=world.member2.access_token) == inbox(
        note("FORUM_MENTION", "Your organisation was mentioned: Feed prices", reply, 6)
    )
    # the author is not told of their own post
    assert await gql(INBOX, token=world.shg.access_token) == inbox()
    # and the members of the mentioned firm and neighbouring community, who cannot read the
    # forum, are told nothing: not the thread's title, nor the post's words
    assert await gql(INBOX, token=world.outsider.access_token) == inbox()
    assert await gql(INBOX, token=world.neighbour.access_token) == inbox()
    assert await gql(INBOX, token=world.stranger.access_token) == inbox()


# ---------------------------------------------------------------------------------------------
# The postAdded subscription


async def test_only_readers_can_subscribe_to_a_members_thread(
    gql: GraphQL,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    world: World,
) -> None:
    broadcaster = InProcessBroadcaster()
    channel = service.post_channel(uuid.UUID(world.thread_id))
    async with live_server(settings, db, clock, broadcaster) as address:
        # when people outside the community subscribe to the thread, or to an unknown one
        for who, account in world.people().items():
            for thread_id in (world.thread_id, str(uuid.uuid4())):
                async with subscribed(address, token_of(account), thread_id) as ws:
                    answer = await receive(ws)
                # then each is told NOT_FOUND, as if the thread did not exist
                assert (who, answer) == (
                    who,
                    {
                        "id": "1",
                        "type": "next",
                        "payload": {
                            "data": None,
                            "errors": [
                                {
                                    "message": "Thread not found",
                                    "extensions": {"code": "NOT_FOUND", "field": "threadId"},
                                }
                            ],
                        },
                    },
                )
        assert await broadcaster.subscribers(channel) == 0
        # while a member and a platform admin subscribe and receive the next post
        async with (
            subscribed(address, world.member.access_token, world.thread_id) as member_ws,
            subscribed(address, world.admin_token, world.thread_id) as admin_ws,
        ):
            await until_listening(broadcaster, world.thread_id, count=2)
            # (made through the running server, whose broadcaster the subscriptions listen to)
            new_id = await post(address, world.shg.access_token, world.thread_id, "Boat on Friday")
            for ws in (member_ws, admin_ws):
                assert await receive(ws) == {
                    "id": "1",
                    "type": "next",
                    "payload": {
                        "data": {
                            "postAdded": {
                                "id": new_id,
                                "body": "Boat on Friday",
                                "author": {"displayName": "shg"},
                            }
                        }
                    },
                }


# ---------------------------------------------------------------------------------------------
# CLUSTER forums


async def test_a_cluster_forum_is_read_by_members_of_any_organisation_of_the_cluster(
    gql: GraphQL,
    register: Any,
    db: Database,
    clock: ManualClock,
    cluster_id: str,
    platform_admin_token: str,
) -> None:
    other_cluster_id = await second_cluster(db)
    lumber = await register("lumber@example.org", cluster_id, name="Maniwa Lumber")
    # a person whose token acts for their rice mill in the other cluster, who is also a member
    # of the lumber firm in this one
    dual = await register("dual@example.org", other_cluster_id, name="Dual Rice Mill")
    await join(gql, lumber, dual)
    stranger = await register("stranger@example.org", other_cluster_id, name="Rice Mill")
    clock.advance(timedelta(minutes=1))
    forum = ok(
        await gql(
            FORUM_CREATE,
            {
                "input": {
                    "title": "Wood cluster square",
                    "visibility": "CLUSTER",
                    "clusterId": cluster_id,
                }
            },
            token=platform_admin_token,
        ),
        "forumCreate",
        "forum",
    )
    clock.advance(timedelta(minutes=1))
    thread = ok(
        await gql(
            THREAD_CREATE,
            {"input": {"forumId": forum["id"], "title": "Kiln time", "body": "Anyone?"}},
            token=lumber.access_token,
        ),
        "threadCreate",
        "thread",
    )
    expected_forum = {
        "id": forum["id"],
        "title": "Wood cluster square",
        "description": "",
        "visibility": "CLUSTER",
        "cluster": {"id": cluster_id, "slug": "test-wood"},
        "organisation": None,
        "threadCount": 1,
        "lastActivityAt": at(2),
        "canModerate": False,
        "version": 1,
        "createdAt": at(1),
    }
    expected_thread = {
        "id": thread["id"],
        "forumId": forum["id"],
        "forumTitle": "Wood cluster square",
        "title": "Kiln time",
        "body": "Anyone?",
        "language": "en",
        "tags": [],
        "author": author(lumber, lumber.organisation_id, "Maniwa Lumber"),
        "pinned": False,
        "locked": False,
        "lockedAt": None,
        "replyCount": 0,
        "lastActivityAt": at(2),
        "createdAt": at(2),
        "canModerate": False,
        "version": 1,
    }
    # then the person with two memberships reads it with the token of the other cluster
    token = dual.access_token
    assert await gql(FORUMS, {}, token=token) == listing(expected_forum)
    assert await gql(FORUMS, {"clusterId": cluster_id}, token=token) == listing(expected_forum)
    assert await gql(FORUM, {"id": forum["id"]}, token=token) == {"data": {"forum": expected_forum}}
    assert await gql(THREADS, {"forumId": forum["id"]}, token=token) == {
        "data": {"threads": {"totalCount": 1, "edges": [{"node": expected_thread}]}}
    }
    assert await gql(THREAD, {"id": thread["id"]}, token=token) == {
        "data": {"thread": expected_thread}
    }
    assert await gql(POSTS, {"threadId": thread["id"]}, token=token) == {
        "data": {"posts": {"totalCount": 0, "edges": []}}
    }
    # and writes in it, for the organisation the token acts for
    clock.advance(timedelta(minutes=1))
    posted = await gql(
        POST_CREATE, {"input": {"threadId": thread["id"], "body": "Thursday"}}, token=token
    )
    assert posted["data"]["postCreate"]["errors"] == []
    assert posted["data"]["postCreate"]["post"]["author"] == author(
        dual, dual.organisation_id, "Dual Rice Mill"
    )
    # while someone only of the other cluster, and an anonymous client, find nothing
    for who, account in (("stranger", stranger), ("anonymous", None)):
        token = token_of(account)
        assert (who, await gql(FORUMS, {}, token=token)) == (who, listing())
        assert (who, await gql(FORUMS, {"clusterId": cluster_id}, token=token)) == (
            who,
            listing(),
        )
        assert (who, await gql(FORUM, {"id": forum["id"]}, token=token)) == (
            who,
            {"data": {"forum": None}},
        )
        assert (who, await gql(THREADS, {"forumId": forum["id"]}, token=token)) == (
            who,
            query_error("Forum not found", "threads", "NOT_FOUND", "forumId"),
        )
        assert (who, await gql(THREAD, {"id": thread["id"]}, token=token)) == (
            who,
            {"data": {"thread": None}},
        )
        assert (who, await gql(POSTS, {"threadId": thread["id"]}, token=token)) == (
            who,
            query_error("Thread not found", "posts", "NOT_FOUND", "threadId"),
        )
        refused = await gql(
            POST_CREATE, {"input": {"threadId": thread["id"], "body": "Hi"}}, token=token
        )
        error = not_found("Thread", "threadId") if account else UNAUTHENTICATED
        assert (who, refused) == (
            who,
            {"data": {"postCreate": {"post": None, "errors": [error]}}},
        )


# ---------------------------------------------------------------------------------------------
# PUBLIC forums


async def test_anyone_reads_a_public_forum_but_only_the_signed_in_write(
    gql: GraphQL,
    register: Any,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    cluster_id: str,
    platform_admin_token: str,
) -> None:
    lumber = await register("lumber@example.org", cluster_id, name="Maniwa Lumber")
    clock.advance(timedelta(minutes=1))
    forum = ok(
        await gql(
            FORUM_CREATE,
            {"input": {"title": "Open square", "visibility": "PUBLIC", "clusterId": cluster_id}},
            token=platform_admin_token,
        ),
        "forumCreate",
        "forum",
    )
    clock.advance(timedelta(minutes=1))
    thread = ok(
        await gql(
            THREAD_CREATE,
            {"input": {"forumId": forum["id"], "title": "Open day", "body": "Come by"}},
            token=lumber.access_token,
        ),
        "threadCreate",
        "thread",
    )
    clock.advance(timedelta(minutes=1))
    first_post = ok(
        await gql(
            POST_CREATE,
            {"input": {"threadId": thread["id"], "body": "We will"}},
            token=lumber.access_token,
        ),
        "postCreate",
        "post",
    )
    expected_forum = {
        "id": forum["id"],
        "title": "Open square",
        "description": "",
        "visibility": "PUBLIC",
        "cluster": {"id": cluster_id, "slug": "test-wood"},
        "organisation": None,
        "threadCount": 1,
        "lastActivityAt": at(3),
        "canModerate": False,
        "version": 1,
        "createdAt": at(1),
    }
    expected_thread = {
        "id": thread["id"],
        "forumId": forum["id"],
        "forumTitle": "Open square",
        "title": "Open day",
        "body": "Come by",
        "language": "en",
        "tags": [],
        "author": author(lumber, lumber.organisation_id, "Maniwa Lumber"),
        "pinned": False,
        "locked": False,
        "lockedAt": None,
        "replyCount": 1,
        "lastActivityAt": at(3),
        "createdAt": at(2),
        "canModerate": False,
        "version": 1,
    }
    expected_post = {
        "id": first_post["id"],
        "threadId": thread["id"],
        "replyToId": None,
        "body": "We will",
        "deleted": False,
        "hidden": False,
        "hiddenReason": None,
        "author": author(lumber, lumber.organisation_id, "Maniwa Lumber"),
        "mentionedOrganisationIds": [],
        "reactions": reactions(),
        "createdAt": at(3),
        "editedAt": None,
        "canEdit": False,
        "canModerate": False,
        "version": 1,
    }
    # then an anonymous client reads all of it
    assert await gql(FORUMS, {}, token="") == listing(expected_forum)
    assert await gql(FORUMS, {"clusterId": cluster_id}, token="") == listing(expected_forum)
    assert await gql(FORUM, {"id": forum["id"]}, token="") == {"data": {"forum": expected_forum}}
    assert await gql(THREADS, {"forumId": forum["id"]}, token="") == {
        "data": {"threads": {"totalCount": 1, "edges": [{"node": expected_thread}]}}
    }
    assert await gql(THREAD, {"id": thread["id"]}, token="") == {
        "data": {"thread": expected_thread}
    }
    assert await gql(POSTS, {"threadId": thread["id"]}, token="") == {
        "data": {"posts": {"totalCount": 1, "edges": [{"node": expected_post}]}}
    }
    # but cannot write: every attempt asks to sign in, and nothing changes
    before = await snapshot(db)
    attempts = {
        "threadCreate": (
            THREAD_CREATE,
            {"input": {"forumId": forum["id"], "title": "Hello", "body": "Hi"}},
        ),
        "postCreate": (POST_CREATE, {"input": {"threadId": thread["id"], "body": "Hi"}}),
        "postReact": (POST_REACT, {"input": {"postId": first_post["id"], "reaction": "LIKE"}}),
        "postReport": (POST_REPORT, {"input": {"postId": first_post["id"], "reason": "Spam!"}}),
    }
    results = {"threadCreate": "thread", "postCreate": "post", "postReact": "post"}
    for name, (operation, variables) in attempts.items():
        assert await gql(operation, variables, token="") == {
            "data": {name: {results.get(name, "report"): None, "errors": [UNAUTHENTICATED]}}
        }
    assert await snapshot(db) == before
    # and an anonymous subscriber receives the thread's new posts
    broadcaster = InProcessBroadcaster()
    async with (
        live_server(settings, db, clock, broadcaster) as address,
        subscribed(address, None, thread["id"]) as ws,
    ):
        await until_listening(broadcaster, thread["id"])
        again = await post(address, lumber.access_token, thread["id"], "See you")
        assert await receive(ws) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "postAdded": {
                        "id": again,
                        "body": "See you",
                        "author": {"displayName": "lumber"},
                    }
                }
            },
        }
