"""Community forums: forums, threads, posts, reactions, reports and named moderators."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.identity.models import Cluster, Organisation, User
from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


class ForumVisibility(StrEnum):
    PUBLIC = "PUBLIC"  # anyone, also without signing in
    CLUSTER = "CLUSTER"  # signed-in members of organisations in the forum's cluster
    MEMBERS = "MEMBERS"  # the owning organisation's members only


class Reaction(StrEnum):
    LIKE = "LIKE"
    THANKS = "THANKS"
    HELPFUL = "HELPFUL"
    AGREE = "AGREE"


class ReportStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class Forum(Base):
    """A forum of a community organisation or, without one, of a whole cluster."""

    __tablename__ = "forums"
    __table_args__ = (
        # A cluster forum has no members to keep it for.
        CheckConstraint(
            "organisation_id IS NOT NULL OR visibility <> 'MEMBERS'",
            name="members_forums_have_an_owner",
        ),
        CheckConstraint("thread_count >= 0", name="thread_count_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="RESTRICT"), index=True
    )
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True, nullable=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[ForumVisibility] = mapped_column(
        enum_column(ForumVisibility, "forum_visibility")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cluster: Mapped[Cluster] = relationship(lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")


class ForumModerator(Base):
    """A person named moderator of a forum (besides the owning organisation's admins)."""

    __tablename__ = "forum_moderators"
    __table_args__ = (UniqueConstraint("forum_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    forum_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")


class Thread(Base):
    __tablename__ = "forum_threads"
    __table_args__ = (
        CheckConstraint("reply_count >= 0", name="reply_count_not_negative"),
        # A forum's page: pinned first, then the latest activity.
        Index("ix_forum_threads_forum_id_order", "forum_id", "pinned", "last_activity_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    forum_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "|biogas|木材|": the tags as plain text, so a tag is an exact substring match on every
    # engine (JSON escapes non-ASCII text differently per engine).
    tag_index: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    forum: Mapped[Forum] = relationship(lazy="raise")
    author: Mapped[User | None] = relationship(lazy="raise")
    author_organisation: Mapped[Organisation | None] = relationship(lazy="raise")


class Post(Base):
    """A reply in a thread, to the thread or to another post. Deleting keeps the row (replies
    stay attached); hiding is the moderators'."""

    __tablename__ = "forum_posts"
    __table_args__ = (Index("ix_forum_posts_thread_id_created_at", "thread_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    thread_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="SET NULL"), nullable=True
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    # The organisations the author mentioned (picked in the app), told by notification.
    mentioned_organisation_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    thread: Mapped[Thread] = relationship(lazy="raise")
    author: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[author_id])
    author_organisation: Mapped[Organisation | None] = relationship(lazy="raise")


class ThreadFollower(Base):
    """A person who follows a thread: it is in their app's offline copy. Starting a thread or
    replying follows it; the person may stop."""

    __tablename__ = "forum_thread_followers"
    __table_args__ = (Index("ix_forum_thread_followers_user_id", "user_id"),)

    thread_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostReaction(Base):
    __tablename__ = "forum_post_reactions"
    __table_args__ = (UniqueConstraint("post_id", "user_id", "reaction"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reaction: Mapped[Reaction] = mapped_column(enum_column(Reaction, "forum_reaction"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostReport(Base):
    """A reader's report of a post, for the forum's moderators."""

    __tablename__ = "forum_reports"
    __table_args__ = (
        UniqueConstraint("post_id", "reporter_id"),
        Index("ix_forum_reports_forum_id_status", "forum_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    forum_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forums.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"))
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ReportStatus] = mapped_column(enum_column(ReportStatus, "report_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolution: Mapped[str] = mapped_column(Text, default="")

    post: Mapped[Post] = relationship(lazy="raise")
    reporter: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[reporter_id])


# What the apps keep offline (backend/sync): the threads people follow (scope: the thread). A post
# is a change of its thread; following or unfollowing is one for that person.
sync_log.track(
    Thread,
    lambda row: [(ChangeType.FORUM_THREAD, row.id, [sync_log.thread_followers(row.id)])],
)
sync_log.track(
    Post,
    lambda row: [
        (ChangeType.FORUM_THREAD, row.thread_id, [sync_log.thread_followers(row.thread_id)])
    ],
)
sync_log.track(
    ThreadFollower,
    lambda row: [(ChangeType.FORUM_THREAD, row.thread_id, [sync_log.person(row.user_id)])],
)
