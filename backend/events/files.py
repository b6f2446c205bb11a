"""Events as iCalendar (RFC 5545) files and participants as CSV.

UIDs are the event's id, so a calendar app that imports a file twice updates one entry; SEQUENCE
is bumped on every change after publication, so apps take the newer version; times carry their
TZID with a VTIMEZONE built from the IANA database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import icalendar

from backend.events.models import Event, EventRegistration, EventStatus, RegistrationStatus

PRODUCT_ID = "-//EIC//Knowledge-transfer events//EN"


def uid(event: Event) -> str:
    return f"event-{event.id}@eic"


def _component(
    event: Event, *, stamp: datetime, registration: EventRegistration | None = None
) -> icalendar.Event:
    zone = ZoneInfo(event.timezone)
    component = icalendar.Event()
    component.add("uid", uid(event))
    component.add("dtstamp", stamp)
    component.add("created", event.created_at)
    component.add("last-modified", event.updated_at)
    component.add("sequence", event.sequence)
    component.add("dtstart", event.starts_at.astimezone(zone))
    component.add("dtend", event.ends_at.astimezone(zone))
    component.add("summary", event.title)
    lines = [event.description] if event.description else []
    lines.append(f"Organised by {event.organisation.name}.")
    if event.status is EventStatus.CANCELLED:
        status = "CANCELLED"
        if event.cancellation_reason:
            lines.insert(0, f"Cancelled: {event.cancellation_reason}")
    elif registration is not None and registration.status is not RegistrationStatus.CONFIRMED:
        # Waiting list or waiting for approval: in the diary, but not certain.
        status = "TENTATIVE"
        lines.insert(0, f"Your registration: {registration.status.value.replace('_', ' ')}.")
    else:
        status = "CONFIRMED"
    component.add("status", status)
    if (
        registration is not None
        and registration.status is RegistrationStatus.CONFIRMED
        and event.online_url
        and event.status is not EventStatus.CANCELLED
    ):
        component.add("url", event.online_url)
        lines.append(f"Join online: {event.online_url}")
    component.add("description", "\n\n".join(lines))
    if event.place_name or event.lat is not None:
        component.add("location", event.place_name or f"{event.lat}, {event.lon}")
    if event.lat is not None and event.lon is not None:
        component.add("geo", (event.lat, event.lon))
    categories = [topic.tag or topic.material_code or "" for topic in event.topics]
    if categories:
        component.add("categories", categories)
    return component


def _calendar(name: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    return calendar


def _add_time_zones(calendar: icalendar.Calendar, events: list[Event]) -> None:
    """VTIMEZONEs whose rules reach past the last event (the library stops at 2038 by default,
    and an app using the file's rules would put a 2040 summer event an hour off)."""
    last = max((event.ends_at.year for event in events), default=2037)
    calendar.add_missing_timezones(last_date=date(max(last + 1, 2038), 1, 1))


def event_file(event: Event, *, now: datetime) -> bytes:
    """One event, as its public file: never the online link, which is for participants."""
    calendar = _calendar(event.title)
    calendar.add_component(_component(event, stamp=now))
    _add_time_zones(calendar, [event])
    return bytes(calendar.to_ical())


def feed_file(registrations: Iterable[EventRegistration], *, now: datetime) -> bytes:
    """A person's events: confirmed ones (with the online link), tentative ones while waiting."""
    calendar = _calendar("EIC events")
    registrations = list(registrations)
    for registration in registrations:
        calendar.add_component(_component(registration.event, stamp=now, registration=registration))
    _add_time_zones(calendar, [r.event for r in registrations])
    return bytes(calendar.to_ical())


CSV_COLUMNS = (
    "position",
    "status",
    "seats",
    "name",
    "email",
    "organisation",
    "registered_at",
    "confirmed_at",
    "checked_in_at",
    "note",
)


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    # A cell starting like a formula would run in a spreadsheet (CSV injection): quote it.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def participants_csv(registrations: Iterable[EventRegistration]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in registrations:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.queue_number,
                    r.status.value,
                    r.seats,
                    r.user.display_name,
                    r.user.email,
                    r.organisation.name if r.organisation else "",
                    r.created_at,
                    r.confirmed_at,
                    r.checked_in_at,
                    r.note,
                )
            ]
        )
    return out.getvalue()
