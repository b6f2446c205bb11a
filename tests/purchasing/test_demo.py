"""The demo shows an open group in every cluster and one confirmed group with its settlement."""

from __future__ import annotations

from backend import cli
from backend.auth.viewer import Role, Viewer
from backend.demo import demo_id
from backend.kit.db import Database, utcnow
from backend.kit.pagination import PageRequest
from backend.purchasing import service
from backend.purchasing.models import GroupStatus
from backend.settings import Settings


async def test_every_demo_cluster_has_an_open_group_and_one_is_settled(
    db: Database, settings: Settings
) -> None:
    # Given the demo data
    await cli._seed_demo(settings, if_empty=False)
    # when a platform admin lists the groups today (the demo dates them from the day it loads)
    admin = Viewer(demo_id("user", "admin"), Role.ADMIN, None, "test")
    page = await service.list_groups(
        db=db,
        viewer=admin,
        filter=service.GroupFilter(),
        page=PageRequest.of(100, None),
        now=utcnow(),
        with_total=True,
    )
    # then each cluster has an open group, and the test kits are confirmed and settled
    open_by_cluster = sorted(
        view.group.cluster.slug for view in page.items if view.status is GroupStatus.OPEN
    )
    assert open_by_cluster == ["an-giang-fish", "chachoengsao-rice", "hosur-silk", "maniwa-wood"]
    [confirmed] = [view for view in page.items if view.status is GroupStatus.CONFIRMED]
    settlement = service.settle(
        pledges=confirmed.pledges,
        tiers=[service.PriceTier.of(t) for t in confirmed.group.price_tiers],
        shared_costs=confirmed.group.shared_costs,
        cost_split=confirmed.group.cost_split,
        direction=confirmed.group.direction,
        currency=confirmed.group.currency,
    )
    assert settlement is not None
    # 18 kits at 250,000 VND and 150,000 VND of shipping split equally between three
    assert (settlement.total, [line.amount for line in settlement.lines]) == (
        4_650_000,
        [2_050_000, 1_550_000, 1_050_000],
    )
