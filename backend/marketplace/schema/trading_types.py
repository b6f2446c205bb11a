"""GraphQL types of match-making, offers, trades, messages, reviews and the impact ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.graphql.types import Location, Payload, parse_optional_id
from backend.identity.schema import OrganisationType
from backend.kit.money import plain_number, round_money
from backend.marketplace import models, policies, service
from backend.marketplace.models import OfferStatus, TradeStatus
from backend.marketplace.schema.types import ListingType, MaterialType, UnitType
from backend.marketplace.service import OfferRole, Relation, TradeRole

strawberry.enum(
    Relation,
    description="How a match's material relates to the listing's: SAME; NARROWER (a kind of "
    "it); BROADER (includes it); CONVERSION (one is made from the other); SUBSTITUTE (both are "
    "inputs of one product).",
)
strawberry.enum(
    OfferStatus,
    description="PENDING: the listing's organisation answers. COUNTERED: the maker answers the "
    "counter-offer. ACCEPTED (a trade started), DECLINED, WITHDRAWN, EXPIRED.",
)
strawberry.enum(
    TradeStatus,
    description="AGREED -> IN_TRANSIT (optional) -> DELIVERED -> COMPLETED; or CANCELLED "
    "(before the material moves) or DISPUTED (settled by platform admins).",
)
strawberry.enum(OfferRole, description="MADE by your organisation, or RECEIVED on its listings.")


strawberry.enum(TradeRole, description="Your organisation's side of a trade.")


def _total(quantity: Decimal, price: Decimal, currency: str) -> Decimal:
    """quantity x price, exactly, rounded to the currency's minor unit as an invoice is."""
    return round_money(Fraction(quantity) * Fraction(price), currency)


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


# ---------------------------------------------------------------------------------------------
# Matches


@strawberry.type(description="One part of a match's score.")
class ScorePart:
    name: str = strawberry.field(
        description="material, quantity, distance, availability, price or trust."
    )
    value: float = strawberry.field(description="How well this part fits, 0 to 1.")
    weight: float = strawberry.field(description="Its share of the score (the weights add to 1).")
    reason: str = strawberry.field(description="Why, in words (may be empty).")


@strawberry.type(name="Match", description="A counterpart listing and how well it fits.")
class MatchType:
    listing: ListingType = strawberry.field(description="The counterpart listing.")
    score: float = strawberry.field(description="0-100: the weighted sum of `parts`.")
    distance_km: float = strawberry.field(
        description="Distance between the two listings' shown locations, in km."
    )
    relation: Relation = strawberry.field(description="How the materials relate.")
    reasons: list[str] = strawberry.field(description="The parts' reasons, for a card.")
    parts: list[ScorePart] = strawberry.field(description="The score, part by part.")
    receiver_licensed: bool | None = strawberry.field(
        description="For hazardous waste (an EWC entry with an asterisk, or a material below "
        "one): whether the organisation that would receive it holds a verified waste licence "
        "covering it, valid today; without one an offer or trade is refused "
        "(LICENCE_REQUIRED). The receiver is the candidate's organisation for a listing on "
        "OFFER and the listing's own organisation for a WANT. Null when the waste is not "
        "hazardous."
    )

    @classmethod
    def of(cls, match: service.Match, viewer: Viewer | Anonymous, now: datetime) -> MatchType:
        return cls(
            listing=ListingType.of(match.listing, viewer, now, match.distance_km),
            score=match.score,
            distance_km=match.distance_km,
            relation=match.relation,
            reasons=match.reasons,
            parts=[
                ScorePart(name=p.name, value=round(p.value, 3), weight=p.weight, reason=p.reason)
                for p in match.parts
            ],
            receiver_licensed=match.receiver_licensed,
        )


# ---------------------------------------------------------------------------------------------
# Offers


@strawberry.type(description="One proposal of a negotiation: the first offer or a counter.")
class OfferTermsType:
    round: int = strawberry.field(description="1 for the first offer, then 2, 3 ...")
    proposed_by: OrganisationType = strawberry.field(description="Who proposed these terms.")
    quantity: Decimal = strawberry.field(description="Quantity, in the listing's unit.")
    price_per_unit: Decimal = strawberry.field(description="Price per unit, may be negative.")
    message: str = strawberry.field(description="What they wrote with it.")
    expires_at: datetime = strawberry.field(description="Until when the terms stood.")
    created_at: datetime = strawberry.field(description="When they were proposed.")


@strawberry.type(name="Offer", description="A negotiation on a listing between two organisations.")
class OfferType:
    id: strawberry.ID = strawberry.field(description="Opaque id; stays through counters.")
    status: OfferStatus = strawberry.field(description="Where it stands.")
    listing: ListingType = strawberry.field(description="The listing it is on.")
    maker: OrganisationType = strawberry.field(description="Who made the offer.")
    owner: OrganisationType = strawberry.field(description="The listing's organisation.")
    quantity: Decimal = strawberry.field(description="Current terms: quantity in `unit`.")
    unit: UnitType = strawberry.field(description="Unit of the quantity and the price.")
    price_per_unit: Decimal = strawberry.field(
        description="Current terms: price per unit; negative means the supplier pays the taker."
    )
    currency: str = strawberry.field(description="The listing's currency (ISO 4217).")
    total_price: Decimal = strawberry.field(
        description="quantity x pricePerUnit, rounded to the currency's minor unit."
    )
    message: str = strawberry.field(description="The latest proposal's message.")
    expires_at: datetime = strawberry.field(description="When the current terms lapse.")
    rounds: int = strawberry.field(description="How many proposals so far.")
    terms: list[OfferTermsType] = strawberry.field(description="Every proposal, first first.")
    awaiting: OrganisationType | None = strawberry.field(
        description="Whose turn it is to answer; null once decided."
    )
    viewer_can_answer: bool = strawberry.field(
        description="Whether the viewer may accept, decline or counter now."
    )
    viewer_can_withdraw: bool = strawberry.field(description="Whether the viewer may withdraw.")
    decline_reason: str = strawberry.field(description="Why it was declined, if given.")
    decided_at: datetime | None = strawberry.field(
        description="When it was accepted, declined or withdrawn."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    version: int = strawberry.field(
        description="Bumped on every change; send it as `expectedVersion` with a counter."
    )

    @classmethod
    def of(cls, offer: models.Offer, viewer: Viewer, now: datetime) -> OfferType:
        status = service.offer_status(offer, now)
        parties = {offer.maker_id: offer.maker, offer.owner_id: offer.owner}
        turn = service.whose_turn(offer) if status in models.OPEN_OFFER else None
        return cls(
            id=_id(offer.id),
            status=status,
            listing=ListingType.of(offer.listing, viewer, now),
            maker=OrganisationType.of(offer.maker),
            owner=OrganisationType.of(offer.owner),
            quantity=plain_number(offer.quantity),
            unit=UnitType.of(offer.unit),
            price_per_unit=plain_number(offer.price_per_unit),
            currency=offer.currency,
            total_price=plain_number(_total(offer.quantity, offer.price_per_unit, offer.currency)),
            message=offer.message,
            expires_at=offer.expires_at,
            rounds=offer.rounds,
            terms=[
                OfferTermsType(
                    round=t.round,
                    proposed_by=OrganisationType.of(parties[t.proposed_by_id]),
                    quantity=plain_number(t.quantity),
                    price_per_unit=plain_number(t.price_per_unit),
                    message=t.message,
                    expires_at=t.expires_at,
                    created_at=t.created_at,
                )
                for t in offer.terms
            ],
            awaiting=OrganisationType.of(parties[turn]) if turn else None,
            viewer_can_answer=turn is not None and turn == viewer.organisation_id,
            viewer_can_withdraw=status in models.OPEN_OFFER
            and viewer.organisation_id == offer.maker_id,
            decline_reason=offer.decline_reason,
            decided_at=offer.decided_at,
            created_at=offer.created_at,
            updated_at=offer.updated_at,
            version=offer.version,
        )


# ---------------------------------------------------------------------------------------------
# Trades


@strawberry.type(description="One change of a trade's status: what, who and when.")
class TradeStep:
    status: TradeStatus = strawberry.field(description="The status it moved to.")
    by: OrganisationType | None = strawberry.field(
        description="The party that moved it; null when a platform admin settled a dispute."
    )
    by_platform_admin: bool = strawberry.field(description="Whether a platform admin moved it.")
    note: str = strawberry.field(description="Reason or delivered quantity, when given.")
    at: datetime = strawberry.field(description="When.")


@strawberry.type(name="Review", description="What one trading partner said of the other.")
class ReviewType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    rating: int = strawberry.field(description="1 to 5 stars.")
    comment: str = strawberry.field(description="Their words.")
    reviewer: OrganisationType = strawberry.field(description="Who wrote it.")
    trade_id: strawberry.ID = strawberry.field(description="The trade it is about.")
    created_at: datetime = strawberry.field(description="When.")

    @classmethod
    def of(cls, review: models.Review) -> ReviewType:
        return cls(
            id=_id(review.id),
            rating=review.rating,
            comment=review.comment,
            reviewer=OrganisationType.of(review.reviewer),
            trade_id=_id(review.trade_id),
            created_at=review.created_at,
        )


@strawberry.type(
    name="ImpactEntry",
    description="What a completed trade achieved, with the factors it was computed with.",
)
class ImpactEntryType:
    diverted_kg: Decimal | None = strawberry.field(
        description="Mass kept from disposal, in kg; null when the unit has no mass (pieces, "
        "bags, energy)."
    )
    co2e_avoided_kg: Decimal | None = strawberry.field(
        description="CO2-equivalent avoided, in kg; null without a factor for the material."
    )
    disposal_cost_avoided: Decimal | None = strawberry.field(
        description="Disposal cost avoided, in `currency`; null without a factor."
    )
    currency: str | None = strawberry.field(description="Currency of the disposal cost.")
    transport_km: float | None = strawberry.field(
        description="Distance between the parties, in km."
    )
    method_version: str = strawberry.field(description="The method version of the factors.")
    baseline: str = strawberry.field(description="The disposal the trade replaced.")
    co2e_kg_per_tonne: Decimal | None = strawberry.field(
        description="The CO2e factor used, kg per tonne diverted."
    )
    co2e_source: str = strawberry.field(description="Where that factor comes from.")
    disposal_cost_per_tonne: Decimal | None = strawberry.field(
        description="The disposal cost factor used, per tonne."
    )
    disposal_cost_source: str = strawberry.field(description="Where that figure comes from.")
    recorded_at: datetime = strawberry.field(description="When the trade was completed.")

    @classmethod
    def of(cls, entry: models.ImpactEntry) -> ImpactEntryType:
        def maybe(value: Decimal | None) -> Decimal | None:
            return plain_number(value) if value is not None else None

        return cls(
            diverted_kg=maybe(entry.diverted_kg),
            co2e_avoided_kg=maybe(entry.co2e_avoided_kg),
            disposal_cost_avoided=maybe(entry.disposal_cost_avoided),
            currency=entry.currency,
            transport_km=entry.transport_km,
            method_version=entry.method_version,
            baseline=entry.baseline,
            co2e_kg_per_tonne=maybe(entry.co2e_kg_per_tonne),
            co2e_source=entry.co2e_source,
            disposal_cost_per_tonne=maybe(entry.disposal_cost_per_tonne),
            disposal_cost_source=entry.disposal_cost_source,
            recorded_at=entry.recorded_at,
        )


@strawberry.type(
    name="Trade", description="An accepted offer: material going from the supplier to the receiver."
)
class TradeType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    status: TradeStatus = strawberry.field(description="Where it stands.")
    offer_id: strawberry.ID = strawberry.field(description="The accepted offer.")
    listing_id: strawberry.ID = strawberry.field(description="The listing it came from.")
    listing_title: str = strawberry.field(description="That listing's title.")
    supplier: OrganisationType = strawberry.field(description="Who hands the material over.")
    receiver: OrganisationType = strawberry.field(description="Who takes it.")
    my_role: TradeRole | None = strawberry.field(
        description="The viewer's side; null for platform admins."
    )
    material: MaterialType = strawberry.field(description="The material.")
    quantity: Decimal = strawberry.field(description="Agreed quantity, in `unit`.")
    unit: UnitType = strawberry.field(description="Unit of the quantities and the price.")
    price_per_unit: Decimal = strawberry.field(description="Agreed price per unit.")
    currency: str = strawberry.field(description="ISO 4217 currency of the price.")
    total_price: Decimal = strawberry.field(
        description="Agreed quantity x price, rounded to the currency's minor unit."
    )
    delivered_quantity: Decimal | None = strawberry.field(
        description="What changed hands, once reported; may differ from the agreed quantity."
    )
    delivered_by: OrganisationType | None = strawberry.field(
        description="The party that reported the delivery; the other one completes."
    )
    distance_km: float | None = strawberry.field(description="Distance between the parties, in km.")
    listing_location: Location = strawberry.field(
        description="Where the listed material is, exactly: trade partners see the point and "
        "place name that listings with `locationApproximate` hide from others."
    )
    history: list[TradeStep] = strawberry.field(description="Every status change, oldest first.")
    reviews: list[ReviewType] = strawberry.field(description="The parties' reviews of each other.")
    impact: ImpactEntryType | None = strawberry.field(
        description="The impact ledger entry, once completed."
    )
    viewer_can_mark_in_transit: bool = strawberry.field(description="tradeMarkInTransit allowed.")
    viewer_can_mark_delivered: bool = strawberry.field(description="tradeMarkDelivered allowed.")
    viewer_can_complete: bool = strawberry.field(description="tradeComplete allowed.")
    viewer_can_cancel: bool = strawberry.field(description="tradeCancel allowed.")
    viewer_can_dispute: bool = strawberry.field(description="tradeDispute allowed.")
    viewer_can_review: bool = strawberry.field(description="reviewCreate allowed.")
    created_at: datetime = strawberry.field(description="When the offer was accepted.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    version: int = strawberry.field(description="Bumped on every change.")

    @classmethod
    def of(cls, view: service.TradeView, viewer: Viewer) -> TradeType:
        trade = view.trade
        parties = {trade.supplier_id: trade.supplier, trade.receiver_id: trade.receiver}
        party = policies.party_of(viewer, trade)
        status = trade.status
        role = None
        if party is not None:
            role = TradeRole.SUPPLIER if party == trade.supplier_id else TradeRole.RECEIVER
        can = service.trade_actions(viewer, view)
        return cls(
            id=_id(trade.id),
            status=status,
            offer_id=_id(trade.offer_id),
            listing_id=_id(trade.listing_id),
            listing_title=trade.listing.title,
            supplier=OrganisationType.of(trade.supplier),
            receiver=OrganisationType.of(trade.receiver),
            my_role=role,
            material=MaterialType.of(trade.material),
            quantity=plain_number(trade.quantity),
            unit=UnitType.of(trade.unit),
            price_per_unit=plain_number(trade.price_per_unit),
            currency=trade.currency,
            total_price=plain_number(_total(trade.quantity, trade.price_per_unit, trade.currency)),
            delivered_quantity=(
                plain_number(trade.delivered_quantity)
                if trade.delivered_quantity is not None
                else None
            ),
            delivered_by=(
                OrganisationType.of(parties[trade.delivered_by_id])
                if trade.delivered_by_id in parties
                else None
            ),
            distance_km=trade.distance_km,
            listing_location=Location(
                lat=trade.listing.lat, lon=trade.listing.lon, place_name=trade.listing.place_name
            ),
            history=[
                TradeStep(
                    status=step.status,
                    by=(
                        OrganisationType.of(parties[step.by_organisation_id])
                        if step.by_organisation_id in parties
                        else None
                    ),
                    by_platform_admin=step.by_organisation_id not in parties,
                    note=step.note,
                    at=step.at,
                )
                for step in trade.history
            ],
            reviews=[ReviewType.of(r) for r in view.reviews],
            impact=ImpactEntryType.of(view.impact) if view.impact else None,
            viewer_can_mark_in_transit=can.mark_in_transit,
            viewer_can_mark_delivered=can.mark_delivered,
            viewer_can_complete=can.complete,
            viewer_can_cancel=can.cancel,
            viewer_can_dispute=can.dispute,
            viewer_can_review=can.review,
            created_at=trade.created_at,
            updated_at=trade.updated_at,
            completed_at=trade.completed_at,
            version=trade.version,
        )


@strawberry.type(name="TradeMessage", description="A message between the parties of a trade.")
class TradeMessageType:
    id: strawberry.ID = strawberry.field(description="Opaque id (the app's own if it gave one).")
    body: str = strawberry.field(description="The text.")
    organisation: OrganisationType = strawberry.field(description="The party that wrote it.")
    mine: bool = strawberry.field(description="Whether the viewer wrote it.")
    created_at: datetime = strawberry.field(description="When it was sent.")

    @classmethod
    def of(cls, message: models.TradeMessage, viewer: Viewer) -> TradeMessageType:
        return cls(
            id=_id(message.id),
            body=message.body,
            organisation=OrganisationType.of(message.organisation),
            mine=message.author_id == viewer.user_id,
            created_at=message.created_at,
        )


# ---------------------------------------------------------------------------------------------
# Impact summary


@strawberry.type(description="An amount of money in a currency.")
class MoneyAmount:
    amount: Decimal = strawberry.field(description="The amount.")
    currency: str = strawberry.field(description="ISO 4217 currency.")


@strawberry.type(description="The impact of one material's trades.")
class MaterialImpact:
    material_code: str = strawberry.field(description="The material's catalogue code.")
    material_name: str = strawberry.field(description="Its English name.")
    diverted_kg: Decimal = strawberry.field(description="Kg kept from disposal.")
    co2e_avoided_kg: Decimal = strawberry.field(description="Kg CO2-equivalent avoided.")
    trades_completed: int = strawberry.field(description="Completed trades of it.")


@strawberry.type(description="Totals of the impact ledger over a scope and a period.")
class ImpactSummary:
    diverted_kg: Decimal = strawberry.field(description="Kg of material kept from disposal.")
    co2e_avoided_kg: Decimal = strawberry.field(description="Kg CO2-equivalent avoided.")
    disposal_cost_avoided: Decimal = strawberry.field(
        description="Disposal cost avoided, in `currency` (the cluster's)."
    )
    currency: str | None = strawberry.field(description="Currency of `disposalCostAvoided`.")
    other_currencies: list[MoneyAmount] = strawberry.field(
        description="Disposal costs avoided that were recorded in other currencies."
    )
    trades_completed: int = strawberry.field(description="Completed trades counted.")
    trades_without_mass: int = strawberry.field(
        description="Of those, trades in units without a mass (pieces, bags, energy): they add "
        "nothing to `divertedKg`."
    )
    transport_km: float = strawberry.field(description="Sum of the distances between parties.")
    method_versions: list[str] = strawberry.field(
        description="Method versions of the factors behind these figures."
    )
    by_material: list[MaterialImpact] = strawberry.field(
        description="The same per material, most diverted first."
    )

    @classmethod
    def of(cls, summary: service.ImpactSummary) -> ImpactSummary:
        return cls(
            diverted_kg=plain_number(summary.diverted_kg),
            co2e_avoided_kg=plain_number(summary.co2e_avoided_kg),
            disposal_cost_avoided=plain_number(summary.disposal_cost_avoided),
            currency=summary.currency,
            other_currencies=[
                MoneyAmount(amount=plain_number(m.amount), currency=m.currency)
                for m in summary.other_currencies
            ],
            trades_completed=summary.trades_completed,
            trades_without_mass=summary.trades_without_mass,
            transport_km=summary.transport_km,
            method_versions=summary.method_versions,
            by_material=[
                MaterialImpact(
                    material_code=m.material_code,
                    material_name=m.material_name,
                    diverted_kg=plain_number(m.diverted_kg),
                    co2e_avoided_kg=plain_number(m.co2e_avoided_kg),
                    trades_completed=m.trades_completed,
                )
                for m in summary.by_material
            ],
        )


# ---------------------------------------------------------------------------------------------
# Inputs and payloads


@strawberry.input(description="An offer on someone else's listing.")
class OfferCreateInput:
    listing_id: strawberry.ID = strawberry.field(description="The listing.")
    quantity: Decimal = strawberry.field(
        description="How much, in the listing's unit; at most what is left of it."
    )
    price_per_unit: Decimal = strawberry.field(
        description="Price per unit in the listing's currency; zero or negative allowed."
    )
    message: str = strawberry.field(default="", description="A note, up to 2000 characters.")
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the offer lapses: within 90 days; 7 days if omitted."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The app's own UUID: sending the same offer again returns the first one.",
    )

    def offer_id(self) -> uuid.UUID | None:
        return parse_optional_id(self.id, "id")

    def terms(self) -> service.Terms:
        return service.Terms(self.quantity, self.price_per_unit, self.message, self.expires_at)


@strawberry.input(description="Other terms, from the side whose turn it is.")
class OfferCounterInput:
    id: strawberry.ID = strawberry.field(description="The offer.")
    quantity: Decimal = strawberry.field(description="How much, in the listing's unit.")
    price_per_unit: Decimal = strawberry.field(description="Price per unit.")
    message: str = strawberry.field(default="", description="A note, up to 2000 characters.")
    expires_at: datetime | None = strawberry.field(
        default=None, description="When these terms lapse: within 90 days; 7 days if omitted."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="The offer's version the app saw; CONFLICT if it changed."
    )

    def terms(self) -> service.Terms:
        return service.Terms(self.quantity, self.price_per_unit, self.message, self.expires_at)


@strawberry.input(description="Narrow the offers.")
class OfferFilter:
    role: OfferRole | None = strawberry.field(default=None, description="Made or received.")
    status: OfferStatus | None = strawberry.field(default=None, description="Only this status.")
    listing_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only offers on this listing."
    )
    awaiting_me: bool = strawberry.field(
        default=False, description="Only open offers waiting for your organisation's answer."
    )

    def to_service(self) -> service.OfferFilter:
        return service.OfferFilter(
            role=self.role,
            status=self.status,
            listing_id=parse_optional_id(self.listing_id, "filter.listingId"),
            awaiting_me=self.awaiting_me,
        )


@strawberry.input(description="Narrow the trades.")
class TradeFilter:
    status: TradeStatus | None = strawberry.field(default=None, description="Only this status.")
    role: TradeRole | None = strawberry.field(
        default=None, description="Only trades where your organisation is on this side."
    )
    listing_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only trades of this listing."
    )

    def to_service(self) -> service.TradeFilter:
        return service.TradeFilter(
            status=self.status,
            role=self.role,
            listing_id=parse_optional_id(self.listing_id, "filter.listingId"),
        )


@strawberry.input(description="A message to the other party of a trade.")
class TradeMessageSendInput:
    trade_id: strawberry.ID = strawberry.field(description="The trade.")
    body: str = strawberry.field(description="1 to 4000 characters.")
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID: a resent message is stored once."
    )


@strawberry.input(description="A review of the other party of a completed trade.")
class ReviewCreateInput:
    trade_id: strawberry.ID = strawberry.field(description="The completed trade.")
    rating: int = strawberry.field(description="1 to 5 stars.")
    comment: str = strawberry.field(default="", description="Up to 2000 characters.")


@strawberry.type(description="Result of an offer mutation.")
class OfferPayload(Payload):
    offer: OfferType | None = strawberry.field(default=None, description="The offer as it is now.")


@strawberry.type(description="Result of `offerAccept`.")
class OfferAcceptPayload(Payload):
    offer: OfferType | None = strawberry.field(default=None, description="The accepted offer.")
    trade: TradeType | None = strawberry.field(default=None, description="The trade it started.")


@strawberry.type(description="Result of a trade mutation.")
class TradePayload(Payload):
    trade: TradeType | None = strawberry.field(default=None, description="The trade as it is now.")


@strawberry.type(description="Result of `tradeMessageSend`.")
class TradeMessagePayload(Payload):
    message: TradeMessageType | None = strawberry.field(
        default=None, description="The message as stored."
    )


@strawberry.type(description="Result of `reviewCreate`.")
class ReviewPayload(Payload):
    review: ReviewType | None = strawberry.field(default=None, description="The review.")
