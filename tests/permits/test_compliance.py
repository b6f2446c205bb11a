"""Compliance of a condition in a period, the warnings at 80 % and 100 %, and what lists of
returns cost."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from backend.notifications.models import Notification, NotificationKind, PushMessage
from backend.permits.models import PermitMember, PermitReturn
from backend.settings import Settings
from tests.conftest import Account, seed_people
from tests.permits.kit import MEMBER_REMOVE
from tests.permits.returns_kit import FEBRUARY, MARCH, RETURN_FIELDS, PermitWorld

COMPLIANCE = """
query Compliance($conditionId: ID!, $periodStart: Date!) {
  permitConditionCompliance(conditionId: $conditionId, periodStart: $periodStart) {
    conditionId title unitCode cap total share status returnsFiled
    period { start end due }
    members {
      organisationId organisationName allocation sentToDisposal share status
      latestVersion late missing coverSpans { coveredFrom coveredTo }
    }
  }
}
"""
RETURNS = f"""
query Returns($conditionId: ID!, $first: Int) {{
  permitReturns(conditionId: $conditionId, first: $first) {{
    totalCount edges {{ node {{ {RETURN_FIELDS} }} }}
  }}
}}
"""
DEVICE = """
mutation Device($input: DeviceRegisterInput!) { deviceRegister(input: $input) { errors { code } } }
"""


async def compliance(world: PermitWorld, account: Account) -> dict[str, Any]:
    return await world.gql(
        COMPLIANCE,
        {"conditionId": str(world.condition_id), "periodStart": FEBRUARY.isoformat()},
        token=account.access_token,
    )


def member_row(world: PermitWorld, account: Account, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "organisationId": account.organisation_id,
        "organisationName": name,
        "coverSpans": [{"coveredFrom": "2027-01-01", "coveredTo": None}],
        **fields,
    }


def head(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Wood waste to landfill",
        "unitCode": "TNE",
        "cap": "100",
        "period": {"start": "2027-02-01", "end": "2027-02-28", "due": "2027-03-15"},
        **fields,
    }


async def test_the_total_against_the_cap_and_each_member_against_its_allocation(
    world: PermitWorld,
) -> None:
    # given A files 30 of its 40 and amends to 31, B files 45 of its 50
    await world.file(world.member, sentToDisposal="30")
    await world.file(world.member, 1, sentToDisposal="31")
    await world.file(world.other_member, sentToDisposal="45")
    # and B's allocation changes after February ended (it does not count for February)
    await world.allocate(world.other_member, "60", at=datetime(2027, 2, 28, 15, 0, tzinfo=UTC))

    # then the holder, the authority and platform admins see everyone
    expected = {
        "data": {
            "permitConditionCompliance": head(
                conditionId=str(world.condition_id),
                total="76",
                share="0.76",
                status="OK",
                returnsFiled=2,
                members=[
                    member_row(
                        world,
                        world.member,
                        "A Sawmill",
                        allocation="40",
                        sentToDisposal="31",
                        share="0.775",
                        status="OK",
                        latestVersion=2,
                        late=False,
                        missing=False,
                    ),
                    member_row(
                        world,
                        world.other_member,
                        "B Pellets",
                        allocation="50",
                        sentToDisposal="45",
                        share="0.9",
                        status="WARNING",
                        latestVersion=1,
                        late=False,
                        missing=False,
                    ),
                ],
            )
        }
    }
    assert await compliance(world, world.holder) == expected
    assert await compliance(world, world.authority) == expected
    # and a member sees the total and its own row only
    own = await compliance(world, world.member_plain)
    assert own["data"]["permitConditionCompliance"]["members"] == [
        expected["data"]["permitConditionCompliance"]["members"][0]
    ]
    assert own["data"]["permitConditionCompliance"]["total"] == "76"


async def test_after_the_due_day_a_missing_return_is_flagged(world: PermitWorld) -> None:
    # given A filed late and B never filed
    world.clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    await world.file(world.member, sentToDisposal="41")

    found = (await compliance(world, world.authority))["data"]["permitConditionCompliance"]

    assert found["members"] == [
        member_row(
            world,
            world.member,
            "A Sawmill",
            allocation="40",
            sentToDisposal="41",
            share="1.025",
            status="OVER",
            latestVersion=1,
            late=True,
            missing=False,
        ),
        member_row(
            world,
            world.other_member,
            "B Pellets",
            allocation="50",
            sentToDisposal="0",
            share="0",
            status="OK",
            latestVersion=None,
            late=False,
            missing=True,
        ),
    ]


async def _warnings(world: PermitWorld) -> list[tuple[str, str, str]]:
    """(person's email-ish name, level, whose) of every PERMIT_USE_WARNING, sorted."""
    names = {
        world.member.user_id: "member",
        world.member_plain.user_id: "member_plain",
        world.other_member.user_id: "other_member",
        world.holder.user_id: "holder",
        world.holder_plain.user_id: "holder_plain",
    }
    async with world.db.read() as session:
        rows = (
            await session.scalars(
                select(Notification).where(Notification.kind == NotificationKind.PERMIT_USE_WARNING)
            )
        ).all()
    return sorted(
        (
            names[str(row.user_id)],
            row.details["level"],
            row.details.get("organisationId", "cap"),
        )
        for row in rows
    )


async def test_warnings_at_80_and_100_percent_are_sent_once_with_a_push(
    world: PermitWorld,
) -> None:
    # given A's admin has a phone
    registered = await world.gql(
        DEVICE,
        {"input": {"token": "ExponentPushToken[a-admin]", "platform": "ANDROID"}},
        token=world.member.access_token,
    )
    assert registered["data"]["deviceRegister"]["errors"] == []
    a, b = world.member.organisation_id, world.other_member.organisation_id

    # when A files 31 of 40 (77.5 %): nothing
    await world.file(world.member, sentToDisposal="31")
    assert await _warnings(world) == []
    # 32 (80 %): A's people and the holder's admin are told
    await world.file(world.member, 1, sentToDisposal="32")
    at_80 = [("holder", "80", a), ("member", "80", a), ("member_plain", "80", a)]
    assert await _warnings(world) == at_80
    # 39, then down to 10 and up to 35 again: nothing more (each level once)
    for version, figure in ((2, "39"), (3, "10"), (4, "35")):
        filed = await world.file(world.member, version, sentToDisposal=figure)
        assert filed["errors"] == []
    assert await _warnings(world) == at_80
    # 40 (100 %) of A, and B's 40 (80 % of its 50) takes the total to 80 of the cap
    await world.file(world.member, 5, sentToDisposal="40")
    await world.file(world.other_member, sentToDisposal="40")

    assert await _warnings(world) == sorted(
        [
            *at_80,
            ("holder", "100", a),
            ("member", "100", a),
            ("member_plain", "100", a),
            ("holder", "80", b),
            ("other_member", "80", b),
            # the cap: the holder's admins and every covered member's people
            ("holder", "80", "cap"),
            ("member", "80", "cap"),
            ("member_plain", "80", "cap"),
            ("other_member", "80", "cap"),
        ]
    )
    # and each of A's admin's notifications went to the phone too
    async with world.db.read() as session:
        pushed = (
            await session.scalars(
                select(Notification.title)
                .join(PushMessage, PushMessage.notification_id == Notification.id)
                .order_by(Notification.created_at, Notification.title)
            )
        ).all()
    assert pushed == [
        "A Sawmill reached 100 % of its allocation for Wood waste to landfill",
        "A Sawmill reached 80 % of its allocation for Wood waste to landfill",
        "The members reached 80 % of the cap of Wood waste to landfill",
    ]


async def test_a_list_of_returns_costs_the_same_for_1_and_50(
    world: PermitWorld, settings: Settings, sql_statements: Any
) -> None:
    # given 60 more covered firms, each with a return of two versions for February
    people = await seed_people(world.db, settings, world.cluster_id, 60)
    async with world.db.write() as session:
        await session.execute(
            insert(PermitMember),
            [
                {
                    "id": uuid.uuid4(),
                    "permit_id": world.permit_id,
                    "organisation_id": uuid.UUID(p.organisation_id),
                    "covered_from": date(2027, 1, 1),
                }
                for p in people
            ],
        )
        await session.execute(
            insert(PermitReturn),
            [
                {
                    "id": uuid.uuid4(),
                    "condition_id": world.condition_id,
                    "organisation_id": uuid.UUID(p.organisation_id),
                    "period_start": FEBRUARY,
                    "version": version,
                    "generated": Decimal(1),
                    "treated_on_site": Decimal(0),
                    "sent_to_members": Decimal(0),
                    "sent_through_marketplace": Decimal(0),
                    "sent_to_disposal": Decimal(version),
                    "filed_at": datetime(2027, 3, version, tzinfo=UTC),
                }
                for p in people
                for version in (1, 2)
            ],
        )

    counts = {}
    for first in (1, 50):
        with sql_statements() as log:
            body = await world.gql(
                RETURNS,
                {"conditionId": str(world.condition_id), "first": first},
                token=world.holder.access_token,
            )
        page = body["data"]["permitReturns"]
        assert page["totalCount"] == 60
        assert len(page["edges"]) == first
        assert {e["node"]["version"] for e in page["edges"]} == {2}
        counts[first] = log.count
    assert counts[1] == counts[50], counts

    # and the compliance of 62 members costs what it costs for 2
    with sql_statements() as log:
        found = await compliance(world, world.holder)
    assert len(found["data"]["permitConditionCompliance"]["members"]) == 62
    assert found["data"]["permitConditionCompliance"]["total"] == "120"
    many = log.count
    async with world.db.write() as session:
        await session.execute(
            PermitReturn.__table__.delete().where(  # type: ignore[attr-defined]
                PermitReturn.organisation_id.in_([uuid.UUID(p.organisation_id) for p in people])
            )
        )
        await session.execute(
            PermitMember.__table__.delete().where(  # type: ignore[attr-defined]
                PermitMember.organisation_id.in_([uuid.UUID(p.organisation_id) for p in people])
            )
        )
    with sql_statements() as log:
        found = await compliance(world, world.holder)
    assert len(found["data"]["permitConditionCompliance"]["members"]) == 2
    assert log.count == many


async def test_a_member_removed_during_a_period_is_measured_against_what_it_held(
    world: PermitWorld,
) -> None:
    # Given a member holding 40 t a month that files 10 t for March on 20 March
    world.clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    filed = await world.file(world.member, sentToDisposal="10", periodStart=MARCH.isoformat())
    assert filed["errors"] == []
    # when the holder then ends its cover (its 40 t go back to the pool at once)
    removed = await world.gql(
        MEMBER_REMOVE,
        {
            "input": {
                "permitId": str(world.permit_id),
                "organisationId": world.member.organisation_id,
            }
        },
        token=world.holder.access_token,
    )
    assert removed["data"]["permitMemberRemove"]["errors"] == []
    # then March measures its 10 t against the 40 t it held while covered (25 %, OK), not
    # against the 0 its release left
    body = await world.gql(
        COMPLIANCE,
        {"conditionId": str(world.condition_id), "periodStart": MARCH.isoformat()},
        token=world.authority.access_token,
    )
    [row] = [
        m
        for m in body["data"]["permitConditionCompliance"]["members"]
        if m["organisationId"] == world.member.organisation_id
    ]
    assert (row["allocation"], row["sentToDisposal"], row["share"], row["status"]) == (
        "40",
        "10",
        "0.25",
        "OK",
    )
