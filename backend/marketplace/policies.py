"""Object rules of the marketplace, named ``marketplace:action``.

Listings. A listing is managed by the members of its organisation acting for it (their token's
active organisation). Platform admins moderate: they hide and restore listings, and see hidden
ones. Everybody, signed in or not, reads listings that are published and not hidden.

Trades (``marketplace:trade_*``), for the two parties acting for their organisation:

- AGREED -> IN_TRANSIT: the supplier (optional step).
- AGREED / IN_TRANSIT -> DELIVERED, with the quantity that changed hands: either party (the
  supplier after a delivery, the receiver after a pickup).
- DELIVERED -> COMPLETED: the *other* party, confirming the delivered quantity, so neither side
  alone puts figures into the impact ledger.
- AGREED -> CANCELLED: either party (after that the material is moving: dispute instead). The
  quantity goes back to the listing.
- AGREED / IN_TRANSIT / DELIVERED -> DISPUTED, with a reason: either party.
- DISPUTED -> COMPLETED or CANCELLED: platform admins, who settle disputes.

Everybody else gets NOT_FOUND: a trade, its messages and its history are the parties' business.
Platform admins read trades (to settle disputes) but never their messages. The transitions in
``service.trades`` check these rules; :func:`trade_actions` answers the same rules for the apps'
buttons.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, false, or_

from backend.auth.viewer import Anonymous, Viewer
from backend.kit.errors import ErrorCode, ServiceError, forbidden
from backend.marketplace.models import OPEN_TRADE, Listing, ListingStatus, Trade, TradeStatus


def is_owner(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    return isinstance(viewer, Viewer) and viewer.organisation_id == listing.organisation_id


def _owned_by(viewer: Viewer | Anonymous, *, bound: bool = False) -> ColumnElement[bool]:
    """SQL of :func:`is_owner`: the listings of the organisation the viewer acts for (with
    ``bound``, its id a parameter, ``viewer_organisation_id``)."""
    if isinstance(viewer, Viewer) and viewer.organisation_id is not None:
        return Listing.organisation_id == (
            bindparam("viewer_organisation_id") if bound else viewer.organisation_id
        )
    return false()


def readable_listings(viewer: Viewer | Anonymous, *, bound: bool = False) -> ColumnElement[bool]:
    """marketplace:listing_read, as SQL: the listings ``viewer`` may read. Its organisation's
    own, whatever their state; anybody else's once published (not a draft) and not hidden;
    platform admins moderate, so they read hidden ones too. Loading one listing and listing
    many both go through this condition; :func:`may_read` is the same rule for a row already
    loaded (tests/marketplace/test_listing_rules.py holds the two together). ``bound``: see
    :func:`listed_listings`."""
    own = _owned_by(viewer, bound=bound)
    published = Listing.status != ListingStatus.DRAFT
    if isinstance(viewer, Viewer) and viewer.is_admin:
        return or_(own, published)
    return or_(own, and_(published, Listing.hidden_at.is_(None)))


def may_read(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    """marketplace:listing_read for a listing already loaded (see :func:`readable_listings`)."""
    if is_owner(viewer, listing):
        return True
    if listing.status is ListingStatus.DRAFT:
        return False
    # platform admins moderate: they see hidden listings
    return listing.hidden_at is None or (isinstance(viewer, Viewer) and viewer.is_admin)


# What the market lists besides: a listing whose stored status is EXPIRED is still readable by
# its id (an offer or a trade links to it), but only its owner and the moderators find it again.
LISTED_STATUSES = (ListingStatus.ACTIVE, ListingStatus.RESERVED, ListingStatus.CLOSED)


def listed_listings(viewer: Viewer | Anonymous, *, bound: bool = False) -> ColumnElement[bool]:
    """The listings a search shows ``viewer``: readable ones in a listed state (their own and
    moderators' searches show every readable one). With ``bound`` the viewer's organisation
    and the listed states are parameters whose values :func:`listed_values` gives: the same
    SQL for every viewer of its kind (:func:`viewer_kind`), built once."""
    if isinstance(viewer, Viewer) and viewer.is_admin:
        return readable_listings(viewer, bound=bound)
    own = _owned_by(viewer, bound=bound)
    listed = Listing.status.in_(
        bindparam("listed_statuses", expanding=True) if bound else LISTED_STATUSES
    )
    return and_(readable_listings(viewer, bound=bound), or_(own, listed))


def viewer_kind(viewer: Viewer | Anonymous) -> tuple[bool, bool]:
    """What the SQL of :func:`listed_listings` depends on: whether the viewer is a platform
    admin and whether it acts for an organisation."""
    if isinstance(viewer, Viewer):
        return viewer.is_admin, viewer.organisation_id is not None
    return False, False


def listed_values(viewer: Viewer | Anonymous) -> dict[str, object]:
    """The values of the parameters of ``listed_listings(viewer, bound=True)``."""
    values: dict[str, object] = {"listed_statuses": LISTED_STATUSES}
    if isinstance(viewer, Viewer) and viewer.organisation_id is not None:
        values["viewer_organisation_id"] = viewer.organisation_id
    return values


def listing_manage(viewer: Viewer, listing: Listing) -> None:
    """marketplace:listing_manage (update, publish, close, delete)"""
    if not is_owner(viewer, listing):
        raise forbidden("Only members of the listing's organisation, acting for it, may do this")


def sees_exact_location(viewer: Viewer | Anonymous, listing: Listing) -> bool:
    """marketplace:listing_exact_location. Trade partners see the exact point on the trade
    (``Trade.listingLocation``), not on the listing, so a listing read costs no trade look-up."""
    return not listing.location_approximate or is_owner(viewer, listing)


# ---------------------------------------------------------------------------------------------
# Trades


def party_of(viewer: Viewer, trade: Trade) -> uuid.UUID | None:
    """The viewer's organisation if it is one of the trade's two parties."""
    if viewer.organisation_id in (trade.supplier_id, trade.receiver_id):
        return viewer.organisation_id
    return None


def other_party(trade: Trade, organisation_id: uuid.UUID) -> uuid.UUID:
    return trade.receiver_id if organisation_id == trade.supplier_id else trade.supplier_id


def may_read_trade(viewer: Viewer, trade: Trade) -> bool:
    """marketplace:trade_read: the parties, and platform admins who settle disputes."""
    return party_of(viewer, trade) is not None or viewer.is_admin


def may_message(viewer: Viewer, trade: Trade) -> bool:
    """marketplace:trade_messages: the two parties only (not even platform admins)."""
    return party_of(viewer, trade) is not None


def trade_send(viewer: Viewer, trade: Trade) -> None:
    """marketplace:trade_send (AGREED -> IN_TRANSIT)"""
    if party_of(viewer, trade) != trade.supplier_id:
        raise forbidden("Only the supplier sends the material")


def trade_report_delivery(viewer: Viewer, trade: Trade) -> uuid.UUID:
    """marketplace:trade_deliver; the reporting party."""
    party = party_of(viewer, trade)
    if party is None:
        raise forbidden("Only the two parties report a delivery")
    return party


def trade_settle(viewer: Viewer) -> None:
    """marketplace:trade_settle (DISPUTED -> COMPLETED or CANCELLED)"""
    if not viewer.is_admin:
        raise forbidden("A disputed trade is settled by the platform admins")


def trade_confirm(viewer: Viewer, trade: Trade) -> None:
    """marketplace:trade_complete of a DELIVERED trade: a party, not the one that reported it.
    The caller then checks the person too (:func:`trade_confirm_in_person`)."""
    party = party_of(viewer, trade)
    if party is None:
        raise forbidden("Only the parties complete a trade")
    if party == trade.delivered_by_id:
        raise forbidden("The other party confirms the delivery you reported")


def trade_confirm_in_person(viewer: Viewer, reported_by: uuid.UUID | None) -> None:
    """A member of both organisations switching tokens is still one person: whoever reported
    the delivery does not confirm it."""
    if reported_by == viewer.user_id:
        raise forbidden("Someone else confirms the delivery you reported")


def trade_cancel(viewer: Viewer, trade: Trade) -> None:
    """marketplace:trade_cancel of an AGREED trade"""
    if party_of(viewer, trade) is None:
        raise forbidden("Only the parties cancel a trade")


def trade_dispute(viewer: Viewer, trade: Trade) -> None:
    """marketplace:trade_dispute"""
    if party_of(viewer, trade) is None:
        raise forbidden("Only the parties dispute a trade")


@dataclass(frozen=True, slots=True)
class TradeActions:
    """What the viewer may do with a trade now: the rules above, for the apps' buttons (the
    transitions check the same rules again)."""

    mark_in_transit: bool
    mark_delivered: bool
    complete: bool
    cancel: bool
    dispute: bool
    review: bool


def trade_actions(
    viewer: Viewer, trade: Trade, reviewer_ids: Collection[uuid.UUID]
) -> TradeActions:
    """``trade`` needs its history loaded (``trade_loads``); ``reviewer_ids`` are the parties
    that reviewed it already."""
    party = party_of(viewer, trade)
    status = trade.status
    settles = status is TradeStatus.DISPUTED and viewer.is_admin
    reported_by = next(
        (s.by_user_id for s in reversed(trade.history) if s.status is TradeStatus.DELIVERED), None
    )
    return TradeActions(
        mark_in_transit=party == trade.supplier_id and status is TradeStatus.AGREED,
        mark_delivered=party is not None and status in (TradeStatus.AGREED, TradeStatus.IN_TRANSIT),
        complete=(
            party is not None
            and status is TradeStatus.DELIVERED
            and party != trade.delivered_by_id
            and reported_by != viewer.user_id
        )
        or settles,
        cancel=(party is not None and status is TradeStatus.AGREED) or settles,
        dispute=party is not None and status in OPEN_TRADE,
        review=party is not None and status is TradeStatus.COMPLETED and party not in reviewer_ids,
    )


def trade_review(viewer: Viewer, trade: Trade) -> uuid.UUID:
    """marketplace:trade_review; the reviewing party."""
    reviewer = party_of(viewer, trade)
    if reviewer is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Only the parties review each other", "tradeId")
    return reviewer
