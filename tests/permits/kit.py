"""The people and the permit the permit tests share: a verified local-government authority,
the holder (a community) with an admin and a plain member, covered firms with admins (and a
plain member of the first), another firm of the cluster, an unverified and another verified
authority, and helpers to issue, cover, add conditions and allocate through the API. Not a
test module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from backend.auth.viewer import Role, Viewer
from tests.conftest import Account, GraphQL
from tests.identity.kit import invite_code, verify

ERRORS = "errors { code message field }"
STANDING = "viewerStanding { holder holderAdmin authority member memberAdmin platformAdmin }"
PERMIT_FIELDS = f"""
id reference title description validFrom validTo transferRule returnDueDays
holder {{ id name }} authority {{ id name }} cluster {{ id }} {STANDING} version
"""
ALLOCATION = "organisation { id } amount"
CONDITION_FIELDS = f"""
id permitId parameter material {{ code }} title cap unit {{ code }} frequency allocated
unallocated allocations {{ {ALLOCATION} }} viewerAllocation {{ {ALLOCATION} }} version
"""
TRANSFER_FIELDS = """
id conditionId fromOrganisation { id } toOrganisation { id } amount status note decisionReason
"""
ISSUE = f"""mutation($input: PermitIssueInput!) {{
  permitIssue(input: $input) {{ permit {{ {PERMIT_FIELDS} }} {ERRORS} }} }}"""
UPDATE = f"""mutation($input: PermitUpdateInput!) {{
  permitUpdate(input: $input) {{ permit {{ {PERMIT_FIELDS} }} {ERRORS} }} }}"""
MEMBER_ADD = f"""mutation($input: PermitMemberAddInput!) {{
  permitMemberAdd(input: $input) {{
    member {{ id organisation {{ id }} coveredFrom coveredTo current }} {ERRORS} }} }}"""
MEMBER_REMOVE = f"""mutation($input: PermitMemberRemoveInput!) {{
  permitMemberRemove(input: $input) {{
    member {{ id organisation {{ id }} coveredFrom coveredTo current }} {ERRORS} }} }}"""
CONDITION_ADD = f"""mutation($input: PermitConditionAddInput!) {{
  permitConditionAdd(input: $input) {{ condition {{ {CONDITION_FIELDS} }} {ERRORS} }} }}"""
CONDITION_UPDATE = f"""mutation($input: PermitConditionUpdateInput!) {{
  permitConditionUpdate(input: $input) {{ condition {{ {CONDITION_FIELDS} }} {ERRORS} }} }}"""
ALLOCATE = f"""mutation($input: PermitAllocationSetInput!) {{
  permitAllocationSet(input: $input) {{
    allocation {{ {ALLOCATION} }} condition {{ {CONDITION_FIELDS} }} {ERRORS} }} }}"""
TRANSFER = f"""mutation($input: PermitAllocationTransferInput!) {{
  permitAllocationTransfer(input: $input) {{
    transfer {{ {TRANSFER_FIELDS} condition {{ allocated allocations {{ {ALLOCATION} }} }} }}
    {ERRORS} }} }}"""
DECIDE = f"""mutation($input: PermitTransferDecideInput!) {{
  permitTransferDecide(input: $input) {{ transfer {{ {TRANSFER_FIELDS} }} {ERRORS} }} }}"""
CANCEL = f"""mutation($id: ID!) {{
  permitTransferCancel(id: $id) {{ transfer {{ {TRANSFER_FIELDS} }} {ERRORS} }} }}"""
PERMIT = f"query($id: ID!) {{ permit(id: $id) {{ {PERMIT_FIELDS} }} }}"
CONDITIONS = f"query($id: ID!) {{ permit(id: $id) {{ conditions {{ {CONDITION_FIELDS} }} }} }}"


@dataclass
class Scene:
    gql: GraphQL
    cluster_id: str
    admin_token: str
    authority: Account
    holder: Account
    holder_member: Account
    firms: list[Account]
    firm_member: Account
    outsider: Account
    unverified_authority: Account
    other_authority: Account
    permit_id: str = ""
    condition_id: str = ""
    shared: dict[str, Any] = field(default_factory=dict)

    async def call(self, document: str, variables: dict[str, Any], token: str) -> Any:
        body = await self.gql(document, variables, token=token)
        assert "errors" not in body, body
        [answer] = body["data"].values()
        return answer

    async def ok(self, document: str, variables: dict[str, Any], token: str) -> Any:
        answer = await self.call(document, variables, token)
        assert answer["errors"] == [], answer
        return answer

    async def issue(self, **changes: Any) -> str:
        answer = await self.ok(
            ISSUE, {"input": permit_input(self, **changes)}, self.authority.access_token
        )
        permit_id: str = answer["permit"]["id"]
        return permit_id

    async def cover(self, permit_id: str, account: Account, day: str = "2027-01-01") -> None:
        await self.ok(
            MEMBER_ADD,
            {
                "input": {
                    "permitId": permit_id,
                    "organisationId": account.organisation_id,
                    "coveredFrom": day,
                }
            },
            self.holder.access_token,
        )

    async def condition(self, permit_id: str, **changes: Any) -> str:
        answer = await self.ok(
            CONDITION_ADD,
            {"input": condition_input(permit_id, **changes)},
            self.holder.access_token,
        )
        condition_id: str = answer["condition"]["id"]
        return condition_id

    async def allocate(self, condition_id: str, account: Account, amount: str) -> Any:
        return await self.ok(
            ALLOCATE,
            {
                "input": {
                    "conditionId": condition_id,
                    "organisationId": account.organisation_id,
                    "amount": amount,
                }
            },
            self.holder.access_token,
        )


def permit_input(scene: Scene, **changes: Any) -> dict[str, Any]:
    return {
        "holderOrganisationId": scene.holder.organisation_id,
        "reference": f"MNW-{uuid.uuid4().hex[:8]}",
        "title": "Maniwa wood-waste umbrella permit",
        "description": "Wood waste of the Biomass Town Association's members",
        "validFrom": "2027-01-01",
        "validTo": "2029-12-31",
        **changes,
    }


def condition_input(permit_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "permitId": permit_id,
        "parameter": "WASTE_TO_LANDFILL",
        "materialCode": "ewc-03-01-05",
        "title": "Sawdust and shavings to landfill",
        "cap": "100",
        "unit": "TNE",
        "frequency": "MONTHLY",
        **changes,
    }


async def build_scene(
    gql: GraphQL, register: Any, cluster_id: str, admin_token: str, *, firms: int = 3
) -> Scene:
    """Everyone, and a FREE permit covering the first two firms with one condition (cap 100
    TNE) of which the first firm holds 30 and the second 20."""
    authority = await register(
        "city@maniwa.example",
        cluster_id,
        name="Maniwa City",
        kind="INSTITUTION",
        subtype="LOCAL_GOVERNMENT",
    )
    await verify(gql, admin_token, authority.organisation_id)
    other_authority = await register(
        "pref@okayama.example",
        cluster_id,
        name="Okayama Prefecture",
        kind="INSTITUTION",
        subtype="LOCAL_GOVERNMENT",
    )
    await verify(gql, admin_token, other_authority.organisation_id)
    unverified = await register(
        "town@unverified.example",
        cluster_id,
        name="Unverified Town",
        kind="INSTITUTION",
        subtype="LOCAL_GOVERNMENT",
    )
    holder = await register(
        "bta@biomass.example", cluster_id, name="Biomass Town Association", kind="COMMUNITY"
    )
    holder_member = await register(
        "staff@biomass.example", invite_code=await invite_code(gql, holder)
    )
    accounts = [
        await register(f"firm{i}@wood.example", cluster_id, name=f"Wood Firm {i}")
        for i in range(firms)
    ]
    firm_member = await register(
        "worker@wood.example", invite_code=await invite_code(gql, accounts[0])
    )
    outsider = await register("outsider@wood.example", cluster_id, name="Outside Firm")
    scene = Scene(
        gql=gql,
        cluster_id=cluster_id,
        admin_token=admin_token,
        authority=authority,
        holder=holder,
        holder_member=holder_member,
        firms=accounts,
        firm_member=firm_member,
        outsider=outsider,
        unverified_authority=unverified,
        other_authority=other_authority,
    )
    scene.permit_id = await scene.issue(reference="MNW-2027-001")
    await scene.cover(scene.permit_id, accounts[0])
    await scene.cover(scene.permit_id, accounts[1])
    scene.condition_id = await scene.condition(scene.permit_id)
    await scene.allocate(scene.condition_id, accounts[0], "30")
    await scene.allocate(scene.condition_id, accounts[1], "20")
    return scene


def viewer_of(account: Account, role: Role = Role.FIRM) -> Viewer:
    """The viewer the service sees for ``account`` (tests calling the service directly)."""
    assert account.organisation_id is not None
    return Viewer(
        user_id=uuid.UUID(account.user_id),
        role=role,
        organisation_id=uuid.UUID(account.organisation_id),
        token_id="test",
    )
