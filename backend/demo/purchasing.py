"""Demo purchasing groups: an open group in each cluster, organised by its community, and one
confirmed group with its settlement.

They go through the purchasing service with fixed ids, dated from the day the demo is loaded:
loading twice creates nothing new.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.kit.db import Database
from backend.purchasing import service
from backend.purchasing.models import CostSplit, Direction, GroupVisibility


@dataclass(frozen=True)
class DemoGroup:
    organiser: str  # the demo organisation's key
    title: str
    description: str
    item_name: str
    unit: str
    direction: Direction
    min_quantity: str
    max_quantity: str | None
    tiers: tuple[tuple[str, str], ...]  # (minQuantity, pricePerUnit)
    shared_costs: str
    cost_split: CostSplit
    days_left: int
    pledges: tuple[tuple[str, str], ...]  # (demo key, quantity)
    material: str | None = None
    counterpart: str | None = None
    close_early: bool = False


GROUPS: tuple[DemoGroup, ...] = (
    DemoGroup(
        "biomass-town",
        "Moisture meters for chip and pellet makers",
        "A joint order of handheld moisture meters for wood chips, sawdust and pellets. Ten "
        "meters reach the dealer's group price; twenty the best one. Shipping is shared equally.",
        "Handheld moisture meter for wood chips and pellets",
        "H87",
        Direction.BUY,
        "10",
        "30",
        (("10", "42000"), ("20", "38000")),
        "6000",
        CostSplit.EQUAL,
        12,
        (("maniwa-lumber", "3"), ("katsuyama-pellets", "4"), ("hokubo-boxes", "2")),
    ),
    DemoGroup(
        "bang-khla-coop",
        "Rice straw as one lot for the mushroom farms",
        "Members pool baled rice straw so that the mushroom growers in Bang Khla buy one lot. "
        "The truck is paid out of the proceeds, pro rata.",
        "Baled rice straw, dry",
        "TNE",
        Direction.SELL,
        "20",
        "60",
        (("20", "900"), ("40", "1000")),
        "3000",
        CostSplit.PRO_RATA,
        16,
        (("bang-khla-coop", "8"), ("bang-pakong-mill", "10")),
        material="rice-straw",
    ),
    DemoGroup(
        "thalli-shg",
        "Plastic mountages for the new rearing season",
        "Collapsible plastic mountages (cocoon frames) from the Krishnagiri dealer; 400 pieces "
        "bring the price down to 78 rupees.",
        "Plastic mountage, collapsible",
        "H87",
        Direction.BUY,
        "200",
        "600",
        (("200", "85"), ("400", "78")),
        "1200",
        CostSplit.PRO_RATA,
        10,
        (("thalli-shg", "120"), ("hosur-reelers", "60")),
    ),
    DemoGroup(
        "my-hoa-hung-women",
        "Floating fish feed for the dry season",
        "The women's union orders floating feed (28% protein) from the An Giang feed mill for "
        "members' ponds; 5 tonnes reach the mill's lower price. Transport by boat, pro rata.",
        "Floating fish feed, 28% protein",
        "KGM",
        Direction.BUY,
        "2000",
        "8000",
        (("2000", "14500"), ("5000", "13800")),
        "1500000",
        CostSplit.PRO_RATA,
        14,
        (("my-hoa-hung-women", "1500"), ("long-xuyen-pangasius", "1000")),
        material="fish-feed",
        counterpart="an-giang-feed",
    ),
    DemoGroup(
        "my-hoa-hung-women",
        "Water quality test kits",
        "Pond water test kits (pH, ammonia, nitrite) ordered together after the university's "
        "seminar; closed early once the group price was reached.",
        "Pond water test kit",
        "H87",
        Direction.BUY,
        "10",
        None,
        (("10", "250000"), ("20", "220000")),
        "150000",
        CostSplit.EQUAL,
        9,
        (
            ("my-hoa-hung-women", "8"),
            ("long-xuyen-pangasius", "6"),
            ("mekong-biodiesel", "4"),
        ),
        close_early=True,
    ),
)


def _viewer(user_id: uuid.UUID, organisation_id: uuid.UUID, role: Role) -> Viewer:
    return Viewer(
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
    )


async def seed_purchasing(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, role). Returns new groups."""
    created = 0
    for template in GROUPS:
        user_id, organisation_id, role = organisations[template.organiser]
        organiser = _viewer(user_id, organisation_id, role)
        group_id = ids.purchase_group_id(template.organiser, template.title)
        if await service.get_group(db=db, viewer=organiser, group_id=group_id, now=now):
            continue
        await service.create_group(
            db=db,
            viewer=organiser,
            now=now,
            draft=service.GroupDraft(
                id=group_id,
                title=template.title,
                description=template.description,
                item_name=template.item_name,
                material_code=template.material,
                unit_code=template.unit,
                direction=template.direction,
                min_quantity=Decimal(template.min_quantity),
                max_quantity=Decimal(template.max_quantity) if template.max_quantity else None,
                price_tiers=[service.PriceTier(Decimal(q), Decimal(p)) for q, p in template.tiers],
                shared_costs=Decimal(template.shared_costs),
                cost_split=template.cost_split,
                deadline=now + timedelta(days=template.days_left),
                visibility=GroupVisibility.CLUSTER,
                counterpart_organisation_id=(
                    ids.organisation_id(template.counterpart) if template.counterpart else None
                ),
            ),
        )
        created += 1
        for key, quantity in template.pledges:
            person_id, person_organisation_id, person_role = organisations[key]
            await service.pledge(
                db=db,
                viewer=_viewer(person_id, person_organisation_id, person_role),
                group_id=group_id,
                quantity=Decimal(quantity),
                on_behalf_of=None,
                now=now,
            )
        if template.close_early:
            await service.close_group(db=db, viewer=organiser, group_id=group_id, now=now)
    return created
