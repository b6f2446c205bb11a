"""The identity part of the GraphQL schema; other domains show clusters and organisations with
its types."""

from backend.identity.schema.operations import IdentityMutation, IdentityQuery
from backend.identity.schema.trust import TrustMutation, TrustQuery
from backend.identity.schema.types import ClusterType, OrganisationType

__all__ = [
    "ClusterType",
    "IdentityMutation",
    "IdentityQuery",
    "OrganisationType",
    "TrustMutation",
    "TrustQuery",
]
