"""Who may do what with a permit: every permit operation of this part, asked by each kind of
viewer, with the answer it should get (OK, or the first error code; NOT_FOUND also for a null
answer). Add a row to ROWS for a new operation; :func:`test_every_permit_field_has_a_row`
fails for a root field starting with ``permit`` that has none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import GraphQL
from tests.permits.kit import Scene, build_scene, condition_input, permit_input
from tests.permits.returns_kit import RETURNS_FIELDS
from tests.security.test_authorization_matrix import root_fields

OK, NOT_FOUND, FORBIDDEN, UNAUTHENTICATED = "OK", "NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED"
VIEWERS = (
    "anonymous",
    "other_firm",
    "member",
    "member_admin",
    "holder_member",
    "holder_admin",
    "authority",
    "unverified_authority",
    "other_authority",
    "platform_admin",
)

Variables = Callable[[Scene], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Row:
    field: str
    document: str
    expected: dict[str, str]
    variables: Variables
    label: str = ""


def expect(default: str, **cells: str) -> dict[str, str]:
    expected = dict.fromkeys(VIEWERS, default)
    expected["anonymous"] = UNAUTHENTICATED
    expected.update(cells)
    return expected


def readers(**cells: str) -> dict[str, str]:
    """Those who read a permit: its members, holder, authority and platform admins; others
    get NOT_FOUND."""
    return expect(
        NOT_FOUND,
        **{
            "member": OK,
            "member_admin": OK,
            "holder_member": OK,
            "holder_admin": OK,
            "authority": OK,
            "platform_admin": OK,
            **cells,
        },
    )


def managed() -> dict[str, str]:
    """The holder's admins; the permit's other readers FORBIDDEN, the rest NOT_FOUND."""
    return readers(
        member=FORBIDDEN,
        member_admin=FORBIDDEN,
        holder_member=FORBIDDEN,
        authority=FORBIDDEN,
        platform_admin=FORBIDDEN,
    )


def mutation(field: str, selection: str, arguments: str = "$input: {}Input!") -> str:
    arguments = arguments.replace("{}", field[0].upper() + field[1:])
    passed = ", ".join(f"{a.split(':')[0][1:]}: {a.split(':')[0]}" for a in arguments.split(", "))
    return f"mutation M({arguments}) {{ {field}({passed}) {{ {selection} errors {{ code }} }} }}"


async def _new_firm_covered(scene: Scene) -> str:
    account = await scene.shared["register"](
        f"extra{len(scene.shared)}@wood.example",
        scene.cluster_id,
        name=f"Extra {len(scene.shared)}",
    )
    scene.shared[f"extra{len(scene.shared)}"] = account
    return str(account.organisation_id)


async def _pending_transfer(scene: Scene) -> str:
    answer = await scene.ok(
        mutation("permitAllocationTransfer", "transfer { id }"),
        {
            "input": {
                "conditionId": scene.shared["approval_condition"],
                "toOrganisationId": scene.firms[1].organisation_id,
                "amount": "1",
            }
        },
        scene.firms[0].access_token,
    )
    transfer_id: str = answer["transfer"]["id"]
    return transfer_id


def constant(build: Callable[[Scene], dict[str, Any]]) -> Variables:
    async def make(scene: Scene) -> dict[str, Any]:
        return build(scene)

    return make


async def _member_add(scene: Scene) -> dict[str, Any]:
    organisation_id = await _new_firm_covered(scene)
    return {
        "input": {
            "permitId": scene.permit_id,
            "organisationId": organisation_id,
            "coveredFrom": "2027-02-01",
        }
    }


async def _member_remove(scene: Scene) -> dict[str, Any]:
    variables = await _member_add(scene)
    await scene.ok(
        mutation("permitMemberAdd", "member { id }"), variables, scene.holder.access_token
    )
    return {
        "input": {
            "permitId": scene.permit_id,
            "organisationId": variables["input"]["organisationId"],
        }
    }


ROWS: list[Row] = [
    Row(
        "permits",
        "query { permits { totalCount } }",
        # a connection: every signed-in viewer may ask; what it holds is tested in
        # test_permits (the standing) and by `permit` below
        expect(OK),
        constant(lambda s: {}),
    ),
    Row(
        "permit",
        "query Q($id: ID!) { permit(id: $id) { id } }",
        readers(anonymous=NOT_FOUND),
        constant(lambda s: {"id": s.permit_id}),
    ),
    Row(
        "permitCondition",
        "query Q($id: ID!) { permitCondition(id: $id) { id } }",
        readers(anonymous=NOT_FOUND),
        constant(lambda s: {"id": s.condition_id}),
    ),
    Row(
        "permitIssue",
        mutation("permitIssue", "permit { id }"),
        expect(FORBIDDEN, authority=OK, other_authority=OK),
        constant(lambda s: {"input": permit_input(s)}),
    ),
    Row(
        "permitUpdate",
        mutation("permitUpdate", "permit { id }"),
        managed(),
        constant(lambda s: {"input": {"id": s.permit_id, "description": "Amended terms"}}),
    ),
    Row(
        "permitUpdate",
        mutation("permitUpdate", "permit { id }"),
        readers(
            member=FORBIDDEN,
            member_admin=FORBIDDEN,
            holder_member=FORBIDDEN,
            holder_admin=FORBIDDEN,
            platform_admin=FORBIDDEN,
        ),
        constant(lambda s: {"input": {"id": s.permit_id, "validTo": "2030-12-31"}}),
        label="dates",
    ),
    Row("permitMemberAdd", mutation("permitMemberAdd", "member { id }"), managed(), _member_add),
    Row(
        "permitMemberRemove",
        mutation("permitMemberRemove", "member { id }"),
        managed(),
        _member_remove,
    ),
    Row(
        "permitConditionAdd",
        mutation("permitConditionAdd", "condition { id }"),
        managed(),
        constant(lambda s: {"input": condition_input(s.permit_id)}),
    ),
    Row(
        "permitConditionUpdate",
        mutation("permitConditionUpdate", "condition { id }"),
        managed(),
        constant(lambda s: {"input": {"id": s.condition_id, "title": "Sawdust to landfill"}}),
    ),
    Row(
        "permitAllocationSet",
        mutation("permitAllocationSet", "allocation { amount }"),
        managed(),
        constant(
            lambda s: {
                "input": {
                    "conditionId": s.condition_id,
                    "organisationId": s.firms[1].organisation_id,
                    "amount": "20",
                }
            }
        ),
    ),
    Row(
        "permitAllocationTransfer",
        mutation("permitAllocationTransfer", "transfer { id }"),
        readers(
            member=FORBIDDEN,
            holder_member=FORBIDDEN,
            holder_admin=FORBIDDEN,
            authority=FORBIDDEN,
            platform_admin=FORBIDDEN,
        ),
        constant(
            lambda s: {
                "input": {
                    "conditionId": s.condition_id,
                    "toOrganisationId": s.firms[1].organisation_id,
                    "amount": "0.5",
                }
            }
        ),
    ),
    Row(
        "permitTransferDecide",
        mutation("permitTransferDecide", "transfer { id }"),
        # the receiving member reads the transfer but may not decide; the plain member of
        # the sender too
        managed(),
        lambda s: _decide(s),
    ),
    Row(
        "permitTransferCancel",
        mutation("permitTransferCancel", "transfer { id }", "$id: ID!"),
        readers(
            member=FORBIDDEN,
            holder_member=FORBIDDEN,
            holder_admin=FORBIDDEN,
            authority=FORBIDDEN,
            platform_admin=FORBIDDEN,
        ),
        lambda s: _cancel(s),
    ),
]


async def _decide(scene: Scene) -> dict[str, Any]:
    return {"input": {"id": await _pending_transfer(scene), "approve": False}}


async def _cancel(scene: Scene) -> dict[str, Any]:
    return {"id": await _pending_transfer(scene)}


def test_every_permit_field_has_a_row() -> None:
    fields = {f for f in root_fields() if f.startswith("permit")}
    # the returns part's fields have their rows in tests/permits/test_returns_authorization.py
    mine = fields - RETURNS_FIELDS
    rows = {row.field for row in ROWS}
    assert sorted(mine - rows) == [], "permit fields without a row"
    assert sorted(rows - fields) == [], "rows naming fields the schema no longer has"
    for row in ROWS:
        assert set(row.expected) == set(VIEWERS), row.field


def classify(body: dict[str, Any], field: str) -> str:
    if body.get("errors"):
        code: str = body["errors"][0].get("extensions", {}).get("code", "NO_CODE")
        return code
    data = (body.get("data") or {}).get(field)
    if data is None:
        return NOT_FOUND
    if isinstance(data, dict) and data.get("errors"):
        first: str = data["errors"][0]["code"]
        return first
    return OK


async def test_each_viewer_gets_the_answer_of_the_table(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    scene.shared["register"] = register
    # a permit under HOLDER_APPROVAL covering the same two firms, for pending transfers
    approval = await scene.issue(transferRule="HOLDER_APPROVAL")
    await scene.cover(approval, scene.firms[0])
    await scene.cover(approval, scene.firms[1])
    scene.shared["approval_condition"] = await scene.condition(approval)
    await scene.allocate(scene.shared["approval_condition"], scene.firms[0], "50")
    tokens = {
        "anonymous": None,
        "other_firm": scene.outsider.access_token,
        "member": scene.firm_member.access_token,
        "member_admin": scene.firms[0].access_token,
        "holder_member": scene.holder_member.access_token,
        "holder_admin": scene.holder.access_token,
        "authority": scene.authority.access_token,
        "unverified_authority": scene.unverified_authority.access_token,
        "other_authority": scene.other_authority.access_token,
        "platform_admin": platform_admin_token,
    }
    mismatches = []
    for row in ROWS:
        for viewer in sorted(VIEWERS, key=lambda v: row.expected[v] == OK):
            variables = await row.variables(scene)
            body = await gql(row.document, variables, token=tokens[viewer])
            actual = classify(body, row.field)
            if actual != row.expected[viewer]:
                name = f"{row.field}{':' + row.label if row.label else ''}"
                mismatches.append(
                    f"{name} x {viewer}: expected {row.expected[viewer]}, got {actual}"
                )
    assert not mismatches, "\n".join(mismatches)
