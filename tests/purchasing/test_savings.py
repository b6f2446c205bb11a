"""What joint purchasing saved a cluster (cluster insights): the groups ordered in a period, the
price their tier gave against one buyer's price, per direction and currency; and the statements
that costs, the same for one group or ten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.purchasing import service
from backend.purchasing.models import Direction, Pledge
from tests.conftest import Account, GraphQL
from tests.identity.kit import second_cluster
from tests.kit import begins
from tests.purchasing.kit import (
    CANCEL,
    CLOSE,
    MARK_DELIVERED,
    MARK_ORDERED,
    PLEDGE_WITHDRAW,
    create,
    payload,
    pledge,
)

D = Decimal
STARTS = datetime(2027, 3, 2, tzinfo=UTC)
ENDS = datetime(2027, 3, 5, tzinfo=UTC)
SELL_TIERS = [
    {"minQuantity": "0", "pricePerUnit": "20"},
    {"minQuantity": "400", "pricePerUnit": "25"},
]


async def confirm(gql: GraphQL, organiser: Account, group_id: str) -> None:
    body = await gql(CLOSE, {"id": group_id}, token=organiser.access_token)
    payload(body, "purchaseGroupClose")


async def order(
    gql: GraphQL, clock: ManualClock, organiser: Account, group_id: str, at: datetime
) -> None:
    """Confirm the group now, and mark it ordered at ``at``."""
    await confirm(gql, organiser, group_id)
    before = clock.now()
    clock.set(at)
    payload(
        await gql(MARK_ORDERED, {"id": group_id}, token=organiser.access_token),
        "purchaseGroupMarkOrdered",
    )
    clock.set(before)


async def test_savings_of_the_groups_ordered_in_the_period(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # given a community and three firms of the cluster
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    b = await register("b@firm.example", cluster_id, name="Farm B")
    c = await register("c@firm.example", cluster_id, name="Farm C")

    # a BUY group in USD whose 550 reached the 9.5 tier (a single buyer: 10), ordered on the
    # period's first instant
    feed = await create(gql, shg, title="Feed")
    await pledge(gql, a, feed["id"], "300")
    await pledge(gql, b, feed["id"], "250")
    await order(gql, clock, shg, feed["id"], STARTS)

    # a BUY group in USD that stayed at the first tier: 150 + 100 + 50, not c's withdrawn 200;
    # the community's own 50 is pledged for an organisation that is gone since (SET NULL), so
    # its participant counts as one. Ordered in the period, delivered after it.
    bran = await create(gql, shg, title="Bran")
    await pledge(gql, a, bran["id"], "150")
    gone = await pledge(gql, c, bran["id"], "200")
    payload(
        await gql(PLEDGE_WITHDRAW, {"id": gone["id"]}, token=c.access_token),
        "purchaseGroupPledgeWithdraw",
    )
    await pledge(gql, b, bran["id"], "100")
    alone = await pledge(gql, shg, bran["id"], "50")
    async with db.write() as session:
        await session.execute(
            update(Pledge).where(Pledge.id == uuid.UUID(alone["id"])).values(organisation_id=None)
        )
    await order(gql, clock, shg, bran["id"], datetime(2027, 3, 3, tzinfo=UTC))
    clock.set(datetime(2027, 3, 6, tzinfo=UTC))
    payload(
        await gql(MARK_DELIVERED, {"id": bran["id"]}, token=shg.access_token),
        "purchaseGroupMarkDelivered",
    )
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))

    # a SELL group in JPY whose 500 reached the 25 tier (a single seller: 20)
    shavings = await create(
        gql,
        a,
        title="Shavings",
        direction="SELL",
        currency="JPY",
        priceTiers=SELL_TIERS,
        sharedCosts="0",
    )
    await pledge(gql, a, shavings["id"], "200")
    await pledge(gql, c, shavings["id"], "300")
    await order(gql, clock, a, shavings["id"], datetime(2027, 3, 4, 23, 59, tzinfo=UTC))

    # and groups that do not count: ordered before the period, ordered at its end (excluded),
    # confirmed but not ordered, cancelled, and another cluster's group ordered in the period
    for title, at in (
        ("Early", datetime(2027, 3, 1, 12, tzinfo=UTC)),
        ("Late", ENDS),
        ("Unordered", None),
    ):
        group = await create(gql, shg, title=title)
        await pledge(gql, a, group["id"], "900")
        if at is None:
            await confirm(gql, shg, group["id"])
        else:
            await order(gql, clock, shg, group["id"], at)
    cancelled = await create(gql, shg, title="Cancelled")
    await pledge(gql, b, cancelled["id"], "600")
    payload(
        await gql(CANCEL, {"id": cancelled["id"]}, token=shg.access_token), "purchaseGroupCancel"
    )
    rice = await second_cluster(db)
    mill = await register("mill@rice.example", rice, name="Rice Mill")
    farm = await register("farm@rice.example", rice, name="Rice Farm")
    husk = await create(gql, mill, title="Husk")
    await pledge(gql, farm, husk["id"], "700")
    await order(gql, clock, mill, husk["id"], datetime(2027, 3, 3, tzinfo=UTC))

    # when the cluster's savings of the period are read
    savings = await service.joint_purchase_savings(
        db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
    )

    # then BUY in USD: 550 x 9.5 + 300 x 10 against 850 x 10; SELL in JPY: 500 x 25 against
    # 500 x 20
    assert savings == [
        service.JointPurchaseSavings(
            direction=Direction.BUY,
            currency="USD",
            groups=2,
            organisations=3,  # Farm A, Farm B, and the community's member without one
            quantity=D(850),
            at_group_price=D("8225.00"),
            at_single_buyer_price=D("8500.00"),
            saved=D("275.00"),
        ),
        service.JointPurchaseSavings(
            direction=Direction.SELL,
            currency="JPY",
            groups=1,
            organisations=2,
            quantity=D(500),
            at_group_price=D(12500),
            at_single_buyer_price=D(10000),
            saved=D(2500),
        ),
    ]
    # and the amounts carry the currency's minor unit
    assert [str(row.at_group_price) for row in savings] == ["8225.00", "12500"]

    # the other cluster's group is its own
    assert await service.joint_purchase_savings(
        db=db, cluster_id=uuid.UUID(rice), starts_at=STARTS, ends_at=ENDS
    ) == [
        service.JointPurchaseSavings(
            direction=Direction.BUY,
            currency="USD",
            groups=1,
            organisations=1,
            quantity=D(700),
            at_group_price=D("6650.00"),
            at_single_buyer_price=D("7000.00"),
            saved=D("350.00"),
        )
    ]
    # and a period without orders has no rows
    assert (
        await service.joint_purchase_savings(
            db=db,
            cluster_id=uuid.UUID(cluster_id),
            starts_at=datetime(2027, 4, 1, tzinfo=UTC),
            ends_at=datetime(2027, 5, 1, tzinfo=UTC),
        )
        == []
    )


async def test_a_group_whose_tiers_run_the_wrong_way_saved_nothing(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # given a BUY group whose larger tier is dearer (nothing stops an organiser typing so)
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    dear = await create(
        gql,
        shg,
        title="Dear",
        priceTiers=[
            {"minQuantity": "100", "pricePerUnit": "10"},
            {"minQuantity": "500", "pricePerUnit": "11"},
        ],
    )
    await pledge(gql, a, dear["id"], "600")
    await order(gql, clock, shg, dear["id"], datetime(2027, 3, 3, tzinfo=UTC))

    # when its savings are read, then the group paid more and saved nothing, not less than it
    [row] = await service.joint_purchase_savings(
        db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
    )
    assert (row.at_group_price, row.at_single_buyer_price, row.saved) == (
        D("6600.00"),
        D("6000.00"),
        D("0.00"),
    )


async def test_the_savings_cost_two_statements_for_one_group_or_ten(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    clock: ManualClock,
    sql_statements: Any,
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    firms = [await register(f"{n}@firm.example", cluster_id, name=f"Farm {n}") for n in range(3)]

    async def groups_ordered(count: int) -> None:
        for n in range(count):
            group = await create(gql, shg, title=f"Feed {n}")
            for firm in firms:
                await pledge(gql, firm, group["id"], "200")
            await order(gql, clock, shg, group["id"], datetime(2027, 3, 3, tzinfo=UTC))

    async def counted() -> tuple[int, list[service.JointPurchaseSavings]]:
        with sql_statements() as log:
            savings = await service.joint_purchase_savings(
                db=db, cluster_id=uuid.UUID(cluster_id), starts_at=STARTS, ends_at=ENDS
            )
        return log.count, savings

    # given one group ordered in the period
    await groups_ordered(1)
    one, [of_one] = await counted()
    # and then nine more
    await groups_ordered(9)
    ten, [of_ten] = await counted()

    # then the read is the same two statements (plus SQLite's BEGIN) for both
    assert one == ten == 2 + begins(db)
    assert (of_one.groups, of_one.organisations, of_one.quantity) == (1, 3, D(600))
    assert (of_ten.groups, of_ten.organisations, of_ten.quantity) == (10, 3, D(6000))
    assert (of_ten.at_group_price, of_ten.saved) == (D("57000.00"), D("3000.00"))
