"""Purchasing operations and helpers for the purchasing tests and the sync tests: the default
group form, the whole group and pledge as the API answers them, creating, pledging, reading
and listing. Not a test module."""

from __future__ import annotations

from typing import Any

from tests.conftest import Account, GraphQL

ERRORS = "errors { code message field }"
PERSON = "{ userId displayName }"
PLEDGE_FIELDS = f"""
id quantity status participant {PERSON} actedBy {PERSON} onBehalf organisationId
organisationName createdAt updatedAt withdrawnAt
"""
SETTLEMENT_FIELDS = f"""
currency tier {{ minQuantity pricePerUnit }} unitPrice totalQuantity sharedCosts total
lines {{ pledgeId participant {PERSON} organisationName quantity amount }}
"""
GROUP_FIELDS = f"""
id title description itemName
material {{ code name }}
unit {{ code name symbol }}
direction status minQuantity maxQuantity pledgedQuantity remainingQuantity minimumReached
participantsCount
priceTiers {{ minQuantity pricePerUnit }}
currentTier {{ minQuantity pricePerUnit }}
nextTier {{ minQuantity pricePerUnit }}
quantityToNextTier
currency sharedCosts costSplit deadline secondsLeft visibility
organiser {{ id name kind }}
counterpart {{ id name kind }}
cluster {{ id name currency }}
myPledge {{ id quantity status }}
canManage canPledge
settlement {{ {SETTLEMENT_FIELDS} }}
cancellationReason version createdAt updatedAt closedAt orderedAt deliveredAt cancelledAt
"""
CREATE = f"""
mutation Create($input: PurchaseGroupCreateInput!) {{
  purchaseGroupCreate(input: $input) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
UPDATE = f"""
mutation Update($input: PurchaseGroupUpdateInput!) {{
  purchaseGroupUpdate(input: $input) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
CLOSE = f"""
mutation Close($id: ID!) {{
  purchaseGroupClose(id: $id) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
CANCEL = f"""
mutation Cancel($id: ID!, $reason: String! = "") {{
  purchaseGroupCancel(id: $id, reason: $reason) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
MARK_ORDERED = f"""
mutation Ordered($id: ID!) {{
  purchaseGroupMarkOrdered(id: $id) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
MARK_DELIVERED = f"""
mutation Delivered($id: ID!) {{
  purchaseGroupMarkDelivered(id: $id) {{ purchaseGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}
"""
PLEDGE = f"""
mutation Pledge($input: PurchaseGroupPledgeInput!) {{
  purchaseGroupPledge(input: $input) {{
    pledge {{ {PLEDGE_FIELDS} group {{ {GROUP_FIELDS} }} }} {ERRORS}
  }}
}}
"""
PLEDGE_UPDATE = f"""
mutation PledgeUpdate($input: PurchaseGroupPledgeUpdateInput!) {{
  purchaseGroupPledgeUpdate(input: $input) {{
    pledge {{ {PLEDGE_FIELDS} group {{ {GROUP_FIELDS} }} }} {ERRORS}
  }}
}}
"""
PLEDGE_WITHDRAW = f"""
mutation Withdraw($id: ID!) {{
  purchaseGroupPledgeWithdraw(id: $id) {{
    pledge {{ {PLEDGE_FIELDS} group {{ {GROUP_FIELDS} }} }} {ERRORS}
  }}
}}
"""
GROUP = f"query Group($id: ID!) {{ purchaseGroup(id: $id) {{ {GROUP_FIELDS} }} }}"
GROUPS = """
query Groups($filter: PurchaseGroupFilter) {
  purchaseGroups(filter: $filter) { totalCount edges { node { id title status } } }
}
"""
MY_PLEDGES = f"""
query Mine($includeWithdrawn: Boolean! = false) {{
  myPledges(includeWithdrawn: $includeWithdrawn) {{
    totalCount edges {{ node {{ {PLEDGE_FIELDS} group {{ id title status myPledge {{ id }} }} }} }}
  }}
}}
"""
GROUP_PLEDGES = f"""
query GroupPledges($groupId: ID!, $includeWithdrawn: Boolean! = false) {{
  purchaseGroupPledges(groupId: $groupId, includeWithdrawn: $includeWithdrawn) {{
    totalCount edges {{ node {{ {PLEDGE_FIELDS} group {{ id }} }} }}
  }}
}}
"""
INBOX = "{ notifications { edges { node { kind title body subjectType subjectId } } } }"
NOW = "2027-03-01T00:00:00+00:00"
DEADLINE = "2027-03-08T05:00:00+00:00"  # group_input's 2027-03-08T12:00:00+07:00
SECONDS_TO_DEADLINE = 7 * 86400 + 5 * 3600
TIERS = [
    {"minQuantity": "100", "pricePerUnit": "10"},
    {"minQuantity": "500", "pricePerUnit": "9.5"},
]
WOOD_CLUSTER = "Test Wood Cluster"


def group_input(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Fish feed for the dry season",
        "itemName": "Floating fish feed, 28% protein",
        "unit": "KGM",
        "direction": "BUY",
        "minQuantity": "100",
        "maxQuantity": "1000",
        "priceTiers": [
            {"minQuantity": "100", "pricePerUnit": "10"},
            {"minQuantity": "500", "pricePerUnit": "9.5"},
        ],
        "currency": "USD",
        "sharedCosts": "10",
        "costSplit": "PRO_RATA",
        "deadline": "2027-03-08T12:00:00+07:00",
        "visibility": "CLUSTER",
        **extra,
    }


def failed(name: str, *problems: dict[str, Any]) -> dict[str, Any]:
    """A mutation body whose payload carries only these errors."""
    key = "pledge" if name.startswith("purchaseGroupPledge") else "purchaseGroup"
    return {"data": {name: {key: None, "errors": list(problems)}}}


def payload(body: dict[str, Any], name: str) -> dict[str, Any]:
    data = body["data"][name]
    assert data["errors"] == [], body
    result: dict[str, Any] = data["purchaseGroup" if "purchaseGroup" in data else "pledge"]
    return result


def person(account: Account) -> dict[str, str]:
    return {"userId": account.user_id, "displayName": account.email.split("@")[0]}


async def create(gql: GraphQL, account: Account | str, **extra: Any) -> dict[str, Any]:
    token = account if isinstance(account, str) else account.access_token
    body = await gql(CREATE, {"input": group_input(**extra)}, token=token)
    return payload(body, "purchaseGroupCreate")


async def pledge(
    gql: GraphQL, account: Account | str, group_id: str, quantity: str, **extra: Any
) -> dict[str, Any]:
    token = account if isinstance(account, str) else account.access_token
    body = await gql(
        PLEDGE, {"input": {"groupId": group_id, "quantity": quantity, **extra}}, token=token
    )
    return payload(body, "purchaseGroupPledge")


async def read(gql: GraphQL, account: Account | str, group_id: str) -> dict[str, Any] | None:
    token = account if isinstance(account, str) else account.access_token
    body = await gql(GROUP, {"id": group_id}, token=token)
    assert "errors" not in body, body
    group: dict[str, Any] | None = body["data"]["purchaseGroup"]
    return group


async def listed(gql: GraphQL, account: Account | str, **filter: Any) -> list[tuple[str, str]]:
    """(title, status) of the groups the viewer sees with this filter, in list order."""
    token = account if isinstance(account, str) else account.access_token
    body = await gql(GROUPS, {"filter": filter}, token=token)
    assert "errors" not in body, body
    connection = body["data"]["purchaseGroups"]
    assert connection["totalCount"] == len(connection["edges"])
    return [(e["node"]["title"], e["node"]["status"]) for e in connection["edges"]]


async def inbox(gql: GraphQL, account: Account) -> list[dict[str, Any]]:
    body = await gql(INBOX, token=account.access_token)
    return [edge["node"] for edge in body["data"]["notifications"]["edges"]]


def opened(
    group_id: str,
    organiser: Account,
    cluster_id: str,
    organiser_name: str,
    organiser_kind: str = "COMMUNITY",
    **overrides: Any,
) -> dict[str, Any]:
    """The whole group of ``group_input()`` as its organiser sees it just after creating it."""
    return {
        "id": group_id,
        "title": "Fish feed for the dry season",
        "description": "",
        "itemName": "Floating fish feed, 28% protein",
        "material": None,
        "unit": {"code": "KGM", "name": "kilogram", "symbol": "kg"},
        "direction": "BUY",
        "status": "OPEN",
        "minQuantity": "100",
        "maxQuantity": "1000",
        "pledgedQuantity": "0",
        "remainingQuantity": "1000",
        "minimumReached": False,
        "participantsCount": 0,
        "priceTiers": TIERS,
        "currentTier": None,
        "nextTier": {"minQuantity": "100", "pricePerUnit": "10"},
        "quantityToNextTier": "100",
        "currency": "USD",
        "sharedCosts": "10",
        "costSplit": "PRO_RATA",
        "deadline": DEADLINE,
        "secondsLeft": SECONDS_TO_DEADLINE,
        "visibility": "CLUSTER",
        "organiser": {
            "id": organiser.organisation_id,
            "name": organiser_name,
            "kind": organiser_kind,
        },
        "counterpart": None,
        "cluster": {"id": cluster_id, "name": WOOD_CLUSTER, "currency": "JPY"},
        "myPledge": None,
        "canManage": True,
        "canPledge": True,
        "settlement": None,
        "cancellationReason": "",
        "version": 1,
        "createdAt": NOW,
        "updatedAt": NOW,
        "closedAt": None,
        "orderedAt": None,
        "deliveredAt": None,
        "cancelledAt": None,
        **overrides,
    }


def pledge_of(
    account: Account,
    organisation_name: str,
    pledge_id: str,
    quantity: str,
    group: dict[str, Any] | None,
    **overrides: Any,
) -> dict[str, Any]:
    """A pledge the participant made for themselves, acting for ``organisation_name``."""
    return {
        "id": pledge_id,
        "quantity": quantity,
        "status": "ACTIVE",
        "participant": person(account),
        "actedBy": person(account),
        "onBehalf": False,
        "organisationId": account.organisation_id,
        "organisationName": organisation_name,
        "createdAt": NOW,
        "updatedAt": NOW,
        "withdrawnAt": None,
        "group": group,
        **overrides,
    }
