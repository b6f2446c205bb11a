"""Listings from draft to closed: creating, changing, publishing, closing, hiding and reading one.

Every public function is keyword-only and owns its unit of work.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue
from backend.identity.models import Cluster, Organisation
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.geo import approximate
from backend.kit.money import check_amount, check_currency, plain
from backend.kit.prepared import Prepared
from backend.kit.validation import Place, check_language, check_place, check_text, check_utc
from backend.marketplace import policies
from backend.marketplace.models import (
    LISTING_COLUMNS,
    Listing,
    ListingStatus,
    Recurrence,
)
from backend.marketplace.service import matching, offers
from backend.marketplace.service.common import (
    attach_loads,
    effective_status,
    listing_loads,
    listing_rows_records,
)
from backend.marketplace.service.inputs import (
    UNCHANGED,
    ListingChanges,
    ListingDraft,
    ListingRecord,
    Spec,
)
from backend.notifications.service import texts

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
MAX_SPECS = 20
MAX_PHOTOS = 10
# Only these may be changed once a listing is out of draft and somebody may have looked at it.
EDITABLE = (ListingStatus.DRAFT, ListingStatus.ACTIVE, ListingStatus.RESERVED)


# ---------------------------------------------------------------------------------------------
# Validation


def _check_recurrence(problems: Problems, recurrence: Recurrence, season_months: list[int]) -> None:
    if recurrence is Recurrence.SEASONAL:
        if not season_months:
            problems.add("seasonMonths", "A seasonal listing names its months (1-12)")
        elif any(not 1 <= m <= 12 for m in season_months) or len(set(season_months)) != len(
            season_months
        ):
            problems.add("seasonMonths", "Months are distinct numbers from 1 to 12")
    elif season_months:
        problems.add("seasonMonths", "Only SEASONAL listings have months")


def _check_specs(problems: Problems, specs: list[Spec]) -> None:
    if len(specs) > MAX_SPECS:
        problems.add("specs", f"At most {MAX_SPECS} quality notes")
    for i, spec in enumerate(specs[:MAX_SPECS]):
        check_text(problems, f"specs.{i}.key", spec.key, min_length=1, max_length=60)
        check_text(problems, f"specs.{i}.value", spec.value, min_length=1, max_length=200)


def _check_photos(problems: Problems, photos: list[str]) -> None:
    if len(photos) > MAX_PHOTOS:
        problems.add("photos", f"At most {MAX_PHOTOS} photos")
    for i, url in enumerate(photos[:MAX_PHOTOS]):
        try:
            parts = urlsplit(url)
        except ValueError:  # such as "https://[oops"
            parts = urlsplit("")
        if parts.scheme != "https" or not parts.netloc or len(url) > 2048:
            problems.add(f"photos.{i}", "Give an https:// address of at most 2048 characters")


def _check_aware(problems: Problems, field_name: str, value: datetime) -> bool:
    return check_utc(problems, field_name, value) is not None


def _utc(value: datetime | None) -> datetime | None:
    """Stored and answered in UTC, so the create's answer equals every later read."""
    return value.astimezone(UTC) if value is not None else None


def _check_window(
    problems: Problems, available_from: datetime | None, available_until: datetime | None
) -> None:
    for name, value in (("availableFrom", available_from), ("availableUntil", available_until)):
        if value is not None and not _check_aware(problems, name, value):
            return
    if available_from and available_until and available_until < available_from:
        problems.add("availableUntil", "Must not be before availableFrom")


def _check_expiry(problems: Problems, expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None or not _check_aware(problems, "expiresAt", expires_at):
        return
    if expires_at <= now:
        problems.add("expiresAt", "Must be in the future")
    elif expires_at > now + MAX_LIFETIME:
        problems.add("expiresAt", "Must be within a year")


def _check_draft(problems: Problems, draft: ListingDraft, now: datetime) -> None:
    check_text(problems, "title", draft.title, min_length=3, max_length=160)
    check_text(
        problems, "description", draft.description, min_length=0, max_length=5000, multiline=True
    )
    check_language(problems, "language", draft.language)
    check_amount(problems, "quantity", draft.quantity, positive=True)
    if draft.price_per_unit is not None:
        check_amount(problems, "pricePerUnit", draft.price_per_unit, positive=False)
    if draft.currency is not None:
        check_currency(problems, "currency", draft.currency)
    _check_recurrence(problems, draft.recurrence, draft.season_months)
    _check_window(problems, draft.available_from, draft.available_until)
    check_place(problems, "location", draft.location)
    _check_specs(problems, draft.specs)
    _check_photos(problems, draft.photos)
    _check_expiry(problems, draft.expires_at, now)


# ---------------------------------------------------------------------------------------------
# Loading


async def _managed(session: AsyncSession, viewer: Viewer, listing_id: uuid.UUID) -> Listing:
    # Locked until the change commits, so two edits sent with one expectedVersion cannot both
    # pass the check (SQLite's BEGIN IMMEDIATE already runs writes one at a time).
    listing = await session.get(Listing, listing_id, with_for_update=True)
    if listing is None or not policies.may_read(viewer, listing):
        raise not_found("Listing")
    policies.listing_manage(viewer, listing)
    return listing


def _set_location(listing: Listing, place: Place, approximate_only: bool) -> None:
    listing.lat, listing.lon = place.lat, place.lon
    listing.place_name = place.place_name.strip()
    listing.location_approximate = approximate_only
    listing.public_lat = approximate(place.lat) if approximate_only else place.lat
    listing.public_lon = approximate(place.lon) if approximate_only else place.lon


# ---------------------------------------------------------------------------------------------
# Listing lifecycle


async def create_listing(
    *, now: datetime, db: Database, viewer: Viewer, draft: ListingDraft, publish: bool = False
) -> Listing:
    """See ``_create_listing``; a concurrent twin with the same id is answered as a retry."""
    return await once_more_on_clash(
        lambda: _create_listing(db=db, viewer=viewer, draft=draft, publish=publish, now=now)
    )


async def _create_listing(
    *, now: datetime, db: Database, viewer: Viewer, draft: ListingDraft, publish: bool = False
) -> Listing:
    """Create a DRAFT (or, with ``publish``, an ACTIVE) listing for the viewer's organisation.

    The same client id twice gives the one listing back: a retried request creates nothing new.
    """
    if viewer.organisation_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to list materials")
    problems = Problems()
    _check_draft(problems, draft, now)
    async with db.write() as session:
        if draft.id is not None:
            existing = await session.get(Listing, draft.id)
            if existing is not None:
                return await _same_listing_again(session, viewer, existing)
        organisation = await session.get(Organisation, viewer.organisation_id)
        if organisation is None:
            raise ServiceError.of(ErrorCode.FORBIDDEN, "Your organisation no longer exists")
        cluster = await session.get(Cluster, organisation.cluster_id)
        assert cluster is not None
        # Catalogue look-ups join the form's other problems: one answer lists them all. The
        # rows are kept: the answer carries them (the session holds rows only while they are
        # referenced).
        material = await catalogue.check_material(
            session, problems, draft.material_code, "materialCode"
        )
        unit = await catalogue.check_unit(session, problems, draft.unit_code, "unit")
        problems.raise_if_any()
        assert material is not None
        assert unit is not None
        listing = Listing(
            organisation_id=organisation.id,
            cluster_id=organisation.cluster_id,
            created_by_id=viewer.user_id,
            kind=draft.kind,
            category=draft.category,
            status=ListingStatus.DRAFT,
            title=draft.title.strip(),
            description=draft.description.strip(),
            language=draft.language,
            material_code=draft.material_code,
            quantity=draft.quantity,
            unit_code=unit.code,
            quantity_base=draft.quantity * unit.factor,
            recurrence=draft.recurrence,
            season_months=sorted(draft.season_months),
            available_from=_utc(draft.available_from),
            available_until=_utc(draft.available_until),
            price_per_unit=draft.price_per_unit,
            currency=draft.currency or cluster.currency,
            delivery=draft.delivery,
            specs=[{"key": s.key.strip(), "value": s.value.strip()} for s in draft.specs],
            photos=list(draft.photos),
            expires_at=_utc(draft.expires_at),
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            listing.id = draft.id
        _set_location(listing, draft.location, draft.location_approximate)
        if publish:
            _publish(listing, now)
        session.add(listing)
        await session.flush()
        if publish:
            await matching.tell_matches(session, listing, now)
        return await attach_loads(session, listing)


async def _same_listing_again(session: AsyncSession, viewer: Viewer, existing: Listing) -> Listing:
    if existing.organisation_id != viewer.organisation_id:
        raise ServiceError.of(ErrorCode.CONFLICT, "This id belongs to another listing", "id")
    return await attach_loads(session, existing)


def _publish(listing: Listing, now: datetime) -> None:
    listing.status = ListingStatus.ACTIVE
    listing.published_at = now
    if listing.expires_at is None or listing.expires_at <= now:
        listing.expires_at = now + DEFAULT_LIFETIME


async def update_listing(
    *,
    now: datetime,
    db: Database,
    viewer: Viewer,
    listing_id: uuid.UUID,
    changes: ListingChanges,
    expected_version: int | None = None,
) -> Listing:
    problems = Problems()
    if changes.title is not None:
        check_text(problems, "title", changes.title, min_length=3, max_length=160)
    if changes.description is not None:
        check_text(
            problems,
            "description",
            changes.description,
            min_length=0,
            max_length=5000,
            multiline=True,
        )
    if changes.language is not None:
        check_language(problems, "language", changes.language)
    if changes.quantity is not None:
        check_amount(problems, "quantity", changes.quantity, positive=True)
    if changes.price_per_unit not in (UNCHANGED, None):
        check_amount(problems, "pricePerUnit", changes.price_per_unit, positive=False)
    if changes.currency is not None:
        check_currency(problems, "currency", changes.currency)
    if changes.location is not None:
        check_place(problems, "location", changes.location)
    if changes.specs is not None:
        _check_specs(problems, changes.specs)
    if changes.photos is not None:
        _check_photos(problems, changes.photos)
    if changes.expires_at is not UNCHANGED:
        _check_expiry(problems, changes.expires_at, now)
    for name, value in (
        ("availableFrom", changes.available_from),
        ("availableUntil", changes.available_until),
    ):
        if value not in (UNCHANGED, None):
            _check_aware(problems, name, value)

    async with db.write() as session:
        listing = await _managed(session, viewer, listing_id)
        status = effective_status(listing, now)
        if status not in EDITABLE:
            advice = "publish it again first" if status is ListingStatus.EXPIRED else "list anew"
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"A {status.value} listing cannot be changed; {advice}"
            )
        check_version("listing", expected_version, listing.version)
        if changes.material_code is not None:
            await catalogue.check_material(session, problems, changes.material_code, "materialCode")
        unit = await catalogue.check_unit(
            session, problems, changes.unit_code or listing.unit_code, "unit"
        )
        if listing.quantity_committed > 0:
            # accepted offers and trades are in this material and unit
            if changes.material_code not in (None, listing.material_code):
                problems.add("materialCode", "Offers were accepted on this material; list anew")
            if unit is not None and unit.code != listing.unit_code:
                problems.add("unit", "Offers were accepted in this unit; list anew")
            if changes.currency not in (None, listing.currency):
                problems.add("currency", "Offers were accepted in this currency; list anew")
            if changes.quantity is not None and changes.quantity < listing.quantity_committed:
                problems.add(
                    "quantity",
                    f"Accepted offers have taken {plain(listing.quantity_committed)}; "
                    "it cannot be less",
                )
        problems.raise_if_any()
        assert unit is not None
        terms_change = (
            changes.material_code not in (None, listing.material_code)
            or unit.code != listing.unit_code
            or changes.currency not in (None, listing.currency)
        )
        if changes.material_code is not None:
            listing.material_code = changes.material_code
        if changes.title is not None:
            listing.title = changes.title.strip()
        if changes.description is not None:
            listing.description = changes.description.strip()
        if changes.language is not None:
            listing.language = changes.language
        if changes.quantity is not None:
            listing.quantity = changes.quantity
            # more quantity frees a reserved listing; exactly the committed quantity reserves it
            if (
                listing.status is ListingStatus.RESERVED
                and listing.quantity > listing.quantity_committed
            ):
                listing.status = ListingStatus.ACTIVE
            elif (
                listing.status is ListingStatus.ACTIVE
                and listing.quantity <= listing.quantity_committed
            ):
                listing.status = ListingStatus.RESERVED
        listing.unit_code = unit.code
        listing.quantity_base = listing.quantity * unit.factor
        if changes.price_per_unit is not UNCHANGED:
            listing.price_per_unit = changes.price_per_unit
        if changes.currency is not None:
            listing.currency = changes.currency
        if changes.recurrence is not None or changes.season_months is not None:
            recurrence = changes.recurrence or listing.recurrence
            months = changes.season_months
            if months is None:  # keep the months while the listing stays seasonal
                months = list(listing.season_months) if recurrence is Recurrence.SEASONAL else []
            _check_recurrence(problems, recurrence, months)
            listing.recurrence, listing.season_months = recurrence, sorted(months)
        if changes.available_from is not UNCHANGED:
            listing.available_from = _utc(changes.available_from)
        if changes.available_until is not UNCHANGED:
            listing.available_until = _utc(changes.available_until)
        _check_window(problems, listing.available_from, listing.available_until)
        problems.raise_if_any()
        if changes.delivery is not None:
            listing.delivery = changes.delivery
        if changes.location is not None or changes.location_approximate is not None:
            place = changes.location or Place(listing.lat, listing.lon, listing.place_name)
            approximate_only = (
                changes.location_approximate
                if changes.location_approximate is not None
                else listing.location_approximate
            )
            _set_location(listing, place, approximate_only)
        if changes.specs is not None:
            listing.specs = [
                {"key": s.key.strip(), "value": s.value.strip()} for s in changes.specs
            ]
        if changes.photos is not None:
            listing.photos = list(changes.photos)
        if changes.expires_at is not UNCHANGED:
            listing.expires_at = _utc(changes.expires_at)
            if listing.expires_at is None and listing.status is not ListingStatus.DRAFT:
                # null means "the default lifetime", never "for ever"
                listing.expires_at = now + DEFAULT_LIFETIME
        listing.version += 1
        listing.updated_at = now
        if terms_change:  # open offers were made on the old material, unit or currency
            await offers.decline_open_offers(
                session, listing, texts.OFFER_DECLINED_LISTING_CHANGED, now
            )
        await session.flush()
        return await attach_loads(session, listing)


async def publish_listing(
    *, now: datetime, db: Database, viewer: Viewer, listing_id: uuid.UUID
) -> Listing:
    """DRAFT or EXPIRED -> ACTIVE. Publishing an active listing again changes nothing."""
    async with db.write() as session:
        listing = await _managed(session, viewer, listing_id)
        status = effective_status(listing, now)
        if status in (ListingStatus.DRAFT, ListingStatus.EXPIRED):
            first_time = listing.published_at is None
            _publish(listing, now)
            listing.version += 1
            listing.updated_at = now
            if first_time:  # a renewal tells nobody again
                await session.flush()
                await matching.tell_matches(session, listing, now)
        elif status is not ListingStatus.ACTIVE:
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"A {status.value} listing cannot be published"
            )
        await session.flush()
        return await attach_loads(session, listing)


async def close_listing(
    *, now: datetime, db: Database, viewer: Viewer, listing_id: uuid.UUID
) -> Listing:
    """ACTIVE, RESERVED or EXPIRED -> CLOSED. Closing a closed listing changes nothing."""
    async with db.write() as session:
        listing = await _managed(session, viewer, listing_id)
        status = effective_status(listing, now)
        if status is ListingStatus.DRAFT:
            raise ServiceError.of(
                ErrorCode.CONFLICT, "A draft is not closed but deleted (listingDelete)"
            )
        if status is not ListingStatus.CLOSED:
            listing.status = ListingStatus.CLOSED
            listing.closed_at = now
            listing.version += 1
            listing.updated_at = now
            await offers.decline_open_offers(
                session, listing, texts.OFFER_DECLINED_LISTING_CLOSED, now
            )
        await session.flush()
        return await attach_loads(session, listing)


async def delete_listing(*, db: Database, viewer: Viewer, listing_id: uuid.UUID) -> uuid.UUID:
    """Drafts only: a published listing may be in someone's offer or history; close it."""
    async with db.write() as session:
        listing = await _managed(session, viewer, listing_id)
        if listing.status is not ListingStatus.DRAFT:
            raise ServiceError.of(
                ErrorCode.CONFLICT, "Only drafts can be deleted; close a published listing"
            )
        await session.delete(listing)
    return listing_id


async def hide_listing(
    *, now: datetime, db: Database, listing_id: uuid.UUID, hidden: bool, reason: str | None = None
) -> Listing:
    """Platform admins take a listing out of everybody's sight, or put it back."""
    problems = Problems()
    if hidden:
        check_text(problems, "reason", reason or "", min_length=3, max_length=500)
    problems.raise_if_any()
    async with db.write() as session:
        # locked as acceptances lock it: hiding declines the open offers
        listing = await session.get(Listing, listing_id, with_for_update=True)
        if listing is None:
            raise not_found("Listing")
        listing.hidden_at = now if hidden else None
        listing.hidden_reason = reason.strip() if hidden and reason else None
        listing.version += 1
        if hidden:
            await offers.decline_open_offers(
                session, listing, texts.OFFER_DECLINED_LISTING_TAKEN_DOWN, now
            )
        await session.flush()
        return await attach_loads(session, listing)


async def get_listing(
    *, db: Database, viewer: Viewer | Anonymous, listing_id: uuid.UUID
) -> Listing | None:
    async with db.read() as session:
        listing: Listing | None = await session.scalar(
            select(Listing)
            .options(*listing_loads())
            .where(Listing.id == listing_id, policies.readable_listings(viewer))
        )
    return listing


async def listings_for_sync(
    *, db: Database, viewer: Viewer, listing_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ListingRecord]:
    """Of these listings, those the viewer may read now (the offline sync's upserts): rows, as
    a page of up to 500 is read only to be written out; the viewer's rule is read per request
    (its organisation a parameter), its SQL built once per kind of viewer."""
    values: dict[str, Any] = {"ids": listing_ids}
    if viewer.organisation_id is not None:
        values["viewer_organisation_id"] = viewer.organisation_id
    async with db.read_rows() as connection:
        rows = await _readable_listings(policies.viewer_kind(viewer), viewer).rows(
            connection, values
        )
        return {
            record.listing.id: record for record in await listing_rows_records(connection, rows)
        }


_readable_by_kind: dict[tuple[bool, bool], Prepared] = {}


def _readable_listings(kind: tuple[bool, bool], viewer: Viewer) -> Prepared:
    """These listings as the viewers of ``kind`` may read them (``readable_listings`` with the
    viewer's organisation bound): one statement per kind, built for its first viewer."""
    prepared = _readable_by_kind.get(kind)
    if prepared is None:
        prepared = _readable_by_kind[kind] = Prepared(
            select(*LISTING_COLUMNS).where(
                Listing.id.in_(bindparam("ids", expanding=True)),
                policies.readable_listings(viewer, bound=True),
            )
        )
    return prepared
