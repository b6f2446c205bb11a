"""Loading the whole demo: the clusters and accounts first, then each domain's part in turn.

Each part is idempotent on its own (stable ids, see :mod:`backend.demo.ids`), so a run that
stopped half way is finished by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.auth.passwords import Passwords
from backend.auth.viewer import Role
from backend.demo import ids
from backend.demo.clusters import CLUSTERS, seed_clusters
from backend.demo.events import seed_events
from backend.demo.forums import seed_forums
from backend.demo.history import seed_history
from backend.demo.listings import seed_listings
from backend.demo.permits import seed_permits
from backend.demo.purchasing import seed_purchasing
from backend.demo.trades import seed_trades
from backend.identity.models import OrganisationKind
from backend.kit.clock import Clock, SystemClock
from backend.kit.db import Database

# The role each demo account acts in: the one its organisation's kind gives at sign-in.
ROLES = {
    OrganisationKind.FIRM: Role.FIRM,
    OrganisationKind.COMMUNITY: Role.COMMUNITY,
    OrganisationKind.INSTITUTION: Role.INSTITUTION,
}


@dataclass(frozen=True)
class SeedReport:
    clusters: int
    organisations: int
    users: int
    created: int


async def seed_demo(db: Database, passwords: Passwords, clock: Clock | None = None) -> SeedReport:
    """Insert whatever of the demo data is missing; existing rows are left as they are.

    The demo is dated from the clock's now (the system clock's unless given): upcoming events,
    open groups, the year of trade history that ends there, and the permits' last months."""
    now = (clock or SystemClock()).now()
    accounts = await seed_clusters(db, passwords)
    organisations = sum(len(cluster.organisations) for cluster in CLUSTERS)
    places = {
        org.key: (ids.user_id(org.key), ids.organisation_id(org.key), org.lat, org.lon)
        for cluster in CLUSTERS
        for org in cluster.organisations
    }
    listings = await seed_listings(db, organisations=places, now=now)
    members = {
        org.key: (ids.user_id(org.key), ids.organisation_id(org.key), ROLES[org.kind])
        for cluster in CLUSTERS
        for org in cluster.organisations
    }
    events = await seed_events(
        db,
        organisations=members,
        clusters={c.slug: (ids.cluster_id(c.slug), c.timezone) for c in CLUSTERS},
        now=now,
    )
    groups = await seed_purchasing(db, organisations=members, now=now)
    forums = await seed_forums(db, organisations=members, now=now)
    history = await seed_history(
        db,
        organisations=places,
        clusters={c.slug: (ids.cluster_id(c.slug), c.currency) for c in CLUSTERS},
        now=now,
    )
    offers = await seed_trades(db, organisations=members)
    permits = await seed_permits(
        db,
        organisations=members,
        places={key: (lat, lon) for key, (_, _, lat, lon) in places.items()},
        timezones={c.slug: c.timezone for c in CLUSTERS},
        now=now,
    )
    return SeedReport(
        clusters=len(CLUSTERS),
        organisations=organisations,
        users=organisations + 1,
        created=accounts + listings + events + groups + forums + history + offers + permits,
    )
