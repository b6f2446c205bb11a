"""GraphQL types, inputs and payloads of forums, threads, posts and reports."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from backend.forums import service
from backend.forums.models import ForumVisibility, Reaction, ReportStatus
from backend.graphql.types import Payload
from backend.identity.schema import ClusterType, OrganisationType

strawberry.enum(
    ForumVisibility,
    description="PUBLIC: anyone, also without signing in. CLUSTER: signed-in members of "
    "organisations in the forum's cluster. MEMBERS: the owning community's members only.",
)
strawberry.enum(Reaction, description="The reactions a post can get.")
REACTIONS = tuple(Reaction)  # in their fixed order
strawberry.enum(ReportStatus, description="OPEN until a moderator resolves it.")


@strawberry.type(description="Who wrote a thread or a post.")
class ForumAuthor:
    user_id: strawberry.ID | None = strawberry.field(
        description="The person's id; null if their account is gone."
    )
    display_name: str = strawberry.field(description="Their name.")
    organisation_id: strawberry.ID | None = strawberry.field(
        description="The organisation they wrote for."
    )
    organisation_name: str | None = strawberry.field(description="Its name.")

    @classmethod
    def of(cls, user: Any, organisation: Any) -> ForumAuthor:
        return cls.of_columns(
            user.id if user else None,
            user.display_name if user else None,
            organisation.id if organisation else None,
            organisation.name if organisation else None,
        )

    @classmethod
    def of_columns(
        cls,
        user_id: Any,
        display_name: str | None,
        organisation_id: Any,
        organisation_name: str | None,
    ) -> ForumAuthor:
        """From the author's columns (null ids: the account or organisation is gone)."""
        return cls(
            user_id=strawberry.ID(str(user_id)) if user_id else None,
            display_name=display_name
            if user_id and display_name is not None
            else "(former member)",
            organisation_id=strawberry.ID(str(organisation_id)) if organisation_id else None,
            organisation_name=organisation_name if organisation_id else None,
        )


@strawberry.type(name="Forum", description="A forum of a community, or of a whole cluster.")
class ForumType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="What it is for.")
    visibility: ForumVisibility = strawberry.field(description="Who may read it.")
    cluster: ClusterType = strawberry.field(description="Its cluster.")
    organisation: OrganisationType | None = strawberry.field(
        description="The owning community; null for a cluster forum."
    )
    thread_count: int = strawberry.field(description="Threads in it.")
    last_activity_at: datetime = strawberry.field(description="Latest thread or post.")
    can_moderate: bool = strawberry.field(description="Whether the viewer moderates it.")
    version: int = strawberry.field(description="Send back as `expectedVersion` when updating.")
    created_at: datetime = strawberry.field(description="When it was opened.")

    @classmethod
    def of(cls, view: service.ForumView) -> ForumType:
        forum = view.forum
        return cls(
            id=strawberry.ID(str(forum.id)),
            title=forum.title,
            description=forum.description,
            visibility=forum.visibility,
            cluster=ClusterType.of(forum.cluster),
            organisation=OrganisationType.of(forum.organisation) if forum.organisation else None,
            thread_count=forum.thread_count,
            last_activity_at=forum.last_activity_at,
            can_moderate=view.moderates,
            version=forum.version,
            created_at=forum.created_at,
        )


@strawberry.type(name="Thread", description="A conversation in a forum.")
class ThreadType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    forum_id: strawberry.ID = strawberry.field(description="Its forum.")
    forum_title: str = strawberry.field(description="Its forum's title.")
    title: str = strawberry.field(description="Title.")
    body: str = strawberry.field(description="The opening text.")
    language: str = strawberry.field(description="BCP 47 tag of its language.")
    tags: list[str] = strawberry.field(description="Lower-cased tags.")
    author: ForumAuthor = strawberry.field(description="Who started it.")
    pinned: bool = strawberry.field(description="Shown first in its forum.")
    locked: bool = strawberry.field(description="Locked threads take no new posts.")
    locked_at: datetime | None = strawberry.field(description="When it was locked.")
    reply_count: int = strawberry.field(description="Posts in it, not counting deleted ones.")
    last_activity_at: datetime = strawberry.field(description="When it was last posted in.")
    created_at: datetime = strawberry.field(description="When it was started.")
    can_moderate: bool = strawberry.field(description="Whether the viewer moderates it.")
    viewer_follows: bool = strawberry.field(
        description="Whether the viewer follows it: its changes then reach their app's offline "
        "copy (`changes`). Starting a thread or replying in it follows it."
    )
    version: int = strawberry.field(description="Bumped on every change.")

    @classmethod
    def of(cls, view: service.ThreadView) -> ThreadType:
        thread = view.thread
        return cls(
            id=strawberry.ID(str(thread.id)),
            forum_id=strawberry.ID(str(thread.forum_id)),
            forum_title=thread.forum.title,
            title=thread.title,
            body=thread.body,
            language=thread.language,
            tags=list(thread.tags),
            author=ForumAuthor.of(thread.author, thread.author_organisation),
            pinned=thread.pinned,
            locked=thread.locked_at is not None,
            locked_at=thread.locked_at,
            reply_count=thread.reply_count,
            last_activity_at=thread.last_activity_at,
            created_at=thread.created_at,
            can_moderate=view.moderates,
            viewer_follows=view.following,
            version=thread.version,
        )

    @classmethod
    def of_line(cls, line: service.ThreadLine) -> ThreadType:
        """From the row the thread screen reads (``service.get_thread``)."""
        row = line.row
        return cls(
            id=strawberry.ID(str(row.id)),
            forum_id=strawberry.ID(str(row.forum_id)),
            forum_title=row.forum_title,
            title=row.title,
            body=row.body,
            language=row.language,
            tags=list(row.tags),
            author=ForumAuthor.of_columns(
                row.author_user_id,
                row.author_name,
                row.author_organisation_found,
                row.author_organisation_name,
            ),
            pinned=row.pinned,
            locked=row.locked_at is not None,
            locked_at=row.locked_at,
            reply_count=row.reply_count,
            last_activity_at=row.last_activity_at,
            created_at=row.created_at,
            can_moderate=line.moderates,
            viewer_follows=bool(row.following),
            version=row.version,
        )


@strawberry.type(description="How many people reacted one way, and whether the viewer did.")
class ReactionCount:
    reaction: Reaction = strawberry.field(description="The reaction.")
    count: int = strawberry.field(description="How many.")
    mine: bool = strawberry.field(description="Whether the viewer reacted so.")


# Kept and shared by the posts of every page (GraphQL only reads what a resolver gives back): a
# page of thirty posts with reactions made some hundred of them.
@functools.lru_cache(maxsize=1024)
def _reaction_count(reaction: Reaction, count: int, mine: bool) -> ReactionCount:
    return ReactionCount(reaction=reaction, count=count, mine=mine)


# A post nobody reacted to (most of a page): one list for all of them, read and never changed
# (GraphQL only reads what a resolver gives back).
_NO_REACTIONS = [_reaction_count(reaction, 0, False) for reaction in REACTIONS]


@strawberry.type(name="Post", description="A reply in a thread.")
class PostType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    thread_id: strawberry.ID = strawberry.field(description="Its thread.")
    reply_to_id: strawberry.ID | None = strawberry.field(
        description="The post it answers; null when it answers the thread."
    )
    body: str | None = strawberry.field(
        description="The text; null when deleted, or hidden by a moderator (its author and "
        "the moderators still see a hidden post's text)."
    )
    deleted: bool = strawberry.field(description="Deleted by its author.")
    hidden: bool = strawberry.field(description="Hidden by a moderator.")
    hidden_reason: str | None = strawberry.field(
        description="Why it was hidden; for its author and the moderators."
    )
    author: ForumAuthor = strawberry.field(description="Who wrote it.")
    mentioned_organisation_ids: list[strawberry.ID] = strawberry.field(
        description="Organisations the author mentioned."
    )
    reactions: list[ReactionCount] = strawberry.field(
        description="Every reaction, with counts (0 included), in a fixed order."
    )
    created_at: datetime = strawberry.field(description="When it was posted.")
    edited_at: datetime | None = strawberry.field(description="When it was last edited.")
    can_edit: bool = strawberry.field(description="Whether the viewer wrote it.")
    can_moderate: bool = strawberry.field(description="Whether the viewer moderates it.")
    version: int = strawberry.field(description="Send back as `expectedVersion` when editing.")

    @classmethod
    def of(cls, view: service.PostView, viewer_id: uuid.UUID | None = None) -> PostType:
        post = view.post
        readable = post.deleted_at is None and (post.hidden_at is None or view.sees_hidden)
        return cls(
            id=strawberry.ID(str(post.id)),
            thread_id=strawberry.ID(str(post.thread_id)),
            reply_to_id=strawberry.ID(str(post.reply_to_id)) if post.reply_to_id else None,
            body=post.body if readable else None,
            deleted=post.deleted_at is not None,
            hidden=post.hidden_at is not None,
            hidden_reason=post.hidden_reason if post.hidden_at and view.sees_hidden else None,
            author=ForumAuthor.of(post.author, post.author_organisation),
            mentioned_organisation_ids=[
                strawberry.ID(value) for value in post.mentioned_organisation_ids
            ],
            reactions=[
                ReactionCount(
                    reaction=reaction,
                    count=view.reactions.get(reaction, 0),
                    mine=reaction in view.mine,
                )
                for reaction in Reaction
            ],
            created_at=post.created_at,
            edited_at=post.edited_at,
            can_edit=viewer_id is not None and post.author_id == viewer_id,
            can_moderate=view.moderates,
            version=post.version,
        )

    @classmethod
    def of_line(
        cls,
        line: service.PostLine,
        viewer_id: uuid.UUID | None = None,
        shared: dict[Any, Any] | None = None,
    ) -> PostType:
        """From the row the thread screen reads (``service.list_posts``): what ``of`` gives.
        ``shared``: what the page's other posts already made, for this one to reuse (a page's
        posts have one thread and few authors; GraphQL only reads what a resolver gives back,
        so posts may share objects): their authors by their columns, the thread's id by its
        UUID."""
        post = line.row
        hidden = post.hidden_at is not None
        deleted = post.deleted_at is not None
        counts, mine = line.reactions, line.mine
        if shared is None:
            shared = {}
        written_by = (
            post.author_user_id,
            post.author_name,
            post.author_organisation_found,
            post.author_organisation_name,
        )
        author = shared.get(written_by)
        if author is None:
            author = shared[written_by] = ForumAuthor.of_columns(*written_by)
        thread_id = shared.get(post.thread_id)
        if thread_id is None:
            thread_id = shared[post.thread_id] = strawberry.ID(str(post.thread_id))
        return cls(
            id=strawberry.ID(str(post.id)),
            thread_id=thread_id,
            reply_to_id=strawberry.ID(str(post.reply_to_id)) if post.reply_to_id else None,
            body=post.body if not deleted and (not hidden or line.sees_hidden) else None,
            deleted=deleted,
            hidden=hidden,
            hidden_reason=post.hidden_reason if hidden and line.sees_hidden else None,
            author=author,
            mentioned_organisation_ids=[
                strawberry.ID(value) for value in post.mentioned_organisation_ids
            ],
            reactions=[
                _reaction_count(reaction, counts.get(reaction, 0), reaction in mine)
                for reaction in REACTIONS
            ]
            if counts or mine
            else _NO_REACTIONS,
            created_at=post.created_at,
            edited_at=post.edited_at,
            can_edit=viewer_id is not None and post.author_id == viewer_id,
            can_moderate=line.moderates,
            version=post.version,
        )


@strawberry.enum(description="What a threadPosts event says.")
class ThreadPostEventKind(Enum):
    SUBSCRIBED = strawberry.enum_value(
        "SUBSCRIBED",
        description="The first event: the subscription is live, every post from now on "
        "will come. Load the thread's latest posts now.",
    )
    POST_ADDED = strawberry.enum_value("POST_ADDED", description="A post was added.")


@strawberry.type(
    description="An event of a thread's live posts: first SUBSCRIBED, then each POST_ADDED."
)
class ThreadPostEvent:
    kind: ThreadPostEventKind = strawberry.field(description="SUBSCRIBED or POST_ADDED.")
    sequence: int = strawberry.field(
        description="SUBSCRIBED: how many posts the thread has. POST_ADDED: the post's position "
        "in the thread (1 for the first, in the order of the thread's pages). More than one "
        "past the highest you have seen: posts were missed, load the ones after your newest."
    )
    post: PostType | None = strawberry.field(description="The post added; null for SUBSCRIBED.")

    @classmethod
    def of(cls, event: service.LiveEvent, viewer_id: uuid.UUID | None) -> ThreadPostEvent:
        if event.view is None:
            return cls(kind=ThreadPostEventKind.SUBSCRIBED, sequence=event.sequence, post=None)
        return cls(
            kind=ThreadPostEventKind.POST_ADDED,
            sequence=event.sequence,
            post=PostType.of(event.view, viewer_id),
        )


@strawberry.type(name="PostReport", description="A reader's report of a post.")
class ReportType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    post_id: strawberry.ID = strawberry.field(description="The post reported.")
    thread_id: strawberry.ID = strawberry.field(description="Its thread.")
    post_body: str | None = strawberry.field(
        description="What the post says: for moderators; for the reporter only while the post "
        "is neither hidden nor deleted."
    )
    post_hidden: bool = strawberry.field(description="Whether the post is hidden now.")
    post_author: ForumAuthor = strawberry.field(description="Who wrote the post.")
    reason: str = strawberry.field(description="Why it was reported.")
    status: ReportStatus = strawberry.field(description="Open or resolved.")
    reporter_name: str | None = strawberry.field(description="Who reported it.")
    created_at: datetime = strawberry.field(description="When.")
    resolved_at: datetime | None = strawberry.field(description="When it was resolved.")
    resolution: str = strawberry.field(description="What the moderator did or said.")

    @classmethod
    def of(cls, view: service.ReportView) -> ReportType:
        report = view.report
        post = report.post
        return cls(
            id=strawberry.ID(str(report.id)),
            post_id=strawberry.ID(str(post.id)),
            thread_id=strawberry.ID(str(post.thread_id)),
            post_body=post.body if view.sees_post else None,
            post_hidden=post.hidden_at is not None,
            post_author=ForumAuthor.of(post.author, post.author_organisation),
            reason=report.reason,
            status=report.status,
            reporter_name=report.reporter.display_name if report.reporter else None,
            created_at=report.created_at,
            resolved_at=report.resolved_at,
            resolution=report.resolution,
        )


@strawberry.input(description="A new forum.")
class ForumCreateInput:
    title: str = strawberry.field(description="3 to 200 characters.")
    visibility: ForumVisibility = strawberry.field(description="Who may read it.")
    cluster_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The cluster: required for a cluster forum (platform admins); a community's "
        "forum is in the community's cluster.",
    )
    description: str = strawberry.field(default="", description="What it is for.")
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retry creates nothing new."
    )


@strawberry.input(description="Changes to a forum; omitted fields stay.")
class ForumUpdateInput:
    id: strawberry.ID = strawberry.field(description="The forum.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New description.")
    visibility: ForumVisibility | None = strawberry.field(
        default=None, description="New visibility."
    )


@strawberry.input(description="A new thread.")
class ThreadCreateInput:
    forum_id: strawberry.ID = strawberry.field(description="The forum.")
    title: str = strawberry.field(description="3 to 200 characters.")
    body: str = strawberry.field(description="The opening text.")
    language: str = strawberry.field(default="en", description="BCP 47 tag.")
    tags: list[str] = strawberry.field(default_factory=list, description="Up to 10 tags.")
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retry creates nothing new."
    )


@strawberry.input(description="A new post.")
class PostCreateInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    body: str = strawberry.field(description="The text, up to 20,000 characters.")
    reply_to_id: strawberry.ID | None = strawberry.field(
        default=None, description="The post answered; omitted to answer the thread."
    )
    mentioned_organisation_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Organisations mentioned (from the app's mention picker); their members "
        "who can read the forum are told.",
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retry creates nothing new."
    )


@strawberry.input(description="A post's new text.")
class PostEditInput:
    id: strawberry.ID = strawberry.field(description="The post.")
    body: str = strawberry.field(description="The new text.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw."
    )


@strawberry.input(description="A reaction to a post.")
class PostReactInput:
    post_id: strawberry.ID = strawberry.field(description="The post.")
    reaction: Reaction = strawberry.field(description="Which reaction.")
    active: bool = strawberry.field(
        default=True, description="False takes the viewer's reaction back."
    )


@strawberry.input(description="A report of a post to the forum's moderators.")
class PostReportInput:
    post_id: strawberry.ID = strawberry.field(description="The post.")
    reason: str = strawberry.field(description="What is wrong with it, 3 to 1000 characters.")


@strawberry.type(description="The forum after a mutation.")
class ForumPayload(Payload):
    forum: ForumType | None = strawberry.field(default=None, description="The forum.")


@strawberry.type(description="The thread after a mutation.")
class ThreadPayload(Payload):
    thread: ThreadType | None = strawberry.field(default=None, description="The thread.")


@strawberry.type(description="The post after a mutation.")
class PostPayload(Payload):
    post: PostType | None = strawberry.field(default=None, description="The post.")


@strawberry.type(description="The report after a mutation.")
class ReportPayload(Payload):
    report: ReportType | None = strawberry.field(default=None, description="The report.")
