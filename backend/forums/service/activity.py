"""How much a cluster's forums were used, and across how many organisations (cluster insights,
issue 18: social capital; a thread two firms write in is cooperation across firms)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, union_all

from backend.forums.models import Forum, ForumVisibility, Post, Thread
from backend.identity.models import Organisation, OrganisationKind
from backend.kit.db import Database


@dataclass(frozen=True, slots=True)
class ForumActivity:
    """What was written in a cluster's forums in a period.

    A contribution is a thread's opening (the thread started in the period) or a reply posted
    in the period that is neither deleted nor hidden now. Organisations are those the authors
    acted for; a contribution made for no organisation (a platform admin's) counts in
    ``threads`` and ``posts`` but for no organisation. The cluster's CLUSTER and PUBLIC forums
    count; a community's MEMBERS forum does not: nothing of it reaches anyone outside, counts
    included (the forums' read rule), and insights are read by institutions and the public.
    """

    forums: int  # forums of the cluster with a contribution in the period
    threads: int  # threads started in the period
    posts: int  # replies posted in the period, not deleted or hidden
    organisations: int  # distinct organisations that started a thread or replied
    # Threads whose contributions in the period come from two organisations or more.
    threads_across_organisations: int
    # Distinct contributing organisations per kind, every kind present (zero included).
    by_kind: dict[OrganisationKind, int]


async def forum_activity(
    *, db: Database, cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> ForumActivity:
    """The activity of the cluster's forums (``Forum.cluster_id``; not MEMBERS ones) in
    [starts_at, ends_at). Two statements whatever the number of forums, threads and posts:
    the totals, and the organisations per kind."""
    counted_forums = (
        Forum.cluster_id == cluster_id,
        Forum.visibility != ForumVisibility.MEMBERS,
    )
    openings = (
        select(
            Thread.forum_id.label("forum_id"),
            Thread.id.label("thread_id"),
            Thread.author_organisation_id.label("organisation_id"),
            literal(1).label("opening"),
            literal(0).label("reply"),
        )
        .join(Forum, Forum.id == Thread.forum_id)
        .where(
            *counted_forums,
            Thread.created_at >= starts_at,
            Thread.created_at < ends_at,
        )
    )
    replies = (
        select(
            Thread.forum_id,
            Post.thread_id,
            Post.author_organisation_id,
            literal(0),
            literal(1),
        )
        .join(Thread, Thread.id == Post.thread_id)
        .join(Forum, Forum.id == Thread.forum_id)
        .where(
            *counted_forums,
            Post.created_at >= starts_at,
            Post.created_at < ends_at,
            Post.deleted_at.is_(None),
            Post.hidden_at.is_(None),
        )
    )
    contributions = union_all(openings, replies).cte("contributions")
    across = (
        select(contributions.c.thread_id)
        .group_by(contributions.c.thread_id)
        .having(func.count(func.distinct(contributions.c.organisation_id)) >= 2)
        .subquery()
    )
    totals_statement = select(
        func.count(func.distinct(contributions.c.forum_id)),
        func.coalesce(func.sum(contributions.c.opening), 0),
        func.coalesce(func.sum(contributions.c.reply), 0),
        func.count(func.distinct(contributions.c.organisation_id)),
        select(func.count()).select_from(across).scalar_subquery(),
    )
    kinds_statement = (
        select(Organisation.kind, func.count(func.distinct(Organisation.id)))
        .join(contributions, contributions.c.organisation_id == Organisation.id)
        .group_by(Organisation.kind)
    )
    async with db.read() as session:
        forums, threads, posts, organisations, threads_across = (
            await session.execute(totals_statement)
        ).one()
        counted = dict((await session.execute(kinds_statement)).all())
    return ForumActivity(
        forums=forums,
        threads=int(threads),
        posts=int(posts),
        organisations=organisations,
        threads_across_organisations=threads_across,
        by_kind={kind: counted.get(kind, 0) for kind in OrganisationKind},
    )
