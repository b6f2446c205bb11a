"""The authority's report: in the API, as CSV (bearer token) and as a printable page opened
through a signed 15-minute link that is checked again on every request."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from sqlalchemy import update

from backend.identity.models import Organisation
from backend.permits.service.report import ReportLinks
from backend.settings import Settings
from tests.conftest import Account
from tests.permits.returns_kit import PermitWorld

REPORT = """
query Report($permitId: ID!, $periodStart: Date!) {
  permitReport(permitId: $permitId, periodStart: $periodStart) {
    permitId reference title holderName authorityName periodStart startsOn endsOn
    members { organisationName coverSpans { coveredFrom coveredTo } }
    conditions {
      title total cap status
      members { organisationName sentToDisposal status late missing }
    }
    lateReturns { conditionTitle periodStart organisationName }
    missingReturns { conditionTitle periodStart organisationName }
  }
}
"""
LINK = """
query Link($permitId: ID!, $periodStart: Date!) {
  permitReportLink(permitId: $permitId, periodStart: $periodStart) { url expiresAt }
}
"""


async def filed_february(world: PermitWorld) -> None:
    """A files 41 of its 40 late, with a name a spreadsheet would run; B files nothing."""
    world.clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    await world.file(world.member, sentToDisposal="41")


async def link(world: PermitWorld, account: Account) -> str:
    body = await world.gql(
        LINK,
        {"permitId": str(world.permit_id), "periodStart": "2027-02-01"},
        token=account.access_token,
    )
    url: str = body["data"]["permitReportLink"]["url"]
    return url


async def test_the_report_in_the_api(world: PermitWorld) -> None:
    await filed_february(world)

    body = await world.gql(
        REPORT,
        {"permitId": str(world.permit_id), "periodStart": "2027-02-01"},
        token=world.authority.access_token,
    )

    covered = [{"coveredFrom": "2027-01-01", "coveredTo": None}]
    assert body == {
        "data": {
            "permitReport": {
                "permitId": str(world.permit_id),
                "reference": "MANIWA-ENV-2027-001",
                "title": "Maniwa wood-waste umbrella permit",
                "holderName": "Biomass Town Association",
                "authorityName": "Maniwa City",
                "periodStart": "2027-02-01",
                "startsOn": "2027-02-01",
                "endsOn": "2027-02-28",
                "members": [
                    {"organisationName": "A Sawmill", "coverSpans": covered},
                    {"organisationName": "B Pellets", "coverSpans": covered},
                ],
                "conditions": [
                    {
                        "title": "Wood waste to landfill",
                        "total": "41",
                        "cap": "100",
                        "status": "OK",
                        "members": [
                            {
                                "organisationName": "A Sawmill",
                                "sentToDisposal": "41",
                                "status": "OVER",
                                "late": True,
                                "missing": False,
                            },
                            {
                                "organisationName": "B Pellets",
                                "sentToDisposal": "0",
                                "status": "OK",
                                "late": False,
                                "missing": True,
                            },
                        ],
                    }
                ],
                "lateReturns": [
                    {
                        "conditionTitle": "Wood waste to landfill",
                        "periodStart": "2027-02-01",
                        "organisationName": "A Sawmill",
                    }
                ],
                "missingReturns": [
                    {
                        "conditionTitle": "Wood waste to landfill",
                        "periodStart": "2027-02-01",
                        "organisationName": "B Pellets",
                    }
                ],
            }
        }
    }


async def test_the_csv_with_the_bearer_token(world: PermitWorld) -> None:
    await filed_february(world)
    path = f"/permits/{world.permit_id}/report.csv?periodStart=2027-02-01"

    answer = await world.gql.http.get(
        path, headers={"Authorization": f"Bearer {world.holder.access_token}"}
    )
    anonymous = await world.gql.http.get(path)
    member = await world.gql.http.get(
        path, headers={"Authorization": f"Bearer {world.member.access_token}"}
    )
    outsider = await world.gql.http.get(
        path, headers={"Authorization": f"Bearer {world.outsider.access_token}"}
    )

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["cache-control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [
        (
            r["row"],
            r["organisation"],
            r["sent_to_disposal"],
            r["limit"],
            r["status"],
            r["late"],
            r["missing"],
        )
        for r in rows
    ] == [
        ("total", "", "41", "100", "OK", "", ""),
        ("member", "A Sawmill", "41", "40", "OVER", "true", "false"),
        ("member", "B Pellets", "0", "50", "OK", "false", "true"),
    ]
    assert (anonymous.status_code, member.status_code, outsider.status_code) == (401, 403, 404)


async def test_a_name_a_spreadsheet_would_run_is_written_as_text(world: PermitWorld) -> None:
    async with world.db.write() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == world.org(world.member))
            .values(name='=HYPERLINK("http://evil.example","A")')
        )
    answer = await world.gql.http.get(
        f"/permits/{world.permit_id}/report.csv?periodStart=2027-02-01",
        headers={"Authorization": f"Bearer {world.holder.access_token}"},
    )
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert rows[1]["organisation"] == '\'=HYPERLINK("http://evil.example","A")'


async def test_the_page_through_a_signed_link(world: PermitWorld) -> None:
    await filed_february(world)

    url = await link(world, world.authority)
    parts = urlsplit(url)
    page = await world.gql.http.get(f"{parts.path}?{parts.query}")

    assert (parts.scheme, parts.netloc, parts.path) == ("http", "eic.test", "/permits/report")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    html = page.text
    assert "<script" not in html
    assert "Maniwa wood-waste umbrella permit" in html
    assert '<data class="total" value="41">41</data>' in html
    assert "MISSING: B Pellets" in html
    assert "LATE: A Sawmill" in html
    assert "@media print" in html


async def test_names_on_the_page_are_escaped(world: PermitWorld) -> None:
    async with world.db.write() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == world.org(world.member))
            .values(name="<script>alert(1)</script>")
        )
    url = await link(world, world.holder)
    page = await world.gql.http.get(url)
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.parametrize("who", ["member", "outsider", "other_authority"])
async def test_only_those_who_read_all_get_a_link(world: PermitWorld, who: str) -> None:
    body = await world.gql(
        LINK,
        {"permitId": str(world.permit_id), "periodStart": "2027-02-01"},
        token=getattr(world, who).access_token,
    )
    expected = "FORBIDDEN" if who == "member" else "NOT_FOUND"
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == expected


async def test_a_link_stops_when_the_standing_ends(world: PermitWorld) -> None:
    url = await link(world, world.authority)
    assert (await world.gql.http.get(url)).status_code == 200

    # when the authority's verification is withdrawn, the same link is refused
    await world.set_verified(world.authority, False)
    refused = await world.gql.http.get(url)
    assert refused.status_code == 404
    assert "<script" not in refused.text


async def test_forged_expired_and_other_tokens_are_no_link(
    world: PermitWorld, settings: Settings
) -> None:
    url = await link(world, world.holder)
    token = urlsplit(url).query.removeprefix("link=")
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    expired = jwt.encode(
        {**claims, "exp": datetime.now(UTC) - timedelta(minutes=1)},
        settings.jwt_secret,
        algorithm="HS256",
    )
    forged = jwt.encode(claims, "another secret of at least thirty-two bytes!", algorithm="HS256")

    answers = [
        await world.gql.http.get(f"/permits/report?link={candidate}")
        for candidate in (expired, forged, world.holder.access_token, "")
    ]

    assert [a.status_code for a in answers] == [403, 403, 403, 403]
    assert "expired" in answers[0].text
    # and a good link lasts 15 minutes
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["typ"] == "permit_report"
    assert ReportLinks.of(settings).read(token).permit_id == world.permit_id
