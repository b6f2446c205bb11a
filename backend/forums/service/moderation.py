"""Moderation: locking and pinning threads, reports of posts, hiding posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Viewer
from backend.forums import policies
from backend.forums.models import Forum, PostReport, ReportStatus
from backend.forums.service.inputs import PostView, ReportView, ThreadView
from backend.forums.service.loading import (
    forum_for,
    post_loads,
    post_view,
    readable_post,
    reloaded,
    thread_for,
    thread_view,
)
from backend.forums.service.readers import reader_of
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import Problems, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text


async def set_thread_flag(
    *,
    db: Database,
    viewer: Viewer,
    thread_id: uuid.UUID,
    locked: bool | None = None,
    pinned: bool | None = None,
    now: datetime,
) -> ThreadView:
    """Moderators lock (no new posts) or pin (first in the forum) a thread, or undo it."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        thread = await thread_for(session, reader, thread_id, lock=True)
        policies.moderate(reader, thread.forum)
        if locked is not None:
            thread.locked_at = (thread.locked_at or now) if locked else None
        if pinned is not None:
            thread.pinned = pinned
        thread.version += 1
        await session.flush()
        return await thread_view(session, reader, thread, thread.forum)


async def report_post(
    *, db: Database, viewer: Viewer, post_id: uuid.UUID, reason: str, now: datetime
) -> ReportView:
    """See ``_report_post``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _report_post(db=db, viewer=viewer, post_id=post_id, reason=reason, now=now)
    )


async def _report_post(
    *, db: Database, viewer: Viewer, post_id: uuid.UUID, reason: str, now: datetime
) -> ReportView:
    """Any reader reports a post with a reason; reporting it again returns the same report."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=3, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await readable_post(session, reader, post_id, "postId")
        existing = await session.scalar(
            select(PostReport).where(
                PostReport.post_id == post.id, PostReport.reporter_id == viewer.user_id
            )
        )
        if existing is not None:
            if existing.status is ReportStatus.RESOLVED:
                # A new concern about a post already looked at: open the report again.
                existing.status = ReportStatus.OPEN
                existing.reason = reason.strip()
                existing.created_at = now
                existing.resolved_at = None
                existing.resolved_by_id = None
                existing.resolution = ""
            report = existing
        else:
            report = PostReport(
                forum_id=thread.forum_id,
                post_id=post.id,
                reporter_id=viewer.user_id,
                reason=reason.strip(),
                status=ReportStatus.OPEN,
                created_at=now,
            )
            session.add(report)
        await session.flush()
        reported = await _report(session, report.id)
        return ReportView(
            reported,
            policies.moderates(reader, thread.forum)
            or (post.hidden_at is None and post.deleted_at is None),
        )


async def _report(session: AsyncSession, report_id: uuid.UUID) -> PostReport:
    report: PostReport = await reloaded(session, PostReport, report_id, _report_loads())
    return report


def _report_loads() -> tuple[Any, ...]:
    return (
        selectinload(PostReport.post).options(*post_loads()),
        selectinload(PostReport.reporter),
    )


async def set_post_hidden(
    *,
    db: Database,
    viewer: Viewer,
    post_id: uuid.UUID,
    hidden: bool,
    reason: str,
    now: datetime,
) -> PostView:
    """Moderators hide a post (readers see that it was hidden, not what it said) or restore it."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await readable_post(session, reader, post_id, lock=True)
        policies.moderate(reader, thread.forum)
        if hidden and post.hidden_at is None:
            post.hidden_at = now
            post.hidden_by_id = viewer.user_id
            post.hidden_reason = reason.strip()
        elif not hidden:
            post.hidden_at = None
            post.hidden_by_id = None
            post.hidden_reason = ""
        post.version += 1
        await session.flush()
        return await post_view(session, reader, post, thread)


REPORTS = Sort("reports:oldest", (SortKey(PostReport.created_at), SortKey(PostReport.id)))


async def list_reports(
    *,
    db: Database,
    viewer: Viewer,
    forum_id: uuid.UUID,
    status: ReportStatus | None,
    page: PageRequest,
    with_total: bool,
) -> Page[ReportView]:
    """The forum's report queue, oldest first: for its moderators."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        forum = await forum_for(session, reader, forum_id, "forumId")
        policies.moderate(reader, forum)
        statement = select(PostReport).where(PostReport.forum_id == forum.id)
        if status is not None:
            statement = statement.where(PostReport.status == status)
        result = await paginate(
            session,
            statement,
            sort=REPORTS,
            request=page,
            load=_report_loads(),
            with_total=with_total,
        )
    return result.map(lambda report: ReportView(report, True))


async def resolve_report(
    *, db: Database, viewer: Viewer, report_id: uuid.UUID, resolution: str, now: datetime
) -> ReportView:
    problems = Problems()
    check_text(problems, "resolution", resolution, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        report = await session.get(PostReport, report_id, with_for_update=True)
        if report is None:
            raise not_found("Report")
        forum = await session.scalar(
            policies.readable_forums(reader).where(Forum.id == report.forum_id)
        )
        if forum is None or not policies.moderates(reader, forum):
            # The reporter knows the report exists; others learn nothing of it.
            raise not_found("Report")
        if report.status is ReportStatus.OPEN:
            report.status = ReportStatus.RESOLVED
            report.resolved_at = now
            report.resolved_by_id = viewer.user_id
            report.resolution = resolution.strip()
        await session.flush()
        return ReportView(await _report(session, report.id), True)
