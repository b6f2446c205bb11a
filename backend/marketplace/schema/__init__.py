"""The marketplace's part of the GraphQL schema: listings and the catalogue (``operations``),
match-making, offers, trades and impact (``trading``)."""

import strawberry

from backend.marketplace.schema.operations import ListingsMutation, ListingsQuery
from backend.marketplace.schema.trading import TradingMutation, TradingQuery


@strawberry.type
class MarketplaceQuery(ListingsQuery, TradingQuery):
    pass


@strawberry.type
class MarketplaceMutation(ListingsMutation, TradingMutation):
    pass


__all__ = ["MarketplaceMutation", "MarketplaceQuery"]
