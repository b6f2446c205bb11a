"""Object rules of the marketplace, named ``marketplace:action``.

A listing is managed by the members of its organisation acting for it (their token's active
organisation). Platform admins moderate: they hide and restore listings, and see hidden ones.
Everybody, signed in or not, reads listings that are published and not hidden.
"""

from __future__ import annotations

from backend.auth.viewer import Anonymous, Viewer
from backend.kit.errors import forbidden
from backend.marketplace.models import Listing, ListingStatus


def is_owner(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    return isinstance(viewer, Viewer) and viewer.organisation_id == listing.organisation_id


def may_read(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    """marketplace:listing_read"""
    if is_owner(viewer, listing):
        return True
    if listing.status is ListingStatus.DRAFT:
        return False
    # platform admins moderate: they see hidden listings
    return listing.hidden_at is None or (isinstance(viewer, Viewer) and viewer.is_admin)


def listing_manage(viewer: Viewer, listing: Listing) -> None:
    """marketplace:listing_manage (update, publish, close, delete)"""
    if not is_owner(viewer, listing):
        raise forbidden("Only members of the listing's organisation, acting for it, may do this")


def sees_exact_location(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    """marketplace:listing_exact_location. Trade partners see the exact point on the trade
    (``Trade.listingLocation``), not on the listing, so a listing read costs no trade look-up."""
    return not listing.location_approximate or is_owner(viewer, listing)
