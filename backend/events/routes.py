"""Plain HTTP for what is not GraphQL: calendar files that calendar apps fetch by URL, and the
participants' CSV export that an organiser's phone downloads and shares."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from backend.auth.bearer import bearer_token, current_viewer
from backend.auth.viewer import Anonymous
from backend.events import files, service
from backend.kit.errors import ErrorCode, ServiceError

router = APIRouter()

ICS = "text/calendar; charset=utf-8"


def _error(status: int, code: ErrorCode, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code.value, "message": message}}, status_code=status)


def _not_found() -> Response:
    return _error(404, ErrorCode.NOT_FOUND, "No such calendar")


@router.get("/calendar/events/{event_id}.ics", include_in_schema=False)
async def event_calendar(event_id: str, request: Request) -> Response:
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return _not_found()
    event = await service.calendar_event(db=request.app.state.db, event_id=parsed)
    if event is None:
        return _not_found()
    body = files.event_file(event, now=request.app.state.clock.now())
    return Response(
        body,
        media_type=ICS,
        headers={
            "Content-Disposition": f'attachment; filename="event-{event.id}.ics"',
            "Cache-Control": "public, max-age=300",
        },
    )


@router.get("/calendar/feeds/{token}.ics", include_in_schema=False)
async def personal_feed(token: str, request: Request) -> Response:
    now = request.app.state.clock.now()
    registrations = await service.calendar_feed(db=request.app.state.db, token=token, now=now)
    if registrations is None:
        return _not_found()
    return Response(
        files.feed_file(registrations, now=now),
        media_type=ICS,
        # The address is the secret: keep it and its contents out of shared caches.
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


@router.get("/exports/events/{event_id}/participants.csv", include_in_schema=False)
async def participants_export(event_id: str, request: Request) -> Response:
    state = request.app.state
    viewer = await current_viewer(state.security, state.access_check, bearer_token(request))
    if isinstance(viewer, Anonymous):
        return _error(401, ErrorCode.UNAUTHENTICATED, "Send an access token to export")
    try:
        parsed = uuid.UUID(event_id)
        event, registrations = await service.all_participants(
            db=state.db, viewer=viewer, event_id=parsed
        )
    except ValueError:
        return _error(404, ErrorCode.NOT_FOUND, "Event not found")
    except ServiceError as exc:
        status = {ErrorCode.NOT_FOUND: 404, ErrorCode.FORBIDDEN: 403}.get(exc.code, 400)
        return _error(status, exc.code, exc.problems[0].message)
    return Response(
        files.participants_csv(registrations),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="participants-{event.id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
