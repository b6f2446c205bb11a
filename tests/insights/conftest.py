"""The wood cluster the insights pages' and exports' tests read (tests/insights/pages_kit.py)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.insights.pages_kit import Wood, build_wood


@pytest.fixture
async def wood(
    db: Database,
    gql: GraphQL,
    register: Any,
    clock: ManualClock,
    cluster_id: str,
    platform_admin_token: str,
) -> Wood:
    return await build_wood(
        db=db,
        gql=gql,
        register=register,
        clock=clock,
        cluster_id=cluster_id,
        admin_token=platform_admin_token,
    )
