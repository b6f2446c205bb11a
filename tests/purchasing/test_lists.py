"""Lists of purchasing: groups soonest deadline first, a person's pledges latest change first, a
group's pledges in pledge order; their pages, and what a page costs in SQL statements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.kit.clock import ManualClock
from tests.conftest import Account, GraphQL
from tests.purchasing.kit import group_input

ERRORS = "errors { code message field }"
CREATE = f"""
mutation Create($input: PurchaseGroupCreateInput!) {{
  purchaseGroupCreate(input: $input) {{ purchaseGroup {{ id deadline }} {ERRORS} }}
}}
"""
PLEDGE = f"""
mutation Pledge($input: PurchaseGroupPledgeInput!) {{
  purchaseGroupPledge(input: $input) {{ pledge {{ id createdAt updatedAt }} {ERRORS} }}
}}
"""
UPDATE_PLEDGE = f"""
mutation UpdatePledge($input: PurchaseGroupPledgeUpdateInput!) {{
  purchaseGroupPledgeUpdate(input: $input) {{ pledge {{ id quantity }} {ERRORS} }}
}}
"""
WITHDRAW = f"""
mutation Withdraw($id: ID!) {{
  purchaseGroupPledgeWithdraw(id: $id) {{ pledge {{ id updatedAt }} {ERRORS} }}
}}
"""
CLOSE = f"""
mutation Close($id: ID!) {{ purchaseGroupClose(id: $id) {{ purchaseGroup {{ status }} {ERRORS} }} }}
"""
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
GROUPS = f"""
query Groups($filter: PurchaseGroupFilter, $first: Int, $after: String) {{
  purchaseGroups(filter: $filter, first: $first, after: $after) {{
    totalCount {PAGE_INFO}
    edges {{ cursor node {{ id title direction deadline }} }}
  }}
}}
"""
GROUPS_WITH_RELATIONS = """
query Groups($first: Int) {
  purchaseGroups(first: $first) {
    totalCount
    edges {
      node {
        id title status
        organiser { name cluster { name } }
        cluster { name }
        unit { code symbol }
        material { code name }
        currentTier { pricePerUnit }
        myPledge { quantity status participant { displayName } actedBy { displayName } }
        settlement {
          total unitPrice
          lines { participant { displayName } organisationName quantity amount }
        }
      }
    }
  }
}
"""
MY_PLEDGES = f"""
query Mine($includeWithdrawn: Boolean!, $first: Int, $after: String) {{
  myPledges(includeWithdrawn: $includeWithdrawn, first: $first, after: $after) {{
    totalCount {PAGE_INFO}
    edges {{
      cursor
      node {{
        id quantity status updatedAt
        group {{ id title status myPledge {{ id }} settlement {{ total }} }}
      }}
    }}
  }}
}}
"""
GROUP_PLEDGES = f"""
query GroupPledges($groupId: ID!, $includeWithdrawn: Boolean!, $first: Int, $after: String) {{
  purchaseGroupPledges(
    groupId: $groupId, includeWithdrawn: $includeWithdrawn, first: $first, after: $after
  ) {{
    totalCount {PAGE_INFO}
    edges {{
      cursor
      node {{ id quantity status createdAt participant {{ displayName }} group {{ id }} }}
    }}
  }}
}}
"""


async def create(gql: GraphQL, organiser: Account, **terms: Any) -> str:
    created = await gql(CREATE, {"input": group_input(**terms)}, token=organiser.access_token)
    assert created["data"]["purchaseGroupCreate"]["errors"] == [], created
    group_id: str = created["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    return group_id


async def pledge(gql: GraphQL, account: Account, group_id: str, quantity: str) -> dict[str, Any]:
    pledged = await gql(
        PLEDGE, {"input": {"groupId": group_id, "quantity": quantity}}, token=account.access_token
    )
    assert pledged["data"]["purchaseGroupPledge"]["errors"] == [], pledged
    result: dict[str, Any] = pledged["data"]["purchaseGroupPledge"]["pledge"]
    return result


async def pages(
    gql: GraphQL, query: str, field: str, variables: dict[str, Any], token: str, size: int
) -> list[dict[str, Any]]:
    """Every page of a list, ``size`` at a time, following ``endCursor``."""
    found = []
    after = None
    while True:
        body = await gql(query, {**variables, "first": size, "after": after}, token=token)
        assert "errors" not in body, body
        found.append(body["data"][field])
        if not body["data"][field]["pageInfo"]["hasNextPage"]:
            return found
        after = body["data"][field]["pageInfo"]["endCursor"]
        assert len(found) < 50, "the pages do not end"


def node_ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def in_order(rows: list[tuple[datetime, str]], *, newest_first: bool = False) -> list[str]:
    """Ids sorted by time, then by id as the database compares UUIDs."""
    ordered = sorted(rows, key=lambda row: (row[0], uuid.UUID(row[1])), reverse=newest_first)
    return [group_id for _, group_id in ordered]


def check_pages(found: list[dict[str, Any]], expected: list[str], size: int) -> None:
    """Full pages but the last, no gaps, no repeats, the total on every page, and cursors
    that are the edges' own."""
    assert [len(page["edges"]) for page in found] == [
        min(size, len(expected) - start) for start in range(0, len(expected), size)
    ]
    assert [node_id for page in found for node_id in node_ids(page)] == expected
    assert [page["totalCount"] for page in found] == [len(expected)] * len(found)
    assert [page["pageInfo"]["hasNextPage"] for page in found] == [True] * (len(found) - 1) + [
        False
    ]
    assert [page["pageInfo"]["hasPreviousPage"] for page in found] == [False] + [True] * (
        len(found) - 1
    )
    for page in found:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


@dataclass
class People:
    union: Account  # organises the groups
    farms: list[Account]  # take part


async def people(register: Any, cluster_id: str, farms: int) -> People:
    union = await register("union@coop.example", cluster_id, name="Women's Union", kind="COMMUNITY")
    return People(
        union,
        [
            await register(f"farm{i}@farm.example", cluster_id, name=f"Farm {i:02d}")
            for i in range(farms)
        ],
    )


# ---------------------------------------------------------------------------------------------
# purchaseGroups


async def test_groups_come_soonest_deadline_first_then_by_id(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given groups whose deadlines are written in different offsets, some the same instant
    who = await people(register, cluster_id, 1)
    deadlines = [
        "2027-03-05T09:00:00+09:00",  # 00:00 UTC
        "2027-03-04T17:00:00-07:00",  # 00:00 UTC too
        "2027-03-05T06:30:00+07:00",  # 23:30 UTC the day before: earlier, though "later"
        "2027-03-02T00:00:00+00:00",
        "2027-03-10T12:00:00+05:30",
        "2027-03-05T00:00:00+00:00",  # 00:00 UTC a third time
        "2027-03-04T23:59:59.999999+00:00",
        "2027-03-05T00:00:00.000001+00:00",
        "2028-02-28T00:00:00+00:00",
    ]
    created = [
        (when(deadline), await create(gql, who.union, title=f"Group {i}", deadline=deadline))
        for i, deadline in enumerate(deadlines)
    ]
    # and one of another organisation's members only, which the union does not see
    await create(gql, who.farms[0], visibility="MEMBERS", title="Farm only")
    # when the union lists them
    body = await gql(GROUPS, {"first": 100}, token=who.union.access_token)
    # then they come by the instant of their deadline, the same instant by id
    listed = body["data"]["purchaseGroups"]
    assert node_ids(listed) == in_order(created), body
    assert [when(edge["node"]["deadline"]) for edge in listed["edges"]] == sorted(
        when(deadline) for deadline in deadlines
    )
    assert listed["totalCount"] == len(deadlines)


async def test_25_groups_in_pages_of_10(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given 25 groups over 6 deadlines, so that pages end in the middle of a deadline's groups,
    # every third of them a sale
    who = await people(register, cluster_id, 0)
    base = datetime(2027, 3, 20, 3, 0, tzinfo=UTC)
    created = []
    for i in range(25):
        deadline = base + timedelta(hours=(i * 7) % 6)
        direction = "SELL" if i % 3 == 0 else "BUY"
        group_id = await create(
            gql,
            who.union,
            title=f"Group {i:02d}",
            deadline=deadline.isoformat(),
            direction=direction,
        )
        created.append((deadline, group_id, direction))
    everything = in_order([(deadline, group_id) for deadline, group_id, _ in created])
    sales = in_order([(d, group_id) for d, group_id, direction in created if direction == "SELL"])
    token = who.union.access_token
    # when they are read 10 at a time
    found = await pages(gql, GROUPS, "purchaseGroups", {}, token, 10)
    # then three pages hold every group once, in order
    check_pages(found, everything, 10)
    assert len(set(everything)) == 25
    # and a filter pages the same way
    found = await pages(gql, GROUPS, "purchaseGroups", {"filter": {"direction": "SELL"}}, token, 3)
    check_pages(found, sales, 3)
    assert {edge["node"]["direction"] for page in found for edge in page["edges"]} == {"SELL"}


async def test_a_cursor_of_another_list_is_refused(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    who = await people(register, cluster_id, 1)
    group_id = await create(gql, who.union)
    await pledge(gql, who.farms[0], group_id, "10")
    mine = await gql(
        MY_PLEDGES, {"includeWithdrawn": False, "first": 1}, token=who.farms[0].access_token
    )
    cursor = mine["data"]["myPledges"]["pageInfo"]["endCursor"]
    body = await gql(GROUPS, {"first": 1, "after": cursor}, token=who.union.access_token)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("after is not a cursor of this list", "VALIDATION")
    ], body


async def test_a_page_of_groups_costs_the_same_statements_for_1_and_20(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock, sql_statements: Any
) -> None:
    # given 20 groups of the union with materials and units: every third confirmed with three
    # farms' pledges, every third open with farm 0's pledge, the others without pledges
    who = await people(register, cluster_id, 3)
    materials = ["fish-feed", "rice-husk", "wood-shavings", None]
    confirmed = []
    for i in range(20):
        group_id = await create(
            gql,
            who.union,
            title=f"Group {i:02d}",
            deadline=(datetime(2027, 3, 20, tzinfo=UTC) + timedelta(hours=i)).isoformat(),
            materialCode=materials[i % 4],
            unit=["KGM", "TNE"][i % 2],
        )
        if i % 3 == 0:
            for farm, quantity in zip(who.farms, ("40", "35.5", "24.5"), strict=True):
                clock.advance(timedelta(seconds=1))
                await pledge(gql, farm, group_id, quantity)
            closed = await gql(CLOSE, {"id": group_id}, token=who.union.access_token)
            assert closed["data"]["purchaseGroupClose"]["errors"] == [], closed
            confirmed.append(group_id)
        elif i % 3 == 1:
            await pledge(gql, who.farms[0], group_id, "12.5")
    pages_read = {}
    counts = {}
    for first in (1, 20):
        # when farm 0 reads a page of that size with organiser, unit, material, its own pledge
        # and the settlement
        with sql_statements() as log:
            body = await gql(
                GROUPS_WITH_RELATIONS, {"first": first}, token=who.farms[0].access_token
            )
        pages_read[first], counts[first] = body, log.count
    # then both pages are complete
    for first, body in pages_read.items():
        assert "errors" not in body, body
        assert body["data"]["purchaseGroups"]["totalCount"] == 20
        assert len(body["data"]["purchaseGroups"]["edges"]) == first
    nodes = [edge["node"] for edge in pages_read[20]["data"]["purchaseGroups"]["edges"]]
    assert pages_read[1]["data"]["purchaseGroups"]["edges"][0]["node"] == nodes[0]
    # 100 kg at 10 USD and 10 USD of transport pro rata: farm 0 sees its own line only
    assert nodes[0] == {
        "id": confirmed[0],
        "title": "Group 00",
        "status": "CONFIRMED",
        "organiser": {"name": "Women's Union", "cluster": {"name": "Test Wood Cluster"}},
        "cluster": {"name": "Test Wood Cluster"},
        "unit": {"code": "KGM", "symbol": "kg"},
        "material": {"code": "fish-feed", "name": nodes[0]["material"]["name"]},
        "currentTier": {"pricePerUnit": "10"},
        "myPledge": {
            "quantity": "40",
            "status": "ACTIVE",
            "participant": {"displayName": "farm0"},
            "actedBy": {"displayName": "farm0"},
        },
        "settlement": {
            "total": "1010.00",
            "unitPrice": "10",
            "lines": [
                {
                    "participant": {"displayName": "farm0"},
                    "organisationName": "Farm 00",
                    "quantity": "40",
                    "amount": "404.00",
                }
            ],
        },
    }
    assert [n["status"] for n in nodes] == [
        "CONFIRMED" if i % 3 == 0 else "OPEN" for i in range(20)
    ]
    assert [n["id"] for n in nodes if n["settlement"] is not None] == confirmed
    assert [n["myPledge"] is not None for n in nodes] == [i % 3 != 2 for i in range(20)]
    assert [n["material"] and n["material"]["code"] for n in nodes] == [
        materials[i % 4] for i in range(20)
    ]
    assert [n["unit"]["code"] for n in nodes] == [["KGM", "TNE"][i % 2] for i in range(20)]
    # and cost the same number of statements
    assert counts[1] == counts[20], (counts, pages_read)


# ---------------------------------------------------------------------------------------------
# myPledges


async def test_my_pledges_latest_change_first_in_pages(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given farm 0's pledges to 12 groups, two at a time at the same moment (same updatedAt),
    # and farm 1's pledge to one of them
    who = await people(register, cluster_id, 2)
    farm = who.farms[0]
    rows = []
    for i in range(12):
        group_id = await create(gql, who.union, title=f"Group {i:02d}")
        if i % 2 == 0:
            clock.advance(timedelta(minutes=1))
        pledged = await pledge(gql, farm, group_id, str(i + 1))
        rows.append((when(pledged["updatedAt"]), pledged["id"]))
        if i == 3:
            await pledge(gql, who.farms[1], group_id, "60")
    # when it raises one quantity, and withdraws another
    clock.advance(timedelta(minutes=1))
    raised = await gql(
        UPDATE_PLEDGE,
        {"input": {"pledgeId": rows[4][1], "quantity": "50"}},
        token=farm.access_token,
    )
    assert raised["data"]["purchaseGroupPledgeUpdate"]["errors"] == [], raised
    rows[4] = (clock.now(), rows[4][1])
    clock.advance(timedelta(minutes=1))
    withdrawn = await gql(WITHDRAW, {"id": rows[7][1]}, token=farm.access_token)
    assert withdrawn["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], withdrawn
    rows[7] = (clock.now(), rows[7][1])
    # then its pledges come 5 at a time, latest change first, the withdrawn one left out
    active = in_order([row for i, row in enumerate(rows) if i != 7], newest_first=True)
    token = farm.access_token
    found = await pages(gql, MY_PLEDGES, "myPledges", {"includeWithdrawn": False}, token, 5)
    check_pages(found, active, 5)
    assert active[0] == rows[4][1]
    edges = [edge for page in found for edge in page["edges"]]
    assert [edge["node"]["status"] for edge in edges] == ["ACTIVE"] * 11
    # each with its group, as farm 0 sees it
    for edge in edges:
        assert edge["node"]["group"]["myPledge"] == {"id": edge["node"]["id"]}
        assert edge["node"]["group"]["status"] == "OPEN"
    # and with the withdrawn ones, it comes first
    everything = in_order(rows, newest_first=True)
    found = await pages(gql, MY_PLEDGES, "myPledges", {"includeWithdrawn": True}, token, 5)
    check_pages(found, everything, 5)
    assert found[0]["edges"][0]["node"]["status"] == "WITHDRAWN"
    # and farm 1 has its one pledge
    theirs = await gql(MY_PLEDGES, {"includeWithdrawn": True}, token=who.farms[1].access_token)
    assert theirs["data"]["myPledges"]["totalCount"] == 1


async def test_my_pledges_carry_the_settlement_of_confirmed_groups(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    who = await people(register, cluster_id, 2)
    group_id = await create(gql, who.union)
    for farm, quantity in zip(who.farms, ("60", "40"), strict=True):
        clock.advance(timedelta(minutes=1))
        await pledge(gql, farm, group_id, quantity)
    clock.advance(timedelta(days=30))
    body = await gql(
        MY_PLEDGES, {"includeWithdrawn": False, "first": 1}, token=who.farms[1].access_token
    )
    [edge] = body["data"]["myPledges"]["edges"]
    assert edge["node"]["group"]["status"] == "CONFIRMED"
    assert edge["node"]["group"]["settlement"] == {"total": "1010.00"}


# ---------------------------------------------------------------------------------------------
# purchaseGroupPledges


async def test_a_groups_pledges_in_pledge_order_in_pages(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 12 farms pledging to the union's group, three at a time at the same moment
    who = await people(register, cluster_id, 12)
    group_id = await create(gql, who.union)
    rows = []
    for i, farm in enumerate(who.farms):
        if i % 3 == 0:
            clock.advance(timedelta(minutes=1))
        pledged = await pledge(gql, farm, group_id, str(10 + i))
        rows.append((when(pledged["createdAt"]), pledged["id"]))
    # when one farm raises its quantity and another withdraws
    clock.advance(timedelta(minutes=1))
    raised = await gql(
        UPDATE_PLEDGE,
        {"input": {"pledgeId": rows[2][1], "quantity": "70"}},
        token=who.farms[2].access_token,
    )
    assert raised["data"]["purchaseGroupPledgeUpdate"]["errors"] == [], raised
    withdrawn = await gql(WITHDRAW, {"id": rows[5][1]}, token=who.farms[5].access_token)
    assert withdrawn["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], withdrawn
    # then the organiser reads them 5 at a time in pledge order (a change keeps the place),
    # the withdrawn one left out
    token = who.union.access_token
    variables = {"groupId": group_id, "includeWithdrawn": False}
    active = in_order([row for i, row in enumerate(rows) if i != 5])
    found = await pages(gql, GROUP_PLEDGES, "purchaseGroupPledges", variables, token, 5)
    check_pages(found, active, 5)
    nodes = [edge["node"] for page in found for edge in page["edges"]]
    quantities = {node["id"]: node["quantity"] for node in nodes}
    assert quantities[rows[2][1]] == "70"
    assert {node["group"] is None for node in nodes} == {True}
    assert {node["status"] for node in nodes} == {"ACTIVE"}
    # and with the withdrawn one, at its place
    variables = {"groupId": group_id, "includeWithdrawn": True}
    found = await pages(gql, GROUP_PLEDGES, "purchaseGroupPledges", variables, token, 5)
    check_pages(found, in_order(rows), 5)
    # and a participant may not read them
    body = await gql(
        GROUP_PLEDGES,
        {"groupId": group_id, "includeWithdrawn": False},
        token=who.farms[0].access_token,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
