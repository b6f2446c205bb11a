"""Queries and mutations of match-making, offers, trades, messages, reviews and impact: thin
resolvers over the marketplace service."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated, IsFirmOrCommunity
from backend.graphql.budgets import ReadBudget
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, parse_optional_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest
from backend.marketplace import service
from backend.marketplace.models import Offer
from backend.marketplace.schema.trading_types import (
    ImpactSummary,
    MatchType,
    OfferAcceptPayload,
    OfferCounterInput,
    OfferCreateInput,
    OfferFilter,
    OfferPayload,
    OfferType,
    ReviewCreateInput,
    ReviewPayload,
    ReviewType,
    TradeFilter,
    TradeMessagePayload,
    TradeMessageSendInput,
    TradeMessageType,
    TradePayload,
    TradeType,
)

OfferId = Annotated[strawberry.ID, strawberry.argument(description="The offer's id.")]
TradeId = Annotated[strawberry.ID, strawberry.argument(description="The trade's id.")]
Reason = Annotated[
    str, strawberry.argument(description="Why, for the other party (up to 1000 characters).")
]


def _offer(info: strawberry.Info, offer: Offer) -> OfferPayload:
    return OfferPayload(offer=OfferType.of(offer, signed_in(info), context_of(info).clock.now()))


def _trade(info: strawberry.Info, view: service.TradeView) -> TradePayload:
    return TradePayload(trade=TradeType.of(view, signed_in(info)))


@strawberry.type
class TradingQuery:
    @strawberry.field(
        description="Counterpart listings of a listing, best first: active listings of other "
        "organisations with the same, a broader or narrower, or a convertible material, scored "
        "0-100 with the parts shown. Anyone who may read the listing may ask. Rate-limited "
        "(THROTTLED with `extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def listing_matches(
        self,
        info: strawberry.Info,
        listing_id: Annotated[strawberry.ID, strawberry.argument(description="The listing.")],
        first: First = None,
        after: After = None,
    ) -> Connection[MatchType]:
        context = context_of(info)
        page = await service.listing_matches(
            now=context_of(info).clock.now(),
            db=context.db,
            viewer=context.viewer,
            listing_id=parse_id(listing_id, "listingId"),
            page=PageRequest.of(first, after),
        )
        now = context.clock.now()
        return Connection[MatchType].of(page, lambda m: MatchType.of(m, context.viewer, now))

    @strawberry.field(
        description="Offers your organisation made or received, most recently changed first.",
        permission_classes=[IsAuthenticated],
    )
    async def offers(
        self,
        info: strawberry.Info,
        filter: Annotated[
            OfferFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[OfferType]:
        viewer = signed_in(info)
        page = await service.list_offers(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=viewer,
            filter=(filter or OfferFilter()).to_service(),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        now = context_of(info).clock.now()
        return Connection[OfferType].of(page, lambda offer: OfferType.of(offer, viewer, now))

    @strawberry.field(
        description="One offer; null unless your organisation made it or owns the listing.",
        permission_classes=[IsAuthenticated],
    )
    async def offer(self, info: strawberry.Info, id: OfferId) -> OfferType | None:
        viewer = signed_in(info)
        try:
            offer_id = parse_id(id, "id")
        except ServiceError:
            return None
        found = await service.get_offer(db=context_of(info).db, viewer=viewer, offer_id=offer_id)
        return OfferType.of(found, viewer, context_of(info).clock.now()) if found else None

    @strawberry.field(
        description="Your organisation's trades, newest first (platform admins: every trade, "
        "to find the DISPUTED ones they settle).",
        permission_classes=[IsAuthenticated],
    )
    async def trades(
        self,
        info: strawberry.Info,
        filter: Annotated[
            TradeFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[TradeType]:
        viewer = signed_in(info)
        page = await service.list_trades(
            db=context_of(info).db,
            viewer=viewer,
            filter=(filter or TradeFilter()).to_service(),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[TradeType].of(page, lambda view: TradeType.of(view, viewer))

    @strawberry.field(
        description="One trade with its history, reviews and impact; null unless your "
        "organisation is a party (platform admins read every trade to settle disputes).",
        permission_classes=[IsAuthenticated],
    )
    async def trade(self, info: strawberry.Info, id: TradeId) -> TradeType | None:
        viewer = signed_in(info)
        try:
            trade_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_trade(db=context_of(info).db, viewer=viewer, trade_id=trade_id)
        return TradeType.of(view, viewer) if view else None

    @strawberry.field(
        description="The messages of a trade, oldest first; only its two parties read them.",
        permission_classes=[IsAuthenticated],
    )
    async def trade_messages(
        self,
        info: strawberry.Info,
        trade_id: Annotated[strawberry.ID, strawberry.argument(description="The trade.")],
        first: First = None,
        after: After = None,
    ) -> Connection[TradeMessageType]:
        viewer = signed_in(info)
        page = await service.list_messages(
            db=context_of(info).db,
            viewer=viewer,
            trade_id=parse_id(trade_id, "tradeId"),
            page=PageRequest.of(first, after),
        )
        return Connection[TradeMessageType].of(page, lambda m: TradeMessageType.of(m, viewer))

    @strawberry.field(
        description="Reviews an organisation received from trading partners, newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def organisation_reviews(
        self,
        info: strawberry.Info,
        organisation_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organisation.")
        ],
        first: First = None,
        after: After = None,
    ) -> Connection[ReviewType]:
        page = await service.list_reviews(
            db=context_of(info).db,
            organisation_id=parse_id(organisation_id, "organisationId"),
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[ReviewType].of(page, ReviewType.of)

    @strawberry.field(
        description="Totals of the impact ledger (completed trades) in a cluster or of an "
        "organisation, recorded in [from, to). Institutions and platform admins see any; firms "
        "and communities their own organisation.",
        permission_classes=[IsAuthenticated],
    )
    async def impact_summary(
        self,
        info: strawberry.Info,
        cluster_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this cluster.")
        ] = None,
        organisation_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only trades this organisation supplied or received."),
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="From this time (included)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Until this time (excluded).")
        ] = None,
    ) -> ImpactSummary:
        summary = await service.summarise_impact(
            db=context_of(info).db,
            viewer=signed_in(info),
            cluster_id=parse_optional_id(cluster_id, "clusterId"),
            organisation_id=parse_optional_id(organisation_id, "organisationId"),
            since=from_,
            until=to,
        )
        return ImpactSummary.of(summary)


@strawberry.type
class TradingMutation:
    @payload_mutation(
        description="Offer to take (on an OFFER listing) or to supply (on a WANT listing) some "
        "of another organisation's listing.",
        gates=(IsFirmOrCommunity,),
    )
    async def offer_create(
        self,
        info: strawberry.Info,
        input: Annotated[OfferCreateInput, strawberry.argument(description="The offer.")],
    ) -> OfferPayload:
        offer = await service.create_offer(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            listing_id=parse_id(input.listing_id, "listingId"),
            terms=input.terms(),
            offer_id=input.offer_id(),
        )
        return _offer(info, offer)

    @payload_mutation(
        description="Answer an offer with other terms; then it is the other side's turn.",
        gates=(IsAuthenticated,),
    )
    async def offer_counter(
        self,
        info: strawberry.Info,
        input: Annotated[OfferCounterInput, strawberry.argument(description="The new terms.")],
    ) -> OfferPayload:
        offer = await service.counter_offer(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            offer_id=parse_id(input.id, "id"),
            terms=input.terms(),
            expected_version=input.expected_version,
        )
        return _offer(info, offer)

    @payload_mutation(
        description="Accept the offer's current terms: its quantity is committed on the "
        "listing and a trade starts (AGREED).",
        gates=(IsAuthenticated,),
    )
    async def offer_accept(self, info: strawberry.Info, id: OfferId) -> OfferAcceptPayload:
        viewer = signed_in(info)
        accepted = await service.accept_offer(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=viewer,
            offer_id=parse_id(id, "id"),
        )
        return OfferAcceptPayload(
            offer=OfferType.of(accepted.offer, viewer, context_of(info).clock.now()),
            trade=TradeType.of(accepted.trade, viewer),
        )

    @payload_mutation(
        description="Decline an offer when it is your turn.", gates=(IsAuthenticated,)
    )
    async def offer_decline(
        self,
        info: strawberry.Info,
        id: OfferId,
        reason: Annotated[
            str, strawberry.argument(description="Why, for the maker (up to 500 characters).")
        ] = "",
    ) -> OfferPayload:
        offer = await service.decline_offer(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            offer_id=parse_id(id, "id"),
            reason=reason,
        )
        return _offer(info, offer)

    @payload_mutation(description="Take back an open offer you made.", gates=(IsAuthenticated,))
    async def offer_withdraw(self, info: strawberry.Info, id: OfferId) -> OfferPayload:
        offer = await service.withdraw_offer(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            offer_id=parse_id(id, "id"),
        )
        return _offer(info, offer)

    @payload_mutation(
        description="The supplier sends the material: AGREED -> IN_TRANSIT.",
        gates=(IsAuthenticated,),
    )
    async def trade_mark_in_transit(self, info: strawberry.Info, id: TradeId) -> TradePayload:
        view = await service.mark_in_transit(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(id, "id"),
        )
        return _trade(info, view)

    @payload_mutation(
        description="Report the delivery (either party), with the quantity that changed hands: "
        "-> DELIVERED. The other party then completes it.",
        gates=(IsAuthenticated,),
    )
    async def trade_mark_delivered(
        self,
        info: strawberry.Info,
        id: TradeId,
        delivered_quantity: Annotated[
            Decimal | None,
            strawberry.argument(description="What changed hands; the agreed quantity if omitted."),
        ] = None,
    ) -> TradePayload:
        view = await service.mark_delivered(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(id, "id"),
            delivered_quantity=delivered_quantity,
        )
        return _trade(info, view)

    @payload_mutation(
        description="Confirm the delivery the other party reported: -> COMPLETED, and the "
        "impact ledger records it. Platform admins complete disputed trades.",
        gates=(IsAuthenticated,),
    )
    async def trade_complete(self, info: strawberry.Info, id: TradeId) -> TradePayload:
        view = await service.complete_trade(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(id, "id"),
        )
        return _trade(info, view)

    @payload_mutation(
        description="Call off an AGREED trade (either party); the quantity goes back to the "
        "listing. Platform admins cancel disputed trades.",
        gates=(IsAuthenticated,),
    )
    async def trade_cancel(
        self, info: strawberry.Info, id: TradeId, reason: Reason = ""
    ) -> TradePayload:
        view = await service.cancel_trade(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(id, "id"),
            reason=reason,
        )
        return _trade(info, view)

    @payload_mutation(
        description="Dispute a trade that is not finished (either party); platform admins settle "
        "it by completing or cancelling it.",
        gates=(IsAuthenticated,),
    )
    async def trade_dispute(
        self, info: strawberry.Info, id: TradeId, reason: Reason
    ) -> TradePayload:
        view = await service.dispute_trade(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(id, "id"),
            reason=reason,
        )
        return _trade(info, view)

    @payload_mutation(
        description="Send a message to the other party of a trade.", gates=(IsAuthenticated,)
    )
    async def trade_message_send(
        self,
        info: strawberry.Info,
        input: Annotated[TradeMessageSendInput, strawberry.argument(description="The message.")],
    ) -> TradeMessagePayload:
        viewer = signed_in(info)
        message = await service.send_message(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=viewer,
            trade_id=parse_id(input.trade_id, "tradeId"),
            body=input.body,
            message_id=parse_optional_id(input.id, "id"),
        )
        return TradeMessagePayload(message=TradeMessageType.of(message, viewer))

    @payload_mutation(
        description="Review the other party of a completed trade, once.", gates=(IsAuthenticated,)
    )
    async def review_create(
        self,
        info: strawberry.Info,
        input: Annotated[ReviewCreateInput, strawberry.argument(description="The review.")],
    ) -> ReviewPayload:
        review = await service.create_review(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            trade_id=parse_id(input.trade_id, "tradeId"),
            rating=input.rating,
            comment=input.comment,
        )
        return ReviewPayload(review=ReviewType.of(review))


__all__ = ["TradingMutation", "TradingQuery"]
