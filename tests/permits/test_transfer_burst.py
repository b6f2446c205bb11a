"""A burst of transfers in random directions and holder re-allocations, all at once through
the real service (asyncio.gather; on PostgreSQL over several pooled connections): the sum of the
allocations never passes the cap, ``allocated`` equals it, no balance is negative, the ledger
replays to exactly the balances, and every refusal is a typed error."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend.auth.viewer import Role
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError
from backend.permits import service
from backend.permits.models import Allocation, AllocationEntry, PermitCondition
from tests.conftest import GraphQL
from tests.permits.kit import build_scene, viewer_of

MEMBERS = 6
TRANSFERS = 64
REALLOCATIONS = 12


async def test_the_cap_holds_under_a_burst_of_transfers_and_reallocations(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
    db: Database,
    clock: ManualClock,
) -> None:
    # Given six covered members with 15 TNE each of a 100 TNE cap
    scene = await build_scene(gql, register, cluster_id, platform_admin_token, firms=MEMBERS)
    for firm in scene.firms[2:]:
        await scene.cover(scene.permit_id, firm)
    for firm in scene.firms:
        await scene.allocate(scene.condition_id, firm, "15")
    condition_id = uuid.UUID(scene.condition_id)
    holder = viewer_of(scene.holder, Role.COMMUNITY)
    firms = [viewer_of(firm) for firm in scene.firms]
    ids = [uuid.UUID(f.organisation_id or "") for f in scene.firms]
    chance = random.Random(19)
    now = clock.now()

    def transfer(index: int) -> Any:
        sender, receiver = chance.sample(range(MEMBERS), 2)
        return service.request_transfer(
            db=db,
            viewer=firms[sender],
            request=service.TransferRequest(
                condition_id=condition_id,
                to_organisation_id=ids[receiver],
                amount=Decimal(chance.randint(1, 12)),
                note=f"burst {index}",
            ),
            now=now,
        )

    def reallocate() -> Any:
        return service.set_allocation(
            db=db,
            viewer=holder,
            condition_id=condition_id,
            organisation_id=ids[chance.randrange(MEMBERS)],
            amount=Decimal(chance.randint(0, 40)),
            now=now,
        )

    calls = [transfer(i) for i in range(TRANSFERS)] + [reallocate() for _ in range(REALLOCATIONS)]
    chance.shuffle(calls)

    # When they all run at once
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    # Then every refusal is typed, and some went through, some were refused
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, ServiceError) for o in refused), [repr(o) for o in refused][:3]
    codes = {o.code for o in refused if isinstance(o, ServiceError)}
    assert codes <= {ErrorCode.CAPACITY_REACHED}, codes
    assert 0 < len(refused) < len(outcomes)
    async with db.read() as session:
        condition = await session.get(PermitCondition, condition_id)
        allocations = {
            a.organisation_id: a.amount
            for a in await session.scalars(
                select(Allocation).where(Allocation.condition_id == condition_id)
            )
        }
        entries = list(
            await session.scalars(
                select(AllocationEntry)
                .where(AllocationEntry.condition_id == condition_id)
                .order_by(AllocationEntry.created_at, AllocationEntry.id)
            )
        )
    assert condition is not None
    total = sum(allocations.values(), Decimal(0))
    assert total <= condition.cap
    assert condition.allocated == total
    assert min(allocations.values()) >= 0
    # the ledger replays, member by member in time order, to exactly the balances
    balances: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for entry in entries:
        balances[entry.organisation_id] += entry.change
        assert entry.balance_after == balances[entry.organisation_id], entry.id
        assert entry.balance_after >= 0
    assert dict(balances) == allocations
    done = [o for o in outcomes if isinstance(o, service.TransferView)]
    transferred = [e for e in entries if e.transfer_id is not None]
    assert len(transferred) == 2 * len(done)
    assert {e.transfer_id for e in transferred} == {view.transfer.id for view in done}
