"""What the tests of the insights pages and exports share: a wood cluster whose trades are built
through the real API, and a reader of the rendered pages (the ``<data value>`` figures and the
rows of each table, as a browser's DOM or the server's HTML has them). Not a test module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import update

from backend.auth.viewer import Anonymous
from backend.identity.models import Organisation, OrganisationKind
from backend.insights import service
from backend.insights.service import ClusterInsights, Money, SocialCapital
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.identity.kit import second_cluster, verify
from tests.marketplace.trading_kit import completed_trade, publish

# The period every test reads (calendar days in Asia/Tokyo): the trades are in January and
# February 2027, the test clock stands at 1 March 2027.
FROM, TO = date(2026, 4, 1), date(2027, 3, 31)
PERIOD = f"from={FROM.isoformat()}&to={TO.isoformat()}"
DECEMBER = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
JANUARY = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)
FEBRUARY = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)
SAWMILLING, WOOD_PRODUCTS, POWER = "1610", "1629", "3510"
# A name a spreadsheet would run as a formula, with quotes that RFC 4180 must escape.
FORMULA_NAME = '=HYPERLINK("http://evil.example","Open") Mokuzai'
OPTED_OUT_LABEL = "A firm in sawmilling and planing of wood"
SUPPRESSED = "\x00suppressed"  # what the reader records for a suppressed figure or cell
KINDS = (OrganisationKind.FIRM, OrganisationKind.COMMUNITY, OrganisationKind.INSTITUTION)


@dataclass
class Wood:
    """The test cluster: who is who, and the tokens of the viewers the rules are about."""

    cluster_id: str
    slug: str
    accounts: dict[str, Account]
    names: dict[str, str]  # key -> organisation name (every organisation made here)
    admin_token: str
    other_cluster_id: str
    february_kg: int = 3000  # the trade between two organisations only

    def token(self, key: str) -> str:
        return self.accounts[key].access_token

    def organisation_id(self, key: str) -> str:
        organisation_id = self.accounts[key].organisation_id
        assert organisation_id is not None
        return organisation_id


async def set_organisation(db: Database, organisation_id: str, **values: Any) -> None:
    """What no API sets yet (the activity, the opt-out of being named), straight in the table."""
    async with db.write() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == uuid.UUID(organisation_id))
            .values(**values)
        )


async def build_wood(
    *,
    db: Database,
    gql: GraphQL,
    register: Any,
    clock: ManualClock,
    cluster_id: str,
    admin_token: str,
) -> Wood:
    """Given a wood cluster where, in January, four sawmills each sold shavings to one pellet
    maker (five organisations: a flow and a month the public sees), in December another sawmill
    sold bark and in February one sawmill sold trimmings to a power plant (two organisations
    each: flows and months suppressed, three together: the totals minus what is shown give
    away no fewer than three, so January stays shown), one of
    the sawmills opted out of being named and another has a formula for a name; three firms
    offer sawdust that nobody answered, one offers bark; a joinery never traded; a verified
    and an unverified institution of the cluster, and a verified institution elsewhere."""
    people = {
        "mill": ("Ochiai Sawmill", "FIRM", SAWMILLING),
        "lumber": ("Kuse Lumber", "FIRM", SAWMILLING),
        "hidden": ("Yubara Quiet Timber", "FIRM", SAWMILLING),
        "formula": (FORMULA_NAME, "FIRM", SAWMILLING),
        "pellets": ("Katsuyama Pellet Works", "FIRM", WOOD_PRODUCTS),
        "power": ("Maniwa Biomass Power", "FIRM", POWER),
        "joinery": ("Hokubo Isolated Joinery", "FIRM", WOOD_PRODUCTS),
        "university": ("Okayama Wood University", "INSTITUTION", None),
        "unverified": ("Unverified Forest Institute", "INSTITUTION", None),
    }
    accounts: dict[str, Account] = {}
    for key, (name, kind, activity) in people.items():
        accounts[key] = await register(f"{key}@wood.example", cluster_id, name=name, kind=kind)
        organisation_id = accounts[key].organisation_id
        assert organisation_id is not None
        await set_organisation(db, organisation_id, activity_code=activity)
    await set_organisation(db, accounts["hidden"].organisation_id or "", named_in_insights=False)
    await verify(gql, admin_token, accounts["university"].organisation_id)
    other = await second_cluster(db)
    accounts["elsewhere"] = await register(
        "elsewhere@rice.example", other, name="Chachoengsao Rice Institute", kind="INSTITUTION"
    )
    await verify(gql, admin_token, accounts["elsewhere"].organisation_id)

    clock.set(DECEMBER)
    await completed_trade(
        gql,
        accounts["lumber"].access_token,
        accounts["power"].access_token,
        quantity="2",
        materialCode="bark",
    )
    clock.set(JANUARY)
    for seller in ("mill", "lumber", "hidden", "formula"):
        await completed_trade(
            gql,
            accounts[seller].access_token,
            accounts["pellets"].access_token,
            quantity="4",
            materialCode="wood-shavings",
        )
    for seller in ("lumber", "hidden", "joinery"):
        await publish(gql, accounts[seller].access_token, materialCode="sawdust", quantity="7")
    await publish(gql, accounts["mill"].access_token, materialCode="bark", quantity="5")
    clock.set(FEBRUARY)
    await completed_trade(
        gql,
        accounts["mill"].access_token,
        accounts["power"].access_token,
        quantity="3",
        materialCode="wood-trimmings",
    )
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    return Wood(
        cluster_id=cluster_id,
        slug="test-wood",
        accounts=accounts,
        names={key: name for key, (name, _, _) in people.items()}
        | {"elsewhere": "Chachoengsao Rice Institute"},
        admin_token=admin_token,
        other_cluster_id=other,
    )


async def public_insights(db: Database, cluster_id: str, clock: ManualClock) -> ClusterInsights:
    """What the service computes for the public over the tests' period."""
    return await service.cluster_insights(
        db=db,
        viewer=Anonymous(),
        cluster_id=uuid.UUID(cluster_id),
        starts_on=FROM,
        ends_on=TO,
        now=clock.now(),
    )


def expected_figures(insights: ClusterInsights, social: SocialCapital) -> dict[str, Decimal | str]:
    """The ``<data>`` figures a cluster's page must show for ``insights`` and ``social`` (the
    public view), by element id: the service's numbers, or SUPPRESSED."""
    figures: dict[str, Decimal | str] = {}
    totals, currency = insights.totals, insights.cluster.currency

    def amount(moneys: list[Money]) -> Decimal:
        return next((m.amount for m in moneys if m.currency == currency), Decimal(0))

    if totals.suppressed:
        for key in ("diverted_kg", "co2e_avoided", "disposal_cost_avoided", "paid_to_suppliers"):
            figures[f"totals-{key}"] = SUPPRESSED
        figures["totals-trades"] = SUPPRESSED
    else:
        figures |= {
            "totals-diverted_kg": totals.kg,
            "totals-co2e_avoided": totals.co2e_kg,
            "totals-disposal_cost_avoided": amount(totals.disposal_cost_avoided),
            "totals-paid_to_suppliers": amount(totals.paid_to_suppliers),
            "totals-trades": Decimal(totals.trades),
            "totals-organisations": Decimal(totals.organisations),
        }
    network = insights.network
    if network is None:
        figures |= {
            "network-type": SUPPRESSED,
            "fig-organisations": SUPPRESSED,
            "fig-dependent_suppliers": SUPPRESSED,
        }
    else:
        figures["network-type"] = network.type.value
        for key in (
            "organisations",
            "links",
            "density",
            "centralisation",
            "bilateral_share",
            "multilateral_share",
            "horizontal_links",
            "vertical_links",
            "links_of_unknown_activity",
            "repeat_links",
            "largest_component_share",
        ):
            figures[f"fig-{key}"] = Decimal(repr(getattr(network, key)))
        figures["fig-dependent_suppliers"] = Decimal(insights.dependent_suppliers)
    figures["fig-isolated_members"] = Decimal(insights.isolated_members)
    members = insights.members
    for key in ("total", "firms", "communities", "institutions", "at_start", "joined"):
        figures[f"members-{key}"] = Decimal(getattr(members, key))
    if members.growth is not None:
        figures["members-growth"] = Decimal(repr(members.growth))
    figures["events-held"] = Decimal(social.events_held)
    for kind in KINDS:
        count = social.events_by_organiser_kind.get(kind, 0)
        figures[f"events-held-{kind.value.lower()}"] = Decimal(count)
    forums = social.forums
    if forums is None:
        figures["forums"] = SUPPRESSED
    else:
        for key, value in (
            ("forums", forums.forums),
            ("threads", forums.threads),
            ("posts", forums.posts),
            ("organisations", forums.organisations),
            ("across", forums.threads_across_organisations),
        ):
            figures[f"forums-{key}"] = Decimal(value)
        for kind in KINDS:
            figures[f"forums-{kind.value.lower()}"] = Decimal(forums.by_kind.get(kind, 0))
    return figures


def shown_figures(page: Rendered) -> dict[str, Decimal | str]:
    """The page's figures, numbers as Decimals (so 17000 equals 17000.0000)."""
    result: dict[str, Decimal | str] = {}
    for key, value in page.figures.items():
        try:
            result[key] = Decimal(value)
        except ArithmeticError:
            result[key] = value
    return result


def month_cells(insights: ClusterInsights) -> list[dict[str, Decimal | str]]:
    """The rows of the months table the page must show: the service's figures in the
    cluster's currency, or every figure SUPPRESSED."""
    currency = insights.cluster.currency
    rows: list[dict[str, Decimal | str]] = []
    for month in insights.months:
        label = f"{month.month.year}-{month.month.month:02d}"
        outcomes = month.outcomes
        columns = ("kg", "co2e_kg", "disposal_cost_avoided", "paid", "trades")
        if outcomes.suppressed:
            rows.append({"month": label} | dict.fromkeys(columns, SUPPRESSED))
            continue

        def amount(moneys: list[Money]) -> Decimal:
            return next((m.amount for m in moneys if m.currency == currency), Decimal(0))

        rows.append(
            {
                "month": label,
                "kg": outcomes.kg,
                "co2e_kg": outcomes.co2e_kg,
                "disposal_cost_avoided": amount(outcomes.disposal_cost_avoided),
                "paid": amount(outcomes.paid_to_suppliers),
                "trades": Decimal(outcomes.trades),
            }
        )
    return rows


def shown_cells(rows: list[Row]) -> list[dict[str, Decimal | str]]:
    found = []
    for row in rows:
        cells: dict[str, Decimal | str] = {}
        for key, value in row.cells.items():
            try:
                cells[key] = Decimal(value)
            except ArithmeticError:
                cells[key] = value
        found.append(cells)
    return found


# ---------------------------------------------------------------------------------------------
# Reading a rendered page


@dataclass
class Row:
    kind: str
    cells: dict[str, str] = field(default_factory=dict)  # col -> raw value, text or SUPPRESSED


@dataclass
class Rendered:
    figures: dict[str, str] = field(default_factory=dict)  # id -> raw value or SUPPRESSED
    tables: dict[str, list[Row]] = field(default_factory=dict)
    text: str = ""  # every text node, joined

    def rows(self, table: str, kind: str | None = None) -> list[Row]:
        return [r for r in self.tables.get(table, []) if kind is None or r.kind == kind]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Rendered()
        self.table: str | None = None
        self.row: Row | None = None
        self.col: str | None = None
        self.cell_text: list[str] = []
        self.texts: list[str] = []
        self.skip = 0  # inside <style>: not text a reader sees

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "style":
            self.skip += 1
        if tag == "table" and a.get("id", "").startswith("table-"):
            self.table = a["id"].removeprefix("table-")
            self.page.tables[self.table] = []
        elif tag == "tr" and self.table and "data-row" in a:
            self.row = Row(a["data-row"])
            self.page.tables[self.table].append(self.row)
        elif tag in ("td", "th") and self.row is not None and "data-col" in a:
            self.col = a["data-col"]
            self.cell_text = []
            if "suppressed" in classes:
                self.row.cells[self.col] = SUPPRESSED
        elif tag == "data":
            if self.row is not None and self.col is not None:
                self.row.cells[self.col] = a["value"]
            elif "id" in a:
                self.page.figures[a["id"]] = a["value"]
        elif "suppressed" in classes and "id" in a:
            self.page.figures[a["id"]] = SUPPRESSED

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.skip -= 1
        elif tag in ("td", "th") and self.row is not None and self.col is not None:
            self.row.cells.setdefault(self.col, " ".join("".join(self.cell_text).split()))
            self.col = None
        elif tag == "tr":
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.texts.append(data)
        if self.col is not None:
            self.cell_text.append(data)


def read_page(html: str) -> Rendered:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.page.text = " ".join(" ".join(reader.texts).split())
    return reader.page
