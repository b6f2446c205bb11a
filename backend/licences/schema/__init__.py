"""The waste licences part of the GraphQL schema."""

from backend.licences.schema.operations import LicencesMutation, LicencesQuery

__all__ = ["LicencesMutation", "LicencesQuery"]
