"""Forums in GraphQL: queries, mutations and the ``postAdded`` subscription."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.forums import service
from backend.forums.models import ForumVisibility, Reaction, ReportStatus
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import Payload, context_of, parse_id, parse_optional_id, signed_in
from backend.identity.schema import ClusterType, OrganisationType
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest

strawberry.enum(
    ForumVisibility,
    description="PUBLIC: anyone, also without signing in. CLUSTER: signed-in members of "
    "organisations in the forum's cluster. MEMBERS: the owning community's members only.",
)
strawberry.enum(Reaction, description="The reactions a post can get.")
strawberry.enum(ReportStatus, description="OPEN until a moderator resolves it.")

logger = logging.getLogger("eic.forums")

ForumId = Annotated[strawberry.ID, strawberry.argument(description="The forum's id.")]
ThreadId = Annotated[strawberry.ID, strawberry.argument(description="The thread's id.")]
PostId = Annotated[strawberry.ID, strawberry.argument(description="The post's id.")]


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
        return cls(
            user_id=strawberry.ID(str(user.id)) if user else None,
            display_name=user.display_name if user else "(former member)",
            organisation_id=strawberry.ID(str(organisation.id)) if organisation else None,
            organisation_name=organisation.name if organisation else None,
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


@strawberry.type(description="How many people reacted one way, and whether the viewer did.")
class ReactionCount:
    reaction: Reaction = strawberry.field(description="The reaction.")
    count: int = strawberry.field(description="How many.")
    mine: bool = strawberry.field(description="Whether the viewer reacted so.")


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


def _viewer_id(info: strawberry.Info) -> uuid.UUID | None:
    viewer = context_of(info).viewer
    return getattr(viewer, "user_id", None)


def _post(info: strawberry.Info, view: service.PostView) -> PostPayload:
    return PostPayload(post=PostType.of(view, _viewer_id(info)))


@strawberry.type
class ForumsQuery:
    @strawberry.field(description="Forums the viewer may read, latest activity first.")
    async def forums(
        self,
        info: strawberry.Info,
        cluster_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this cluster's.")
        ] = None,
        organisation_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this community's.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[ForumType]:
        context = context_of(info)
        page = await service.list_forums(
            db=context.db,
            viewer=context.viewer,
            cluster_id=parse_optional_id(cluster_id, "clusterId"),
            organisation_id=parse_optional_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[ForumType].of(page, ForumType.of)

    @strawberry.field(description="One forum; null if there is none the viewer may read.")
    async def forum(self, info: strawberry.Info, id: ForumId) -> ForumType | None:
        context = context_of(info)
        try:
            forum_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_forum(db=context.db, viewer=context.viewer, forum_id=forum_id)
        return ForumType.of(view) if view else None

    @strawberry.field(description="A forum's threads: pinned first, then latest activity.")
    async def threads(
        self,
        info: strawberry.Info,
        forum_id: ForumId,
        tag: Annotated[str | None, strawberry.argument(description="Only with this tag.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[ThreadType]:
        context = context_of(info)
        page = await service.list_threads(
            db=context.db,
            viewer=context.viewer,
            forum_id=parse_id(forum_id, "forumId"),
            tag=tag,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[ThreadType].of(page, ThreadType.of)

    @strawberry.field(description="One thread; null if there is none the viewer may read.")
    async def thread(self, info: strawberry.Info, id: ThreadId) -> ThreadType | None:
        context = context_of(info)
        try:
            thread_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_thread(db=context.db, viewer=context.viewer, thread_id=thread_id)
        return ThreadType.of(view) if view else None

    @strawberry.field(description="A thread's posts, oldest first, with reaction counts.")
    async def posts(
        self, info: strawberry.Info, thread_id: ThreadId, first: First = None, after: After = None
    ) -> Connection[PostType]:
        context = context_of(info)
        viewer_id = _viewer_id(info)
        page = await service.list_posts(
            db=context.db,
            viewer=context.viewer,
            thread_id=parse_id(thread_id, "threadId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PostType].of(page, lambda view: PostType.of(view, viewer_id))

    @strawberry.field(
        description="A forum's reported posts, oldest first: for its moderators.",
        permission_classes=[IsAuthenticated],
    )
    async def reports(
        self,
        info: strawberry.Info,
        forum_id: ForumId,
        status: Annotated[
            ReportStatus | None,
            strawberry.argument(description="OPEN when omitted; null for every report."),
        ] = ReportStatus.OPEN,
        first: First = None,
        after: After = None,
    ) -> Connection[ReportType]:
        context = context_of(info)
        page = await service.list_reports(
            db=context.db,
            viewer=signed_in(info),
            forum_id=parse_id(forum_id, "forumId"),
            status=status,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[ReportType].of(page, ReportType.of)


async def _on_post(info: strawberry.Info, action: Any, id: strawberry.ID, **extra: Any) -> Any:
    context = context_of(info)
    view = await action(
        db=context.db,
        viewer=signed_in(info),
        post_id=parse_id(id, "id"),
        now=context.clock.now(),
        **extra,
    )
    return _post(info, view)


async def _on_thread(info: strawberry.Info, id: strawberry.ID, **flags: bool) -> ThreadPayload:
    context = context_of(info)
    view = await service.set_thread_flag(
        db=context.db,
        viewer=signed_in(info),
        thread_id=parse_id(id, "id"),
        now=context.clock.now(),
        **flags,
    )
    return ThreadPayload(thread=ThreadType.of(view))


@strawberry.type
class ForumsMutation:
    @payload_mutation(
        description="Open a forum: a community's admins for their community, platform admins "
        "for a cluster.",
        gates=(IsAuthenticated,),
    )
    async def forum_create(
        self,
        info: strawberry.Info,
        input: Annotated[ForumCreateInput, strawberry.argument(description="The new forum.")],
    ) -> ForumPayload:
        context = context_of(info)
        view = await service.create_forum(
            db=context.db,
            viewer=signed_in(info),
            draft=service.ForumDraft(
                id=parse_optional_id(input.id, "id"),
                title=input.title,
                description=input.description,
                visibility=input.visibility,
                cluster_id=parse_optional_id(input.cluster_id, "clusterId"),
            ),
            now=context.clock.now(),
        )
        return ForumPayload(forum=ForumType.of(view))

    @payload_mutation(description="Change a forum you moderate.", gates=(IsAuthenticated,))
    async def forum_update(
        self,
        info: strawberry.Info,
        input: Annotated[ForumUpdateInput, strawberry.argument(description="The changes.")],
    ) -> ForumPayload:
        context = context_of(info)
        view = await service.update_forum(
            db=context.db,
            viewer=signed_in(info),
            forum_id=parse_id(input.id, "id"),
            title=input.title,
            description=input.description,
            visibility=input.visibility,
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return ForumPayload(forum=ForumType.of(view))

    @payload_mutation(
        description="Name a moderator of a forum you moderate (someone who can read it), or, "
        "with `remove: true`, un-name them.",
        gates=(IsAuthenticated,),
    )
    async def forum_moderator_set(
        self,
        info: strawberry.Info,
        forum_id: ForumId,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The person.")],
        remove: Annotated[bool, strawberry.argument(description="Un-name them.")] = False,
    ) -> ForumPayload:
        view = await service.add_moderator(
            db=context_of(info).db,
            viewer=signed_in(info),
            forum_id=parse_id(forum_id, "forumId"),
            user_id=parse_id(user_id, "userId"),
            remove=remove,
        )
        return ForumPayload(forum=ForumType.of(view))

    @payload_mutation(
        description="Start a thread in a forum you can read.", gates=(IsAuthenticated,)
    )
    async def thread_create(
        self,
        info: strawberry.Info,
        input: Annotated[ThreadCreateInput, strawberry.argument(description="The new thread.")],
    ) -> ThreadPayload:
        context = context_of(info)
        view = await service.create_thread(
            db=context.db,
            viewer=signed_in(info),
            draft=service.ThreadDraft(
                id=parse_optional_id(input.id, "id"),
                forum_id=parse_id(input.forum_id, "forumId"),
                title=input.title,
                body=input.body,
                language=input.language,
                tags=input.tags,
            ),
            now=context.clock.now(),
        )
        return ThreadPayload(thread=ThreadType.of(view))

    @payload_mutation(
        description="Lock a thread (no new posts; THREAD_LOCKED) or, with `locked: false`, "
        "unlock it. Moderators.",
        gates=(IsAuthenticated,),
    )
    async def thread_lock(
        self,
        info: strawberry.Info,
        id: ThreadId,
        locked: Annotated[bool, strawberry.argument(description="False unlocks.")] = True,
    ) -> ThreadPayload:
        return await _on_thread(info, id, locked=locked)

    @payload_mutation(
        description="Follow a thread you may read, so that its new posts and changes reach "
        "your app's offline copy (`changes`), or, with `following: false`, stop following it. "
        "Repeating either changes nothing.",
        gates=(IsAuthenticated,),
    )
    async def thread_follow(
        self,
        info: strawberry.Info,
        id: ThreadId,
        following: Annotated[
            bool, strawberry.argument(description="False stops following.")
        ] = True,
    ) -> ThreadPayload:
        context = context_of(info)
        view = await service.follow_thread(
            db=context.db,
            viewer=signed_in(info),
            thread_id=parse_id(id, "id"),
            following=following,
            now=context.clock.now(),
        )
        return ThreadPayload(thread=ThreadType.of(view))

    @payload_mutation(
        description="Pin a thread first in its forum or, with `pinned: false`, unpin it. "
        "Moderators.",
        gates=(IsAuthenticated,),
    )
    async def thread_pin(
        self,
        info: strawberry.Info,
        id: ThreadId,
        pinned: Annotated[bool, strawberry.argument(description="False unpins.")] = True,
    ) -> ThreadPayload:
        return await _on_thread(info, id, pinned=pinned)

    @payload_mutation(
        description="Post in a thread (to the thread, or replying to a post). Subscribers of "
        "the thread get it at once.",
        gates=(IsAuthenticated,),
    )
    async def post_create(
        self,
        info: strawberry.Info,
        input: Annotated[PostCreateInput, strawberry.argument(description="The new post.")],
    ) -> PostPayload:
        context = context_of(info)
        view = await service.create_post(
            db=context.db,
            viewer=signed_in(info),
            draft=service.PostDraft(
                id=parse_optional_id(input.id, "id"),
                thread_id=parse_id(input.thread_id, "threadId"),
                body=input.body,
                reply_to_id=parse_optional_id(input.reply_to_id, "replyToId"),
                mentioned_organisation_ids=[
                    parse_id(value, f"mentionedOrganisationIds.{index}")
                    for index, value in enumerate(input.mentioned_organisation_ids)
                ],
            ),
            broadcaster=context.broadcaster,
            now=context.clock.now(),
        )
        return _post(info, view)

    @payload_mutation(
        description="Edit your post; the time of the last edit is kept.", gates=(IsAuthenticated,)
    )
    async def post_edit(
        self,
        info: strawberry.Info,
        input: Annotated[PostEditInput, strawberry.argument(description="The new text.")],
    ) -> PostPayload:
        return await _on_post(
            info,
            service.edit_post,
            input.id,
            body=input.body,
            expected_version=input.expected_version,
        )

    @payload_mutation(
        description="Delete your post: it shows as deleted; replies to it stay.",
        gates=(IsAuthenticated,),
    )
    async def post_delete(self, info: strawberry.Info, id: PostId) -> PostPayload:
        return await _on_post(info, service.delete_post, id)

    @payload_mutation(
        description="React to a post, or take the reaction back.", gates=(IsAuthenticated,)
    )
    async def post_react(
        self,
        info: strawberry.Info,
        input: Annotated[PostReactInput, strawberry.argument(description="The reaction.")],
    ) -> PostPayload:
        return await _on_post(
            info, service.react, input.post_id, reaction=input.reaction, active=input.active
        )

    @payload_mutation(
        description="Report a post to the forum's moderators (any reader). Reporting again "
        "returns the same report.",
        gates=(IsAuthenticated,),
    )
    async def post_report(
        self,
        info: strawberry.Info,
        input: Annotated[PostReportInput, strawberry.argument(description="The report.")],
    ) -> ReportPayload:
        context = context_of(info)
        report = await service.report_post(
            db=context.db,
            viewer=signed_in(info),
            post_id=parse_id(input.post_id, "postId"),
            reason=input.reason,
            now=context.clock.now(),
        )
        return ReportPayload(report=ReportType.of(report))

    @payload_mutation(
        description="Hide a post (readers see that it was hidden, not what it said). Moderators.",
        gates=(IsAuthenticated,),
    )
    async def post_hide(
        self,
        info: strawberry.Info,
        id: PostId,
        reason: Annotated[str, strawberry.argument(description="Why, for its author.")] = "",
    ) -> PostPayload:
        return await _on_post(info, service.set_post_hidden, id, hidden=True, reason=reason)

    @payload_mutation(description="Show a hidden post again. Moderators.", gates=(IsAuthenticated,))
    async def post_restore(self, info: strawberry.Info, id: PostId) -> PostPayload:
        return await _on_post(info, service.set_post_hidden, id, hidden=False, reason="")

    @payload_mutation(description="Resolve a report. Moderators.", gates=(IsAuthenticated,))
    async def report_resolve(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The report.")],
        resolution: Annotated[
            str, strawberry.argument(description="What was done, for the record.")
        ] = "",
    ) -> ReportPayload:
        context = context_of(info)
        report = await service.resolve_report(
            db=context.db,
            viewer=signed_in(info),
            report_id=parse_id(id, "id"),
            resolution=resolution,
            now=context.clock.now(),
        )
        return ReportPayload(report=ReportType.of(report))


@strawberry.type
class ForumsSubscription:
    @strawberry.subscription(
        description="Posts added to a thread from now on, as they are committed. Only a reader "
        "of the thread can open it (NOT_FOUND otherwise). Load the thread's latest posts after "
        "subscribing, so a post made while connecting is not missed."
    )
    async def post_added(
        self, info: strawberry.Info, thread_id: ThreadId
    ) -> AsyncGenerator[PostType, None]:
        context = context_of(info)
        parsed = parse_id(thread_id, "threadId")
        reader = await service.subscriber(db=context.db, viewer=context.viewer, thread_id=parsed)
        viewer_id = _viewer_id(info)
        async with context.broadcaster.subscribe(service.post_channel(parsed)) as messages:
            async for message in messages:
                try:
                    post = await context.added_posts.get(uuid.UUID(message))
                    # Access is read again (memberships may have changed since subscribing);
                    # someone who lost it stops receiving and the subscription ends.
                    reader = await service.still_reading(
                        db=context.db, reader=reader, thread_id=parsed
                    )
                except ServiceError:
                    return
                except Exception:  # one bad message must not end everyone's subscription
                    logger.exception("delivering a post to a subscription failed")
                    continue
                view = None if post is None else service.live_view(reader, post)
                if view is not None:
                    yield PostType.of(view, viewer_id)
