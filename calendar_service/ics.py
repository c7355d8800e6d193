"""Render events as RFC 5545 / RFC 7986 iCalendar, following our ICS publishing profile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Component,
)
from icalendar import Event as VEvent

from calendar_service import __version__
from calendar_service.content_lines import (
    FOLD_AT,
    date_value,
    dates_line,
    escape,
    fold_line,
    parameter_value,
    render_lines,
    text,
    utc_value,
)
from calendar_service.identity import Identity
from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    Override,
    SchoolYear,
    TermCalendar,
    occurrence_duration,
)
from calendar_service.skipping import half_term_name
from calendar_service.vtimezone import vtimezone

__all__ = [
    "FOLD_AT",
    "FeedHeader",
    "Identity",
    "assemble",
    "description_text",
    "escape",
    "event_components",
    "event_lines",
    "feed_header",
    "fold_line",
    "render_components",
    "render_event",
    "render_lines",
    "rrule_text",
    "term_components",
    "text",
    "vtimezone",
]


# --- Events --------------------------------------------------------------------------------


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


def event_components(
    event: Event, settings: CalendarSettings, identity: Identity
) -> list[Component]:
    """One event's VEVENTs as icalendar components, read back from what we publish (for
    callers that hand them to recurring-ical-events)."""
    components: list[Component] = Component.from_ical(
        render_event(event, settings, identity), multiple=True
    )
    return components


# --- Term calendars ------------------------------------------------------------------------


def term_components(calendar_id: str, calendar: TermCalendar, identity: Identity) -> list[VEvent]:
    """A term calendar as all-day VEVENTs: each term, half term and closure day.

    UIDs name the calendar, the school year and the term's place in it, so a corrected
    date updates the same event in subscribers' calendars. The dates' stamp is the day
    they were last checked at the authority's page.
    """
    checked = datetime.combine(calendar.checked, time(), UTC)
    components = []
    for year in calendar.years:
        for number, term in enumerate(year.terms, start=1):
            spans = [(f"term-{number}", term.name, term.start, term.end)]
            if term.half_term is not None:
                half = term.half_term
                spans.append((f"half-term-{number}", half_term_name(half), half.start, half.end))
            for key, title, first, last in spans:
                uid = f"{calendar_id}-{year.year}-{key}"
                components.append(
                    _term_day(uid, title, first, last, calendar, year, identity, checked)
                )
        for closure in year.closures:
            uid = f"{calendar_id}-{year.year}-closure-{closure.date:%Y%m%d}"
            title = f"Schools closed: {closure.name}"
            day = closure.date
            components.append(_term_day(uid, title, day, day, calendar, year, identity, checked))
    return components


def _term_day(
    uid: str,
    title: str,
    first: date,
    last: date,
    calendar: TermCalendar,
    year: SchoolYear,
    identity: Identity,
    checked: datetime,
) -> VEvent:
    """One all-day span of a term calendar (DTEND the day after `last`, exclusive)."""
    component = VEvent()
    component.add("UID", f"terms-{uid}@{identity.uid_domain}")
    component.add("DTSTAMP", checked)
    component.add("LAST-MODIFIED", checked)
    component.add("SUMMARY", text(f"{title} ({calendar.name})"))
    source = year.source or calendar.source
    lines = [f"School year {year.year}, as {calendar.authority} publishes it: {source}"]
    if year.status == "provisional":
        lines.insert(0, "Provisional: the authority has not yet confirmed these dates.")
    if year.note:
        lines.append(year.note)
    component.add("DESCRIPTION", text("\n".join(lines)))
    component.add("DTSTART", first)
    component.add("DTEND", last + timedelta(days=1))
    component.add("STATUS", "TENTATIVE" if year.status == "provisional" else "CONFIRMED")
    component.add("TRANSP", "TRANSPARENT")
    component.add("CLASS", "PUBLIC")
    component.add("URL", source)
    return component


def render_components(components: Iterable[Component]) -> bytes:
    """Serialise components as folded CRLF lines, as `Component.to_ical` would."""
    return render_lines(
        line for component in components for line in component.content_lines() if line
    )


# --- Calendars -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedHeader:
    """The parts of a VCALENDAR around its components."""

    opening: bytes
    closing: bytes


def feed_header(settings: CalendarSettings, title: str, description: str) -> FeedHeader:
    """The VCALENDAR properties of a feed, split so components can be placed inside."""
    calendar = Calendar()
    product = f"-//{settings.organisation}//calendar-service {__version__}//EN"
    calendar.add("PRODID", text(product))
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", text(title))
    calendar.add("X-WR-CALNAME", text(title))
    if description:
        calendar.add("DESCRIPTION", text(description))
        calendar.add("X-WR-CALDESC", text(description))
    calendar.add("X-WR-TIMEZONE", text(settings.timezone))
    refresh = timedelta(hours=settings.refresh_hours)
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", f"PT{settings.refresh_hours}H")
    whole = calendar.to_ical()
    closing = b"END:VCALENDAR\r\n"
    assert whole.endswith(closing)
    return FeedHeader(whole[: -len(closing)], closing)


def assemble(header: FeedHeader, timezone: bytes, events: Iterable[bytes]) -> bytes:
    """A whole feed from pre-rendered parts: header, VTIMEZONE, events, footer."""
    return b"".join((header.opening, timezone, *events, header.closing))
