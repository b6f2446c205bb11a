"""Who may do what with returns, compliance and the report: every operation of this part,
asked by every kind of viewer a permit has, classified as the authorization matrix does
(tests/security/matrix_kit.py).

The rule (backend/permits/policies.py): the member itself (anyone acting for it) files and
reads its own returns; the holder, the issuing authority while verified, and platform admins
read every member's and the report; a member reads its own row of the compliance and not the
report (FORBIDDEN); anyone else is told the permit does not exist (NOT_FOUND).
"""

from __future__ import annotations

from typing import Any

from tests.permits.returns_kit import FEBRUARY, FILE, RETURNS_FIELDS, PermitWorld, filing
from tests.security.matrix_kit import EMPTY, FORBIDDEN, NOT_FOUND, OK, classify

UNAUTHENTICATED = "UNAUTHENTICATED"
VIEWERS = (
    "anonymous",
    "outsider",
    "member_plain",
    "member",
    "other_member",
    "holder",
    "holder_plain",
    "authority",
    "unverified_authority",
    "other_authority",
    "admin",
)
PERIOD = FEBRUARY.isoformat()


def answers(default: str, **cells: str) -> dict[str, str]:
    expected = dict.fromkeys(VIEWERS, default)
    expected["anonymous"] = UNAUTHENTICATED
    expected.update(cells)
    return expected


# Files its own return: anyone acting for a covered member.
FILERS = answers(
    NOT_FOUND,
    member_plain=OK,
    member=OK,
    other_member=OK,
    holder=FORBIDDEN,
    holder_plain=FORBIDDEN,
    authority=FORBIDDEN,
    admin=FORBIDDEN,
)
# Reads A's returns: A itself and those who read all; another member gets an empty list.
READERS_OF_A = answers(
    NOT_FOUND,
    member_plain=OK,
    member=OK,
    other_member=EMPTY,
    holder=OK,
    holder_plain=OK,
    authority=OK,
    admin=OK,
)
# Reads the compliance: every member (its own row), and those who read all.
COMPLIANCE_READERS = answers(
    NOT_FOUND,
    member_plain=OK,
    member=OK,
    other_member=OK,
    holder=OK,
    holder_plain=OK,
    authority=OK,
    admin=OK,
)
# Reads the report: those who read all; members may read the permit, not the report.
REPORT_READERS = answers(
    NOT_FOUND,
    member_plain=FORBIDDEN,
    member=FORBIDDEN,
    other_member=FORBIDDEN,
    holder=OK,
    holder_plain=OK,
    authority=OK,
    admin=OK,
)

OPERATIONS: list[tuple[str, str, dict[str, str]]] = [
    (
        "permitReturnDraft",
        """query Q($c: ID!, $p: Date!) {
             permitReturnDraft(conditionId: $c, periodStart: $p) { expectedVersion } }""",
        FILERS,
    ),
    ("permitReturnFile", FILE, FILERS),
    (
        "permitReturns",
        """query Q($c: ID!, $o: ID) {
             permitReturns(conditionId: $c, organisationId: $o) { totalCount } }""",
        READERS_OF_A,
    ),
    (
        "permitReturnVersions",
        """query Q($c: ID!, $p: Date!, $o: ID!) {
             permitReturnVersions(conditionId: $c, periodStart: $p, organisationId: $o) {
               totalCount } }""",
        READERS_OF_A,
    ),
    (
        "permitConditionCompliance",
        """query Q($c: ID!, $p: Date!) {
             permitConditionCompliance(conditionId: $c, periodStart: $p) {
               total members { organisationName } } }""",
        COMPLIANCE_READERS,
    ),
    (
        "permitReport",
        """query Q($permit: ID!, $p: Date!) {
             permitReport(permitId: $permit, periodStart: $p) { reference } }""",
        REPORT_READERS,
    ),
    (
        "permitReportLink",
        """query Q($permit: ID!, $p: Date!) {
             permitReportLink(permitId: $permit, periodStart: $p) { expiresAt } }""",
        REPORT_READERS,
    ),
]


def _token(world: PermitWorld, viewer: str) -> str:
    if viewer == "anonymous":
        return ""
    if viewer == "admin":
        return world.admin_token
    if viewer == "unverified_authority":
        return world.authority.access_token  # asked while its verification is withdrawn
    return str(getattr(world, viewer).access_token)


def test_every_field_of_this_part_has_a_row() -> None:
    assert {field for field, _, _ in OPERATIONS} == RETURNS_FIELDS


async def test_each_viewer_gets_the_answer_of_the_rule(world: PermitWorld) -> None:
    # given A has filed February once
    assert (await world.file(world.member))["errors"] == []
    variables: dict[str, Any] = {
        "c": str(world.condition_id),
        "p": PERIOD,
        "o": world.member.organisation_id,
        "permit": str(world.permit_id),
    }
    mismatches = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for viewer in VIEWERS:
        await world.set_verified(world.authority, viewer != "unverified_authority")
        for field, document, expected in OPERATIONS:
            if field == "permitReturnFile":
                latest = 1 if viewer in ("member", "member_plain") else 0
                # each filer files on the version it read: A's two people one after the other
                if viewer == "member":
                    latest = 2
                sent = {"input": filing(world, latest)}
            else:
                sent = variables
            body = await world.gql(document, sent, token=_token(world, viewer))
            actual = classify(body, field)
            seen[field, viewer] = body
            if actual != expected[viewer]:
                mismatches.append(f"{field} by {viewer}: {actual} (expected {expected[viewer]})")
    assert not mismatches, "\n".join(mismatches)

    # and a member's compliance shows its own row only, those who read all every member's
    def names(viewer: str) -> list[str]:
        found = seen["permitConditionCompliance", viewer]["data"]["permitConditionCompliance"]
        return [m["organisationName"] for m in found["members"]]

    assert names("member_plain") == names("member") == ["A Sawmill"]
    assert names("other_member") == ["B Pellets"]
    assert names("authority") == names("holder") == names("admin") == ["A Sawmill", "B Pellets"]
