"""Imports every domain's models so that ``Base.metadata`` knows all tables.

Alembic's autogenerate and the drift test rely on it; add each new domain here.
"""

from backend import idempotency as idempotency_models
from backend.catalogue import models as catalogue_models
from backend.events import models as events_models
from backend.forums import models as forums_models
from backend.identity import models as identity_models
from backend.kit.db import Base
from backend.licences import models as licences_models
from backend.marketplace import models as marketplace_models
from backend.notifications import models as notifications_models
from backend.permits import models as permits_models
from backend.purchasing import models as purchasing_models
from backend.sync import models as sync_models

metadata = Base.metadata

# Objects migrations create by hand, per backend, that the models do not describe: listing
# search's (backend/marketplace/search.py). On SQLite the FTS5 table and its shadow tables,
# ``listing_search`` (stable integer keys and points) and its index; on PostgreSQL the stored
# ``search_document`` column and the GIN and GiST indexes. Autogenerate must neither drop them
# nor report them as drift.
UNMANAGED = frozenset(
    {
        "listing_fts",
        "listing_search",
        "ix_listing_search_active_lat_lon",
        "search_document",
        "ix_listings_search_document",
        "ix_listings_active_search_document",
        "ix_listings_active_earth_point",
    }
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if name is None:
        return True
    return not (name in UNMANAGED or name.startswith("listing_fts_"))


__all__ = [
    "catalogue_models",
    "events_models",
    "forums_models",
    "idempotency_models",
    "identity_models",
    "include_name",
    "licences_models",
    "marketplace_models",
    "metadata",
    "notifications_models",
    "permits_models",
    "purchasing_models",
    "sync_models",
]
