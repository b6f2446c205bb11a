"""Forums: forums of communities and clusters, threads, posts with replies, reactions,
moderation, notifications of replies and mentions, and the "post added" events.

Every public function is keyword-only and owns its unit of work. What a viewer may see is
decided by :func:`reader_of` (their memberships) and ``policies``, whose read rule is one
statement: one forum or thread is loaded through it and lists filter with it, so nothing of a
MEMBERS forum reaches anyone else, counts included. The package is split by what people do:
opening forums, starting threads, posting, following threads, moderating, receiving posts
live, and the forums' activity (the cluster's insights).
"""

from backend.forums.service.activity import ForumActivity, forum_activity
from backend.forums.service.following import follow_thread, followed_thread_ids, threads_for_sync
from backend.forums.service.forums import (
    add_moderator,
    create_forum,
    get_forum,
    list_forums,
    update_forum,
)
from backend.forums.service.inputs import (
    ForumDraft,
    ForumView,
    PostDraft,
    PostView,
    ReportView,
    ThreadDraft,
    ThreadView,
)
from backend.forums.service.live import (
    AddedPost,
    AddedPosts,
    LiveEvent,
    added_post,
    forget_readers,
    live_posts,
    live_view,
    post_channel,
    subscriber,
)
from backend.forums.service.moderation import (
    list_reports,
    report_post,
    resolve_report,
    set_post_hidden,
    set_thread_flag,
)
from backend.forums.service.posts import create_post, delete_post, edit_post, react
from backend.forums.service.readers import reader_of
from backend.forums.service.thread_screen import (
    PostLine,
    ThreadAccesses,
    ThreadLine,
    get_thread,
    list_posts,
)
from backend.forums.service.threads import create_thread, list_threads

__all__ = [
    "AddedPost",
    "AddedPosts",
    "ForumActivity",
    "ForumDraft",
    "ForumView",
    "LiveEvent",
    "PostDraft",
    "PostLine",
    "PostView",
    "ReportView",
    "ThreadAccesses",
    "ThreadDraft",
    "ThreadLine",
    "ThreadView",
    "add_moderator",
    "added_post",
    "create_forum",
    "create_post",
    "create_thread",
    "delete_post",
    "edit_post",
    "follow_thread",
    "followed_thread_ids",
    "forget_readers",
    "forum_activity",
    "get_forum",
    "get_thread",
    "list_forums",
    "list_posts",
    "list_reports",
    "list_threads",
    "live_posts",
    "live_view",
    "post_channel",
    "react",
    "reader_of",
    "report_post",
    "resolve_report",
    "set_post_hidden",
    "set_thread_flag",
    "subscriber",
    "threads_for_sync",
    "update_forum",
]
