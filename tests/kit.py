"""Helpers shared by the tests of more than one domain: the error the API answers with, and a
time as the API writes it. Not a test module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.db import Database
from backend.kit.validation import Place


def problem(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """One entry of a payload's ``errors``."""
    return {"code": code, "message": message, "field": field}


def iso(moment: datetime) -> str:
    """``moment`` as the API writes times."""
    return moment.isoformat()


async def create_wood_cluster(
    db: Database, slug: str = "test-wood", name: str = "Test Wood Cluster"
) -> str:
    """A Maniwa-like wood cluster to register organisations in; its id."""
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug=slug,
            name=name,
            region="Okayama",
            country="JP",
            sector=Sector.WOOD,
            centre=Place(lat=35.07, lon=133.75),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )
    return str(cluster.id)
