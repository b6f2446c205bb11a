"""What the forums service takes and gives back: drafts of new forums, threads and posts,
and views of them for one viewer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from backend.forums.models import Forum, ForumVisibility, Post, PostReport, Reaction, Thread


@dataclass(frozen=True, slots=True)
class ForumDraft:
    title: str
    visibility: ForumVisibility
    cluster_id: uuid.UUID | None = None
    description: str = ""
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ThreadDraft:
    forum_id: uuid.UUID
    title: str
    body: str
    language: str = "en"
    tags: list[str] = field(default_factory=list)
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PostDraft:
    thread_id: uuid.UUID
    body: str
    reply_to_id: uuid.UUID | None = None
    mentioned_organisation_ids: list[uuid.UUID] = field(default_factory=list)
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ForumView:
    forum: Forum
    moderates: bool


@dataclass(frozen=True, slots=True)
class ThreadView:
    thread: Thread
    moderates: bool
    # whether the viewer follows it (it is then in their app's offline copy)
    following: bool = False


@dataclass(frozen=True, slots=True)
class ReportView:
    report: PostReport
    # Whether the viewer may see what the reported post says: moderators, or anyone while the
    # post is neither hidden nor deleted (a report must not undo hiding or deleting).
    sees_post: bool


@dataclass(frozen=True, slots=True)
class PostView:
    post: Post
    # reaction -> count, and the viewer's own reactions
    reactions: dict[Reaction, int]
    mine: frozenset[Reaction]
    sees_hidden: bool
    moderates: bool
