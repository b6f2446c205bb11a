"""The joint purchasing part of the GraphQL schema."""

from backend.purchasing.schema.operations import PurchasingMutation, PurchasingQuery

__all__ = ["PurchasingMutation", "PurchasingQuery"]
