"""The marketplace's part of the GraphQL schema."""

from backend.marketplace.schema.operations import MarketplaceMutation, MarketplaceQuery

__all__ = ["MarketplaceMutation", "MarketplaceQuery"]
