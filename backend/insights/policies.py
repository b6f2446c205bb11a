"""Who sees what of a cluster's insights.

Trade relationships are commercially sensitive, so insights come in two audiences:

- ``insights:read_names``: platform admins, and verified institutions of the cluster itself
  (a university, a local government), see organisations by name in the lists (anchors,
  dependent suppliers, isolated members, unmatched offers and their candidate takers), except
  organisations that opted out of being named (``named_in_insights``): those appear as "a firm
  in activity X", without their id.
- Everybody else (anonymous readers of the public page, firms, communities, unverified
  institutions, institutions of other clusters) sees aggregates only: no organisation names or
  ids, no per-organisation rows, and no figure built from fewer than
  :data:`SMALLEST_CELL` organisations (small-cell suppression).
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from backend.auth.viewer import Anonymous, Role, Viewer

# No figure of the public view is built from fewer organisations than this.
SMALLEST_CELL = 3


class Audience(StrEnum):
    PUBLIC = "PUBLIC"  # aggregates only, small cells suppressed
    NAMED = "NAMED"  # organisations by name, unless they opted out


def audience_of(
    viewer: Viewer | Anonymous, cluster_id: uuid.UUID, viewer_cluster_id: uuid.UUID | None
) -> Audience:
    """insights:read_names (see the module); ``viewer_cluster_id`` is the cluster of the
    organisation the viewer acts for, read on this request (verification is too)."""
    if not isinstance(viewer, Viewer):
        return Audience.PUBLIC
    if viewer.is_admin:
        return Audience.NAMED
    if (
        viewer.role is Role.INSTITUTION
        and viewer.organisation_verified
        and viewer_cluster_id == cluster_id
    ):
        return Audience.NAMED
    return Audience.PUBLIC
