"""The insights' tables as CSV files, for a spreadsheet or a statistics package.

RFC 4180 (the ``csv`` module: comma, double quotes, CRLF), UTF-8, a header row, one row per
item. Numbers are plain (``1234.5``: no grouping, no exponent, no currency sign) so that every
program reads them as numbers; the currency is a column of its own. A suppressed figure (the
public audience, fewer than three organisations) is an empty cell with ``suppressed`` true,
never a number.

Text cells may hold what organisations typed (their names), so a text that a spreadsheet would
run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a line break, in ASCII or
full width) is written with a leading apostrophe, as OWASP advises; numbers are written by us
and stay as they are (a negative price must stay a number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from backend.identity.models import OrganisationKind
from backend.insights import service
from backend.insights.pages import MaterialName
from backend.insights.service import (
    ClusterComparison,
    ClusterInsights,
    Money,
    OrganisationLabel,
    SocialCapital,
    activity_title,
)

# What a spreadsheet starts a formula with (full-width forms too: some East Asian spreadsheet
# set-ups read them as their ASCII twins).
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

Value = str | int | float | Decimal | bool | None


def cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, int):
        return str(value)
    stripped = value.lstrip(" ")
    if stripped[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def write(header: Sequence[str], rows: Iterable[Sequence[Value]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def _amount(moneys: Sequence[Money], currency: str) -> Decimal:
    return next((m.amount for m in moneys if m.currency == currency), Decimal(0))


def _others(moneys: Sequence[Money], currency: str) -> str:
    return "; ".join(f"{cell(m.amount)} {m.currency}" for m in moneys if m.currency != currency)


@dataclass(frozen=True, slots=True)
class ExportData:
    """What a table is written from: the insights, the catalogue's material names, and the
    social capital (read only for the tables that need it)."""

    insights: ClusterInsights
    names: Mapping[str, MaterialName]
    social: SocialCapital | None = None


def _name(code: str | None, names: Mapping[str, MaterialName]) -> str | None:
    if code is None:
        return None
    found = names.get(code)
    return found.name if found else None


NETWORK_COLUMNS = (
    "cluster",
    "from",
    "to",
    "time_zone",
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
    "network_type",
    "dependent_suppliers",
    "isolated_members",
    "members",
    "members_at_start",
    "members_joined",
    "suppressed",
)


def network_csv(data: ExportData) -> str:
    insights = data.insights
    period, network, members = insights.period, insights.network, insights.members
    figures: list[Value] = [None] * 12
    if network is not None:
        figures = [
            network.organisations,
            network.links,
            network.density,
            network.centralisation,
            network.bilateral_share,
            network.multilateral_share,
            network.horizontal_links,
            network.vertical_links,
            network.links_of_unknown_activity,
            network.repeat_links,
            network.largest_component_share,
            network.type.value,
        ]
    row: list[Value] = [
        insights.cluster.slug,
        period.starts_on.isoformat(),
        period.ends_on.isoformat(),
        period.time_zone,
        *figures,
        insights.dependent_suppliers if network is not None else None,
        insights.isolated_members,
        members.total,
        members.at_start,
        members.joined,
        network is None,
    ]
    return write(NETWORK_COLUMNS, [row])


FLOW_COLUMNS = (
    "supplier_activity",
    "supplier_activity_title",
    "material_code",
    "material_name",
    "taker_activity",
    "taker_activity_title",
    "kg",
    "co2e_kg",
    "trades",
    "organisations",
    "other",
)


def flows_csv(data: ExportData) -> str:
    insights, names = data.insights, data.names
    return write(
        FLOW_COLUMNS,
        (
            (
                flow.supplier_activity,
                activity_title(flow.supplier_activity),
                flow.material_code,
                _name(flow.material_code, names),
                flow.taker_activity,
                activity_title(flow.taker_activity),
                flow.kg,
                flow.co2e_kg,
                flow.trades,
                flow.organisations,
                flow.other,
            )
            for flow in insights.flows
        ),
    )


MONTH_COLUMNS = (
    "month",
    "kg",
    "co2e_kg",
    "disposal_cost_avoided",
    "paid_to_suppliers",
    "currency",
    "other_currencies_disposal_cost_avoided",
    "other_currencies_paid_to_suppliers",
    "trades",
    "organisations",
    "method_versions",
    "suppressed",
)


def months_csv(data: ExportData) -> str:
    insights = data.insights
    currency = insights.cluster.currency
    rows: list[list[Value]] = []
    for month in insights.months:
        label = f"{month.month.year}-{month.month.month:02d}"
        outcomes = month.outcomes
        if outcomes.suppressed:
            rows.append([label, *([None] * 10), True])
            continue
        rows.append(
            [
                label,
                outcomes.kg,
                outcomes.co2e_kg,
                _amount(outcomes.disposal_cost_avoided, currency),
                _amount(outcomes.paid_to_suppliers, currency),
                currency,
                _others(outcomes.disposal_cost_avoided, currency),
                _others(outcomes.paid_to_suppliers, currency),
                outcomes.trades,
                outcomes.organisations,
                " ".join(outcomes.method_versions),
                False,
            ]
        )
    return write(MONTH_COLUMNS, rows)


UNMATCHED_COLUMNS = (
    "material_code",
    "material_name",
    "listings",
    "organisations",
    "kg",
    "listings_without_mass",
    "unmatched_after_days",
    "other",
)


def unmatched_csv(data: ExportData) -> str:
    insights, names = data.insights, data.names
    return write(
        UNMATCHED_COLUMNS,
        (
            (
                u.material_code,
                _name(u.material_code, names),
                u.listings,
                u.organisations,
                u.kg,
                u.listings_without_mass,
                insights.unmatched_after_days,
                u.other,
            )
            for u in insights.unmatched_by_material
        ),
    )


def _organisation(label: OrganisationLabel) -> list[Value]:
    """An organisation as the named view shows it: its id and name, or no id and "a firm in
    <activity>" when it opted out of being named."""
    return [
        str(label.id) if label.id else None,
        label.label,
        label.kind.value,
        label.activity_code,
        activity_title(label.activity_code),
    ]


ORGANISATION_COLUMNS = ("id", "organisation", "kind", "activity_code", "activity_title")


def anchors_csv(data: ExportData) -> str:
    insights = data.insights
    return write(
        (*ORGANISATION_COLUMNS, "kg", "share", "partners"),
        (
            [*_organisation(a.organisation), a.kg, a.share, a.partners]
            for a in service.all_anchors(insights)
        ),
    )


def dependences_csv(data: ExportData) -> str:
    insights = data.insights
    return write(
        (
            "supplier_id",
            "supplier",
            "supplier_activity_code",
            "taker_id",
            "taker",
            "taker_activity_code",
            "share",
            "supplied_kg",
            "takers",
        ),
        (
            [
                str(d.supplier.id) if d.supplier.id else None,
                d.supplier.label,
                d.supplier.activity_code,
                str(d.taker.id) if d.taker.id else None,
                d.taker.label,
                d.taker.activity_code,
                d.share,
                d.supplied_kg,
                d.takers,
            ]
            for d in service.all_dependences(insights)
        ),
    )


def isolated_csv(data: ExportData) -> str:
    insights = data.insights
    return write(
        ORGANISATION_COLUMNS,
        (_organisation(label) for label in service.all_isolated(insights)),
    )


KINDS = (OrganisationKind.FIRM, OrganisationKind.COMMUNITY, OrganisationKind.INSTITUTION)


def _social(data: ExportData) -> SocialCapital:
    assert data.social is not None, "the route reads the social capital for this table"
    return data.social


def joint_purchasing_csv(data: ExportData) -> str:
    rows: list[list[Value]] = []
    for saving in _social(data).savings:
        figures: list[Value] = [None] * 5
        if not saving.suppressed:
            figures = [
                saving.groups,
                saving.organisations,
                saving.at_single_buyer_price,
                saving.at_group_price,
                saving.saved,
            ]
        rows.append([saving.direction, saving.currency, *figures, saving.suppressed])
    return write(
        (
            "direction",
            "currency",
            "groups",
            "organisations",
            "at_single_buyer_price",
            "at_group_price",
            "saved",
            "suppressed",
        ),
        rows,
    )


def attendance_csv(data: ExportData) -> str:
    rows: list[list[Value]] = []
    for row in _social(data).attendance:
        figures: list[Value] = [None] * 5
        if not row.suppressed:
            figures = [row.registrations, row.seats, row.organisations, row.people, row.events]
        rows.append([row.kind.value if row.kind else None, *figures, row.suppressed])
    return write(
        (
            "organisation_kind",
            "registrations",
            "seats",
            "organisations",
            "people",
            "events",
            "suppressed",
        ),
        rows,
    )


def events_csv(data: ExportData) -> str:
    social = _social(data)
    return write(
        ("organiser_kind", "events_held"),
        [
            *([kind.value, social.events_by_organiser_kind.get(kind, 0)] for kind in KINDS),
            ["ALL", social.events_held],
        ],
    )


def forums_csv(data: ExportData) -> str:
    forums = _social(data).forums
    header = (
        "forums",
        "threads",
        "posts",
        "organisations",
        "threads_across_organisations",
        *(f"organisations_{kind.value.lower()}" for kind in KINDS),
        "suppressed",
    )
    if forums is None:
        return write(header, [[*([None] * (len(header) - 1)), True]])
    return write(
        header,
        [
            [
                forums.forums,
                forums.threads,
                forums.posts,
                forums.organisations,
                forums.threads_across_organisations,
                *(forums.by_kind.get(kind, 0) for kind in KINDS),
                False,
            ]
        ],
    )


@dataclass(frozen=True, slots=True)
class Export:
    write: Callable[[ExportData], str]
    named: bool = False  # only the named audience (the service refuses others)
    social: bool = False  # written from the social capital (six more statements)


EXPORTS: dict[str, Export] = {
    "network": Export(network_csv),
    "flows": Export(flows_csv),
    "months": Export(months_csv),
    "unmatched-materials": Export(unmatched_csv),
    "joint-purchasing": Export(joint_purchasing_csv, social=True),
    "attendance": Export(attendance_csv, social=True),
    "events": Export(events_csv, social=True),
    "forums": Export(forums_csv, social=True),
    "anchors": Export(anchors_csv, named=True),
    "dependences": Export(dependences_csv, named=True),
    "isolated": Export(isolated_csv, named=True),
}

CONVERSIONS = 3


def comparison_csv(rows: Sequence[ClusterComparison], names: Mapping[str, MaterialName]) -> str:
    conversion_columns = [
        f"conversion_{n}_{part}"
        for n in range(1, CONVERSIONS + 1)
        for part in ("material_code", "material_name", "from_activity", "to_activity", "kg")
    ]
    header = [
        "cluster",
        "name",
        "country",
        "sector",
        "from",
        "to",
        "members",
        "members_at_start",
        "members_joined",
        "growth",
        "network_type",
        "organisations",
        "links",
        "density",
        "centralisation",
        "kg",
        "co2e_kg",
        "disposal_cost_avoided",
        "paid_to_suppliers",
        "currency",
        "trades",
        "totals_suppressed",
        *conversion_columns,
    ]
    lines = []
    for comparison in rows:
        insights = comparison.insights
        cluster, members, network, totals = (
            insights.cluster,
            insights.members,
            insights.network,
            insights.totals,
        )
        currency = cluster.currency
        conversions: list[Value] = []
        for flow in comparison.top_conversions[:CONVERSIONS]:
            conversions += [
                flow.material_code,
                _name(flow.material_code, names),
                flow.supplier_activity,
                flow.taker_activity,
                flow.kg,
            ]
        conversions += [None] * (len(conversion_columns) - len(conversions))
        shown_totals: list[Value] = [None] * 5
        if not totals.suppressed:
            shown_totals = [
                totals.kg,
                totals.co2e_kg,
                _amount(totals.disposal_cost_avoided, currency),
                _amount(totals.paid_to_suppliers, currency),
                currency,
            ]
        lines.append(
            [
                cluster.slug,
                cluster.name,
                cluster.country,
                cluster.sector.value,
                insights.period.starts_on.isoformat(),
                insights.period.ends_on.isoformat(),
                members.total,
                members.at_start,
                members.joined,
                members.growth,
                network.type.value if network else None,
                network.organisations if network else None,
                network.links if network else None,
                network.density if network else None,
                network.centralisation if network else None,
                *shown_totals,
                None if totals.suppressed else totals.trades,
                totals.suppressed,
                *conversions,
            ]
        )
    return write(header, lines)
