"""The insights web pages: a cluster's page and the comparison of clusters, rendered on the
server from what ``backend.insights.service`` computed, always as the public sees it.

Nothing here computes a figure: the page formats the service's numbers, puts them in
``<data value="...">`` elements (the raw number, so that a test or a scraper reads exactly the
service's figure) and draws them (``backend.insights.charts``). A suppressed figure is written
as the words "fewer than 3 organisations" in the page's language, never as a number, an empty
cell or a bar's height.

The page is one HTML document with one small inline stylesheet (its hash is in the Content
Security Policy, so nothing else can style or script the page), inline SVG charts, and no
script, font or image from anywhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from backend.catalogue import service as catalogue_service
from backend.identity.models import Cluster, OrganisationKind
from backend.insights import charts
from backend.insights.cache import cache_for
from backend.insights.network import (
    ANCHOR_CENTRALISATION,
    COMPLETE_DENSITY,
    CONNECTED_SHARE,
    DEPENDENCE_SHARE,
    NetworkType,
)
from backend.insights.period import Period
from backend.insights.service import (
    ActivityFlow,
    ClusterComparison,
    ClusterInsights,
    Money,
    Outcomes,
    SocialCapital,
    activity_title,
)
from backend.insights.translations import LANGUAGES, Labels
from backend.kit.db import Database

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = Markup((TEMPLATES / "style.css").read_text(encoding="utf-8").strip())  # noqa: S704
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
# The inline stylesheet is the only thing the page may load or run: no script, font, image or
# frame; the period form submits to this site only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# Tables a page links to; the named ones answer only verified institutions and admins.
PUBLIC_TABLES = (
    "network",
    "flows",
    "months",
    "unmatched-materials",
    "joint-purchasing",
    "attendance",
    "events",
    "forums",
)
NAMED_TABLES = ("anchors", "dependences", "isolated")
# Currencies written without decimals (ISO 4217 minor unit 0) among the clusters'.
WHOLE_CURRENCIES = frozenset({"JPY", "VND", "KRW", "CLP", "ISK", "UGX"})

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


# ---------------------------------------------------------------------------------------------
# Numbers as a reader of the language writes them


@dataclass(frozen=True, slots=True)
class Numbers:
    """Digit grouping and decimal mark of the page's language (Vietnamese swaps them)."""

    language: str

    def plain(self, value: Decimal | float | int, decimals: int = 0) -> str:
        text = f"{Decimal(str(value)):,.{decimals}f}"
        if self.language == "vi":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def kg(self, value: Decimal) -> str:
        return f"{self.plain(value, 0 if abs(value) >= 10 else 1)} kg"

    def money(self, money: Money) -> str:
        decimals = 0 if money.currency in WHOLE_CURRENCIES else 2
        return f"{self.plain(money.amount, decimals)} {money.currency}"

    def ratio(self, value: float) -> str:
        return self.plain(value, 2)

    def percent(self, value: float, *, signed: bool = False) -> str:
        text = self.plain(value * 100, 0) + "%"
        return ("+" + text) if signed and value > 0 else text


def raw(value: Decimal | float | int) -> str:
    """A number as the ``value`` of a ``<data>`` element: exact, plain, no exponent."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# ---------------------------------------------------------------------------------------------
# What the templates show


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure with its one-line definition. ``value``: the raw number (None: suppressed
    when ``suppressed``, else a text-only figure)."""

    id: str
    label: str
    text: str
    value: str | None = None
    definition: str = ""
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    col: str
    text: str
    value: str | None = None  # a number's raw value
    numeric: bool = False
    suppressed: bool = False
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    kind: str  # data-row: what the row is (flow, flow-other, month, ...)
    cells: list[Cell]
    header: str = ""  # a first cell shown as a row header (the comparison)


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    headers: list[tuple[str, bool]]  # (label, numeric)
    rows: list[Row]
    row_headers: bool = False  # each row starts with its header (the comparison)


@dataclass(frozen=True, slots=True)
class Chart:
    caption: str
    svg: Markup


@dataclass(frozen=True, slots=True)
class Download:
    href: str
    label: str
    named: bool


@dataclass(slots=True)
class Page:
    """What base.html needs, and what each page adds."""

    language: str
    t: Labels
    title: str
    languages: list[tuple[str, str, str, bool]]  # (code, name, href, current)
    stylesheet: Markup = STYLESHEET
    sections: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MaterialName:
    name: str
    local_names: Mapping[str, str]

    def in_language(self, language: str) -> str:
        return self.local_names.get(language) or self.name


async def material_names(db: Database, codes: Sequence[str]) -> dict[str, MaterialName]:
    """The catalogue's names of ``codes`` (through the catalogue service), kept with the
    computed insights until the materials table is written."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}

    async def read() -> dict[str, MaterialName]:
        found = await catalogue_service.materials_by_code(db=db, codes=wanted)
        return {
            code: MaterialName(material.name, dict(material.local_names))
            for code, material in found.items()
        }

    return await cache_for(db).get_or_compute(
        "material-names:" + ",".join(wanted), frozenset({"materials"}), read
    )


def materials_of(insights: ClusterInsights) -> list[str]:
    codes = [f.material_code for f in insights.flows if f.material_code]
    codes += [u.material_code for u in insights.unmatched_by_material if u.material_code]
    return codes


def _query(**values: str | None) -> str:
    given = {key: value for key, value in values.items() if value}
    return ("?" + urlencode(given)) if given else ""


def _languages(current: str, path: str, **query: str | None) -> list[tuple[str, str, str, bool]]:
    return [
        (code, name, path + _query(**query, lang=code), code == current)
        for code, name in LANGUAGES.items()
    ]


def _thresholds(numbers: Numbers) -> dict[str, str]:
    return {
        "density": numbers.ratio(COMPLETE_DENSITY),
        "anchor": numbers.ratio(ANCHOR_CENTRALISATION),
        "connected": numbers.percent(CONNECTED_SHARE),
        "dependence": numbers.percent(float(DEPENDENCE_SHARE)),
    }


def _activity(code: str | None, t: Labels) -> str:
    if code is None:
        return t["activity_unknown"]
    title = activity_title(code)
    return f"{code} {title}" if title else code


def _material(code: str | None, names: Mapping[str, MaterialName], language: str) -> str:
    if code is None:
        return ""
    name = names.get(code)
    return name.in_language(language) if name else code


def _amount(moneys: Sequence[Money], currency: str) -> Decimal:
    return next((m.amount for m in moneys if m.currency == currency), Decimal(0))


def _moneys_text(moneys: Sequence[Money], currency: str, numbers: Numbers) -> str:
    shown = list(moneys) or [Money(Decimal(0), currency)]
    return "; ".join(numbers.money(m) for m in shown)


# ---------------------------------------------------------------------------------------------
# A cluster's page


def _outcome_figures(totals: Outcomes, currency: str, t: Labels, numbers: Numbers) -> list[Figure]:
    suppressed = t["suppressed"]
    if totals.suppressed:
        return [
            Figure(f"totals-{key}", t[key], suppressed, suppressed=True)
            for key in (
                "diverted_kg",
                "co2e_avoided",
                "disposal_cost_avoided",
                "paid_to_suppliers",
                "trades",
            )
        ]
    versions = ", ".join(totals.method_versions) or t["none"]
    return [
        Figure("totals-diverted_kg", t["diverted_kg"], numbers.kg(totals.kg), raw(totals.kg)),
        Figure(
            "totals-co2e_avoided",
            t["co2e_avoided"],
            numbers.kg(totals.co2e_kg),
            raw(totals.co2e_kg),
        ),
        Figure(
            "totals-disposal_cost_avoided",
            t["disposal_cost_avoided"],
            _moneys_text(totals.disposal_cost_avoided, currency, numbers),
            raw(_amount(totals.disposal_cost_avoided, currency)),
        ),
        Figure(
            "totals-paid_to_suppliers",
            t["paid_to_suppliers"],
            _moneys_text(totals.paid_to_suppliers, currency, numbers),
            raw(_amount(totals.paid_to_suppliers, currency)),
        ),
        Figure("totals-trades", t["trades"], numbers.plain(totals.trades), raw(totals.trades)),
        Figure(
            "totals-organisations",
            t["organisations_trading"],
            numbers.plain(totals.organisations),
            raw(totals.organisations),
        ),
        Figure("totals-method_versions", t["method_versions"], versions),
    ]


def _network_figures(insights: ClusterInsights, t: Labels, numbers: Numbers) -> list[Figure]:
    thresholds = _thresholds(numbers)
    network = insights.network

    def figure(key: str, value: float | int | None, text: str) -> Figure:
        definition = t[f"def_{key}"].format(**thresholds)
        if value is None:
            return Figure(
                f"fig-{key}", t[f"fig_{key}"], t["suppressed"], None, definition, suppressed=True
            )
        return Figure(f"fig-{key}", t[f"fig_{key}"], text, raw(value), definition)

    isolated = figure(
        "isolated_members", insights.isolated_members, numbers.plain(insights.isolated_members)
    )
    if network is None:
        return [
            figure("organisations", None, ""),
            figure("dependent_suppliers", None, ""),
            isolated,
        ]
    return [
        figure("organisations", network.organisations, numbers.plain(network.organisations)),
        figure("links", network.links, numbers.plain(network.links)),
        figure("density", network.density, numbers.ratio(network.density)),
        figure("centralisation", network.centralisation, numbers.ratio(network.centralisation)),
        figure(
            "bilateral_share", network.bilateral_share, numbers.percent(network.bilateral_share)
        ),
        figure(
            "multilateral_share",
            network.multilateral_share,
            numbers.percent(network.multilateral_share),
        ),
        figure(
            "horizontal_links", network.horizontal_links, numbers.plain(network.horizontal_links)
        ),
        figure("vertical_links", network.vertical_links, numbers.plain(network.vertical_links)),
        figure(
            "links_of_unknown_activity",
            network.links_of_unknown_activity,
            numbers.plain(network.links_of_unknown_activity),
        ),
        figure("repeat_links", network.repeat_links, numbers.plain(network.repeat_links)),
        figure(
            "largest_component_share",
            network.largest_component_share,
            numbers.percent(network.largest_component_share),
        ),
        figure(
            "dependent_suppliers",
            insights.dependent_suppliers,
            numbers.plain(insights.dependent_suppliers or 0),  # shown with the network
        ),
        isolated,
    ]


def _member_figures(insights: ClusterInsights, t: Labels, numbers: Numbers) -> list[Figure]:
    members = insights.members
    growth = (
        Figure("members-growth", t["growth"], t["growth_none"])
        if members.growth is None
        else Figure(
            "members-growth",
            t["growth"],
            numbers.percent(members.growth, signed=True),
            raw(members.growth),
        )
    )
    return [
        Figure(f"members-{key}", t[label], numbers.plain(value), raw(value))
        for key, label, value in (
            ("total", "members_total", members.total),
            ("firms", "firms", members.firms),
            ("communities", "communities", members.communities),
            ("institutions", "institutions", members.institutions),
            ("at_start", "members_at_start", members.at_start),
            ("joined", "members_joined", members.joined),
        )
    ] + [growth]


def _number_cell(col: str, value: Decimal | int, text: str) -> Cell:
    return Cell(col, text, raw(value), numeric=True)


def _flows(
    flows: Sequence[ActivityFlow],
    names: Mapping[str, MaterialName],
    t: Labels,
    numbers: Numbers,
    language: str,
) -> tuple[Table, Markup | None]:
    rows, bands = [], []
    colours = charts.colours_of([f.material_code for f in flows if f.material_code])
    for flow in flows:
        if flow.other:
            source = target = t["other"]
            material = t["other_flows"]
            colour = charts.OTHER
        else:
            source = _activity(flow.supplier_activity, t)
            target = _activity(flow.taker_activity, t)
            material = _material(flow.material_code, names, language)
            colour = colours.get(flow.material_code or "", charts.OTHER)
        rows.append(
            Row(
                "flow-other" if flow.other else "flow",
                [
                    Cell("from_activity", source),
                    Cell("material", material),
                    Cell("to_activity", target),
                    _number_cell("kg", flow.kg, numbers.kg(flow.kg)),
                    _number_cell("co2e_kg", flow.co2e_kg, numbers.kg(flow.co2e_kg)),
                    _number_cell("trades", flow.trades, numbers.plain(flow.trades)),
                    _number_cell(
                        "organisations", flow.organisations, numbers.plain(flow.organisations)
                    ),
                ],
            )
        )
        bands.append(
            charts.Band(
                source="other" if flow.other else f"a:{flow.supplier_activity}",
                source_label=source,
                target="other" if flow.other else f"a:{flow.taker_activity}",
                target_label=target,
                colour=colour,
                colour_label=material,
                value=float(flow.kg),
                title=f"{material}: {source} → {target}, {numbers.kg(flow.kg)}",
            )
        )
    table = Table(
        "flows",
        [
            (t["from_activity"], False),
            (t["material"], False),
            (t["to_activity"], False),
            (t["diverted_kg"], True),
            (t["co2e_avoided"], True),
            (t["trades"], True),
            (t["organisations_col"], True),
        ],
        rows,
    )
    svg = None
    if any(b.value > 0 for b in bands):
        svg = Markup(  # noqa: S704 - charts escapes every text it draws
            charts.sankey(bands, caption=t["flows"], legend_title=t["materials_legend"])
        )
    return table, svg


def _months(insights: ClusterInsights, t: Labels, numbers: Numbers) -> tuple[Table, list[Chart]]:
    currency = insights.cluster.currency
    suppressed = t["suppressed"]
    rows = []
    series: dict[str, list[charts.Point]] = {key: [] for key in ("kg", "co2e", "disposal", "paid")}
    for index, month in enumerate(insights.months):
        day = month.month
        label = f"{day.year}-{day.month:02d}"
        short, year = f"{day.month:02d}", (str(day.year) if index == 0 or day.month == 1 else "")
        outcomes = month.outcomes
        if outcomes.suppressed:
            rows.append(
                Row(
                    "month",
                    [Cell("month", label)]
                    + [
                        Cell(col, suppressed, suppressed=True)
                        for col in ("kg", "co2e_kg", "disposal_cost_avoided", "paid", "trades")
                    ],
                )
            )
            for key in series:
                series[key].append(charts.Point(short, year, None, f"{label}: {suppressed}"))
            continue
        disposal = _amount(outcomes.disposal_cost_avoided, currency)
        paid = _amount(outcomes.paid_to_suppliers, currency)
        rows.append(
            Row(
                "month",
                [
                    Cell("month", label),
                    _number_cell("kg", outcomes.kg, numbers.kg(outcomes.kg)),
                    _number_cell("co2e_kg", outcomes.co2e_kg, numbers.kg(outcomes.co2e_kg)),
                    _number_cell(
                        "disposal_cost_avoided",
                        disposal,
                        _moneys_text(outcomes.disposal_cost_avoided, currency, numbers),
                    ),
                    _number_cell(
                        "paid", paid, _moneys_text(outcomes.paid_to_suppliers, currency, numbers)
                    ),
                    _number_cell("trades", outcomes.trades, numbers.plain(outcomes.trades)),
                ],
            )
        )
        for key, value, text in (
            ("kg", outcomes.kg, numbers.kg(outcomes.kg)),
            ("co2e", outcomes.co2e_kg, numbers.kg(outcomes.co2e_kg)),
            ("disposal", disposal, numbers.money(Money(disposal, currency))),
            ("paid", paid, numbers.money(Money(paid, currency))),
        ):
            series[key].append(charts.Point(short, year, float(value), f"{label}: {text}"))
    table = Table(
        "months",
        [
            (t["month"], False),
            (t["diverted_kg"], True),
            (t["co2e_avoided"], True),
            (t["disposal_cost_avoided"], True),
            (t["paid_to_suppliers"], True),
            (t["trades"], True),
        ],
        rows,
    )
    captions = {
        "kg": f"{t['diverted_kg']} (kg)",
        "co2e": f"{t['co2e_avoided']} (kg)",
        "disposal": f"{t['disposal_cost_avoided']} ({currency})",
        "paid": f"{t['paid_to_suppliers']} ({currency})",
    }
    drawn = [
        Chart(captions["kg"], Markup(charts.bar_chart(series["kg"], caption=captions["kg"]))),  # noqa: S704
        Chart(
            captions["co2e"],
            Markup(charts.bar_chart(series["co2e"], caption=captions["co2e"], colour="#5a8f29")),  # noqa: S704
        ),
        Chart(
            captions["disposal"],
            Markup(charts.line_chart(series["disposal"], caption=captions["disposal"])),  # noqa: S704
        ),
        Chart(
            captions["paid"],
            Markup(  # noqa: S704
                charts.line_chart(series["paid"], caption=captions["paid"], colour="#a3501e")
            ),
        ),
    ]
    return table, drawn


def _unmatched(
    insights: ClusterInsights,
    names: Mapping[str, MaterialName],
    t: Labels,
    numbers: Numbers,
    language: str,
) -> Table:
    rows = [
        Row(
            "unmatched-other" if u.other else "unmatched",
            [
                Cell(
                    "material",
                    t["other_materials"]
                    if u.other
                    else _material(u.material_code, names, language),
                ),
                _number_cell("listings", u.listings, numbers.plain(u.listings)),
                _number_cell("organisations", u.organisations, numbers.plain(u.organisations)),
                _number_cell("kg", u.kg, numbers.kg(u.kg)),
                _number_cell(
                    "listings_without_mass",
                    u.listings_without_mass,
                    numbers.plain(u.listings_without_mass),
                ),
            ],
        )
        for u in insights.unmatched_by_material
    ]
    return Table(
        "unmatched",
        [
            (t["material"], False),
            (t["listings"], True),
            (t["organisations_col"], True),
            (t["available_kg"], True),
            (t["without_mass"], True),
        ],
        rows,
    )


KINDS = (OrganisationKind.FIRM, OrganisationKind.COMMUNITY, OrganisationKind.INSTITUTION)


def _social(social: SocialCapital, t: Labels, numbers: Numbers) -> dict[str, object]:
    """Joint purchasing, event attendance, events held and forum activity, as the service
    gives them (suppressed rows read "fewer than 3 organisations")."""
    suppressed = t["suppressed"]
    savings_rows = []
    for saving in social.savings:
        label = Cell("direction", t[f"direction_{saving.direction}"])
        currency = Cell("currency", saving.currency)
        columns = ("groups", "organisations", "at_single_buyer_price", "at_group_price", "saved")
        if saving.suppressed:
            cells = [Cell(col, suppressed, suppressed=True) for col in columns]
        else:
            money = [
                _number_cell(col, amount, numbers.money(Money(amount, saving.currency)))
                for col, amount in (
                    ("at_single_buyer_price", saving.at_single_buyer_price),
                    ("at_group_price", saving.at_group_price),
                    ("saved", saving.saved),
                )
            ]
            cells = [
                _number_cell("groups", saving.groups, numbers.plain(saving.groups)),
                _number_cell(
                    "organisations", saving.organisations, numbers.plain(saving.organisations)
                ),
                *money,
            ]
        savings_rows.append(Row("saving", [label, currency, *cells]))
    attendance_rows = []
    for row in social.attendance:
        kind = Cell("kind", t[f"kind_{row.kind.value if row.kind else 'NONE'}"])
        columns = ("registrations", "seats", "organisations", "people", "events")
        if row.suppressed:
            cells = [Cell(col, suppressed, suppressed=True) for col in columns]
        else:
            cells = [
                _number_cell(col, getattr(row, col), numbers.plain(getattr(row, col)))
                for col in columns
            ]
        attendance_rows.append(Row("attendance", [kind, *cells]))
    held = [
        Figure(
            "events-held",
            t["events_total"],
            numbers.plain(social.events_held),
            raw(social.events_held),
        )
    ] + [
        Figure(
            f"events-held-{kind.value.lower()}",
            t[f"held_{kind.value}"],
            numbers.plain(social.events_by_organiser_kind.get(kind, 0)),
            raw(social.events_by_organiser_kind.get(kind, 0)),
        )
        for kind in KINDS
    ]
    forums = social.forums
    forum_figures: list[Figure] = []
    if forums is not None:
        forum_figures = [
            Figure(f"forums-{key}", t[label], numbers.plain(value), raw(value))
            for key, label, value in (
                ("forums", "forum_forums", forums.forums),
                ("threads", "forum_threads", forums.threads),
                ("posts", "forum_posts", forums.posts),
                ("organisations", "forum_organisations", forums.organisations),
                ("across", "forum_across", forums.threads_across_organisations),
            )
        ] + [
            Figure(
                f"forums-{kind.value.lower()}",
                t[f"forum_{kind.value}"],
                numbers.plain(forums.by_kind.get(kind, 0)),
                raw(forums.by_kind.get(kind, 0)),
            )
            for kind in KINDS
        ]
    return {
        "savings": Table(
            "savings",
            [
                (t["direction"], False),
                (t["currency"], False),
                (t["groups"], True),
                (t["organisations_col"], True),
                (t["at_single_buyer_price"], True),
                (t["at_group_price"], True),
                (t["saved"], True),
            ],
            savings_rows,
        ),
        "attendance": Table(
            "attendance",
            [
                (t["kind"], False),
                (t["registrations"], True),
                (t["seats"], True),
                (t["organisations_col"], True),
                (t["people"], True),
                (t["events"], True),
            ],
            attendance_rows,
        ),
        "events_held": held,
        "forums": forum_figures,
        "forums_suppressed": forums is None,
    }


def _period_query(period: Period, language: str | None) -> str:
    return _query(
        **{"from": period.starts_on.isoformat(), "to": period.ends_on.isoformat()}, lang=language
    )


def cluster_page(
    insights: ClusterInsights,
    social: SocialCapital,
    *,
    language: str,
    explicit_language: bool,
    names: Mapping[str, MaterialName],
    given_from: str | None,
    given_to: str | None,
) -> str:
    """The public page of one cluster's insights, in ``language``."""
    t = Labels(language)
    numbers = Numbers(language)
    cluster = insights.cluster
    path = f"/insights/{cluster.slug}"
    network = insights.network
    network_type = network.type if network is not None else None
    thresholds = _thresholds(numbers)
    flows_table, sankey = _flows(insights.flows, names, t, numbers, language)
    months_table, month_charts = _months(insights, t, numbers)
    csv_query = _period_query(insights.period, None)
    page = Page(
        language=language,
        t=t,
        title=f"{cluster.name} · {t['insights']}",
        languages=_languages(language, path, **{"from": given_from, "to": given_to}),
    )
    page.sections = {
        "cluster": cluster,
        "sector": _sector(cluster, t),
        "period": insights.period,
        "lang_param": language if explicit_language else None,
        "time_zone": t["time_zone"].format(zone=cluster.timezone),
        "outcomes": _outcome_figures(insights.totals, cluster.currency, t, numbers),
        "network_type": network_type.value if network_type else None,
        "network_type_label": t[f"type_{network_type.value}"] if network_type else "",
        "network_type_explained": (
            t[f"explain_{network_type.value}"].format(**thresholds) if network_type else ""
        ),
        "network_figures": _network_figures(insights, t, numbers),
        "network_types": [
            (t[f"type_{kind.value}"], t[f"explain_{kind.value}"].format(**thresholds))
            for kind in NetworkType
        ],
        "members": _member_figures(insights, t, numbers),
        "flows": flows_table,
        "sankey": sankey,
        "months": months_table,
        "month_charts": month_charts,
        "unmatched": _unmatched(insights, names, t, numbers, language),
        "unmatched_intro": t["unmatched_intro"].format(days=insights.unmatched_after_days),
        "social": _social(social, t, numbers),
        "downloads": [
            Download(f"{path}/{table}.csv{csv_query}", t[f"table_{table}"], named=False)
            for table in PUBLIC_TABLES
        ]
        + [
            Download(f"{path}/{table}.csv{csv_query}", t[f"table_{table}"], named=True)
            for table in NAMED_TABLES
        ],
        "comparison_href": "/insights" + _query(lang=language if explicit_language else None),
    }
    return _templates.get_template("cluster.html").render(page=page, t=t, s=page.sections)


def _sector(cluster: Cluster, t: Labels) -> str:
    return t.get(f"sector_{cluster.sector.value}", cluster.sector.value)


# ---------------------------------------------------------------------------------------------
# The comparison


def comparison_page(
    rows: Sequence[ClusterComparison],
    *,
    language: str,
    explicit_language: bool,
    names: Mapping[str, MaterialName],
    given_from: str | None,
    given_to: str | None,
) -> str:
    """The brief's Table 1, computed: a column per cluster, a row per attribute."""
    t = Labels(language)
    numbers = Numbers(language)
    suppressed = t["suppressed"]
    lang_param = language if explicit_language else None

    def column(comparison: ClusterComparison) -> dict[str, Cell]:
        insights = comparison.insights
        cluster = insights.cluster
        slug = cluster.slug
        members = insights.members
        cells: dict[str, Cell] = {
            "sector": Cell(slug, _sector(cluster, t)),
            "country": Cell(slug, cluster.country),
            "members": Cell(slug, numbers.plain(members.total), raw(members.total)),
            "growth": (
                Cell(slug, t["growth_none"])
                if members.growth is None
                else Cell(
                    slug,
                    f"{numbers.percent(members.growth, signed=True)} "
                    f"({numbers.plain(members.at_start)} → {numbers.plain(members.total)})",
                    raw(members.growth),
                )
            ),
        }
        network = insights.network
        cells["network_type"] = (
            Cell(slug, suppressed, suppressed=True)
            if network is None
            else Cell(slug, t[f"type_{network.type.value}"], network.type.value)
        )
        conversions = [
            f"{_material(flow.material_code, names, language)}: "
            f"{_activity(flow.supplier_activity, t)} → {_activity(flow.taker_activity, t)} "
            f"({numbers.kg(flow.kg)})"
            for flow in comparison.top_conversions
        ]
        cells["main_eco_activities"] = Cell(slug, "\n".join(conversions) or t["none"])
        totals = insights.totals
        currency = cluster.currency
        if totals.suppressed:
            for key in (
                "diverted_kg",
                "co2e_avoided",
                "disposal_cost_avoided",
                "paid_to_suppliers",
            ):
                cells[key] = Cell(slug, suppressed, suppressed=True)
        else:
            cells["diverted_kg"] = Cell(slug, numbers.kg(totals.kg), raw(totals.kg))
            cells["co2e_avoided"] = Cell(slug, numbers.kg(totals.co2e_kg), raw(totals.co2e_kg))
            cells["disposal_cost_avoided"] = Cell(
                slug,
                _moneys_text(totals.disposal_cost_avoided, currency, numbers),
                raw(_amount(totals.disposal_cost_avoided, currency)),
            )
            cells["paid_to_suppliers"] = Cell(
                slug,
                _moneys_text(totals.paid_to_suppliers, currency, numbers),
                raw(_amount(totals.paid_to_suppliers, currency)),
            )
        cells["open"] = Cell(
            slug,
            t["open_page"],
            href=f"/insights/{slug}"
            + _query(**{"from": given_from, "to": given_to}, lang=lang_param),
        )
        return cells

    columns = [column(row) for row in rows]
    attributes = [
        ("sector", t["sector"]),
        ("country", t["country"]),
        ("members", t["members_total"]),
        ("growth", t["growth_row"]),
        ("network_type", t["network_type"]),
        ("main_eco_activities", t["main_eco_activities"]),
        ("diverted_kg", f"{t['key_benefits']}: {t['diverted_kg']}"),
        ("co2e_avoided", f"{t['key_benefits']}: {t['co2e_avoided']}"),
        ("disposal_cost_avoided", f"{t['key_benefits']}: {t['disposal_cost_avoided']}"),
        ("paid_to_suppliers", f"{t['key_benefits']}: {t['paid_to_suppliers']}"),
        ("open", ""),
    ]
    table = Table(
        "comparison",
        [(t["cluster"], False)] + [(row.insights.cluster.name, False) for row in rows],
        [Row(key, [cells[key] for cells in columns], header=label) for key, label in attributes],
        row_headers=True,
    )
    period = rows[0].insights.period if rows else None
    page = Page(
        language=language,
        t=t,
        title=t["comparison_title"],
        languages=_languages(language, "/insights", **{"from": given_from, "to": given_to}),
    )
    page.sections = {
        "table": table,
        "period": period,
        "lang_param": lang_param,
        "csv_href": "/insights/comparison.csv"
        + (_period_query(period, None) if period is not None else ""),
        "types": [
            (t[f"type_{kind.value}"], t[f"explain_{kind.value}"].format(**_thresholds(numbers)))
            for kind in NetworkType
        ],
    }
    return _templates.get_template("comparison.html").render(page=page, t=t, s=page.sections)


def error_page(*, language: str, title: str, message: str) -> str:
    t = Labels(language)
    page = Page(language=language, t=t, title=title, languages=[])
    page.sections = {"message": message}
    return _templates.get_template("error.html").render(page=page, t=t, s=page.sections)
