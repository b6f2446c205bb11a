"""The events part of the GraphQL schema."""

from backend.events.schema.operations import EventsMutation, EventsQuery

__all__ = ["EventsMutation", "EventsQuery"]
