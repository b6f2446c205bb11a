"""The forums part of the GraphQL schema."""

from backend.forums.schema.operations import ForumsMutation, ForumsQuery, ForumsSubscription
from backend.forums.schema.types import ThreadType

__all__ = ["ForumsMutation", "ForumsQuery", "ForumsSubscription", "ThreadType"]
