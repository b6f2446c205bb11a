"""A permit world for the returns, compliance and report tests, made of model rows (the
permits API is another part of issue 19): a holder (a community association), its issuing
authority (a verified local-government institution), two covered firms, a firm of the cluster
that is not covered, another verified authority, and a platform admin.

The permit covers February and March 2027 and more (valid 2027-01-01 .. 2027-12-31, returns
due 15 days after a period ends); its condition caps wood waste to landfill (EWC 03 01 05,
sawdust and shavings below it) at 100 TNE a month, allocated 40 to A and 50 to B. The test
clock starts on 2027-03-01 00:00 UTC (09:00 in Tokyo): February has ended, its returns are
due by 2027-03-15.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from backend.identity.models import Organisation, OrganisationSubtype
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.permits.models import (
    Allocation,
    AllocationEntry,
    Frequency,
    LedgerReason,
    Parameter,
    Permit,
    PermitCondition,
    PermitMember,
    TransferRule,
)
from tests.conftest import Account, GraphQL
from tests.identity.kit import invite_code
from tests.marketplace import trading_kit as trading

FEBRUARY = date(2027, 2, 1)
MARCH = date(2027, 3, 1)
FEBRUARY_DUE = date(2027, 3, 15)
SAWDUST = "ewc-03-01-05"
ALLOCATED_AT = datetime(2027, 1, 5, tzinfo=UTC)

RETURN_FIELDS = """
  id conditionId organisationId organisationName version generated treatedOnSite
  sentToMembers sentThroughMarketplace sentToDisposal unitCode note filedAt late
  period { start end due }
"""
FILE = f"""
mutation File($input: PermitReturnFileInput!) {{
  permitReturnFile(input: $input) {{
    permitReturn {{ {RETURN_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""


@dataclass
class PermitWorld:
    gql: GraphQL
    db: Database
    clock: ManualClock
    cluster_id: str
    holder: Account  # admin of the Biomass Town Association (the holder)
    holder_plain: Account  # a plain member of the holder
    authority: Account  # admin of Maniwa City (the issuing authority), verified
    other_authority: Account  # admin of another verified authority
    member: Account  # admin of A Sawmill, covered
    member_plain: Account  # a plain member of A Sawmill
    other_member: Account  # admin of B Pellets, covered
    outsider: Account  # admin of C Boilers, of the cluster, not covered
    admin_token: str
    permit_id: uuid.UUID
    condition_id: uuid.UUID

    def org(self, account: Account) -> uuid.UUID:
        assert account.organisation_id is not None
        return uuid.UUID(account.organisation_id)

    async def file(
        self, account: Account, expected_version: int = 0, **figures: Any
    ) -> dict[str, Any]:
        body = await self.gql(
            FILE, {"input": filing(self, expected_version, **figures)}, token=account.access_token
        )
        payload: dict[str, Any] = body["data"]["permitReturnFile"]
        return payload

    async def allocate(self, account: Account, balance: str, at: datetime = ALLOCATED_AT) -> None:
        """A ledger entry setting the member's allocation (as the holder would)."""
        async with self.db.write() as session:
            session.add(
                AllocationEntry(
                    condition_id=self.condition_id,
                    organisation_id=self.org(account),
                    reason=LedgerReason.ALLOCATED,
                    change=Decimal(balance),
                    balance_after=Decimal(balance),
                    acted_by_id=uuid.UUID(self.holder.user_id),
                    acting_organisation_id=self.org(self.holder),
                    created_at=at,
                )
            )

    async def set_verified(self, account: Account, verified: bool) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(Organisation)
                .where(Organisation.id == self.org(account))
                .values(verified_at=datetime(2027, 1, 1, tzinfo=UTC) if verified else None)
            )

    async def trade(self, supplier: Account, tonnes: str, at: datetime, **listing: Any) -> None:
        """A completed trade of ``tonnes`` of wood shavings (below EWC 03 01 05 unless the
        listing says otherwise) from ``supplier`` to the outsider, completed at ``at``: the
        marketplace records it in the impact ledger then. The clock goes back afterwards."""
        before = self.clock.now()
        self.clock.set(at)
        try:
            await trading.completed_trade(
                self.gql,
                supplier.access_token,
                self.outsider.access_token,
                quantity=tonnes,
                **listing,
            )
        finally:
            self.clock.set(before)


def filing(world: PermitWorld, expected_version: int = 0, **figures: Any) -> dict[str, Any]:
    return {
        "conditionId": str(world.condition_id),
        "periodStart": FEBRUARY.isoformat(),
        "generated": "50",
        "treatedOnSite": "5",
        "sentToMembers": "5",
        "sentToDisposal": "30",
        "unitCode": "TNE",
        "note": "",
        "expectedVersion": expected_version,
        **figures,
    }


async def build_world(
    gql: GraphQL,
    db: Database,
    clock: ManualClock,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
) -> PermitWorld:
    holder = await register(
        "office@biomass-town.example", cluster_id, name="Biomass Town Association", kind="COMMUNITY"
    )
    holder_plain = await register(
        "clerk@biomass-town.example", invite_code=await invite_code(gql, holder, "MEMBER")
    )
    authority = await register(
        "env@maniwa-city.example",
        cluster_id,
        name="Maniwa City",
        kind="INSTITUTION",
        subtype=OrganisationSubtype.LOCAL_GOVERNMENT.value,
    )
    other_authority = await register(
        "env@okayama-pref.example",
        cluster_id,
        name="Okayama Prefecture",
        kind="INSTITUTION",
        subtype=OrganisationSubtype.LOCAL_GOVERNMENT.value,
    )
    member = await register("firm@a.example", cluster_id, name="A Sawmill", kind="FIRM")
    member_plain = await register(
        "yard@a.example", invite_code=await invite_code(gql, member, "MEMBER")
    )
    other_member = await register("firm@b.example", cluster_id, name="B Pellets", kind="FIRM")
    outsider = await register("firm@c.example", cluster_id, name="C Boilers", kind="FIRM")
    world = PermitWorld(
        gql=gql,
        db=db,
        clock=clock,
        cluster_id=cluster_id,
        holder=holder,
        holder_plain=holder_plain,
        authority=authority,
        other_authority=other_authority,
        member=member,
        member_plain=member_plain,
        other_member=other_member,
        outsider=outsider,
        admin_token=platform_admin_token,
        permit_id=uuid.uuid4(),
        condition_id=uuid.uuid4(),
    )
    await world.set_verified(authority, True)
    await world.set_verified(other_authority, True)
    async with db.write() as session:
        session.add(
            Permit(
                id=world.permit_id,
                cluster_id=uuid.UUID(cluster_id),
                holder_id=world.org(holder),
                authority_id=world.org(authority),
                reference="MANIWA-ENV-2027-001",
                title="Maniwa wood-waste umbrella permit",
                valid_from=date(2027, 1, 1),
                valid_to=date(2027, 12, 31),
                transfer_rule=TransferRule.FREE,
                return_due_days=15,
                issued_by_id=uuid.UUID(authority.user_id),
            )
        )
        await session.flush()
        for account in (member, other_member):
            session.add(
                PermitMember(
                    permit_id=world.permit_id,
                    organisation_id=world.org(account),
                    covered_from=date(2027, 1, 1),
                    added_by_id=uuid.UUID(holder.user_id),
                )
            )
        session.add(
            PermitCondition(
                id=world.condition_id,
                permit_id=world.permit_id,
                parameter=Parameter.WASTE_TO_LANDFILL,
                material_code=SAWDUST,
                title="Wood waste to landfill",
                cap=Decimal(100),
                unit_code="TNE",
                frequency=Frequency.MONTHLY,
                allocated=Decimal(90),
            )
        )
        await session.flush()
        for account, amount in ((member, 40), (other_member, 50)):
            session.add(
                Allocation(
                    condition_id=world.condition_id,
                    organisation_id=world.org(account),
                    amount=Decimal(amount),
                )
            )
    await world.allocate(member, "40")
    await world.allocate(other_member, "50")
    return world


# The fields of the returns, compliance and report part: tests/permits/test_returns_authorization.py
# asks each of them of every viewer, and tests/permits/test_authorization.py the rest of the
# permit fields; between them every field whose name starts with "permit" has its row.
RETURNS_FIELDS = frozenset(
    {
        "permitReturnDraft",
        "permitReturnFile",
        "permitReturns",
        "permitReturnVersions",
        "permitConditionCompliance",
        "permitReport",
        "permitReportLink",
    }
)
