"""Composes the domains' queries and mutations into one schema."""

from __future__ import annotations

import functools

import strawberry
from strawberry.schema.config import StrawberryConfig

from backend.catalogue.schema import CatalogueQuery
from backend.events.schema import EventsMutation, EventsQuery
from backend.forums.schema import ForumsMutation, ForumsQuery, ForumsSubscription
from backend.graphql import arguments
from backend.graphql.execution import ExecutionContext
from backend.graphql.extensions import Schema, SchemaOptions, build_extensions
from backend.identity.schema import IdentityMutation, IdentityQuery, TrustMutation, TrustQuery
from backend.insights.schema import InsightsQuery
from backend.licences.schema import LicencesMutation, LicencesQuery
from backend.marketplace.schema import MarketplaceMutation, MarketplaceQuery
from backend.notifications.schema import NotificationsMutation, NotificationsQuery
from backend.permits.schema import PermitsMutation, PermitsQuery
from backend.permits.schema.returns import ReturnsMutation, ReturnsQuery
from backend.privacy.schema import PrivacyMutation, PrivacyQuery
from backend.purchasing.schema import PurchasingMutation, PurchasingQuery
from backend.settings import Settings
from backend.sync.schema import SyncQuery


@strawberry.type(description="Everything an app can read.")
class Query(
    IdentityQuery,
    TrustQuery,
    CatalogueQuery,
    MarketplaceQuery,
    PurchasingQuery,
    ForumsQuery,
    EventsQuery,
    NotificationsQuery,
    SyncQuery,
    InsightsQuery,
    PermitsQuery,
    ReturnsQuery,
    LicencesQuery,
    PrivacyQuery,
):
    pass


@strawberry.type(description="Everything an app can change.")
class Mutation(
    IdentityMutation,
    TrustMutation,
    MarketplaceMutation,
    PurchasingMutation,
    ForumsMutation,
    EventsMutation,
    NotificationsMutation,
    PermitsMutation,
    ReturnsMutation,
    LicencesMutation,
    PrivacyMutation,
):
    pass


@strawberry.type(description="What an app can listen to over WebSocket (graphql-transport-ws).")
class Subscription(ForumsSubscription):
    pass


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema for these settings, built once per distinct set of options.

    Building costs ~0.1 s, and Strawberry's module-level validation cache keys on the schema
    object: every new schema stays reachable from it, so rebuilding one per app (the tests make
    ~900 apps) grew the heap and the garbage collector's work with it."""
    return _schema_for(SchemaOptions.of(settings))


@functools.lru_cache(maxsize=8)
def _schema_for(options: SchemaOptions) -> strawberry.Schema:
    arguments.install()  # each field's argument conversion worked out once
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=build_extensions(options),
        config=StrawberryConfig(disable_field_suggestions=not options.development),
        execution_context_class=ExecutionContext,
    )


def export_sdl() -> str:
    """The SDL as committed in schema/schema.graphql (independent of runtime settings)."""
    return build_schema(Settings()).as_str() + "\n"
