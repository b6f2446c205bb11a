"""marketplace:listing_read is written once as SQL (policies.readable_listings, used to load one
listing and many) and evaluated on a loaded row by policies.may_read; the search shows the
readable listings in a listed state. Every kind of viewer against every state a listing can be
in: the two forms agree, and the search shows what it always showed."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.kit.db import Database
from backend.marketplace import policies
from backend.marketplace.models import Listing, ListingStatus
from tests.conftest import CLOCK_START
from tests.marketplace.trading_kit import publish


def viewers(owner_organisation: uuid.UUID, other_organisation: uuid.UUID) -> dict[str, Any]:
    def person(role: Role, organisation_id: uuid.UUID | None) -> Viewer:
        return Viewer(
            user_id=uuid.uuid4(), role=role, organisation_id=organisation_id, token_id="rules"
        )

    return {
        "anonymous": Anonymous(),
        "owner": person(Role.FIRM, owner_organisation),
        "another firm": person(Role.FIRM, other_organisation),
        "signed in without an organisation": person(Role.FIRM, None),
        "platform admin": person(Role.ADMIN, None),
    }


async def every_state(gql: Any, register: Any, cluster_id: str, db: Database) -> list[uuid.UUID]:
    """One listing of the owner's in each stored status, shown and hidden."""
    owner = await register("yard@maniwa.example", cluster_id, name="Maniwa Yard")
    ids = []
    for status in ListingStatus:
        for hidden in (False, True):
            listing = await publish(gql, owner.access_token, title=f"{status} {hidden}")
            ids.append(uuid.UUID(listing["id"]))
            async with db.write() as session:
                await session.execute(
                    update(Listing)
                    .where(Listing.id == ids[-1])
                    .values(status=status, hidden_at=CLOCK_START if hidden else None)
                )
    return ids


async def test_the_sql_rule_and_the_row_rule_agree_for_every_viewer_and_state(
    gql: Any, register: Any, cluster_id: str, db: Database
) -> None:
    ids = await every_state(gql, register, cluster_id, db)
    async with db.read() as session:
        rows = (await session.scalars(select(Listing).where(Listing.id.in_(ids)))).all()
        owner_organisation = rows[0].organisation_id
        for name, viewer in viewers(owner_organisation, uuid.uuid4()).items():
            by_sql = set(
                await session.scalars(
                    select(Listing.id).where(
                        Listing.id.in_(ids), policies.readable_listings(viewer)
                    )
                )
            )
            by_row = {row.id for row in rows if policies.may_read(viewer, row)}
            assert (name, by_sql) == (name, by_row)


async def test_the_search_shows_readable_listings_in_a_listed_state(
    gql: Any, register: Any, cluster_id: str, db: Database
) -> None:
    ids = await every_state(gql, register, cluster_id, db)
    listed = {ListingStatus.ACTIVE, ListingStatus.RESERVED, ListingStatus.CLOSED}
    async with db.read() as session:
        rows = (await session.scalars(select(Listing).where(Listing.id.in_(ids)))).all()
        owner_organisation = rows[0].organisation_id
        expected = {
            # anybody: published, in a listed state and not hidden
            "anonymous": {r.id for r in rows if r.status in listed and r.hidden_at is None},
            "another firm": {r.id for r in rows if r.status in listed and r.hidden_at is None},
            "signed in without an organisation": {
                r.id for r in rows if r.status in listed and r.hidden_at is None
            },
            # the owner: every one of theirs, drafts, hidden and expired included
            "owner": {r.id for r in rows},
            # moderators: everything but drafts, hidden and expired included
            "platform admin": {r.id for r in rows if r.status is not ListingStatus.DRAFT},
        }
        for name, viewer in viewers(owner_organisation, uuid.uuid4()).items():
            shown = set(
                await session.scalars(
                    select(Listing.id).where(Listing.id.in_(ids), policies.listed_listings(viewer))
                )
            )
            assert (name, shown) == (name, expected[name])
