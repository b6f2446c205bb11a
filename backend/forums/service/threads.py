"""Starting threads and reading them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.models import Forum, Thread
from backend.forums.service.checks import check_body, check_tags
from backend.forums.service.following import follow
from backend.forums.service.inputs import ThreadDraft, ThreadView
from backend.forums.service.loading import (
    followed_among,
    forum_for,
    thread_loads,
    thread_view,
)
from backend.forums.service.readers import reader_of
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_language, check_text, has_control_characters


async def create_thread(
    *, db: Database, viewer: Viewer, draft: ThreadDraft, now: datetime
) -> ThreadView:
    """See ``_create_thread``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _create_thread(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _create_thread(
    *, db: Database, viewer: Viewer, draft: ThreadDraft, now: datetime
) -> ThreadView:
    problems = Problems()
    check_text(problems, "title", draft.title, min_length=3, max_length=200)
    check_body(problems, draft.body)
    check_language(problems, "language", draft.language)
    tags = check_tags(problems, draft.tags)
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        forum = await forum_for(session, reader, draft.forum_id, "forumId")
        policies.write(reader, forum)
        if draft.id is not None and (existing := await session.get(Thread, draft.id)):
            if existing.author_id != viewer.user_id or existing.forum_id != forum.id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id cannot be used; send a new one", "id"
                )
            return await thread_view(session, reader, existing, forum)
        problems.raise_if_any()
        thread = Thread(
            forum_id=forum.id,
            author_id=viewer.user_id,
            author_organisation_id=viewer.organisation_id,
            title=draft.title.strip(),
            body=draft.body.strip(),
            language=draft.language,
            tags=tags,
            tag_index="|" + "|".join(tags) + "|" if tags else "",
            pinned=False,
            reply_count=0,
            last_activity_at=now,
            created_at=now,
            version=1,
        )
        if draft.id is not None:
            thread.id = draft.id
        session.add(thread)
        await session.execute(
            update(Forum)
            .where(Forum.id == forum.id)
            .values(thread_count=Forum.thread_count + 1, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        await follow(session, thread.id, viewer.user_id, now)  # you follow what you start
        return await thread_view(session, reader, thread, forum, following=True)


THREADS = Sort(
    "threads:pinned-activity",
    (
        SortKey(Thread.pinned, descending=True),
        SortKey(Thread.last_activity_at, descending=True),
        SortKey(Thread.id, descending=True),
    ),
)


async def list_threads(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    forum_id: uuid.UUID,
    tag: str | None,
    page: PageRequest,
    with_total: bool,
) -> Page[ThreadView]:
    """A forum's threads, pinned first, then by latest activity."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        forum = await forum_for(session, reader, forum_id, "forumId")
        statement = select(Thread).where(Thread.forum_id == forum.id)
        if tag is not None:
            if not 1 <= len(tag) <= 100 or has_control_characters(tag, multiline=False):
                raise ServiceError.of(ErrorCode.VALIDATION, "Not a tag", "tag")
            needle = "|" + " ".join(tag.split()).lower() + "|"
            statement = statement.where(Thread.tag_index.contains(needle, autoescape=True))
        result = await paginate(
            session,
            statement,
            sort=THREADS,
            request=page,
            load=thread_loads(),
            with_total=with_total,
        )
        following = await followed_among(session, reader, [t.id for t in result.items])
    moderates = policies.moderates(reader, forum)
    return result.map(lambda t: ThreadView(t, moderates, t.id in following))
