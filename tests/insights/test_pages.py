"""The public insights pages through the real app: a cluster's page shows the service's figures
(read back from the ``<data value>`` of the HTML), suppresses what fewer than three
organisations make, never names an organisation, speaks the cluster's language, and refuses
unknown clusters and bad dates; the comparison page is the brief's Table 1, computed."""

from __future__ import annotations

import base64
import hashlib
import re
import string
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.identity.models import OrganisationKind
from backend.insights import pages, service
from backend.insights.period import MAX_MONTHS
from backend.insights.translations import ENGLISH, TRANSLATIONS, Labels, language_for
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.forums import kit as forums
from tests.insights.pages_kit import (
    FROM,
    PERIOD,
    SUPPRESSED,
    TO,
    Rendered,
    Wood,
    expected_figures,
    month_cells,
    public_insights,
    read_page,
    shown_cells,
    shown_figures,
)


async def page(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, Rendered]:
    response = await client.get(path)
    return response, read_page(response.text)


def number(value: str) -> Decimal:
    assert value != SUPPRESSED
    return Decimal(value)


async def test_the_page_shows_the_services_figures(
    client: httpx.AsyncClient, db: Database, wood: Wood, clock: ManualClock
) -> None:
    # given the wood cluster's trades
    expected = await public_insights(db, wood.cluster_id, clock)
    social = await service.social_capital(db=db, insights=expected)
    totals, network, members = expected.totals, expected.network, expected.members
    assert network is not None

    # when anybody opens its page
    response, shown = await page(client, f"/insights/{wood.slug}?{PERIOD}")

    # then every figure on it is the service's, in the exact value
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert shown_figures(shown) == expected_figures(expected, social)
    assert shown.figures["network-type"] == "ANCHOR_TENANT_MUTUALISM"
    # and they are the cluster's: 21 t from six organisations, a pellet maker at the centre
    assert (totals.kg, totals.organisations, totals.trades) == (Decimal(21000), 6, 6)
    assert (network.organisations, network.links) == (6, 6)
    assert network.centralisation == pytest.approx(0.6)
    assert (expected.isolated_members, members.total, members.growth) == (1, 9, None)
    # and the one flow the public sees, with the service's kilograms, then the two pairs of
    # December and February merged
    flow, _ = expected.flows
    assert [row.cells for row in shown.rows("flows")][:1] == [
        {
            "from_activity": "1610 Sawmilling and planing of wood",
            "material": "かんなくず",
            "to_activity": (
                "1629 Manufacture of other products of wood; manufacture of articles of cork, "
                "straw and plaiting materials"
            ),
            "kg": str(flow.kg),
            "co2e_kg": str(flow.co2e_kg),
            "trades": "4",
            "organisations": "5",
        }
    ]
    # and the months: January shown, December and February suppressed, the rest zeros
    assert shown_cells(shown.rows("months")) == month_cells(expected)
    months = {row.cells["month"]: row.cells for row in shown.rows("months")}
    assert number(months["2027-01"]["kg"]) == Decimal(16000)
    # and the unmatched sawdust, offered by three firms
    assert [row.cells for row in shown.rows("unmatched")] == [
        {
            "material": "おがくず",
            "listings": "3",
            "organisations": "3",
            "kg": str(expected.unmatched_by_material[0].kg),
            "listings_without_mass": "0",
        }
    ]
    assert number(shown.rows("unmatched")[0].cells["kg"]) == Decimal(21000)


async def test_what_fewer_than_three_organisations_make_is_never_a_number(
    client: httpx.AsyncClient, wood: Wood
) -> None:
    # given February's only trade, between a sawmill and a power plant (two organisations),
    # and bark offered by one sawmill

    # when anybody opens the page
    response = await client.get(f"/insights/{wood.slug}?{PERIOD}")
    shown = read_page(response.text)

    # then February reads "fewer than 3 organisations" in every column, in the page's language
    [february] = [row for row in shown.rows("months") if row.cells["month"] == "2027-02"]
    assert february.cells == {
        "month": "2027-02",
        "kg": SUPPRESSED,
        "co2e_kg": SUPPRESSED,
        "disposal_cost_avoided": SUPPRESSED,
        "paid": SUPPRESSED,
        "trades": SUPPRESSED,
    }
    assert response.text.count(Labels("ja")["suppressed"]) >= 5
    # and the trimmings flow is in no row, no band of the diagram and no tooltip
    assert "端材" not in response.text  # wood trimmings, in Japanese
    assert "Electric power" not in response.text
    assert [row.kind for row in shown.rows("flows")] == ["flow", "flow-other"]
    # and February's 3 t is written nowhere, nor is its chart bar drawn
    assert "3,000" not in response.text
    assert "3000" not in response.text
    assert "2027-02: " + Labels("ja")["suppressed"] in response.text
    # and the bark of one sawmill is not a row (nor an "other" row: one organisation)
    assert [row.kind for row in shown.rows("unmatched")] == ["unmatched"]
    assert "樹皮" not in response.text


async def test_no_organisation_is_named_on_the_public_pages(
    client: httpx.AsyncClient, wood: Wood
) -> None:
    # given organisations that traded, one that opted out, one with a formula for a name

    # when anybody opens the cluster's page (in every language) and the comparison
    bodies = [
        (await client.get(f"/insights/{wood.slug}?{PERIOD}&lang={language}")).text
        for language in TRANSLATIONS
    ] + [(await client.get(f"/insights?{PERIOD}")).text]

    # then no organisation's name or id is anywhere in the HTML
    for body in bodies:
        for key, name in wood.names.items():
            assert name not in body, key
            assert wood.organisation_id(key) not in body, key
        assert "HYPERLINK" not in body
        assert "Mokuzai" not in body


async def test_the_page_speaks_the_clusters_language_unless_asked_for_another(
    client: httpx.AsyncClient, wood: Wood
) -> None:
    # when the page is opened as is, and with ?lang=
    default = await client.get(f"/insights/{wood.slug}?{PERIOD}")
    english = await client.get(f"/insights/{wood.slug}?{PERIOD}&lang=en")
    thai = await client.get(f"/insights/{wood.slug}?{PERIOD}&lang=th")
    unknown = await client.get(f"/insights/{wood.slug}?{PERIOD}&lang=xx")

    # then the wood cluster's first language (Japanese) is the default
    assert '<html lang="ja">' in default.text
    assert default.headers["content-language"] == "ja"
    assert "<h2>成果</h2>" in default.text
    assert "かんなくず" in default.text
    # and ?lang= changes the labels and the material names (the catalogue's local names)
    assert '<html lang="en">' in english.text
    assert "<h2>Outcomes</h2>" in english.text
    assert "Wood shavings" in english.text
    assert "かんなくず" not in english.text
    assert '<html lang="th">' in thai.text
    assert "ขี้กบไม้" in thai.text
    # and ISIC titles stay English in every language
    for response in (default, english, thai):
        assert "1610 Sawmilling and planing of wood" in response.text
    # and a language we do not have falls back to the cluster's
    assert '<html lang="ja">' in unknown.text
    # and the language links keep the period
    assert f'href="/insights/{wood.slug}?from={FROM}&amp;to={TO}&amp;lang=vi"' in default.text


async def test_a_cluster_without_trades_has_a_page_with_nothing_to_reveal(
    client: httpx.AsyncClient, cluster_id: str
) -> None:
    # given a cluster with no organisation and no trade

    # when its page is opened
    response, shown = await page(client, f"/insights/test-wood?{PERIOD}")

    # then it renders, every outcome and the network suppressed, no flows
    assert response.status_code == 200
    assert shown.figures == {
        "totals-diverted_kg": SUPPRESSED,
        "totals-co2e_avoided": SUPPRESSED,
        "totals-disposal_cost_avoided": SUPPRESSED,
        "totals-paid_to_suppliers": SUPPRESSED,
        "totals-trades": SUPPRESSED,
        "network-type": SUPPRESSED,
        "fig-organisations": SUPPRESSED,
        "fig-dependent_suppliers": SUPPRESSED,
        "fig-isolated_members": "0",
        "members-total": "0",
        "members-firms": "0",
        "members-communities": "0",
        "members-institutions": "0",
        "members-at_start": "0",
        "members-joined": "0",
        "events-held": "0",
        "events-held-firm": "0",
        "events-held-community": "0",
        "events-held-institution": "0",
        "forums": SUPPRESSED,
    }
    assert shown.tables.keys() == {"months"}
    for empty in ("flows-none", "unmatched-none", "savings-none", "attendance-none"):
        assert f'id="{empty}"' in response.text
    assert "<svg" in response.text  # the month charts, each month a suppressed marker


async def test_the_comparison_is_table_1_computed(
    client: httpx.AsyncClient, db: Database, wood: Wood, clock: ManualClock
) -> None:
    # given the wood cluster's trades and a rice cluster without any
    expected = await service.compare_clusters(db=db, starts_on=FROM, ends_on=TO, now=clock.now())
    rice, woods = expected
    assert (rice.insights.cluster.slug, woods.insights.cluster.slug) == ("test-rice", "test-wood")

    # when anybody opens the comparison
    response, shown = await page(client, f"/insights?{PERIOD}")

    # then a column per cluster (by name), a row per attribute of the brief's Table 1
    assert response.status_code == 200
    rows = {row.kind: row.cells for row in shown.rows("comparison")}
    assert list(rows) == [
        "sector",
        "country",
        "members",
        "growth",
        "network_type",
        "main_eco_activities",
        "diverted_kg",
        "co2e_avoided",
        "disposal_cost_avoided",
        "paid_to_suppliers",
        "open",
    ]
    wood_totals = woods.insights.totals
    assert {key: cells["test-wood"] for key, cells in rows.items()} == {
        "sector": "Wood",
        "country": "JP",
        "members": "9",
        "growth": "no members at the start",
        "network_type": "ANCHOR_TENANT_MUTUALISM",
        "main_eco_activities": (
            "Wood shavings: 1610 Sawmilling and planing of wood → 1629 Manufacture of other "
            "products of wood; manufacture of articles of cork, straw and plaiting materials "
            "(16,000 kg)"
        ),
        "diverted_kg": str(wood_totals.kg),
        "co2e_avoided": str(wood_totals.co2e_kg),
        "disposal_cost_avoided": str(wood_totals.disposal_cost_avoided[0].amount),
        "paid_to_suppliers": str(wood_totals.paid_to_suppliers[0].amount),
        "open": "Open the cluster's page",
    }
    assert woods.top_conversions[0].kg == Decimal(16000)
    # and the rice cluster, with nothing traded, shows no figure built from its trades
    assert {key: cells["test-rice"] for key, cells in rows.items()} == {
        "sector": "Rice",
        "country": "TH",
        "members": "1",
        "growth": "no members at the start",
        "network_type": SUPPRESSED,
        "main_eco_activities": "none",
        "diverted_kg": SUPPRESSED,
        "co2e_avoided": SUPPRESSED,
        "disposal_cost_avoided": SUPPRESSED,
        "paid_to_suppliers": SUPPRESSED,
        "open": "Open the cluster's page",
    }
    # and each column links to its cluster's page over the same period
    assert f'href="/insights/test-wood?from={FROM}&amp;to={TO}"' in response.text
    assert f'href="/insights/comparison.csv?from={FROM}&amp;to={TO}"' in response.text


@pytest.mark.parametrize("slug", ["no-such-cluster", "Not_A_Slug", "x" * 65])
async def test_an_unknown_cluster_is_a_404_page(client: httpx.AsyncClient, slug: str) -> None:
    response = await client.get(f"/insights/{slug}")

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<p id="message">There is no cluster at this address.</p>' in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2027-13-01", "from: Use a date as YYYY-MM-DD"),
        ("to=01/03/2027", "to: Use a date as YYYY-MM-DD"),
        ("from=2027-02-30", "from: Use a date as YYYY-MM-DD"),
        ("from=2027-03-02&to=2027-03-01", "from: The period must start on or before its last day"),
        ("from=2000-01-01&to=2027-01-01", f"to: A period covers at most {MAX_MONTHS} months"),
    ],
)
async def test_bad_dates_are_a_400_page_with_the_reason(
    client: httpx.AsyncClient, cluster_id: str, query: str, message: str
) -> None:
    for path in (f"/insights/test-wood?{query}", f"/insights?{query}"):
        response = await client.get(path)

        assert response.status_code == 400, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        [shown] = re.findall(r'<p id="message">(.*?)</p>', response.text)
        assert shown.replace("&#39;", "'").startswith(message), shown


async def test_a_page_loads_nothing_from_anywhere(client: httpx.AsyncClient, wood: Wood) -> None:
    # when the page is opened
    response = await client.get(f"/insights/{wood.slug}?{PERIOD}")

    # then it has no script, no external stylesheet, font or image, and links only here
    body = response.text
    assert "<script" not in body
    assert "<link" not in body
    assert " src=" not in body
    assert "@import" not in body
    assert "url(" not in body
    links = re.findall(r'(?:href|action)="([^"]*)"', body)
    assert links
    assert [link for link in links if not link.startswith("/")] == []
    # and its one inline stylesheet is the only thing its security policy allows
    [style] = re.findall(r"<style>(.*?)</style>", body, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = response.headers["content-security-policy"]
    assert policy == (
        f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "public, max-age=300"
    # and it is made for a phone: the viewport is the device's, tables scroll sideways
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert body.count('<div class="scroll">') == len(read_page(body).tables)
    # and it is small: compressed for a slow connection
    compressed = await client.get(
        f"/insights/{wood.slug}?{PERIOD}", headers={"Accept-Encoding": "gzip"}
    )
    assert compressed.headers["content-encoding"] == "gzip"
    assert int(compressed.headers["content-length"]) < len(body.encode()) / 3


async def test_a_second_view_reads_only_what_is_not_kept(
    client: httpx.AsyncClient, wood: Wood, sql_statements: Any
) -> None:
    # given the page viewed once
    path = f"/insights/{wood.slug}?{PERIOD}"
    first = await client.get(path)

    # when it is viewed again with nothing written in between
    with sql_statements() as log:
        again = await client.get(path)

    # then everything but the cluster (by its address) comes from the kept
    # insights: the network, flows, months, material names, the unmatched offers (kept within
    # the minute) and the social capital
    assert again.text == first.text
    statements = [" ".join(s.split()) for s in log.statements if not s.startswith("BEGIN")]
    kept = ("impact_entries", "trades", "FROM materials", "FROM clusters ORDER BY")
    assert [s for s in statements if any(table in s for table in kept)] == []
    assert len(statements) == 1, statements
    assert statements[0].startswith("SELECT clusters.id")


def test_every_translation_keeps_the_english_labels_and_placeholders() -> None:
    english = TRANSLATIONS[ENGLISH]
    formatter = string.Formatter()
    for language, labels in TRANSLATIONS.items():
        assert labels.keys() <= english.keys(), language
        for key, text in labels.items():
            wanted = {name for _, name, _, _ in formatter.parse(english[key]) if name}
            found = {name for _, name, _, _ in formatter.parse(text) if name}
            assert found == wanted, (language, key)
    # and a label missing from a language is English
    assert Labels("ja")["network"] == "企業間ネットワーク"
    assert Labels("de")["network"] == "Inter-firm network"


@pytest.mark.parametrize(
    ("requested", "cluster", "language"),
    [
        (None, ["ta", "kn", "te", "en"], "ta"),
        (None, ["kn", "en"], "en"),
        (None, ["vi-VN"], "vi"),
        ("th", ["ja"], "th"),
        ("xx", ["ja"], "ja"),
        (None, [], "en"),
    ],
)
def test_the_language_is_asked_for_or_the_clusters_first_we_have(
    requested: str | None, cluster: list[str], language: str
) -> None:
    assert language_for(requested, cluster) == language


def test_numbers_are_written_as_the_language_writes_them() -> None:
    assert pages.Numbers("en").plain(Decimal("1234567.5"), 1) == "1,234,567.5"
    assert pages.Numbers("vi").plain(Decimal("1234567.5"), 1) == "1.234.567,5"
    assert pages.Numbers("ja").money(service.Money(Decimal("395000.0000"), "JPY")) == "395,000 JPY"
    assert pages.Numbers("th").money(service.Money(Decimal("12.5"), "THB")) == "12.50 THB"
    assert pages.raw(0.1) == "0.1"
    assert pages.raw(1e-7) == "0.0000001"
    assert pages.raw(Decimal("17000.0000")) == "17000.0000"


async def test_forum_activity_shows_once_three_organisations_wrote(
    client: httpx.AsyncClient,
    db: Database,
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    clock: ManualClock,
) -> None:
    # given a community's forum where a firm replied to the community's thread
    shg = await register(
        "shg@wood.example", cluster_id, name="Yubara Women's Union", kind="COMMUNITY"
    )
    mill = await register("mill@wood.example", cluster_id, name="Ochiai Sawmill")
    forum = await forums.open_forum(gql, shg.access_token, "CLUSTER", title="Boilers")
    thread = await forums.start_thread(gql, shg.access_token, forum, "Chip boilers")
    await forums.post(gql, mill.access_token, thread, "We burn bark")
    path = f"/insights/test-wood?{PERIOD}&lang=en"

    # when anybody opens the page, two organisations having written
    response, shown = await page(client, path)

    # then the forums say why there are no figures, and nobody is named
    assert shown.figures["forums"] == SUPPRESSED
    assert Labels("en")["forums_suppressed"] in shown.text
    assert "Yubara Women" not in response.text
    assert "Ochiai Sawmill" not in response.text

    # and once a third organisation writes, the page shows the service's figures
    third = await register("lumber@wood.example", cluster_id, name="Kuse Lumber")
    await forums.post(gql, third.access_token, thread, "So do we")
    expected = await public_insights(db, cluster_id, clock)
    social = await service.social_capital(db=db, insights=expected)
    response, shown = await page(client, path)
    assert social.forums is not None
    assert shown_figures(shown) == expected_figures(expected, social)
    assert {k: v for k, v in shown.figures.items() if k.startswith("forums-")} == {
        "forums-forums": "1",
        "forums-threads": "1",
        "forums-posts": "2",
        "forums-organisations": "3",
        "forums-across": "1",
        "forums-firm": "2",
        "forums-community": "1",
        "forums-institution": "0",
    }


async def test_joint_purchasing_and_attendance_rows_as_the_service_gives_them(
    db: Database, wood: Wood, clock: ManualClock
) -> None:
    # given social capital with a suppressed and a shown row of each table
    insights = await public_insights(db, wood.cluster_id, clock)
    social = service.SocialCapital(
        savings=[
            service.Savings(
                "BUY", "JPY", 2, 5, Decimal("90000"), Decimal("100000.0000"), Decimal("10000")
            ),
            service.Savings(
                "SELL", "JPY", 0, 0, Decimal(0), Decimal(0), Decimal(0), suppressed=True
            ),
        ],
        attendance=[
            service.Attendance(OrganisationKind.FIRM, 7, 9, 4, 6, 2),
            service.Attendance(OrganisationKind.COMMUNITY, 0, 0, 0, 0, 0, suppressed=True),
            service.Attendance(None, 3, 3, 0, 3, 1),
        ],
        events_held=3,
        events_by_organiser_kind={
            OrganisationKind.FIRM: 0,
            OrganisationKind.COMMUNITY: 1,
            OrganisationKind.INSTITUTION: 2,
        },
        forums=None,
    )

    # when the page is rendered in English
    shown = read_page(
        pages.cluster_page(
            insights,
            social,
            language="en",
            explicit_language=True,
            names={},
            given_from=None,
            given_to=None,
        )
    )

    # then each row is the service's, a suppressed one in words only
    assert [row.cells for row in shown.rows("savings")] == [
        {
            "direction": "Bought together",
            "currency": "JPY",
            "groups": "2",
            "organisations": "5",
            "at_single_buyer_price": "100000.0000",
            "at_group_price": "90000",
            "saved": "10000",
        },
        {
            "direction": "Sold together",
            "currency": "JPY",
            "groups": SUPPRESSED,
            "organisations": SUPPRESSED,
            "at_single_buyer_price": SUPPRESSED,
            "at_group_price": SUPPRESSED,
            "saved": SUPPRESSED,
        },
    ]
    assert [row.cells for row in shown.rows("attendance")] == [
        {
            "kind": "Firms",
            "registrations": "7",
            "seats": "9",
            "organisations": "4",
            "people": "6",
            "events": "2",
        },
        {
            "kind": "Communities",
            "registrations": SUPPRESSED,
            "seats": SUPPRESSED,
            "organisations": SUPPRESSED,
            "people": SUPPRESSED,
            "events": SUPPRESSED,
        },
        {
            "kind": "No organisation",
            "registrations": "3",
            "seats": "3",
            "organisations": "0",
            "people": "3",
            "events": "1",
        },
    ]
    assert {k: v for k, v in shown.figures.items() if k.startswith("events-")} == {
        "events-held": "3",
        "events-held-firm": "0",
        "events-held-community": "1",
        "events-held-institution": "2",
    }
