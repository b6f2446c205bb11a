"""What the tests of the insights pages and exports share: a wood cluster whose trades are built
through the real API, and a reader of the rendered pages (the ``<data value>`` figures and the
rows of each table, as a browser's DOM or the server's HTML has them). Not a test module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import update

from backend.auth.viewer import Anonymous
from backend.identity.models import Organisation
from backend.insights import service
from backend.insights.service import ClusterInsights
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.identity.kit import second_cluster, verify
from tests.marketplace.trading_kit import completed_trade, publish

# The period every test reads (calendar days in Asia/Tokyo): the trades are in January and
# February 2027, the test clock stands at 1 March 2027.
FROM, TO = date(2026, 4, 1), date(2027, 3, 31)
PERIOD = f"from={FROM.isoformat()}&to={TO.isoformat()}"
JANUARY = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)
FEBRUARY = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)
SAWMILLING, WOOD_PRODUCTS, POWER = "1610", "1629", "3510"
# A name a spreadsheet would run as a formula, with quotes that RFC 4180 must escape.
FORMULA_NAME = '=HYPERLINK("http://evil.example","Open") Mokuzai'
OPTED_OUT_LABEL = "A firm in sawmilling and planing of wood"
SUPPRESSED = "\x00suppressed"  # what the reader records for a suppressed figure or cell


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
    maker (five organisations: a flow and a month the public sees), in February one sawmill
    sold trimmings to a power plant (two organisations: a flow and a month suppressed), one of
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


async def public_insights(db: Database, wood: Wood, clock: ManualClock) -> ClusterInsights:
    """What the service computes for the public over the tests' period."""
    return await service.cluster_insights(
        db=db,
        viewer=Anonymous(),
        cluster_id=uuid.UUID(wood.cluster_id),
        starts_on=FROM,
        ends_on=TO,
        now=clock.now(),
    )


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
