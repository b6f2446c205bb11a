"""The printable report in a real browser: headless Chromium (Debian's ``chromium``) opens the
signed link the app gets from ``permitReportLink`` on a live ``eic serve`` (loopback port,
a SQLite database ``eic migrate`` made), prints it to PDF, and dumps the DOM it rendered.

The permit is made of rows (the permits API is another part of issue 19); the return is filed
through the live server's GraphQL, as the app files it. Skipped only when Chromium is not
installed; CI installs it (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from backend.auth.security import Security
from backend.identity import service as identity_service
from backend.identity.models import Organisation, OrganisationSubtype
from backend.kit.db import Database
from backend.permits.models import (
    AllocationEntry,
    Frequency,
    LedgerReason,
    Parameter,
    Permit,
    PermitCondition,
    PermitMember,
    TransferRule,
)
from backend.settings import Settings
from tests.conftest import PASSWORD, new_organisation
from tests.kit import create_wood_cluster
from tests.permits.returns_kit import FILE
from tests.process_kit import EIC, NEEDS_CHROMIUM, eic_serving, run_chromium, scratch_environment

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
PDF = b"%PDF-"
LINK = """
query Link($permitId: ID!, $periodStart: Date!) {
  permitReportLink(permitId: $permitId, periodStart: $periodStart) { url expiresAt }
}
"""


@dataclass(frozen=True)
class ReportServer:
    base: str
    directory: Path
    permit_id: uuid.UUID
    condition_id: uuid.UUID
    period_start: date
    tokens: dict[str, str]  # access tokens by organisation name


def last_month() -> date:
    """The month before today (UTC): started and ended, whatever the day the test runs."""
    first = datetime.now(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


async def seed(
    database_url: str, period_start: date
) -> tuple[uuid.UUID, uuid.UUID, dict[str, str]]:
    """A holder, its verified authority, two covered firms with allocations; their tokens."""
    settings = Settings(database_url=database_url, environment="test")
    security = Security.from_settings(settings)
    db = Database(database_url)
    tokens: dict[str, str] = {}
    ids: dict[str, uuid.UUID] = {}
    try:
        cluster_id = await create_wood_cluster(db)
        for email, name, kind, subtype in (
            ("office@biomass-town.example", "Biomass Town Association", "COMMUNITY", None),
            ("env@maniwa-city.example", "Maniwa City", "INSTITUTION", "LOCAL_GOVERNMENT"),
            ("firm@a.example", "A Sawmill", "FIRM", None),
            ("firm@b.example", "B Pellets & <Co>", "FIRM", None),
        ):
            extra = {"subtype": OrganisationSubtype(subtype).value} if subtype else {}
            await identity_service.register_account(
                db=db,
                security=security,
                email=email,
                password=PASSWORD,
                display_name=name,
                organisation=new_organisation(cluster_id, name, kind, **extra),
                invite_code=None,
                now=datetime.now(UTC),
            )
            pair = await identity_service.create_token(
                db=db,
                security=security,
                email=email,
                password=PASSWORD,
                organisation_id=None,
                client_address=None,
            )
            assert pair.organisation_id is not None
            tokens[name], ids[name] = pair.access_token, pair.organisation_id
        permit_id, condition_id = uuid.uuid4(), uuid.uuid4()
        async with db.write() as session:
            await session.execute(
                update(Organisation)
                .where(Organisation.id == ids["Maniwa City"])
                .values(verified_at=datetime.now(UTC))
            )
            session.add(
                Permit(
                    id=permit_id,
                    cluster_id=uuid.UUID(cluster_id),
                    holder_id=ids["Biomass Town Association"],
                    authority_id=ids["Maniwa City"],
                    reference="MANIWA-ENV-001",
                    title="Maniwa wood-waste umbrella permit",
                    valid_from=period_start - timedelta(days=365),
                    valid_to=period_start + timedelta(days=730),
                    transfer_rule=TransferRule.FREE,
                    return_due_days=15,
                )
            )
            await session.flush()
            session.add(
                PermitCondition(
                    id=condition_id,
                    permit_id=permit_id,
                    parameter=Parameter.WASTE_TO_LANDFILL,
                    material_code="ewc-03-01-05",
                    title="Wood waste to landfill",
                    cap=Decimal(100),
                    unit_code="TNE",
                    frequency=Frequency.MONTHLY,
                    allocated=Decimal(90),
                )
            )
            for name, amount in (("A Sawmill", 40), ("B Pellets & <Co>", 50)):
                session.add(
                    PermitMember(
                        permit_id=permit_id,
                        organisation_id=ids[name],
                        covered_from=period_start - timedelta(days=365),
                    )
                )
                await session.flush()
                session.add(
                    AllocationEntry(
                        condition_id=condition_id,
                        organisation_id=ids[name],
                        reason=LedgerReason.ALLOCATED,
                        change=Decimal(amount),
                        balance_after=Decimal(amount),
                        created_at=datetime.now(UTC) - timedelta(days=400),
                    )
                )
    finally:
        await db.dispose()
    return permit_id, condition_id, tokens


@pytest.fixture(scope="module")
def report_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportServer]:
    """``eic serve`` on a free loopback port over a fresh SQLite database with one permit."""
    directory = tmp_path_factory.mktemp("permit-report-browser")
    environment, database_url = scratch_environment(directory)
    subprocess.run(  # noqa: S603 - our own command
        [EIC, "migrate"], env=environment, cwd=directory, check=True, capture_output=True
    )
    period_start = last_month()
    permit_id, condition_id, tokens = asyncio.run(seed(database_url, period_start))
    with eic_serving(environment, directory) as base:
        yield ReportServer(base, directory, permit_id, condition_id, period_start, tokens)


async def chromium(server: ReportServer, *arguments: str) -> bytes:
    return await run_chromium(server.directory, *arguments)


async def graphql(
    server: ReportServer, token: str, query: str, variables: dict[str, object]
) -> dict:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        answer = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict = answer.json()
    return body


async def test_the_authority_prints_the_report_from_its_link(
    report_server: ReportServer, tmp_path: Path
) -> None:
    server = report_server
    # given A filed last month through the live server: 41 t to landfill of its 40
    filed = await graphql(
        server,
        server.tokens["A Sawmill"],
        FILE,
        {
            "input": {
                "conditionId": str(server.condition_id),
                "periodStart": server.period_start.isoformat(),
                "generated": "60",
                "treatedOnSite": "10",
                "sentToMembers": "9",
                "sentToDisposal": "41",
                "unitCode": "TNE",
                "expectedVersion": 0,
            }
        },
    )
    assert filed["data"]["permitReturnFile"]["errors"] == [], filed
    # and the authority asked the app for a link
    linked = await graphql(
        server,
        server.tokens["Maniwa City"],
        LINK,
        {"permitId": str(server.permit_id), "periodStart": server.period_start.isoformat()},
    )
    url = linked["data"]["permitReportLink"]["url"]
    assert url.startswith(f"{server.base}/permits/report?link=")

    # when Chromium prints the page to PDF and dumps what it rendered
    pdf = tmp_path / "permit-report.pdf"
    await chromium(server, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url)
    dom = (await chromium(server, "--dump-dom", url)).decode("utf-8")

    # then a PDF was written
    printed = pdf.read_bytes()
    assert printed.startswith(PDF)
    assert len(printed) > 5_000, len(printed)
    # and the page holds the members and their figures, names escaped, no script
    assert "Maniwa wood-waste umbrella permit" in dom
    assert "A Sawmill" in dom
    assert "B Pellets &amp; &lt;Co&gt;" in dom
    assert '<data class="total" value="41">41</data>' in dom
    assert '<data class="figure" value="41">41</data>' in dom
    assert '<data class="allocation" value="40">40</data>' in dom
    assert '<data class="allocation" value="50">50</data>' in dom
    assert ">OVER<" in dom
    assert "<script" not in dom


async def test_a_link_with_a_changed_claim_prints_nothing(report_server: ReportServer) -> None:
    server = report_server
    dom = (
        await chromium(server, "--dump-dom", f"{server.base}/permits/report?link=not.a.link")
    ).decode("utf-8")
    assert "This report link is not valid" in dom
    assert "A Sawmill" not in dom
