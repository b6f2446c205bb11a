"""The umbrella permits' part of the schema."""

from backend.permits.schema.operations import PermitsMutation, PermitsQuery

__all__ = ["PermitsMutation", "PermitsQuery"]
