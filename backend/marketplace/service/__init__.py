"""Marketplace: listings from draft to closed and their search, match-making, offers, trades,
the parties' messages and reviews, and the impact ledger.

Every public function is keyword-only and owns its unit of work. The modules are split by
activity and import downwards only: ``common`` (a listing's status, loads and committed
quantity) sits below them all, so listings, offers, matching and trades never import each other
in a circle. Object rules are in ``backend.marketplace.policies``.
"""

from backend.marketplace.service.common import effective_status
from backend.marketplace.service.impact import ImpactSummary, MaterialImpact, summarise_impact
from backend.marketplace.service.inputs import (
    UNCHANGED,
    ListingChanges,
    ListingDraft,
    ListingFilter,
    ListingHit,
    ListingSort,
    Near,
    Spec,
)
from backend.marketplace.service.listings import (
    close_listing,
    create_listing,
    delete_listing,
    get_listing,
    hide_listing,
    listings_for_sync,
    publish_listing,
    update_listing,
)
from backend.marketplace.service.matching import Match, Relation, ScorePart, listing_matches
from backend.marketplace.service.messages import list_messages, send_message
from backend.marketplace.service.offers import (
    Acceptance,
    OfferFilter,
    OfferRole,
    Terms,
    accept_offer,
    counter_offer,
    create_offer,
    decline_offer,
    get_offer,
    list_offers,
    offer_status,
    offers_for_sync,
    whose_turn,
    withdraw_offer,
)
from backend.marketplace.service.reviews import create_review, list_reviews
from backend.marketplace.service.searching import my_listings, search_listings
from backend.marketplace.service.trades import (
    TradeFilter,
    TradeRole,
    TradeView,
    cancel_trade,
    complete_trade,
    dispute_trade,
    get_trade,
    list_trades,
    mark_delivered,
    mark_in_transit,
    trade_actions,
    trades_for_sync,
)

__all__ = [
    "UNCHANGED",
    "Acceptance",
    "ImpactSummary",
    "ListingChanges",
    "ListingDraft",
    "ListingFilter",
    "ListingHit",
    "ListingSort",
    "Match",
    "MaterialImpact",
    "Near",
    "OfferFilter",
    "OfferRole",
    "Relation",
    "ScorePart",
    "Spec",
    "Terms",
    "TradeFilter",
    "TradeRole",
    "TradeView",
    "accept_offer",
    "cancel_trade",
    "close_listing",
    "complete_trade",
    "counter_offer",
    "create_listing",
    "create_offer",
    "create_review",
    "decline_offer",
    "delete_listing",
    "dispute_trade",
    "effective_status",
    "get_listing",
    "get_offer",
    "get_trade",
    "hide_listing",
    "list_messages",
    "list_offers",
    "list_reviews",
    "list_trades",
    "listing_matches",
    "listings_for_sync",
    "mark_delivered",
    "mark_in_transit",
    "my_listings",
    "offer_status",
    "offers_for_sync",
    "publish_listing",
    "search_listings",
    "send_message",
    "summarise_impact",
    "trade_actions",
    "trades_for_sync",
    "update_listing",
    "whose_turn",
    "withdraw_offer",
]
