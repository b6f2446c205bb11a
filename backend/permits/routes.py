"""Plain HTTP for the authority's report of an umbrella permit: the CSV (with the bearer token,
for the apps and spreadsheets) and the printable HTML page (opened in a browser through the
signed link ``permitReportLink`` hands out: see ``backend.permits.service.report``).

The page is one HTML document rendered on the server (Jinja2, autoescaped) with one inline
stylesheet whose hash is the only thing its Content Security Policy allows: no script, font,
image or frame; it is never cached and sends no referrer (its address holds the link).
The CSV writes a text cell that a spreadsheet would run as a formula with a leading apostrophe
(as the insights exports do, OWASP's advice): members' names are typed by people.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from backend.auth.bearer import bearer_token, current_viewer
from backend.auth.viewer import Anonymous
from backend.kit.errors import ErrorCode, ServiceError
from backend.kit.money import plain
from backend.permits.service import report
from backend.permits.service.compliance import ConditionCompliance

router = APIRouter()

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = Markup((TEMPLATES / "report.css").read_text(encoding="utf-8").strip())  # noqa: S704
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # the address carries the signed link: never pass it on, never keep the page
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
CSV_TYPE = "text/csv; charset=utf-8"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
STATUS = {ErrorCode.NOT_FOUND: 404, ErrorCode.FORBIDDEN: 403, ErrorCode.VALIDATION: 400}
# What a spreadsheet starts a formula with (full-width forms too), as backend/insights/exports.
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def raw(value: Decimal) -> str:
    """A number as a ``<data value>``: exact, plain, no exponent."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def percent(share: Decimal | None) -> str:
    return "-" if share is None else f"{(share * 100).quantize(Decimal('0.1'))} %"


def render_page(found: report.PermitReport) -> str:
    return _templates.get_template("report.html").render(
        report=found, stylesheet=STYLESHEET, raw=raw, plain=plain, percent=percent
    )


def _error_page(status: int, message: str) -> HTMLResponse:
    body = _templates.from_string(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ m }}</title>'
        "<style>{{ s }}</style></head><body><h1>{{ m }}</h1></body></html>"
    ).render(m=message, s=STYLESHEET)
    return HTMLResponse(body, status, headers=PAGE_HEADERS)


def _json_error(error: ServiceError) -> Response:
    problem = error.problems[0]
    return JSONResponse(
        {"error": {"code": problem.code.value, "message": problem.message, "field": problem.field}},
        status_code=STATUS.get(problem.code, 400),
        headers={"Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------------------------------------
# CSV


def cell(value: str | int | Decimal | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return raw(value)
    if isinstance(value, int):
        return str(value)
    if value.lstrip(" ")[:1] in FORMULA_STARTS:
        return "'" + value
    return value


CSV_HEADER = (
    "permit_reference",
    "condition_id",
    "condition",
    "unit",
    "period_start",
    "period_end",
    "due",
    "row",
    "organisation_id",
    "organisation",
    "covered",
    "sent_to_disposal",
    "limit",
    "share",
    "status",
    "version",
    "late",
    "missing",
)


def _rows(found: report.PermitReport) -> Iterable[Sequence[str | int | Decimal | bool | None]]:
    reference = found.permit.reference
    for c in found.conditions:
        head = _condition_cells(reference, c)
        yield (
            *head,
            "total",
            None,
            None,
            None,
            c.total,
            c.condition.cap,
            c.share,
            c.status.value,
            None,
            None,
            None,
        )
        for m in c.members:
            spans = "; ".join(f"{s.covered_from}..{s.covered_to or ''}" for s in m.spans)
            yield (
                *head,
                "member",
                str(m.organisation_id),
                m.organisation_name,
                spans,
                m.figure,
                m.allocation,
                m.share,
                m.status.value,
                m.latest.version if m.latest else None,
                m.late,
                m.missing,
            )


def _condition_cells(reference: str, c: ConditionCompliance) -> tuple[str, ...]:
    return (
        reference,
        str(c.condition.id),
        c.condition.title,
        c.condition.unit_code,
        c.period.start.isoformat(),
        c.period.end.isoformat(),
        c.period.due.isoformat(),
    )


def report_csv(found: report.PermitReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in _rows(found):
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def _period_start(request: Request) -> date:
    text = request.query_params.get("periodStart") or ""
    try:
        if not DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ServiceError.of(
            ErrorCode.VALIDATION, "Use a date as YYYY-MM-DD", "periodStart"
        ) from None


@router.get("/permits/{permit_id}/report.csv", include_in_schema=False)
async def report_export(permit_id: str, request: Request) -> Response:
    state = request.app.state
    token = bearer_token(request)
    viewer = await current_viewer(state.security, state.access_check, token)
    if isinstance(viewer, Anonymous):
        return JSONResponse(
            {"error": {"code": "UNAUTHENTICATED", "message": "Sign in", "field": None}},
            status_code=401,
            headers={"Cache-Control": "no-store", "WWW-Authenticate": "Bearer"},
        )
    try:
        try:
            permit = uuid.UUID(permit_id)
        except ValueError:
            raise ServiceError.of(ErrorCode.NOT_FOUND, "Permit not found", "permitId") from None
        found = await report.permit_report(
            db=state.db,
            viewer=viewer,
            permit_id=permit,
            period_start=_period_start(request),
            now=state.clock.now(),
        )
    except ServiceError as error:
        return _json_error(error)
    filename = f"permit-{found.permit.id}-{found.period_start}.csv"
    return Response(
        report_csv(found),
        media_type=CSV_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
            "Vary": "Authorization",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/permits/report", include_in_schema=False)
async def report_page(request: Request) -> Response:
    """The printable page of a signed link: the link, then the sign-in and membership as they
    are now, then the standing towards the permit, each checked on every request."""
    state = request.app.state
    links = report.ReportLinks.of(state.settings)
    try:
        claims = links.read(request.query_params.get("link") or "")
    except ServiceError as error:
        return _error_page(403, error.problems[0].message)
    viewer = await state.access_check(claims.viewer)
    if isinstance(viewer, Anonymous):
        return _error_page(403, "This link's sign-in or membership has ended")
    try:
        found = await report.permit_report(
            db=state.db,
            viewer=viewer,
            permit_id=claims.permit_id,
            period_start=claims.period_start,
            now=state.clock.now(),
        )
    except ServiceError as error:
        problem = error.problems[0]
        return _error_page(STATUS.get(problem.code, 400), problem.message)
    return HTMLResponse(render_page(found), headers=PAGE_HEADERS)
