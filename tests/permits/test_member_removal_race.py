"""Removing a member while the holder gives it its first allocation of a condition (PostgreSQL,
where two writers run at once; SQLite's write transactions take turns): the allocation must not
stay with a member no longer covered. The removal locks the permit's conditions before it reads
what the member holds, so it waits for the allocation to commit and then gives it back."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from backend.auth.viewer import Role
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.permits import service
from backend.permits.models import Allocation, PermitCondition, PermitMember
from backend.permits.service import allocations as allocations_module
from tests.conftest import GraphQL
from tests.permits.kit import build_scene, viewer_of


async def _until(check: Any) -> None:
    """Polls ``check`` until it holds (at most 10 s): the other transaction's state, not a
    fixed pause, decides when the test goes on."""
    for _ in range(1000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the other transaction never got there")


async def test_a_member_removed_during_its_first_allocation_keeps_nothing(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
    db: Database,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time")
    # Given a covered firm holding nothing yet of a second condition
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    condition_id = uuid.UUID(await scene.condition(scene.permit_id, title="Second cap"))
    holder = viewer_of(scene.holder, Role.COMMUNITY)
    firm = uuid.UUID(scene.firms[0].organisation_id)
    # and an allocation that stops after its rows are written, before it commits, until the
    # removal is running (waiting for a lock, or done if nothing makes it wait)
    written, removal_running = asyncio.Event(), asyncio.Event()
    tell = allocations_module.notifications.add

    async def tell_later(*args: Any, **kwargs: Any) -> None:
        # the notifications module is shared: only the allocation's own telling (the first) waits
        if not written.is_set():
            written.set()
            await removal_running.wait()
        await tell(*args, **kwargs)

    monkeypatch.setattr(allocations_module.notifications, "add", tell_later)

    async def allocate() -> Any:
        return await service.set_allocation(
            db=db,
            viewer=holder,
            condition_id=condition_id,
            organisation_id=firm,
            amount=Decimal(40),
            now=clock.now(),
        )

    async def remove() -> Any:
        await written.wait()
        return await service.remove_member(
            db=db,
            viewer=holder,
            permit_id=uuid.UUID(scene.permit_id),
            organisation_id=firm,
            covered_to=None,
            now=clock.now(),
        )

    async def waiting_for_a_lock() -> bool:
        async with db.engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        return bool(waiting)

    # When the holder removes the firm while the allocation is written but not committed
    allocating, removing = asyncio.create_task(allocate()), asyncio.create_task(remove())
    await written.wait()

    async def removal_waits_or_ended() -> bool:
        return removing.done() or await waiting_for_a_lock()

    await _until(removal_waits_or_ended)
    removal_running.set()
    await asyncio.gather(allocating, removing)

    # then the firm is no longer covered and holds nothing: its 40 went back to the pool
    async with db.read() as session:
        open_span = await session.scalar(
            select(PermitMember.id).where(
                PermitMember.organisation_id == firm, PermitMember.covered_to.is_(None)
            )
        )
        held = await session.scalar(
            select(Allocation.amount).where(
                Allocation.condition_id == condition_id, Allocation.organisation_id == firm
            )
        )
        condition = await session.get(PermitCondition, condition_id)
    assert (open_span, held) == (None, Decimal(0))
    assert condition is not None
    assert condition.allocated == Decimal(0)
