"""Filing returns: versions, the marketplace's computed part, units, periods, lateness, the
pre-filled form, and a burst of concurrent amendments."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from backend.permits.models import PermitCondition, PermitMember, PermitReturn
from tests.conftest import GraphQL
from tests.kit import problem
from tests.permits.returns_kit import FEBRUARY, FILE, RETURN_FIELDS, PermitWorld, filing

FEBRUARY_PERIOD = {"start": "2027-02-01", "end": "2027-02-28", "due": "2027-03-15"}
DRAFT = """
query Draft($conditionId: ID!, $periodStart: Date!) {
  permitReturnDraft(conditionId: $conditionId, periodStart: $periodStart) {
    conditionId organisationId unitCode sentThroughMarketplace expectedVersion late
    period { start end due }
    latest { version sentToDisposal generated }
  }
}
"""
VERSIONS = f"""
query Versions($conditionId: ID!, $periodStart: Date!, $organisationId: ID!, $first: Int) {{
  permitReturnVersions(conditionId: $conditionId, periodStart: $periodStart,
                       organisationId: $organisationId, first: $first) {{
    totalCount edges {{ node {{ {RETURN_FIELDS} }} }}
  }}
}}
"""


def expected_return(world: PermitWorld, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A whole filed version as the API shows it, the server's id and times taken as they are."""
    filed = payload["permitReturn"]
    return {
        "id": filed["id"],
        "conditionId": str(world.condition_id),
        "organisationId": world.member.organisation_id,
        "organisationName": "A Sawmill",
        "version": 1,
        "generated": "50",
        "treatedOnSite": "5",
        "sentToMembers": "5",
        "sentThroughMarketplace": "0",
        "sentToDisposal": "30",
        "unitCode": "TNE",
        "note": "",
        "filedAt": "2027-03-01T00:00:00+00:00",
        "late": False,
        "period": FEBRUARY_PERIOD,
        **fields,
    }


async def test_a_member_files_its_first_return_with_the_marketplace_part_computed(
    world: PermitWorld,
) -> None:
    # given A sold 4 t of shavings (below EWC 03 01 05) in February, 2 t in March, and 3 t of
    # bark (another EWC entry) in February
    await world.trade(world.member, "4", datetime(2027, 2, 10, 3, tzinfo=UTC))
    await world.trade(world.member, "2", datetime(2027, 3, 1, 0, 0, tzinfo=UTC))
    await world.trade(
        world.member, "3", datetime(2027, 2, 11, tzinfo=UTC), materialCode="bark", title="Bark"
    )

    # when A's plain member files February
    payload = await world.file(world.member_plain, note="First month")

    # then version 1 is filed with the 4 t the marketplace recorded, never typed
    assert payload == {
        "permitReturn": expected_return(
            world, payload, sentThroughMarketplace="4", note="First month"
        ),
        "errors": [],
    }


async def test_the_month_ends_at_midnight_in_the_clusters_time_zone(world: PermitWorld) -> None:
    # given a trade at 23:30 on 28 February in Tokyo (14:30 UTC) and one at 00:30 on 1 March
    # in Tokyo (15:30 UTC on 28 February)
    await world.trade(world.member, "1", datetime(2027, 2, 28, 14, 30, tzinfo=UTC))
    await world.trade(world.member, "2", datetime(2027, 2, 28, 15, 30, tzinfo=UTC))

    payload = await world.file(world.member)

    # then only the first counts in February
    assert payload["permitReturn"]["sentThroughMarketplace"] == "1"


async def test_an_amendment_is_a_new_version_and_the_first_stays(world: PermitWorld) -> None:
    first = await world.file(world.member)
    world.clock.set(datetime(2027, 3, 2, tzinfo=UTC))

    # when A amends with the version it read
    second = await world.file(world.member, 1, sentToDisposal="35", note="Corrected")
    # and files again with the old version
    stale = await world.file(world.member, 1, sentToDisposal="36")

    assert second == {
        "permitReturn": expected_return(
            world,
            second,
            version=2,
            sentToDisposal="35",
            note="Corrected",
            filedAt="2027-03-02T00:00:00+00:00",
        ),
        "errors": [],
    }
    assert stale == {
        "permitReturn": None,
        "errors": [
            problem(
                "CONFLICT",
                "The latest version of this return is 2; file with that as expectedVersion",
                "expectedVersion",
            )
        ],
    }
    # and both versions are there, the latest first, the first unchanged
    body = await world.gql(
        VERSIONS,
        {
            "conditionId": str(world.condition_id),
            "periodStart": "2027-02-01",
            "organisationId": world.member.organisation_id,
        },
        token=world.holder.access_token,
    )
    assert body == {
        "data": {
            "permitReturnVersions": {
                "totalCount": 2,
                "edges": [
                    {"node": second["permitReturn"]},
                    {"node": first["permitReturn"]},
                ],
            }
        }
    }


async def test_figures_in_another_mass_unit_are_kept_in_the_conditions(
    world: PermitWorld,
) -> None:
    payload = await world.file(
        world.member,
        unitCode="KGM",
        generated="12500",
        treatedOnSite="0",
        sentToMembers="1500.5",
        sentToDisposal="999.99",
    )
    filed = payload["permitReturn"]
    assert (filed["unitCode"], filed["generated"], filed["sentToMembers"]) == (
        "TNE",
        "12.5",
        "1.5005",
    )
    assert filed["sentToDisposal"] == "1"  # 0.99999 t to the columns' 4 places


async def test_a_figure_too_large_once_converted_is_refused_with_its_field(
    world: PermitWorld,
) -> None:
    # Given a condition kept in grams
    async with world.db.write() as session:
        await session.execute(
            update(PermitCondition)
            .where(PermitCondition.id == world.condition_id)
            .values(unit_code="GRM", cap=100000)
        )
    # when a member files 9E12 t (within what a figure may be, but 9E18 g)
    payload = await world.file(world.member, unitCode="TNE", sentToDisposal="9000000000000")
    # then the answer is a typed error on the field typed, not an internal error
    assert payload == {
        "permitReturn": None,
        "errors": [
            problem("VALIDATION", "Is too large in GRM, the condition's unit", "sentToDisposal")
        ],
    }


async def test_bad_filings_are_refused_with_the_field(world: PermitWorld) -> None:
    cases = [
        (
            {"periodStart": "2027-02-02"},
            problem(
                "VALIDATION", "A monthly period starts on the first day of a month", "periodStart"
            ),
        ),
        (
            {"periodStart": "2028-01-01"},
            problem(
                "VALIDATION",
                "The permit is valid from 2027-01-01 to 2027-12-31; this period lies outside it",
                "periodStart",
            ),
        ),
        (
            {"periodStart": "2027-04-01"},
            problem("VALIDATION", "This period has not started yet", "periodStart"),
        ),
        ({"sentToDisposal": "-1"}, problem("VALIDATION", "Must be zero or more", "sentToDisposal")),
        (
            {"unitCode": "LTR"},
            problem("VALIDATION", "Use a unit of mass (KGM, TNE ...)", "unitCode"),
        ),
        ({"unitCode": "XX9"}, problem("VALIDATION", "Not a known UN/ECE unit code", "unitCode")),
        (
            {"expectedVersion": 1},
            problem(
                "CONFLICT",
                "The latest version of this return is 0; file with that as expectedVersion",
                "expectedVersion",
            ),
        ),
        (
            {"conditionId": str(uuid.uuid4())},
            problem("NOT_FOUND", "Permit condition not found", "conditionId"),
        ),
    ]
    for change, expected in cases:
        body = await world.gql(
            FILE, {"input": {**filing(world), **change}}, token=world.member.access_token
        )
        assert body == {
            "data": {"permitReturnFile": {"permitReturn": None, "errors": [expected]}}
        }, change


async def test_a_member_covered_only_later_files_nothing_for_february(
    world: PermitWorld,
) -> None:
    # given the outsider is covered from 1 March
    async with world.db.write() as session:
        session.add(
            PermitMember(
                permit_id=world.permit_id,
                organisation_id=world.org(world.outsider),
                covered_from=datetime(2027, 3, 1).date(),
            )
        )
    refused = await world.file(world.outsider)
    # a cover ending on 1 February still counts for February
    async with world.db.write() as session:
        span = await session.scalar(
            select(PermitMember).where(PermitMember.organisation_id == world.org(world.outsider))
        )
        assert span is not None
        span.covered_from = datetime(2026, 12, 1).date()
        span.covered_to = datetime(2027, 2, 1).date()
    accepted = await world.file(world.outsider)

    assert refused["errors"] == [
        problem("VALIDATION", "Your organisation was not covered in this period", "periodStart")
    ]
    assert accepted["errors"] == []


async def test_a_return_first_filed_after_the_due_day_is_late_and_stays_late(
    world: PermitWorld,
) -> None:
    # on the due day (Tokyo) B is on time; the day after, A is late
    world.clock.set(datetime(2027, 3, 15, 14, 59, tzinfo=UTC))  # 23:59 on the 15th in Tokyo
    on_time = await world.file(world.other_member)
    world.clock.set(datetime(2027, 3, 15, 15, 0, tzinfo=UTC))  # 00:00 on the 16th
    late = await world.file(world.member)
    world.clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    amended_on_time = await world.file(world.other_member, 1, sentToDisposal="10")

    assert on_time["permitReturn"]["late"] is False
    assert late["permitReturn"]["late"] is True
    assert amended_on_time["permitReturn"]["late"] is False  # its first version was on time


async def test_the_draft_prefills_the_form(world: PermitWorld) -> None:
    await world.trade(world.member, "4", datetime(2027, 2, 10, tzinfo=UTC))
    variables = {"conditionId": str(world.condition_id), "periodStart": "2027-02-01"}

    before = await world.gql(DRAFT, variables, token=world.member.access_token)
    await world.file(world.member, sentToDisposal="31")
    world.clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    after = await world.gql(DRAFT, variables, token=world.member.access_token)

    common = {
        "conditionId": str(world.condition_id),
        "organisationId": world.member.organisation_id,
        "unitCode": "TNE",
        "sentThroughMarketplace": "4",
        "period": FEBRUARY_PERIOD,
    }
    assert before == {
        "data": {
            "permitReturnDraft": {**common, "expectedVersion": 0, "late": False, "latest": None}
        }
    }
    assert after == {
        "data": {
            "permitReturnDraft": {
                **common,
                "expectedVersion": 1,
                "late": False,  # filed on time: amending later does not make it late
                "latest": {"version": 1, "sentToDisposal": "31", "generated": "50"},
            }
        }
    }


async def test_a_retry_with_the_same_client_id_files_once(world: PermitWorld) -> None:
    client_id = str(uuid.uuid4())
    first = await world.file(world.member, clientId=client_id)
    retry = await world.file(world.member, clientId=client_id)
    assert retry == first
    assert first["permitReturn"]["id"] == client_id


async def _amend_until_filed(gql: GraphQL, world: PermitWorld, figure: int) -> int:
    """Read the latest version, file on it; on CONFLICT read again. Returns the attempts."""
    attempts = 0
    while True:
        attempts += 1
        draft = await gql(
            DRAFT,
            {"conditionId": str(world.condition_id), "periodStart": FEBRUARY.isoformat()},
            token=world.member.access_token,
        )
        expected = draft["data"]["permitReturnDraft"]["expectedVersion"]
        body = await gql(
            FILE,
            {"input": filing(world, expected, sentToDisposal=str(figure))},
            token=world.member.access_token,
        )
        errors = body["data"]["permitReturnFile"]["errors"]
        if not errors:
            return attempts
        assert [e["code"] for e in errors] == ["CONFLICT"], errors


async def test_a_burst_of_amendments_leaves_consecutive_versions(world: PermitWorld) -> None:
    # when 12 amendments of A's return race each other, each retrying on CONFLICT
    attempts = await asyncio.gather(
        *(_amend_until_filed(world.gql, world, figure) for figure in range(12))
    )

    # then there are versions 1 to 12, none twice, and each figure once
    async with world.db.read() as session:
        rows = (await session.scalars(select(PermitReturn))).all()
    assert sorted(r.version for r in rows) == list(range(1, 13))
    assert sorted(int(r.sent_to_disposal) for r in rows) == list(range(12))
    assert sum(attempts) >= 12
