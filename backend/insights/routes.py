"""Plain HTTP for the cluster insights: the public web pages (a cluster's page and the comparison
of clusters) and the CSV export of each table.

The pages are always the public audience: a browser following a link sends no bearer token.
A CSV is what its bearer token's viewer may see (``backend.insights.policies``): the public
tables to everyone (unsuppressed for the named audience), the named tables (anchors, dependent
suppliers, isolated members) only to verified institutions of the cluster and platform admins.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from backend.auth.addresses import limited_unit
from backend.auth.bearer import bearer_token, current_viewer
from backend.auth.clients import client_address_of
from backend.auth.ratelimit import Budget
from backend.auth.viewer import Anonymous, Viewer
from backend.insights import exports, pages, service
from backend.insights.translations import Labels, language_for
from backend.kit.errors import ErrorCode, ServiceError

router = APIRouter()

CSV = "text/csv; charset=utf-8"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
NOT_A_DATE = "Use a date as YYYY-MM-DD"
NO_SUCH_TABLE = "No such cluster or table"
STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.VALIDATION: 400,
    ErrorCode.THROTTLED: 429,
}
PAGE_HEADERS = {
    "Content-Security-Policy": pages.CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The figures behind a page change when a trade completes; five minutes is fresh enough for
    # a public page, and a shared cache may keep it (it is the same for everyone).
    "Cache-Control": "public, max-age=300",
}


def _period(request: Request) -> tuple[date | None, date | None]:
    """``from`` and ``to`` of the query (both optional, the service's defaults otherwise)."""
    days = []
    for name in ("from", "to"):
        text = request.query_params.get(name) or None
        day = None
        if text is not None:
            try:
                if not DATE.fullmatch(text):
                    raise ValueError(text)
                day = date.fromisoformat(text)
            except ValueError:
                raise ServiceError.of(ErrorCode.VALIDATION, NOT_A_DATE, name) from None
        days.append(day)
    return days[0], days[1]


def _a_slug(slug: str) -> bool:
    """Whether a page address can name a cluster at all (else 404 without a statement)."""
    return len(slug) <= 64 and SLUG.fullmatch(slug) is not None


async def _spend(request: Request, viewer: Viewer | Anonymous) -> None:
    """A page or a table costs a read of the requester's budget (the same as clusterInsights
    in GraphQL): a period nobody asked for before is computed cold, so a client stepping
    through periods would otherwise keep the database busy. Raises THROTTLED."""
    state = request.app.state
    who: str | None
    if isinstance(viewer, Viewer):
        budget, who = Budget.READS_BY_ACCOUNT, str(viewer.user_id)
    else:
        address = client_address_of(request, state.settings)
        budget, who = Budget.READS_BY_ADDRESS, limited_unit(address)
    await state.security.rate_limits.spend(budget, who)


def _throttled(error: ServiceError, response: Response) -> Response:
    retry_after = error.problems[0].retry_after
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _message(error: ServiceError) -> str:
    problem = error.problems[0]
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def _html(body: str, status: int = 200, *, language: str) -> HTMLResponse:
    return HTMLResponse(body, status, headers={**PAGE_HEADERS, "Content-Language": language})


def _error_page(status: int, language: str, title_key: str, message: str) -> HTMLResponse:
    t = Labels(language)
    body = pages.error_page(language=language, title=t[title_key], message=message)
    response = _html(body, status, language=language)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_error(error: ServiceError, language: str) -> Response:
    if error.code is ErrorCode.THROTTLED:
        page = _error_page(429, language, "throttled_title", _message(error))
        return _throttled(error, page)
    return _error_page(400, language, "bad_request_title", _message(error))


def _json_error(status: int, code: ErrorCode, message: str, field: str | None = None) -> Response:
    return JSONResponse(
        {"error": {"code": code.value, "message": message, "field": field}},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _json_service_error(error: ServiceError) -> Response:
    problem = error.problems[0]
    response = _json_error(
        STATUS.get(problem.code, 400), problem.code, problem.message, problem.field
    )
    return _throttled(error, response)


# The CSV of the comparison comes before the pages: "comparison.csv" is never a slug (no dot).
@router.get("/insights/comparison.csv", include_in_schema=False)
async def comparison_export(request: Request) -> Response:
    state = request.app.state
    try:
        await _spend(request, Anonymous())
        starts_on, ends_on = _period(request)
        rows = await service.compare_clusters(
            db=state.db, starts_on=starts_on, ends_on=ends_on, now=state.clock.now()
        )
    except ServiceError as error:
        return _json_service_error(error)
    names = await pages.material_names(
        state.db, [f.material_code for r in rows for f in r.top_conversions if f.material_code]
    )
    period = rows[0].insights.period if rows else None
    suffix = f"-{period.starts_on}-{period.ends_on}" if period else ""
    return Response(
        exports.comparison_csv(rows, names),
        media_type=CSV,
        headers={
            "Content-Disposition": f'attachment; filename="clusters-compared{suffix}.csv"',
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/insights", include_in_schema=False)
async def comparison(request: Request) -> Response:
    state = request.app.state
    requested = request.query_params.get("lang")
    language = language_for(requested)
    try:
        await _spend(request, Anonymous())
        starts_on, ends_on = _period(request)
        rows = await service.compare_clusters(
            db=state.db, starts_on=starts_on, ends_on=ends_on, now=state.clock.now()
        )
    except ServiceError as error:
        return _page_error(error, language)
    names = await pages.material_names(
        state.db, [f.material_code for r in rows for f in r.top_conversions if f.material_code]
    )
    body = pages.comparison_page(
        rows,
        language=language,
        explicit_language=requested == language,
        names=names,
        given_from=request.query_params.get("from"),
        given_to=request.query_params.get("to"),
    )
    return _html(body, language=language)


@router.get("/insights/{cluster_slug}", include_in_schema=False)
async def cluster_page(cluster_slug: str, request: Request) -> Response:
    state = request.app.state
    requested = request.query_params.get("lang")
    if not _a_slug(cluster_slug):
        language = language_for(requested)
        return _error_page(404, language, "not_found_title", Labels(language)["not_found"])
    try:
        await _spend(request, Anonymous())
        starts_on, ends_on = _period(request)
        insights = await service.cluster_insights(
            db=state.db,
            viewer=Anonymous(),  # a page is public whoever opens it
            cluster_slug=cluster_slug,
            starts_on=starts_on,
            ends_on=ends_on,
            now=state.clock.now(),
        )
    except ServiceError as error:
        language = language_for(requested)
        if error.code is ErrorCode.NOT_FOUND:
            return _error_page(404, language, "not_found_title", Labels(language)["not_found"])
        return _page_error(error, language)
    language = language_for(requested, insights.cluster.languages)
    names = await pages.material_names(state.db, pages.materials_of(insights))
    social = await service.social_capital(db=state.db, insights=insights)
    body = pages.cluster_page(
        insights,
        social,
        language=language,
        explicit_language=requested == language,
        names=names,
        given_from=request.query_params.get("from"),
        given_to=request.query_params.get("to"),
    )
    return _html(body, language=language)


@router.get("/insights/{cluster_slug}/{table}.csv", include_in_schema=False)
async def cluster_export(cluster_slug: str, table: str, request: Request) -> Response:
    state = request.app.state
    export = exports.EXPORTS.get(table)
    if export is None or not _a_slug(cluster_slug):
        return _json_error(404, ErrorCode.NOT_FOUND, NO_SUCH_TABLE)
    token = bearer_token(request)
    viewer = await current_viewer(state.security, state.access_check, token)
    if token is not None and isinstance(viewer, Anonymous):
        # A token that no longer stands (expired, signed out): the app refreshes and retries.
        code = viewer.problem or ErrorCode.UNAUTHENTICATED
        return _json_error(401, code, "The access token is not valid")
    try:
        await _spend(request, viewer)
        starts_on, ends_on = _period(request)
        insights = await service.cluster_insights(
            db=state.db,
            viewer=viewer,
            cluster_slug=cluster_slug,
            starts_on=starts_on,
            ends_on=ends_on,
            now=state.clock.now(),
        )
        names = await pages.material_names(state.db, pages.materials_of(insights))
        social = None
        if export.social:
            social = await service.social_capital(db=state.db, insights=insights)
        body = export.write(exports.ExportData(insights, names, social))
    except ServiceError as error:
        if error.code is ErrorCode.NOT_FOUND:
            return _json_error(404, ErrorCode.NOT_FOUND, NO_SUCH_TABLE)
        return _json_service_error(error)
    period = insights.period
    filename = f"{cluster_slug}-{table}-{period.starts_on}-{period.ends_on}.csv"
    signed_in = isinstance(viewer, Viewer)
    return Response(
        body,
        media_type=CSV,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # What a signed-in viewer gets may be the named view: never in a shared cache.
            "Cache-Control": "private, no-store" if signed_in else "public, max-age=300",
            "Vary": "Authorization",
            "X-Content-Type-Options": "nosniff",
        },
    )
