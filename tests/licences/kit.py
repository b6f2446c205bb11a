"""The people and steps of the licence tests: a holder firm (its admin and a plain member),
another firm, the issuing authority (a local-government institution, verified or not), another
institution and a platform admin; licences recorded and verified through the apps' own
operations. Not a test module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.identity.kit import invite_code, verify
from tests.kit import app_operation

CREATE = app_operation("WasteLicenceCreate")
UPDATE = app_operation("WasteLicenceUpdate")
DELETE = app_operation("WasteLicenceDelete")
VERIFY = app_operation("WasteLicenceVerify")
UNVERIFY = app_operation("WasteLicenceUnverify")
LICENCE = app_operation("WasteLicence")
LICENCES = app_operation("WasteLicences")

# 19 08 11*: sludges containing hazardous substances from biological treatment of industrial
# waste water; 19 08 12 is its non-hazardous mirror.
SLUDGE = "ewc-19-08-11"
SLUDGE_NAME = (
    "Sludges containing hazardous substances from biological treatment of industrial waste water"
)


def licence_input(**overrides: Any) -> dict[str, Any]:
    """A treatment and storage licence for 19 08 11*, valid through 2027."""
    return {
        "issuerName": "Okayama Prefecture",
        "number": "OK-2027-0042",
        "materialCodes": [SLUDGE],
        "operations": ["TREATMENT", "STORAGE"],
        "validFrom": "2027-01-01",
        "validTo": "2027-12-31",
        **overrides,
    }


@dataclass
class People:
    holder: Account  # an admin of the holder firm
    member: Account  # a plain member of the holder firm
    other_firm: Account
    authority: Account  # the issuing authority, a verified local-government institution
    unverified_authority: Account  # an institution the platform has not verified
    other_institution: Account  # verified, but not the licence's authority
    admin_token: str

    def token(self, who: str) -> str | None:
        if who == "anonymous":
            return None
        if who == "admin":
            return self.admin_token
        account: Account = getattr(self, who)
        return account.access_token


async def people(gql: GraphQL, register: Any, cluster_id: str, admin_token: str) -> People:
    holder = await register(
        "admin@treatment.example", cluster_id, name="Maniwa Sludge Treatment", kind="FIRM"
    )
    member_code = await invite_code(gql, holder, "MEMBER")
    member = await register("member@treatment.example", invite_code=member_code)
    other_firm = await register("admin@other.example", cluster_id, name="Other Firm", kind="FIRM")
    authority = await register(
        "officer@pref.example",
        cluster_id,
        name="Okayama Prefecture",
        kind="INSTITUTION",
        subtype="LOCAL_GOVERNMENT",
    )
    unverified = await register(
        "officer@town.example",
        cluster_id,
        name="Maniwa Town Office",
        kind="INSTITUTION",
        subtype="LOCAL_GOVERNMENT",
    )
    other_institution = await register(
        "lab@university.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )
    await verify(gql, admin_token, authority.organisation_id)
    await verify(gql, admin_token, other_institution.organisation_id)
    return People(
        holder=holder,
        member=member,
        other_firm=other_firm,
        authority=authority,
        unverified_authority=unverified,
        other_institution=other_institution,
        admin_token=admin_token,
    )


async def create(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    """A new licence (the step must succeed): its detail."""
    body = await gql(CREATE, {"input": licence_input(**overrides)}, token=token)
    payload = body["data"]["wasteLicenceCreate"]
    assert payload["errors"] == [], body
    licence: dict[str, Any] = payload["wasteLicence"]
    return licence


async def verify_licence(gql: GraphQL, token: str, licence_id: str) -> dict[str, Any]:
    body = await gql(VERIFY, {"input": {"id": licence_id}}, token=token)
    payload = body["data"]["wasteLicenceVerify"]
    assert payload["errors"] == [], body
    licence: dict[str, Any] = payload["wasteLicence"]
    return licence


async def verified_licence(
    gql: GraphQL, people: People, db: Database | None = None, **overrides: Any
) -> dict[str, Any]:
    """A licence of the holder's, verified by the platform admin."""
    licence = await create(gql, people.holder.access_token, **overrides)
    return await verify_licence(gql, people.admin_token, licence["id"])
