"""The permit world of tests/permits/returns_kit.py as a fixture."""

from __future__ import annotations

from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.permits.returns_kit import PermitWorld, build_world


@pytest.fixture
async def world(
    gql: GraphQL,
    db: Database,
    clock: ManualClock,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
) -> PermitWorld:
    return await build_world(gql, db, clock, register, cluster_id, platform_admin_token)
