"""Events and term calendars as icalendar Components, and Components written as bytes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Component
from icalendar import Event as VEvent

from calendar_service.content_lines import render_lines, text
from calendar_service.identity import Identity
from calendar_service.model import CalendarSettings, Event, SchoolYear, TermCalendar
from calendar_service.skipping import half_term_name
from calendar_service.vevents import render_event


def event_components(
    event: Event, settings: CalendarSettings, identity: Identity
) -> list[Component]:
    """One event's VEVENTs as icalendar components, read back from what we publish (for
    callers that hand them to recurring-ical-events)."""
    components: list[Component] = Component.from_ical(
        render_event(event, settings, identity), multiple=True
    )
    return components


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
