"""Generated events of every shape the model allows, and the oracle our VEVENTs must equal:
the same event built as icalendar Components and serialised by icalendar itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume
from hypothesis import strategies as st
from icalendar import Event as VEvent
from icalendar import vCalAddress, vRecur
from pydantic import ValidationError

from calendar_service import ics
from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    Override,
    Schedule,
    Skipped,
    Status,
    Term,
    occurrence_duration,
)
from calendar_service.rules import WEEKDAYS
from calendar_service.values import MAX_SEQUENCE, parse_when

# --- The oracle: each property added to an icalendar Component, serialised by icalendar ----


def _local(value: date | datetime, zone: ZoneInfo) -> date | datetime:
    return value.replace(tzinfo=zone) if isinstance(value, datetime) else value


def _rrule(data: EventData, zone: ZoneInfo) -> vRecur | None:
    recurrence = data.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    rule = vRecur(recurrence.rule.ical())
    until = recurrence.rule.until
    if until is not None:
        rule["UNTIL"] = (
            until
            if data.all_day
            else datetime.combine(until, time(23, 59, 59), zone).astimezone(UTC)
        )
    return rule


def _common(
    component: VEvent, event: Event, settings: CalendarSettings, identity: ics.Identity
) -> None:
    data = event.data
    category = settings.vocabularies.categories[data.category]
    component.add("UID", identity.uid(data.id))
    component.add("DTSTAMP", event.modified)
    component.add("LAST-MODIFIED", event.modified)
    component.add("SEQUENCE", event.sequence)
    component.add("CLASS", "PUBLIC")
    component.add("TRANSP", "TRANSPARENT" if category.transparent else "OPAQUE")
    component.add("CATEGORIES", [category.label])
    if category.color:
        component.add("COLOR", ics.text(category.color))
    component.add("URL", data.url or identity.event_page(data.id))
    if data.location is not None:
        component.add("LOCATION", ics.text(data.location.text))
    if data.organiser is not None and data.organiser.email:
        organizer = vCalAddress(f"mailto:{data.organiser.email}")
        organizer.params["CN"] = data.organiser.name
        component.add("ORGANIZER", organizer)


def oracle_components(
    event: Event, settings: CalendarSettings, identity: ics.Identity
) -> list[VEvent]:
    """The event's VEVENTs built with icalendar, as `ics` built them before it wrote lines."""
    zone = settings.zone
    data = event.data
    master = VEvent()
    _common(master, event, settings, identity)
    master.add("SUMMARY", ics.text(data.title))
    master.add("DESCRIPTION", ics.text(ics.description_text(data, settings, identity)))
    start = _local(data.start, zone)
    master.add("DTSTART", start)
    master.add("DTEND", start + data.duration)
    master.add("STATUS", data.status.ics)
    recurrence = data.recurrence
    if recurrence is not None:
        rule = _rrule(event.timing, zone)
        if rule is not None:
            master.add("RRULE", rule)
        if recurrence.extra_dates:
            master.add("RDATE", [_local(value, zone) for value in recurrence.extra_dates])
        excluded = sorted({*recurrence.excluded_dates, *event.schedule.starts})
        if excluded:
            master.add("EXDATE", [_local(value, zone) for value in excluded])
    components = [master]
    for override in sorted(data.overrides, key=lambda item: str(item.occurrence)):
        components.append(_override(event, override, settings, identity))
    return components


def _override(
    event: Event, override: Override, settings: CalendarSettings, identity: ics.Identity
) -> VEvent:
    zone = settings.zone
    data = event.data
    component = VEvent()
    _common(component, event, settings, identity)
    component.add("RECURRENCE-ID", _local(override.occurrence, zone))
    component.add("SUMMARY", ics.text(override.title or data.title))
    description = ics.description_text(data, settings, identity)
    if override.note:
        description = f"{override.note}\n\n{description}"
    component.add("DESCRIPTION", ics.text(description))
    written = override.start if override.start is not None else override.occurrence
    start = _local(written, zone)
    component.add("DTSTART", start)
    length = data.duration if override.end is None else occurrence_duration(written, override.end)
    component.add("DTEND", start + length)
    component.add("STATUS", (override.status or data.status).ics)
    return component


def oracle_vevents(event: Event, settings: CalendarSettings, identity: ics.Identity) -> bytes:
    return b"".join(c.to_ical() for c in oracle_components(event, settings, identity))


# --- Generated events ----------------------------------------------------------------------

# Characters that matter to escaping, parameter quoting and folding, and multi-byte ones.
AWKWARD = ["\\", "\\N", "^", ";", ",", ":", '"', "'", "\u2019", " ", "é", "€", "😀", "𝄞"]
ZONES = ["Europe/London", "UTC", "America/New_York", "Asia/Kolkata"]
_line = (
    st.lists(
        st.sampled_from(AWKWARD) | st.characters(codec="utf-8", categories=("L", "N", "P", "S")),
        min_size=1,
        max_size=30,
    )
    .map("".join)
    .filter(str.strip)
)  # a Line is stripped, and must keep something
_text = st.lists(_line | st.just("\n"), max_size=6).map("".join)
# Names that parameter quoting and RFC 6868 escaping must handle (CN of ORGANIZER).
_names = _line | st.sampled_from(
    ["Jo O'Brien", 'The "Best" Team', "Ann ^ Co", "Smith\u2019s", "A:B;C,D", "Plain", "x " * 40]
)
_urls = st.sampled_from(
    ["https://example.org/", "https://example.org/a,b;c?d=e&f=g", "mailto:team@example.org"]
)


@st.composite
def _when(draw: st.DrawFn, timed: bool, near: date) -> str:
    day = near + timedelta(days=draw(st.integers(-800, 800)))
    if not timed:
        return day.isoformat()
    return (
        f"{day.isoformat()}T{draw(st.integers(0, 23)):02}:{draw(st.sampled_from([0, 30, 59])):02}"
    )


@st.composite
def _later(draw: st.DrawFn, written: str) -> str:
    """An end for a start as written: the same day or later (an end before is refused)."""
    start = parse_when(written)
    if isinstance(start, datetime):
        return _minutes(start + timedelta(minutes=draw(st.integers(1, 3000))))
    return (start + timedelta(days=draw(st.integers(0, 20)))).isoformat()


def _minutes(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


@st.composite
def rules(draw: st.DrawFn, near: date) -> dict[str, Any]:
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly", "yearly"]))
    rule: dict[str, Any] = {"frequency": frequency, "interval": draw(st.sampled_from([1, 2, 7]))}
    if draw(st.booleans()):
        rule["by_month"] = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        days = st.sampled_from([1, 15, 29, 31, -1])
        rule["by_month_day"] = draw(st.lists(days, min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        codes = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        if frequency in ("monthly", "yearly") and draw(st.booleans()):
            codes = [f"{draw(st.sampled_from(['1', '+2', '-1']))}{code}" for code in codes]
        rule["by_weekday"] = codes
        if frequency == "monthly" and draw(st.booleans()):
            rule["by_set_position"] = [draw(st.sampled_from([1, -1]))]
    ending = draw(st.sampled_from(["none", "count", "until"]))
    if ending == "count":
        rule["count"] = draw(st.integers(1, 40))
    elif ending == "until":
        rule["until"] = (near + timedelta(days=draw(st.integers(0, 900)))).isoformat()
    return rule


@st.composite
def events(draw: st.DrawFn, settings: CalendarSettings) -> tuple[Event, CalendarSettings]:
    """Any event the model accepts (not only those the loader's checks accept: rendering
    does not depend on them), with a category, zone and stamps of its own."""
    timed = draw(st.booleans())
    near = draw(st.dates(date(1971, 1, 1), date(2195, 1, 1)))
    when = _when(timed, near)
    audiences = st.sampled_from(sorted(settings.vocabularies.audiences))
    raw: dict[str, Any] = {
        "id": draw(st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}", fullmatch=True)),
        "title": draw(_line),
        "summary": draw(st.just("") | _line),
        "description": draw(_text),
        "category": "generated",
        "audiences": draw(st.lists(audiences, min_size=1, max_size=2, unique=True)),
        "status": draw(st.sampled_from(list(Status))).value,
        "start": draw(when),
    }
    if draw(st.booleans()):
        raw["end"] = draw(_later(raw["start"]))
    for name, strategy in (("url", _urls), ("cost", _line)):
        if draw(st.booleans()):
            raw[name] = draw(strategy)
    if draw(st.booleans()):
        email = draw(st.sampled_from([None, "a@b.org", "team.lead+x@example.org"]))
        raw["organiser"] = {"name": draw(_names), "email": email}
    if draw(st.booleans()):
        online = draw(st.booleans())
        raw["location"] = {"venue": draw(st.none() | _line), "address": draw(st.none() | _line)}
        raw["location"] |= {
            "online": online,
            "online_url": "https://meet.example" if online else None,
        }
    if draw(st.booleans()):
        dates = st.lists(when, max_size=3)
        raw["recurrence"] = {"extra_dates": draw(dates), "excluded_dates": draw(dates)}
        if draw(st.booleans()) or not raw["recurrence"]["extra_dates"]:
            raw["recurrence"]["rule"] = draw(rules(near))
        override = st.fixed_dictionaries(
            {"occurrence": when},
            optional={
                "start": when,
                "end": when,
                "title": _line,
                "note": _text,
                "status": st.sampled_from(["cancelled", "provisional"]),
            },
        )
        raw["overrides"] = draw(st.lists(override, max_size=3))
    try:
        data = EventData.model_validate(raw)
    except ValidationError:
        assume(False)
    skipped = draw(st.lists(when, max_size=3))
    schedule = Schedule(
        skipped=tuple(Skipped(parse_when(day), "Half term") for day in skipped),
        until=draw(st.none() | st.dates(near, near + timedelta(days=900))),
    )
    modified = draw(
        st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    )
    event = Event(
        data, "events/generated.yaml", 1, draw(st.integers(0, MAX_SEQUENCE)), modified,
        "0" * 16, schedule,
    )  # fmt: skip
    category = Term(
        label=draw(_line),
        transparent=draw(st.booleans()),
        color=draw(st.sampled_from([None, "teal", "#a0B1c2"])),
    )
    vocabularies = settings.vocabularies.model_copy(update={"categories": {"generated": category}})
    zone = draw(st.sampled_from(ZONES))
    return event, settings.model_copy(update={"vocabularies": vocabularies, "timezone": zone})
