"""Forum queries, mutations and the ``postAdded`` subscription: thin resolvers over the forums
service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, TypeVar, cast

import strawberry
from starlette.requests import Request

from backend.auth.permissions import IsAuthenticated
from backend.forums import service
from backend.forums.models import ReportStatus
from backend.forums.schema.types import (
    ForumCreateInput,
    ForumPayload,
    ForumType,
    ForumUpdateInput,
    PostCreateInput,
    PostEditInput,
    PostPayload,
    PostReactInput,
    PostReportInput,
    PostType,
    ReportPayload,
    ReportType,
    ThreadCreateInput,
    ThreadPayload,
    ThreadPostEvent,
    ThreadType,
)
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, parse_optional_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest

logger = logging.getLogger("eic.forums")

ForumId = Annotated[strawberry.ID, strawberry.argument(description="The forum's id.")]
ThreadId = Annotated[strawberry.ID, strawberry.argument(description="The thread's id.")]
PostId = Annotated[strawberry.ID, strawberry.argument(description="The post's id.")]


def _viewer_id(info: strawberry.Info) -> uuid.UUID | None:
    viewer = context_of(info).viewer
    return getattr(viewer, "user_id", None)


def _accesses(info: strawberry.Info) -> service.ThreadAccesses:
    """The request's thread accesses: a screen's ``thread`` and ``posts`` read the viewer's
    memberships and the thread once. Only within an HTTP request: a WebSocket connection's
    context lasts as long as the connection, and memberships may change meanwhile."""
    context = context_of(info)
    if not isinstance(context.request, Request):
        return service.ThreadAccesses()
    return context.loader("forums:thread-accesses", service.ThreadAccesses)


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
        line = await service.get_thread(
            db=context.db, viewer=context.viewer, thread_id=thread_id, accesses=_accesses(info)
        )
        return ThreadType.of_line(line) if line else None

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
            accesses=_accesses(info),
        )
        shared: dict[Any, Any] = {}  # what the page's posts have in common, made once
        return Connection[PostType].of(page, lambda line: PostType.of_line(line, viewer_id, shared))

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
        context = context_of(info)
        view = await service.add_moderator(
            db=context.db,
            viewer=signed_in(info),
            forum_id=parse_id(forum_id, "forumId"),
            user_id=parse_id(user_id, "userId"),
            remove=remove,
            broadcaster=context.broadcaster,
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


LIVE = (
    "Errors: SERVICE_UNAVAILABLE (with retryAfter) before or during the stream "
    "means live updates could not start or were interrupted (the broadcaster is away): load "
    "the thread again and subscribe again after retryAfter seconds. The stream completes "
    "without an error when the viewer may no longer read the thread."
)


@strawberry.type
class ForumsSubscription:
    @strawberry.subscription(
        description="A thread's posts, live: first a SUBSCRIBED event once the subscription is "
        "registered (load the thread's latest posts then; nothing made after it is missed), "
        "then a POST_ADDED event per post with its position in the thread, so a gap is "
        "visible. Only a reader of the thread can open it (NOT_FOUND otherwise). " + LIVE
    )
    async def thread_posts(
        self, info: strawberry.Info, thread_id: ThreadId
    ) -> AsyncGenerator[ThreadPostEvent, None]:
        viewer_id = _viewer_id(info)
        async for event in _live(
            info, thread_id, lambda e: ThreadPostEvent.of(e, viewer_id), confirm=True
        ):
            yield event

    @strawberry.subscription(
        description="Posts added to a thread from now on, as they are committed. Only a reader "
        "of the thread can open it (NOT_FOUND otherwise). Nothing confirms that it is live and "
        "its posts carry no position: use threadPosts. " + LIVE,
        deprecation_reason="Use threadPosts: it confirms the subscription and numbers the posts.",
    )
    async def post_added(
        self, info: strawberry.Info, thread_id: ThreadId
    ) -> AsyncGenerator[PostType, None]:
        viewer_id = _viewer_id(info)

        def post(event: service.LiveEvent) -> PostType | None:
            return None if event.view is None else PostType.of(event.view, viewer_id)

        async for added in _live(info, thread_id, post, confirm=False):
            yield added


_Shown = TypeVar("_Shown")


async def _live(
    info: strawberry.Info,
    thread_id: strawberry.ID,
    to: Callable[[service.LiveEvent], _Shown | None],
    *,
    confirm: bool,
) -> AsyncIterator[_Shown]:
    """A thread's live events as ``to`` shows them (None: not shown). If the stream fails once
    started, its ServiceError is the last event: graphql-core turns a yielded exception into
    that event's error, so the app gets SERVICE_UNAVAILABLE in a ``next`` message before
    ``complete`` rather than a bare ``complete``. A failure before the first event (NOT_FOUND,
    or unavailable at once) is raised and answered with an ``error`` message."""
    context = context_of(info)
    events = service.live_posts(
        db=context.db,
        broadcaster=context.broadcaster,
        viewer=context.viewer,
        thread_id=parse_id(thread_id, "threadId"),
        confirm=confirm,
    )
    started = False
    try:
        async for event in events:
            started = True
            shown = to(event)
            if shown is not None:
                yield shown
    except ServiceError as exc:
        if not started:
            raise
        yield cast(_Shown, exc)
