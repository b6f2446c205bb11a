"""Who may do what with purchasing groups and pledges: each purchasing:... rule of
backend/purchasing/policies.py, allowed and refused, through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.identity.kit import invite_code, second_cluster, sign_in
from tests.kit import problem
from tests.purchasing.kit import (
    CANCEL,
    CLOSE,
    ERRORS,
    GROUP_PLEDGES,
    MARK_DELIVERED,
    MARK_ORDERED,
    NOW,
    PERSON,
    PLEDGE_FIELDS,
    UPDATE,
    create,
    failed,
    group_input,
    inbox,
    person,
    pledge,
)

JOIN = """
mutation Join($input: OrganisationJoinInput!) {
  organisationJoin(input: $input) { membership { role } errors { code message field } }
}
"""
CREATE = f"""
mutation Create($input: PurchaseGroupCreateInput!) {{
  purchaseGroupCreate(input: $input) {{
    purchaseGroup {{ title status organiser {{ id name kind }} canManage }} {ERRORS}
  }}
}}
"""
CAN = "query Can($id: ID!) { purchaseGroup(id: $id) { id canManage canPledge } }"
LISTED = "{ purchaseGroups { edges { node { id } } } }"
PLEDGE = f"""
mutation Pledge($input: PurchaseGroupPledgeInput!) {{
  purchaseGroupPledge(input: $input) {{
    pledge {{ quantity status participant {PERSON} organisationId }} {ERRORS}
  }}
}}
"""
PLEDGE_FOR = f"""
mutation PledgeFor($input: PurchaseGroupPledgeInput!) {{
  purchaseGroupPledge(input: $input) {{
    pledge {{ {PLEDGE_FIELDS} group {{ pledgedQuantity participantsCount myPledge {{ id }} }} }}
    {ERRORS}
  }}
}}
"""
PLEDGE_UPDATE = f"""
mutation PledgeUpdate($input: PurchaseGroupPledgeUpdateInput!) {{
  purchaseGroupPledgeUpdate(input: $input) {{
    pledge {{ quantity status participant {PERSON} actedBy {PERSON} onBehalf }} {ERRORS}
  }}
}}
"""
PLEDGE_WITHDRAW = f"""
mutation Withdraw($id: ID!) {{
  purchaseGroupPledgeWithdraw(id: $id) {{
    pledge {{ quantity status participant {PERSON} actedBy {PERSON} onBehalf }} {ERRORS}
  }}
}}
"""
SETTLEMENT = f"""
query Settlement($id: ID!) {{
  purchaseGroup(id: $id) {{
    myPledge {{ id }}
    settlement {{ total totalQuantity lines {{ pledgeId participant {PERSON} quantity amount }} }}
  }}
}}
"""
MINE = f"""
{{
  myPledges {{ edges {{ node {{ id quantity participant {PERSON} actedBy {PERSON} onBehalf }} }} }}
}}
"""
READ = f"query Read($id: ID!) {{ purchaseGroup(id: $id) {{ myPledge {{ {PLEDGE_FIELDS} }} }} }}"

UNAUTHENTICATED = problem("UNAUTHENTICATED", "Sign in to do this")
GROUP_NOT_FOUND = problem("NOT_FOUND", "Purchase group not found", "id")
PLEDGE_GROUP_NOT_FOUND = problem("NOT_FOUND", "Purchase group not found", "groupId")
PLEDGE_NOT_FOUND = problem("NOT_FOUND", "Pledge not found", "id")
MANAGE_FORBIDDEN = problem(
    "FORBIDDEN", "Only the organising organisation, acting for it, may do this"
)
ON_BEHALF_FORBIDDEN = problem(
    "FORBIDDEN",
    "Only an admin of a community, acting for it, may pledge on behalf of its members",
)
CHANGE_FORBIDDEN = problem(
    "FORBIDDEN", "Only the participant or their community's admins may change this pledge"
)
NOT_A_MEMBER = problem("VALIDATION", "Not a member of your community", "onBehalfOf")
JOIN_FORBIDDEN = {
    "MEMBERS": problem("FORBIDDEN", "This group is for the organiser's members"),
    "CLUSTER": problem("FORBIDDEN", "This group is for organisations of its cluster"),
    "PUBLIC": problem("FORBIDDEN", "Act for an organisation to take part"),
}
SHG = "Women's Union"


@dataclass
class People:
    """A community that organises, its members, and everyone else."""

    shg: Account  # the organising community's founding admin
    member: Account  # a MEMBER of the community, acting for it
    # A rice mill's admin (another cluster) who is also an ADMIN of the community: acting for
    # the mill by default, or for the community with ``dual_as_shg``.
    dual: Account
    dual_as_shg: str
    firm: Account  # a firm of the community's cluster
    institution: Account  # an institution of the community's cluster
    far: Account  # a firm of another cluster
    admin: str  # a platform admin
    cluster_id: str

    def tokens(self) -> dict[str, str]:
        """Everybody, by what they are to a group the community organises."""
        return {
            "organiser": self.shg.access_token,
            "organiser's member": self.member.access_token,
            "organiser's admin acting for another cluster's firm": self.dual.access_token,
            "firm of the cluster": self.firm.access_token,
            "institution of the cluster": self.institution.access_token,
            "firm of another cluster": self.far.access_token,
            "platform admin": self.admin,
            "anonymous": "",
        }


ORGANISERS = {"organiser", "organiser's member"}
CLUSTER = {"firm of the cluster", "institution of the cluster"}
OUTSIDERS = {"firm of another cluster", "organiser's admin acting for another cluster's firm"}
# Who may read a group the community organises, by its visibility (purchasing:read)
READERS = {
    "MEMBERS": ORGANISERS | {"platform admin"},
    "CLUSTER": ORGANISERS | CLUSTER | {"platform admin"},
    "PUBLIC": ORGANISERS | CLUSTER | OUTSIDERS | {"platform admin", "anonymous"},
}
# Who may pledge to it (purchasing:join)
JOINERS = {
    "MEMBERS": ORGANISERS,
    "CLUSTER": ORGANISERS | CLUSTER,
    "PUBLIC": ORGANISERS | CLUSTER | OUTSIDERS,
}


@pytest.fixture
async def people(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, platform_admin_token: str
) -> People:
    rice = await second_cluster(db)
    shg = await register("shg@example.org", cluster_id, name=SHG, kind="COMMUNITY")
    member = await register("member@example.org", invite_code=await invite_code(gql, shg))
    dual = await register("dual@rice.example", rice, name="Dual Rice Mill")
    joined = await gql(
        JOIN,
        {"input": {"inviteCode": await invite_code(gql, shg, "ADMIN")}},
        token=dual.access_token,
    )
    assert joined["data"]["organisationJoin"] == {
        "membership": {"role": "ADMIN"},
        "errors": [],
    }
    return People(
        shg=shg,
        member=member,
        dual=dual,
        dual_as_shg=await sign_in(gql, dual.email, shg.organisation_id),
        firm=await register("firm@farm.example", cluster_id, name="Farm A"),
        institution=await register(
            "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
        ),
        far=await register("far@rice.example", rice, name="Rice Mill"),
        admin=platform_admin_token,
        cluster_id=cluster_id,
    )


def errors_of(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """A query's GraphQL errors as (code, message, field), the data being null."""
    assert body["data"] is None, body
    return [
        (e["extensions"]["code"], e["message"], e["extensions"].get("field"))
        for e in body["errors"]
    ]


# ---------------------------------------------------------------------------------------------
# purchasing:create


async def test_firms_and_communities_acting_for_themselves_create_groups(
    gql: GraphQL, people: People
) -> None:
    def created(organiser: Account, name: str, kind: str, title: str) -> dict[str, Any]:
        return {
            "data": {
                "purchaseGroupCreate": {
                    "purchaseGroup": {
                        "title": title,
                        "status": "OPEN",
                        "organiser": {"id": organiser.organisation_id, "name": name, "kind": kind},
                        "canManage": True,
                    },
                    "errors": [],
                }
            }
        }

    async def attempt(token: str, title: str) -> dict[str, Any]:
        return await gql(CREATE, {"input": group_input(title=title)}, token=token)

    # allowed: a community (its admins and plain members alike), a firm; each for the
    # organisation they act for
    assert await attempt(people.shg.access_token, "By the admin") == created(
        people.shg, SHG, "COMMUNITY", "By the admin"
    )
    assert await attempt(people.member.access_token, "By a member") == created(
        people.shg, SHG, "COMMUNITY", "By a member"
    )
    assert await attempt(people.firm.access_token, "By a firm") == created(
        people.firm, "Farm A", "FIRM", "By a firm"
    )
    assert await attempt(people.dual.access_token, "By the mill") == created(
        people.dual, "Dual Rice Mill", "FIRM", "By the mill"
    )

    # refused: institutions, platform admins, anonymous
    only = problem("FORBIDDEN", "Only firms and communities may do this")
    assert await attempt(people.institution.access_token, "By a lab") == failed(
        "purchaseGroupCreate", only
    )
    assert await attempt(people.admin, "By an admin") == failed("purchaseGroupCreate", only)
    assert await attempt("", "By nobody") == failed("purchaseGroupCreate", UNAUTHENTICATED)
    body = await gql("{ purchaseGroups { totalCount } }", token=people.admin)
    assert body == {"data": {"purchaseGroups": {"totalCount": 4}}}


# ---------------------------------------------------------------------------------------------
# purchasing:read


@pytest.mark.parametrize("visibility", ["MEMBERS", "CLUSTER", "PUBLIC"])
async def test_who_reads_a_group_follows_its_visibility(
    gql: GraphQL, people: People, visibility: str
) -> None:
    group = await create(gql, people.shg, visibility=visibility)
    seen = {}
    listed = {}
    for who, token in {**people.tokens(), "organiser's admin": people.dual_as_shg}.items():
        body = await gql(CAN, {"id": group["id"]}, token=token)
        assert "errors" not in body, body
        seen[who] = body["data"]["purchaseGroup"]
        ids = await gql(LISTED, token=token)
        listed[who] = [edge["node"]["id"] for edge in ids["data"]["purchaseGroups"]["edges"]]

    readers = READERS[visibility] | {"organiser's admin"}
    joiners = JOINERS[visibility] | {"organiser's admin"}
    organisers = ORGANISERS | {"organiser's admin"}
    assert seen == {
        who: (
            {"id": group["id"], "canManage": who in organisers, "canPledge": who in joiners}
            if who in readers
            else None
        )
        for who in seen
    }
    assert listed == {who: [group["id"]] if who in readers else [] for who in listed}


async def test_participants_read_the_group_they_pledged_to_whoever_they_act_for(
    gql: GraphQL, people: People
) -> None:
    # the community's second admin pledges acting for the community
    group = await create(gql, people.shg, visibility="CLUSTER")
    other = await create(gql, people.shg, visibility="CLUSTER", title="Not pledged to")
    mine = await pledge(gql, people.dual_as_shg, group["id"], "10")

    # acting for their mill in another cluster, they still see it (and only it), but may not
    # pledge there as the mill
    as_mill = people.dual.access_token
    assert await gql(CAN, {"id": group["id"]}, token=as_mill) == {
        "data": {"purchaseGroup": {"id": group["id"], "canManage": False, "canPledge": False}}
    }
    assert await gql(CAN, {"id": other["id"]}, token=as_mill) == {"data": {"purchaseGroup": None}}
    listed = await gql(LISTED, token=as_mill)
    assert listed == {"data": {"purchaseGroups": {"edges": [{"node": {"id": group["id"]}}]}}}
    withdrawn = await gql(PLEDGE_WITHDRAW, {"id": mine["id"]}, token=as_mill)
    assert withdrawn["data"]["purchaseGroupPledgeWithdraw"]["errors"] == []
    again = await gql(PLEDGE, {"input": {"groupId": group["id"], "quantity": "10"}}, token=as_mill)
    assert again == failed("purchaseGroupPledge", JOIN_FORBIDDEN["CLUSTER"])


# ---------------------------------------------------------------------------------------------
# purchasing:join


@pytest.mark.parametrize("visibility", ["MEMBERS", "CLUSTER", "PUBLIC"])
async def test_who_may_pledge_follows_the_visibility(
    gql: GraphQL, people: People, visibility: str
) -> None:
    group = await create(gql, people.shg, visibility=visibility)
    accounts = {
        "organiser": people.shg,
        "organiser's member": people.member,
        "organiser's admin acting for another cluster's firm": people.dual,
        "firm of the cluster": people.firm,
        "institution of the cluster": people.institution,
        "firm of another cluster": people.far,
    }

    results = {
        who: await gql(PLEDGE, {"input": {"groupId": group["id"], "quantity": "10"}}, token=token)
        for who, token in people.tokens().items()
    }

    def expected(who: str) -> dict[str, Any]:
        if who == "anonymous":
            return failed("purchaseGroupPledge", UNAUTHENTICATED)
        if who not in READERS[visibility]:
            return failed("purchaseGroupPledge", PLEDGE_GROUP_NOT_FOUND)
        if who not in JOINERS[visibility]:
            return failed("purchaseGroupPledge", JOIN_FORBIDDEN[visibility])
        account = accounts[who]
        return {
            "data": {
                "purchaseGroupPledge": {
                    "pledge": {
                        "quantity": "10",
                        "status": "ACTIVE",
                        "participant": person(account),
                        # through the organisation they act for
                        "organisationId": account.organisation_id,
                    },
                    "errors": [],
                }
            }
        }

    assert results == {who: expected(who) for who in results}


# ---------------------------------------------------------------------------------------------
# purchasing:manage


async def test_only_the_organiser_s_members_acting_for_it_manage_the_group(
    gql: GraphQL, people: People
) -> None:
    cluster_group = await create(gql, people.shg, visibility="CLUSTER", title="Cluster group")
    public_group = await create(gql, people.shg, visibility="PUBLIC", title="Public group")
    await pledge(gql, people.firm, cluster_group["id"], "100")  # a participant manages nothing

    def actions(group_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        return {
            "purchaseGroupUpdate": (UPDATE, {"input": {"id": group_id, "title": "Taken over"}}),
            "purchaseGroupClose": (CLOSE, {"id": group_id}),
            "purchaseGroupCancel": (CANCEL, {"id": group_id, "reason": "No"}),
            "purchaseGroupMarkOrdered": (MARK_ORDERED, {"id": group_id}),
            "purchaseGroupMarkDelivered": (MARK_DELIVERED, {"id": group_id}),
        }

    tokens = people.tokens()
    for group, visibility in ((cluster_group, "CLUSTER"), (public_group, "PUBLIC")):
        for who, token in tokens.items():
            if who in ORGANISERS:
                continue
            if who == "anonymous":
                refusal = UNAUTHENTICATED
            elif who in READERS[visibility]:
                refusal = MANAGE_FORBIDDEN
            else:  # whether it exists is not their business
                refusal = GROUP_NOT_FOUND
            for name, (mutation, variables) in actions(group["id"]).items():
                body = await gql(mutation, variables, token=token)
                assert body == failed(name, refusal), (who, name, visibility)
    untouched = await gql(
        "query V($id: ID!) { purchaseGroup(id: $id) { title status version } }",
        {"id": cluster_group["id"]},
        token=people.shg.access_token,
    )
    assert untouched == {
        "data": {"purchaseGroup": {"title": "Cluster group", "status": "OPEN", "version": 1}}
    }

    # a plain member of the community, acting for it, runs the group through to delivery
    run_by_member = actions(cluster_group["id"])
    statuses = []
    for name in (
        "purchaseGroupUpdate",
        "purchaseGroupClose",
        "purchaseGroupMarkOrdered",
        "purchaseGroupMarkDelivered",
    ):
        mutation, variables = run_by_member[name]
        body = await gql(mutation, variables, token=people.member.access_token)
        result = body["data"][name]
        assert result["errors"] == [], body
        statuses.append((result["purchaseGroup"]["title"], result["purchaseGroup"]["status"]))
    assert statuses == [
        ("Taken over", "OPEN"),
        ("Taken over", "CONFIRMED"),
        ("Taken over", "ORDERED"),
        ("Taken over", "DELIVERED"),
    ]
    # and the community's other admin cancels the other one
    mutation, variables = actions(public_group["id"])["purchaseGroupCancel"]
    cancelled = await gql(mutation, variables, token=people.dual_as_shg)
    assert cancelled["data"]["purchaseGroupCancel"]["errors"] == []
    assert cancelled["data"]["purchaseGroupCancel"]["purchaseGroup"]["status"] == "CANCELLED"


# ---------------------------------------------------------------------------------------------
# purchasing:pledges_read


async def test_everyone_s_pledges_are_for_the_organiser_and_platform_admins(
    gql: GraphQL, people: People
) -> None:
    group = await create(gql, people.shg, visibility="CLUSTER")
    by_firm = await pledge(gql, people.firm, group["id"], "40")
    by_lab = await pledge(gql, people.institution, group["id"], "60")
    withdrawn = await gql(
        PLEDGE_WITHDRAW, {"id": by_lab["id"]}, token=people.institution.access_token
    )
    assert withdrawn["data"]["purchaseGroupPledgeWithdraw"]["errors"] == []

    def node(account: Account, name: str, pledge_id: str, quantity: str, **extra: Any) -> Any:
        return {
            "node": {
                "id": pledge_id,
                "quantity": quantity,
                "status": "ACTIVE",
                "participant": person(account),
                "actedBy": person(account),
                "onBehalf": False,
                "organisationId": account.organisation_id,
                "organisationName": name,
                "createdAt": NOW,
                "updatedAt": NOW,
                "withdrawnAt": None,
                "group": None,
                **extra,
            }
        }

    firm_node = node(people.firm, "Farm A", by_firm["id"], "40")
    lab_node = node(
        people.institution, "Okayama Lab", by_lab["id"], "60", status="WITHDRAWN", withdrawnAt=NOW
    )
    for token in (people.shg.access_token, people.member.access_token, people.admin):
        active = await gql(GROUP_PLEDGES, {"groupId": group["id"]}, token=token)
        every = await gql(
            GROUP_PLEDGES, {"groupId": group["id"], "includeWithdrawn": True}, token=token
        )
        assert active == {"data": {"purchaseGroupPledges": {"totalCount": 1, "edges": [firm_node]}}}
        assert every == {
            "data": {"purchaseGroupPledges": {"totalCount": 2, "edges": [firm_node, lab_node]}}
        }

    refusals = {
        "firm of the cluster": ("FORBIDDEN", "Only the organiser sees everyone's pledges", None),
        "institution of the cluster": (
            "FORBIDDEN",
            "Only the organiser sees everyone's pledges",
            None,
        ),
        "firm of another cluster": ("NOT_FOUND", "Purchase group not found", "groupId"),
        "organiser's admin acting for another cluster's firm": (
            "NOT_FOUND",
            "Purchase group not found",
            "groupId",
        ),
        "anonymous": ("UNAUTHENTICATED", "Sign in to do this", None),
    }
    tokens = people.tokens()
    assert {
        who: errors_of(await gql(GROUP_PLEDGES, {"groupId": group["id"]}, token=tokens[who]))
        for who in refusals
    } == {who: [refusal] for who, refusal in refusals.items()}


# ---------------------------------------------------------------------------------------------
# purchasing:pledge_read


async def test_settlement_lines_are_the_organiser_s_and_each_pledger_s_own(
    gql: GraphQL, people: People
) -> None:
    group = await create(gql, people.shg, visibility="PUBLIC")
    by_firm = await pledge(gql, people.firm, group["id"], "40")
    by_lab = await pledge(gql, people.institution, group["id"], "60")
    closed = await gql(CLOSE, {"id": group["id"]}, token=people.shg.access_token)
    assert closed["data"]["purchaseGroupClose"]["errors"] == []

    firm_line = {
        "pledgeId": by_firm["id"],
        "participant": person(people.firm),
        "quantity": "40",
        "amount": "404.00",
    }
    lab_line = {
        "pledgeId": by_lab["id"],
        "participant": person(people.institution),
        "quantity": "60",
        "amount": "606.00",
    }

    def seen(lines: list[Any], my_pledge: str | None = None) -> dict[str, Any]:
        return {
            "data": {
                "purchaseGroup": {
                    "myPledge": None if my_pledge is None else {"id": my_pledge},
                    "settlement": {"total": "1010.00", "totalQuantity": "100", "lines": lines},
                }
            }
        }

    tokens = people.tokens()
    assert {
        who: await gql(SETTLEMENT, {"id": group["id"]}, token=token)
        for who, token in tokens.items()
    } == {
        "organiser": seen([firm_line, lab_line]),
        "organiser's member": seen([firm_line, lab_line]),
        "platform admin": seen([firm_line, lab_line]),
        "firm of the cluster": seen([firm_line], by_firm["id"]),
        "institution of the cluster": seen([lab_line], by_lab["id"]),
        "firm of another cluster": seen([]),
        "organiser's admin acting for another cluster's firm": seen([]),
        "anonymous": seen([]),
    }


# ---------------------------------------------------------------------------------------------
# purchasing:pledge_on_behalf


async def test_a_community_s_admin_acting_for_it_pledges_for_a_member(
    gql: GraphQL, people: People
) -> None:
    group = await create(gql, people.firm, visibility="PUBLIC")

    body = await gql(
        PLEDGE_FOR,
        {
            "input": {
                "groupId": group["id"],
                "quantity": "30",
                "onBehalfOf": people.member.user_id,
            }
        },
        token=people.shg.access_token,
    )

    made = body["data"]["purchaseGroupPledge"]["pledge"]
    for_member = {
        "id": made["id"],
        "quantity": "30",
        "status": "ACTIVE",
        "participant": person(people.member),
        "actedBy": person(people.shg),
        "onBehalf": True,
        "organisationId": people.shg.organisation_id,
        "organisationName": SHG,
        "createdAt": NOW,
        "updatedAt": NOW,
        "withdrawnAt": None,
    }
    assert body == {
        "data": {
            "purchaseGroupPledge": {
                # the facilitator pledged nothing for themselves
                "pledge": {
                    **for_member,
                    "group": {"pledgedQuantity": "30", "participantsCount": 1, "myPledge": None},
                },
                "errors": [],
            }
        }
    }
    # the member is told, and sees it as their own pledge
    assert await inbox(gql, people.member) == [
        {
            "kind": "PLEDGE_MADE_FOR_YOU",
            "title": "Pledged for you: 30 KGM, Fish feed for the dry season",
            "body": "Your community pledged this on your behalf.",
            "subjectType": "PURCHASE_GROUP",
            "subjectId": group["id"],
        }
    ]
    assert await inbox(gql, people.shg) == []
    assert await gql(READ, {"id": group["id"]}, token=people.member.access_token) == {
        "data": {"purchaseGroup": {"myPledge": for_member}}
    }
    # both find it among their pledges
    mine = {
        "data": {
            "myPledges": {
                "edges": [
                    {
                        "node": {
                            "id": made["id"],
                            "quantity": "30",
                            "participant": person(people.member),
                            "actedBy": person(people.shg),
                            "onBehalf": True,
                        }
                    }
                ]
            }
        }
    }
    assert await gql(MINE, token=people.member.access_token) == mine
    assert await gql(MINE, token=people.shg.access_token) == mine

    # refused: anyone but an admin of a community acting for it
    def attempt(token: str, member: str = people.member.user_id) -> Any:
        return gql(
            PLEDGE_FOR,
            {"input": {"groupId": group["id"], "quantity": "20", "onBehalfOf": member}},
            token=token,
        )

    assert await attempt(people.member.access_token, people.shg.user_id) == failed(
        "purchaseGroupPledge", ON_BEHALF_FORBIDDEN
    )
    for token in (
        people.firm.access_token,  # a firm's admin
        people.institution.access_token,
        people.dual.access_token,  # the community's admin, acting for their mill
        people.admin,
    ):
        assert await attempt(token) == failed("purchaseGroupPledge", ON_BEHALF_FORBIDDEN)
    assert await attempt("") == failed("purchaseGroupPledge", UNAUTHENTICATED)
    # and only for a member of that community
    for outsider in (people.firm.user_id, people.institution.user_id, str(uuid.uuid4())):
        assert await attempt(people.shg.access_token, outsider) == failed(
            "purchaseGroupPledge", NOT_A_MEMBER
        )
    assert await attempt(people.shg.access_token, "not-an-id") == failed(
        "purchaseGroupPledge", problem("VALIDATION", "Not a valid id", "onBehalfOf")
    )
    total = await gql(
        "query T($id: ID!) { purchaseGroup(id: $id) { pledgedQuantity participantsCount } }",
        {"id": group["id"]},
        token=people.firm.access_token,
    )
    assert total == {"data": {"purchaseGroup": {"pledgedQuantity": "30", "participantsCount": 1}}}

    # once confirmed, the facilitator sees the line they pledged, the organiser every line
    own = await pledge(gql, people.firm, group["id"], "70")
    closed = await gql(CLOSE, {"id": group["id"]}, token=people.firm.access_token)
    assert closed["data"]["purchaseGroupClose"]["errors"] == []
    member_line = {
        "pledgeId": made["id"],
        "participant": person(people.member),
        "quantity": "30",
        "amount": "303.00",
    }
    firm_line = {
        "pledgeId": own["id"],
        "participant": person(people.firm),
        "quantity": "70",
        "amount": "707.00",
    }

    async def lines(token: str) -> list[Any]:
        body = await gql(SETTLEMENT, {"id": group["id"]}, token=token)
        settlement = body["data"]["purchaseGroup"]["settlement"]
        assert settlement["total"] == "1010.00"
        result: list[Any] = settlement["lines"]
        return result

    assert await lines(people.shg.access_token) == [member_line]
    assert await lines(people.member.access_token) == [member_line]
    assert await lines(people.firm.access_token) == [member_line, firm_line]


# ---------------------------------------------------------------------------------------------
# purchasing:pledge_change


async def test_a_pledge_is_changed_by_its_participant_or_their_community_s_admins(
    gql: GraphQL, people: People, register: Any
) -> None:
    other_member = await register(
        "other@example.org", invite_code=await invite_code(gql, people.shg)
    )
    group = await create(gql, people.firm, visibility="PUBLIC")
    made = await pledge(gql, people.shg, group["id"], "30", onBehalfOf=people.member.user_id)

    def update(token: str, quantity: str) -> Any:
        return gql(
            PLEDGE_UPDATE, {"input": {"pledgeId": made["id"], "quantity": quantity}}, token=token
        )

    def changed(quantity: str, acted_by: dict[str, str], status: str = "ACTIVE") -> Any:
        return {
            "quantity": quantity,
            "status": status,
            "participant": person(people.member),
            "actedBy": acted_by,
            "onBehalf": acted_by["userId"] != people.member.user_id,
        }

    # allowed: the participant, the admin who pledged it, and the community's other admin
    by_member = await update(people.member.access_token, "35")
    by_facilitator = await update(people.shg.access_token, "40")
    by_colleague = await update(people.dual_as_shg, "45")
    assert by_member == {
        "data": {
            "purchaseGroupPledgeUpdate": {
                "pledge": changed("35", person(people.member)),
                "errors": [],
            }
        }
    }
    assert by_facilitator == {
        "data": {
            "purchaseGroupPledgeUpdate": {"pledge": changed("40", person(people.shg)), "errors": []}
        }
    }
    assert by_colleague == {
        "data": {
            "purchaseGroupPledgeUpdate": {
                "pledge": changed("45", person(people.dual)),
                "errors": [],
            }
        }
    }

    # refused: those who know of the pledge (the organiser, admins, the community's other
    # people) are FORBIDDEN; those who do not, NOT_FOUND
    refusals = {
        "another member of the community": (other_member.access_token, CHANGE_FORBIDDEN),
        "the community's admin acting for their mill": (people.dual.access_token, CHANGE_FORBIDDEN),
        "the organiser": (people.firm.access_token, CHANGE_FORBIDDEN),
        "a platform admin": (people.admin, CHANGE_FORBIDDEN),
        "an institution": (people.institution.access_token, PLEDGE_NOT_FOUND),
        "a firm of another cluster": (people.far.access_token, PLEDGE_NOT_FOUND),
        "anonymous": ("", UNAUTHENTICATED),
    }
    for who, (token, refusal) in refusals.items():
        withdrawn = await gql(PLEDGE_WITHDRAW, {"id": made["id"]}, token=token)
        assert withdrawn == failed("purchaseGroupPledgeWithdraw", refusal), who
        updated = await update(token, "50")
        errors = updated["data"]["purchaseGroupPledgeUpdate"]["errors"]
        # (the field of an unknown pledge: test_an_unknown_pledge_is_not_found_on_the_field_sent)
        assert (updated["data"]["purchaseGroupPledgeUpdate"]["pledge"], errors[0]["code"]) == (
            None,
            refusal["code"],
        ), who
        assert [e["message"] for e in errors] == [refusal["message"]], who

    # the facilitator withdraws it
    withdrawn = await gql(PLEDGE_WITHDRAW, {"id": made["id"]}, token=people.shg.access_token)
    assert withdrawn == {
        "data": {
            "purchaseGroupPledgeWithdraw": {
                "pledge": changed("45", person(people.shg), "WITHDRAWN"),
                "errors": [],
            }
        }
    }

    # a member's own pledge made acting for the community is the community admins' too; a
    # pledge through another organisation is not
    second = await create(gql, people.firm, visibility="PUBLIC", title="Second round")
    own = await pledge(gql, people.member, second["id"], "20")
    lab = await pledge(gql, people.institution, second["id"], "20")
    by_admin = await gql(PLEDGE_WITHDRAW, {"id": own["id"]}, token=people.shg.access_token)
    assert by_admin == {
        "data": {
            "purchaseGroupPledgeWithdraw": {
                "pledge": {
                    "quantity": "20",
                    "status": "WITHDRAWN",
                    "participant": person(people.member),
                    "actedBy": person(people.shg),
                    "onBehalf": True,
                },
                "errors": [],
            }
        }
    }
    not_theirs = await gql(PLEDGE_WITHDRAW, {"id": lab["id"]}, token=people.shg.access_token)
    assert not_theirs == failed("purchaseGroupPledgeWithdraw", PLEDGE_NOT_FOUND)


async def test_an_unknown_pledge_is_not_found_on_the_field_sent(
    gql: GraphQL, people: People
) -> None:
    unknown = str(uuid.uuid4())
    token = people.firm.access_token

    joined = await gql(PLEDGE, {"input": {"groupId": unknown, "quantity": "1"}}, token=token)
    withdrawn = await gql(PLEDGE_WITHDRAW, {"id": unknown}, token=token)
    updated = await gql(
        PLEDGE_UPDATE, {"input": {"pledgeId": unknown, "quantity": "1"}}, token=token
    )
    malformed = await gql(
        PLEDGE_UPDATE, {"input": {"pledgeId": "nope", "quantity": "1"}}, token=token
    )

    assert joined == failed("purchaseGroupPledge", PLEDGE_GROUP_NOT_FOUND)
    assert withdrawn == failed("purchaseGroupPledgeWithdraw", PLEDGE_NOT_FOUND)
    assert malformed == failed(
        "purchaseGroupPledgeUpdate", problem("VALIDATION", "Not a valid id", "pledgeId")
    )
    # the input field is pledgeId, as the VALIDATION error above says
    assert updated == failed(
        "purchaseGroupPledgeUpdate", problem("NOT_FOUND", "Pledge not found", "pledgeId")
    )
