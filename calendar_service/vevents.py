"""An event's VEVENTs written as content lines, byte for byte as icalendar would write them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from calendar_service.content_lines import (
    date_value,
    dates_line,
    escape,
    parameter_value,
    render_lines,
    utc_value,
)
from calendar_service.identity import Identity
from calendar_service.model import CalendarSettings, Event, EventData, Override, occurrence_duration


def description_text(event: EventData, settings: CalendarSettings, identity: Identity) -> str:
    """The DESCRIPTION clients show: the event's text, then the practical details."""
    vocab = settings.vocabularies
    parts = [part for part in (event.summary, event.description.strip()) if part]
    details = []
    if event.cost:
        details.append(f"Cost: {event.cost}")
    if event.organiser is not None:
        contact = ", ".join(item for item in (event.organiser.url, event.organiser.email) if item)
        details.append(f"Organiser: {event.organiser.name}" + (f" ({contact})" if contact else ""))
    if event.location is not None and event.location.online_url:
        details.append(f"Join online: {event.location.online_url}")
    if event.url:
        details.append(f"More information: {event.url}")
    details.append(
        "For: "
        + ", ".join(vocab.audiences[key].label for key in event.audiences if key in vocab.audiences)
    )
    details.append(f"Details: {identity.event_page(event.id)}")
    parts.append("\n".join(details))
    return "\n\n".join(parts)


# Our VEVENTs are written line by line, as icalendar would write the same properties (its
# Component.to_ical is the oracle in tests/test_ics_matches_icalendar.py): building its
# Components and their content lines was two thirds of the cost of compiling. Properties
# come in icalendar's order for a VEVENT: these first, then the others alphabetically.
_FIRST = ("SUMMARY", "DTSTART", "DTEND", "DTSTAMP", "UID", "RECURRENCE-ID", "SEQUENCE")
_RULE_ORDER = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS")


def _until_value(data: EventData, zone: ZoneInfo) -> date | datetime | None:
    rule = data.recurrence.rule if data.recurrence else None
    if rule is None or rule.until is None:
        return None
    if data.all_day:
        return rule.until
    # RFC 5545: with a TZID on DTSTART, UNTIL must be in UTC.
    return datetime.combine(rule.until, time(23, 59, 59), zone).astimezone(UTC)


def rrule_text(data: EventData, zone: ZoneInfo) -> str | None:
    """The event's RRULE value as published (unfolded), or None if it has no rule.

    The one writer of RRULEs: an all-day UNTIL is a DATE, a timed one the end of its last
    day in `zone`, in UTC.
    """
    recurrence = data.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    parts = recurrence.rule.ical()
    until = _until_value(data, zone)
    if until is not None:
        parts["UNTIL"] = utc_value(until) if isinstance(until, datetime) else date_value(until)
    written = []
    for key in _RULE_ORDER:
        if key in parts:
            value = parts[key]
            listed = value if isinstance(value, list) else [value]
            written.append(f"{key}=" + ",".join(str(item).upper() for item in listed))
    return ";".join(written)


def _vevent(first: dict[str, str], others: dict[str, str]) -> list[str]:
    """A VEVENT's content lines from its properties' lines, in icalendar's order."""
    lines = ["BEGIN:VEVENT"]
    lines += [first[name] for name in _FIRST if name in first]
    lines += [line for name in ("RRULE", "RDATE", "EXDATE") if (line := first.get(name))]
    lines += [others[name] for name in sorted(others)]
    lines.append("END:VEVENT")
    return lines


def _common(event: Event, settings: CalendarSettings, identity: Identity) -> dict[str, str]:
    """The lines every VEVENT of an event has, by property name (sorted later)."""
    data = event.data
    category = settings.vocabularies.categories[data.category]
    lines = {
        "CATEGORIES": "CATEGORIES:" + escape(category.label),
        "CLASS": "CLASS:PUBLIC",
        "LAST-MODIFIED": "LAST-MODIFIED:" + utc_value(event.modified),
        "TRANSP": "TRANSP:" + ("TRANSPARENT" if category.transparent else "OPAQUE"),
        "URL": "URL:" + (data.url or identity.event_page(data.id)),
    }
    if category.color:
        lines["COLOR"] = "COLOR:" + escape(category.color)
    if data.location is not None:
        lines["LOCATION"] = "LOCATION:" + escape(data.location.text)
    if data.organiser is not None and data.organiser.email:
        name = data.organiser.name
        cn = parameter_value(name, quote=" " in name or "'" in name)
        lines["ORGANIZER"] = f"ORGANIZER;CN={cn}:mailto:{data.organiser.email}"
    return lines


def _stamps(event: Event, identity: Identity) -> dict[str, str]:
    return {
        "DTSTAMP": "DTSTAMP:" + utc_value(event.modified),
        "UID": "UID:" + escape(identity.uid(event.data.id)),
        "SEQUENCE": f"SEQUENCE:{event.sequence}",
    }


def event_lines(event: Event, settings: CalendarSettings, identity: Identity) -> list[str]:
    """The content lines (unfolded) of one event's VEVENTs: the series (or single event),
    then one per override."""
    zone = settings.zone
    data = event.data
    first = _stamps(event, identity)
    first["SUMMARY"] = "SUMMARY:" + escape(data.title)
    first["DTSTART"] = dates_line("DTSTART", [data.start], zone)
    first["DTEND"] = dates_line("DTEND", [data.start + data.duration], zone)
    recurrence = data.recurrence
    if recurrence is not None:
        # A counted rule that skips days is published with the until of its last session.
        rule = rrule_text(event.timing, zone)
        if rule is not None:
            first["RRULE"] = f"RRULE:{rule}"
        if recurrence.extra_dates:
            first["RDATE"] = dates_line("RDATE", recurrence.extra_dates, zone)
        excluded = sorted({*recurrence.excluded_dates, *event.schedule.starts})
        if excluded:
            first["EXDATE"] = dates_line("EXDATE", excluded, zone)
    common = _common(event, settings, identity)
    description = description_text(data, settings, identity)
    others = {**common, "DESCRIPTION": "DESCRIPTION:" + escape(description)}
    others["STATUS"] = "STATUS:" + escape(data.status.ics)
    lines = _vevent(first, others)
    for override in sorted(data.overrides, key=lambda item: str(item.occurrence)):
        lines += _override_lines(event, override, zone, common, description, identity)
    return lines


def _override_lines(
    event: Event,
    override: Override,
    zone: ZoneInfo,
    common: dict[str, str],
    description: str,
    identity: Identity,
) -> list[str]:
    data = event.data
    first = _stamps(event, identity)
    first["RECURRENCE-ID"] = dates_line("RECURRENCE-ID", [override.occurrence], zone)
    first["SUMMARY"] = "SUMMARY:" + escape(override.title or data.title)
    if override.note:
        description = f"{override.note}\n\n{description}"
    written = override.start if override.start is not None else override.occurrence
    length = data.duration if override.end is None else occurrence_duration(written, override.end)
    first["DTSTART"] = dates_line("DTSTART", [written], zone)
    first["DTEND"] = dates_line("DTEND", [written + length], zone)
    others = {**common, "DESCRIPTION": "DESCRIPTION:" + escape(description)}
    others["STATUS"] = "STATUS:" + escape((override.status or data.status).ics)
    return _vevent(first, others)


def render_event(event: Event, settings: CalendarSettings, identity: Identity) -> bytes:
    """One event's VEVENTs, serialised (folded CRLF lines) exactly as icalendar would."""
    return render_lines(event_lines(event, settings, identity))
