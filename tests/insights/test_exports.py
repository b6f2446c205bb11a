"""The CSV exports of the insights through the real app: each public table is the service's
figures for the viewer's audience, read back with the ``csv`` module as a spreadsheet would;
the named tables answer only the cluster's verified institutions and platform admins; an
organisation that opted out is "a firm in ..." without id or name; nothing an organisation typed
runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.insights import exports, service
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.forums import kit as forums
from tests.insights.pages_kit import (
    FORMULA_NAME,
    FROM,
    OPTED_OUT_LABEL,
    PERIOD,
    TO,
    Wood,
    public_insights,
)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def export(
    client: httpx.AsyncClient, wood: Wood, table: str, token: str | None = None
) -> httpx.Response:
    return await client.get(f"/insights/{wood.slug}/{table}.csv?{PERIOD}", headers=bearer(token))


PUBLIC = ("network", "flows", "months", "unmatched-materials")
SOCIAL = ("joint-purchasing", "attendance", "events", "forums")
NAMED = ("anchors", "dependences", "isolated")


async def test_the_public_tables_are_the_services_figures(
    client: httpx.AsyncClient, db: Database, wood: Wood, clock: ManualClock
) -> None:
    expected = await public_insights(db, wood.cluster_id, clock)
    network = expected.network
    assert network is not None

    # when anybody downloads the public tables
    responses = {table: await export(client, wood, table) for table in PUBLIC}

    # then each is an attachment named for the cluster, table and period
    for table, response in responses.items():
        assert response.headers["content-disposition"] == (
            f'attachment; filename="test-wood-{table}-{FROM}-{TO}.csv"'
        )
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.content.endswith(b"\r\n")
    # and the network is one row of the service's figures, as plain numbers
    assert rows(responses["network"]) == [
        {
            "cluster": "test-wood",
            "from": "2026-04-01",
            "to": "2027-03-31",
            "time_zone": "Asia/Tokyo",
            "organisations": "6",
            "links": "6",
            "density": repr(network.density),
            "centralisation": repr(network.centralisation),
            "bilateral_share": repr(network.bilateral_share),
            "multilateral_share": repr(network.multilateral_share),
            "horizontal_links": "0",
            "vertical_links": "6",
            "links_of_unknown_activity": "0",
            "repeat_links": "0",
            "largest_component_share": "1",
            "network_type": "ANCHOR_TENANT_MUTUALISM",
            "dependent_suppliers": str(expected.dependent_suppliers),
            "isolated_members": "1",
            "members": "9",
            "members_at_start": "0",
            "members_joined": "9",
            "suppressed": "false",
        }
    ]
    # and the flows: the one the public sees, and December's and February's pairs (two
    # organisations each, three together) merged into "other"
    flow, other = expected.flows
    assert rows(responses["flows"]) == [
        {
            "supplier_activity": "1610",
            "supplier_activity_title": "Sawmilling and planing of wood",
            "material_code": "wood-shavings",
            "material_name": "Wood shavings",
            "taker_activity": "1629",
            "taker_activity_title": (
                "Manufacture of other products of wood; manufacture of articles of cork, straw "
                "and plaiting materials"
            ),
            "kg": "16000",
            "co2e_kg": exports.cell(flow.co2e_kg),
            "trades": "4",
            "organisations": "5",
            "other": "false",
        },
        {
            "supplier_activity": "",
            "supplier_activity_title": "",
            "material_code": "",
            "material_name": "",
            "taker_activity": "",
            "taker_activity_title": "",
            "kg": "5000",
            "co2e_kg": exports.cell(other.co2e_kg),
            "trades": "2",
            "organisations": "3",
            "other": "true",
        },
    ]
    # and the months: January's figures, December and February suppressed, the months without
    # trades as zeros
    months = rows(responses["months"])
    assert [m["month"] for m in months] == [
        f"{m.month.year}-{m.month.month:02d}" for m in expected.months
    ]
    january = next(m for m in expected.months if (m.month.year, m.month.month) == (2027, 1))
    assert [m for m in months if m["suppressed"] == "false" and m["trades"] != "0"] == [
        {
            "month": "2027-01",
            "kg": "16000",
            "co2e_kg": exports.cell(january.outcomes.co2e_kg),
            "disposal_cost_avoided": exports.cell(january.outcomes.disposal_cost_avoided[0].amount),
            "paid_to_suppliers": "72000",  # four trades of 4 t at 4500 JPY/t
            "currency": "JPY",
            "other_currencies_disposal_cost_avoided": "",
            "other_currencies_paid_to_suppliers": "",
            "trades": "4",
            "organisations": "5",
            "method_versions": " ".join(january.outcomes.method_versions),
            "suppressed": "false",
        }
    ]
    for name in ("2026-12", "2027-02"):
        month = next(m for m in months if m["month"] == name)
        assert month == dict.fromkeys(month, "") | {"month": name, "suppressed": "true"}
    # and the unmatched sawdust of three firms (the bark of one is not a row)
    assert rows(responses["unmatched-materials"]) == [
        {
            "material_code": "sawdust",
            "material_name": "Sawdust",
            "listings": "3",
            "organisations": "3",
            "kg": "21000",
            "listings_without_mass": "0",
            "unmatched_after_days": "14",
            "other": "false",
        }
    ]


async def test_no_public_table_names_an_organisation(client: httpx.AsyncClient, wood: Wood) -> None:
    for table in (*PUBLIC, *SOCIAL):
        body = (await export(client, wood, table)).text
        for key, name in wood.names.items():
            assert name not in body, (table, key)
            assert wood.organisation_id(key) not in body, (table, key)
        assert "Mokuzai" not in body


@pytest.mark.parametrize("viewer", ["anonymous", "mill", "unverified", "elsewhere"])
@pytest.mark.parametrize("table", NAMED)
async def test_the_named_tables_refuse_everyone_but_the_clusters_verified_institutions(
    client: httpx.AsyncClient, wood: Wood, viewer: str, table: str
) -> None:
    # given nobody, a firm of the cluster, an unverified institution of the cluster and a
    # verified institution of another cluster
    token = None if viewer == "anonymous" else wood.token(viewer)

    # when they ask for a named table
    response = await export(client, wood, table, token)

    # then they are refused, and told why
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert response.json()["error"]["message"].startswith(
        "Only the cluster's verified institutions and platform admins see"
    )
    for name in wood.names.values():
        assert name not in response.text


@pytest.mark.parametrize("viewer", ["university", "admin"])
async def test_the_clusters_verified_institution_and_admins_get_names(
    client: httpx.AsyncClient, wood: Wood, viewer: str
) -> None:
    token = wood.admin_token if viewer == "admin" else wood.token(viewer)
    ids = {key: wood.organisation_id(key) for key in wood.accounts}

    # when they download the named tables
    anchors = rows(await export(client, wood, "anchors", token))
    dependences = rows(await export(client, wood, "dependences", token))
    isolated = rows(await export(client, wood, "isolated", token))

    # then every organisation of the network is a row, by name and id, largest share first
    found = [(a["id"], a["organisation"], a["kg"], a["partners"]) for a in anchors]
    assert found[:2] == [
        (ids["pellets"], "Katsuyama Pellet Works", "16000", "4"),
        (ids["mill"], "Ochiai Sawmill", "7000", "2"),
    ]
    assert found[2:4] == [
        (ids["lumber"], "Kuse Lumber", "6000", "2"),
        (ids["power"], "Maniwa Biomass Power", "5000", "2"),
    ]
    assert sorted(found[4:]) == sorted(
        [
            ("", OPTED_OUT_LABEL, "4000", "1"),  # opted out: no id, no name
            (ids["formula"], "'" + FORMULA_NAME, "4000", "1"),  # never a formula
        ]
    )
    assert anchors[0] == {
        "id": ids["pellets"],
        "organisation": "Katsuyama Pellet Works",
        "kind": "FIRM",
        "activity_code": "1629",
        "activity_title": (
            "Manufacture of other products of wood; manufacture of articles of cork, straw and "
            "plaiting materials"
        ),
        "kg": "16000",
        "share": exports.cell(16000 / 21000),
        "partners": "4",
    }
    # and the suppliers sending everything to one taker
    assert sorted((d["supplier"], d["taker"], d["share"]) for d in dependences) == [
        ("'" + FORMULA_NAME, "Katsuyama Pellet Works", "1"),
        (OPTED_OUT_LABEL, "Katsuyama Pellet Works", "1"),
    ]
    assert {d["supplier_id"] for d in dependences if d["supplier"] == OPTED_OUT_LABEL} == {""}
    # and the joinery that never traded
    assert isolated == [
        {
            "id": ids["joinery"],
            "organisation": "Hokubo Isolated Joinery",
            "kind": "FIRM",
            "activity_code": "1629",
            "activity_title": (
                "Manufacture of other products of wood; manufacture of articles of cork, "
                "straw and plaiting materials"
            ),
        }
    ]
    # and the opted-out sawmill is in none of them by name or id
    for table in NAMED:
        response = await export(client, wood, table, token)
        assert "Yubara Quiet Timber" not in response.text
        assert ids["hidden"] not in response.text
        assert response.headers["cache-control"] == "private, no-store"
    # and the public tables are the named audience's: February is not suppressed for them
    months = rows(await export(client, wood, "months", token))
    february = next(m for m in months if m["month"] == "2027-02")
    assert (february["kg"], february["organisations"], february["suppressed"]) == (
        "3000",
        "2",
        "false",
    )


async def test_a_formula_is_written_as_text_in_rfc_4180_quoting(
    client: httpx.AsyncClient, wood: Wood
) -> None:
    response = await export(client, wood, "anchors", wood.admin_token)

    # the name is quoted (it holds commas and quotes), its quotes doubled, an apostrophe first
    assert b'"\'=HYPERLINK(""http://evil.example"",""Open"") Mokuzai"' in response.content
    assert b"\r\n" in response.content
    assert b"\n" not in response.content.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # a full-width equals sign
        ("Ochiai Sawmill", "Ochiai Sawmill"),
        ("", ""),
        (None, ""),
        (Decimal("-1500.0000"), "-1500"),  # a negative price stays a number
        (Decimal("0.0000"), "0"),
        (Decimal("1E+4"), "10000"),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (3, "3"),
        (True, "true"),
    ],
)
def test_cells_are_plain_numbers_and_text_that_never_runs(value: Any, written: str) -> None:
    assert exports.cell(value) == written


async def test_the_comparison_table_is_one_row_per_cluster(
    client: httpx.AsyncClient, db: Database, wood: Wood, clock: ManualClock
) -> None:
    expected = await service.compare_clusters(db=db, starts_on=FROM, ends_on=TO, now=clock.now())

    response = await client.get(f"/insights/comparison.csv?{PERIOD}")

    assert response.headers["content-disposition"] == (
        f'attachment; filename="clusters-compared-{FROM}-{TO}.csv"'
    )
    found = rows(response)
    assert [r["cluster"] for r in found] == [c.insights.cluster.slug for c in expected]
    rice, woods = found
    assert {k: v for k, v in woods.items() if v} == {
        "cluster": "test-wood",
        "name": "Test Wood Cluster",
        "country": "JP",
        "sector": "WOOD",
        "from": "2026-04-01",
        "to": "2027-03-31",
        "members": "9",
        "members_at_start": "0",
        "members_joined": "9",
        "network_type": "ANCHOR_TENANT_MUTUALISM",
        "organisations": "6",
        "links": "6",
        "density": repr(0.4),
        "centralisation": exports.cell(0.6000000000000001),
        "kg": "21000",
        "co2e_kg": exports.cell(expected[1].insights.totals.co2e_kg),
        "disposal_cost_avoided": exports.cell(
            expected[1].insights.totals.disposal_cost_avoided[0].amount
        ),
        "paid_to_suppliers": "94500",  # 21 t at 4500 JPY/t
        "currency": "JPY",
        "trades": "6",
        "totals_suppressed": "false",
        "conversion_1_material_code": "wood-shavings",
        "conversion_1_material_name": "Wood shavings",
        "conversion_1_from_activity": "1610",
        "conversion_1_to_activity": "1629",
        "conversion_1_kg": "16000",
    }
    assert {k: v for k, v in rice.items() if v} == {
        "cluster": "test-rice",
        "name": "Test Rice Cluster",
        "country": "TH",
        "sector": "RICE",
        "from": "2026-04-01",
        "to": "2027-03-31",
        "members": "1",
        "members_at_start": "0",
        "members_joined": "1",
        "totals_suppressed": "true",
    }


@pytest.mark.parametrize("table", [*PUBLIC, *SOCIAL, *NAMED])
async def test_bad_dates_are_a_400_with_the_reason(
    client: httpx.AsyncClient, cluster_id: str, table: str
) -> None:
    response = await client.get(f"/insights/test-wood/{table}.csv?from=2027-03-02&to=2027-03-01")

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "VALIDATION",
            "message": "The period must start on or before its last day (to)",
            "field": "from",
        }
    }
    response = await client.get(f"/insights/test-wood/{table}.csv?to=tomorrow")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "VALIDATION",
        "message": "Use a date as YYYY-MM-DD",
        "field": "to",
    }


@pytest.mark.parametrize(
    "path",
    ["/insights/no-such-cluster/flows.csv", "/insights/test-wood/trades.csv", "/insights/X/a.csv"],
)
async def test_an_unknown_cluster_or_table_is_a_404(
    client: httpx.AsyncClient, cluster_id: str, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND", "message": "No such cluster or table", "field": None}
    }


async def test_a_token_that_no_longer_stands_is_a_401(
    client: httpx.AsyncClient, cluster_id: str
) -> None:
    response = await client.get(
        "/insights/test-wood/anchors.csv", headers=bearer("not-a-token-at-all")
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"TOKEN_INVALID", "UNAUTHENTICATED"}


async def test_the_social_tables_follow_the_audience(
    client: httpx.AsyncClient,
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
) -> None:
    # given a forum in which two organisations wrote, and no joint purchase or event
    shg = await register(
        "shg@wood.example", cluster_id, name="Yubara Women's Union", kind="COMMUNITY"
    )
    mill = await register("mill@wood.example", cluster_id, name="Ochiai Sawmill")
    forum = await forums.open_forum(gql, shg.access_token, "CLUSTER", title="Boilers")
    thread = await forums.start_thread(gql, shg.access_token, forum, "Chip boilers")
    await forums.post(gql, mill.access_token, thread, "We burn bark")

    async def table(name: str, token: str | None = None) -> list[dict[str, str]]:
        response = await client.get(
            f"/insights/test-wood/{name}.csv?{PERIOD}", headers=bearer(token)
        )
        return rows(response)

    # when the public and a platform admin download them
    # then the public's forum row is suppressed, the admin's is not
    empty = dict.fromkeys(
        (
            "forums",
            "threads",
            "posts",
            "organisations",
            "threads_across_organisations",
            "organisations_firm",
            "organisations_community",
            "organisations_institution",
        ),
        "",
    )
    assert await table("forums") == [empty | {"suppressed": "true"}]
    assert await table("forums", platform_admin_token) == [
        {
            "forums": "1",
            "threads": "1",
            "posts": "1",
            "organisations": "2",
            "threads_across_organisations": "1",
            "organisations_firm": "1",
            "organisations_community": "1",
            "organisations_institution": "0",
            "suppressed": "false",
        }
    ]
    # and the tables without anything to count have their header and no row, or zeros
    assert await table("joint-purchasing") == []
    assert await table("attendance") == []
    assert await table("events") == [
        {"organiser_kind": "FIRM", "events_held": "0"},
        {"organiser_kind": "COMMUNITY", "events_held": "0"},
        {"organiser_kind": "INSTITUTION", "events_held": "0"},
        {"organiser_kind": "ALL", "events_held": "0"},
    ]
    response = await client.get(f"/insights/test-wood/attendance.csv?{PERIOD}")
    assert response.text == (
        "organisation_kind,registrations,seats,organisations,people,events,suppressed\r\n"
    )
