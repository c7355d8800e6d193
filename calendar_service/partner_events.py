"""One partner VEVENT read into our event model: times, zones, rules, vocabulary, overrides."""

from __future__ import annotations

import copy
import itertools
import re
import warnings
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component
from pydantic import TypeAdapter, ValidationError

from calendar_service.index import HORIZON_FUTURE, HORIZON_PAST
from calendar_service.local_times import check_local_times
from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    Status,
    content_hash,
    day_of,
)
from calendar_service.partner_sources import (
    FETCHED_NAME,
    FETCHED_SUFFIX,
    ImportOverride,
    Prefer,
    SourceConfig,
    imported_id,
)
from calendar_service.plain_text import plain_line, plain_text, shortened
from calendar_service.recurrence import check_recurrence
from calendar_service.rules import WEEKDAY_PATTERN, Rule
from calendar_service.values import (
    MAX_COUNT,
    MAX_LIST,
    MAX_SEQUENCE,
    Url,
)

# A rule outside our subset is expanded into dates over the span the occurrence index
# covers; an endless rule of ours is counted over the same span.
EXPANSION_SPAN = HORIZON_PAST + HORIZON_FUTURE
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # LAST-MODIFIED of an event whose source gives none


class Skipped(Exception):
    """This VEVENT cannot become one of our events; the message says why."""


class _NotOurRule(Exception):
    """The series cannot be kept as our rule; it is expanded into dates instead."""


_SUB_DAILY = {"HOURLY", "MINUTELY", "SECONDLY", "BYHOUR", "BYMINUTE", "BYSECOND"}
_RULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYSETPOS"}
_STATUS = {"TENTATIVE": Status.PROVISIONAL, "CANCELLED": Status.CANCELLED}
_WEEKDAY = re.compile(WEEKDAY_PATTERN)


class EventReader:
    """Reads one series (or single event) of a feed into our model."""

    def __init__(
        self,
        source: SourceConfig,
        zone: ZoneInfo,
        uid: str,
        master: Component,
        exceptions: list[Component],
        zones: list[Component],
        today: date | None,
    ) -> None:
        self.source, self.zone, self.uid = source, zone, uid
        self.master, self.exceptions, self.today = master, exceptions, today
        self.zones = zones  # the feed's VTIMEZONEs, for expanding a series in its own zone
        self.notes: list[str] = []

    def read(
        self, override: ImportOverride | None, settings: CalendarSettings | None
    ) -> tuple[Event, int] | None:
        """Our event and the occurrences it adds; None when filtered out or hidden."""
        master, source = self.master, self.source
        title = plain_line(str(master.get("SUMMARY", ""))) or source.name
        description = plain_text(str(master.get("DESCRIPTION", "")))
        categories = _categories(master)
        text = f"{title}\n{description}"
        if not source.include.matches(text, categories):
            return None
        if not source.exclude.is_empty and source.exclude.matches(text, categories):
            return None
        if override is not None and override.hidden:
            return None
        fields = self._vocabulary(categories, override)
        start, end = self._times(master)
        fields.update(
            id=imported_id(source.id, self.uid),
            title=title,
            description=description,
            organiser=source.organiser,
            source=source.page,
            url=_url(master.get("URL")),
            location=_location(master.get("LOCATION")),
            status=_STATUS.get(str(master.get("STATUS", "")).upper(), Status.CONFIRMED),
            start=start,
            end=end,
        )
        data, count = self._series(fields)
        if settings is not None:
            vocab = settings.vocabularies
            if data.category not in vocab.categories:  # a mapping checked at load; for safety
                raise Skipped(f"category {data.category!r} is not in our vocabulary")
        sequence, modified = self._stamps()
        # No line: the event comes from a fetched feed, named as its file would be.
        name = f"{FETCHED_NAME}/{source.id}{FETCHED_SUFFIX}"
        return Event(data, name, 0, sequence, modified, content_hash(data)), count

    # The parts, each from the source's properties ---------------------------------------

    def _vocabulary(self, categories: list[str], override: ImportOverride | None) -> dict[str, Any]:
        """Category, audiences and themes: mapped from the source's CATEGORIES or the
        source's defaults, then our override's (unless the source is preferred and mapped)."""
        source = self.source
        mappings = {label.casefold(): mapping for label, mapping in source.map_categories.items()}
        mapped = [mappings[key] for key in map(str.casefold, categories) if key in mappings]
        category = next((m.category for m in mapped if m.category), None)
        audiences = _unique(a for m in mapped for a in m.audiences)
        themes = _unique([*source.themes, *(t for m in mapped for t in m.themes)])
        mapped_themes = [t for m in mapped for t in m.themes]
        from_source = {"category": category, "audiences": audiences, "themes": mapped_themes}
        values: dict[str, Any] = {
            "category": category or source.category,
            "audiences": audiences or list(source.audiences),
            "themes": themes,
        }
        if override is not None:
            for name in ("category", "audiences", "themes"):
                ours = getattr(override, name)
                if ours is None:
                    continue
                if source.prefer == Prefer.SOURCE and from_source[name]:
                    continue  # the source's own mapped value stands
                values[name] = ours
        values["audiences"] = values["audiences"][:MAX_LIST]
        values["themes"] = values["themes"][:MAX_LIST]
        return values

    def _times(self, component: Component) -> tuple[date | datetime, date | datetime | None]:
        """Start and our end (all day: the last day, inclusive) in the calendar's zone."""
        if "DTSTART" not in component:
            raise Skipped("no DTSTART")
        start = self._local(component, "DTSTART")
        if "DTEND" in component:
            end: date | datetime | None = self._local(component, "DTEND")
        elif "DURATION" in component:
            duration = component.decoded("DURATION")
            end = start + duration if isinstance(duration, timedelta) else None
        else:
            end = None
        if end is not None and type(end) is not type(start):
            raise Skipped("DTSTART and DTEND differ in kind (one a date, one a time)")
        if isinstance(start, datetime):
            if end is not None and end <= start:
                end = None  # a zero-length event: shown with our default length
            return start, end
        if end is None:
            return start, None
        last = end - timedelta(days=1)  # iCalendar's all-day end is exclusive; ours inclusive
        return start, last if last > start else None

    def _local(self, component: Component, name: str) -> date | datetime:
        value = component.decoded(name)
        return self._in_zone(value, component[name].params.get("TZID"), name)

    def _in_zone(self, value: Any, tzid: str | None, name: str) -> date | datetime:
        """A date, or a time as the same instant in the calendar's zone, without offset."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                if tzid:
                    raise Skipped(
                        f"{name} names the time zone {shortened(tzid)!r}, which is neither an IANA"
                        " name nor given by a VTIMEZONE in the feed"
                    )
                return value.replace(microsecond=0)  # floating: the local time, wherever
            return value.astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        if isinstance(value, date):
            return value
        raise Skipped(f"{name} is not a date or a time")

    def _keeps_zone(self, value: Any) -> bool:
        """Whether a start's rule gives the same local times in the calendar's zone."""
        if not isinstance(value, datetime) or value.tzinfo is None:
            return True
        return getattr(value.tzinfo, "key", None) == self.zone.key or (
            value.utcoffset() == timedelta(0) and self.zone.key in ("UTC", "Etc/UTC")
        )

    def _stamps(self) -> tuple[int, datetime]:
        """SEQUENCE and LAST-MODIFIED from the source: the highest of the series and its
        changed occurrences; without LAST-MODIFIED its DTSTAMP, else EPOCH."""
        sequences, moments = [0], []
        for component in (self.master, *self.exceptions):
            try:
                sequences.append(int(component.get("SEQUENCE", 0)))
            except (TypeError, ValueError):
                self.notes.append("its SEQUENCE is not a number; 0 is used")
            for name in ("LAST-MODIFIED", "DTSTAMP"):
                if name in component:
                    value = component.decoded(name)
                    if isinstance(value, datetime) and value.tzinfo is not None:
                        moments.append(value.astimezone(UTC).replace(microsecond=0))
                        break
        return min(max(sequences), MAX_SEQUENCE), max(moments, default=EPOCH)

    # Recurrence --------------------------------------------------------------------------

    def _series(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        """The event with its recurrence: our rule when the source's fits our subset,
        otherwise its occurrences as extra dates, at most the source's occurrence limit."""
        master = self.master
        if "RRULE" not in master and "RDATE" not in master:
            return self._valid(fields), 1
        for rule in _rules(master):
            if _SUB_DAILY & {str(rule.get("FREQ", [""])[0]).upper(), *map(str.upper, rule)}:
                # More than one occurrence a day: not an event series people subscribe to,
                # and expanding it would cost thousands of occurrences a year.
                raise Skipped(
                    "its RRULE repeats within a day (FREQ or BY of hours, minutes or seconds);"
                    " only daily, weekly, monthly and yearly series are imported"
                )
        try:
            return self._as_rule(fields)
        except _NotOurRule:
            return self._expanded(fields)

    def _valid(self, fields: dict[str, Any]) -> EventData:
        try:
            data = EventData.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise Skipped(f"{where}: {error['msg']}") from None
        problems = [*check_local_times(data, self.zone), *check_recurrence(data)]
        if problems:
            path, message = problems[0]
            raise Skipped(f"{'.'.join(str(p) for p in path)}: {message}")
        return data

    def _as_rule(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        master, start = self.master, fields["start"]
        if not self._keeps_zone(master.decoded("DTSTART")):
            raise _NotOurRule
        rules = master.get("RRULE")
        if isinstance(rules, list) or "RDATE" in master:
            raise _NotOurRule  # several rules, or dates beside the rule: expanded
        rule = _rule(rules, start, self.zone) if rules is not None else None
        excluded = [
            self._in_zone(value.dt, None, "EXDATE") for value in _date_values(master, "EXDATE")
        ]
        recurrence = {"rule": rule, "excluded_dates": sorted(set(excluded), key=_instant)}
        overrides = [self._override(component, fields) for component in self.exceptions]
        try:
            data = self._valid({**fields, "recurrence": recurrence, "overrides": overrides})
        except Skipped as problem:
            raise _NotOurRule from problem
        assert data.recurrence is not None and data.recurrence.rule is not None
        first = start.date() if isinstance(start, datetime) else start
        count = data.recurrence.rule.expansion_steps(first, first + EXPANSION_SPAN)
        return data, count + len(data.recurrence.extra_dates)

    def _override(self, component: Component, fields: dict[str, Any]) -> dict[str, Any]:
        """A changed occurrence (RECURRENCE-ID) as our override of the series."""
        occurrence = self._local(component, "RECURRENCE-ID")
        start, end = self._times(component)
        status = _STATUS.get(str(component.get("STATUS", "")).upper(), Status.CONFIRMED)
        title = plain_line(str(component.get("SUMMARY", ""))) or fields["title"]
        length = _length(fields["start"], fields["end"])
        return {
            "occurrence": occurrence,
            "start": start if start != occurrence else None,
            "end": end if _length(start, end) != length else None,
            "status": status if status != fields["status"] else None,
            "title": title if title != fields["title"] else None,
        }

    def _expanded(self, fields: dict[str, Any]) -> tuple[EventData, int]:
        """The series' occurrences, by recurring-ical-events, as a start and extra dates.

        Expanded over EXPANSION_SPAN from the later of its start and the index's first day,
        and at most MAX_COUNT dates (and the source's occurrence limit); what lies beyond
        is left out and reported. Occurrences that differ from the first (another length,
        title or status) become overrides.
        """
        master = self.master
        limit = min(MAX_COUNT, self.source.max_occurrences)
        first = day_of(fields["start"])
        begin = max(first, self.today - HORIZON_PAST) if self.today else first
        stop = begin + EXPANSION_SPAN
        calendar = Calendar()
        for component in (*self.zones, _bounded(master, stop), *self.exceptions):
            calendar.add_component(component)
        with warnings.catch_warnings():
            # COUNT and UNTIL together: dateutil stops at whichever comes first, as wanted.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                # `after` yields lazily, in order: a rule giving every second stops at limit.
                found = list(
                    itertools.islice(recurring_ical_events.of(calendar).after(begin), limit + 1)
                )
            except Exception as exc:  # the expander's own errors: a rule it cannot read
                raise Skipped(f"its recurrence cannot be expanded: {shortened(str(exc))}") from None
        occurrences: list[tuple[date | datetime, date | datetime | None, Status, str]] = []
        for component in found[:limit]:
            start, end = self._times(component)
            status = _STATUS.get(str(component.get("STATUS", "")).upper(), Status.CONFIRMED)
            title = plain_line(str(component.get("SUMMARY", ""))) or fields["title"]
            occurrences.append((start, end, status, title))
        occurrences.sort(key=lambda item: _instant(item[0]))
        if not occurrences:
            raise Skipped(f"its recurrence gives no occurrence from {begin} to {stop}")
        if len(found) > limit or _goes_on(master, stop):
            last = day_of(occurrences[-1][0])
            self.notes.append(
                f"its recurrence is not one we keep as a rule; limited to {len(occurrences)}"
                f" occurrence(s), up to {last}"
            )
        head, rest = occurrences[0], occurrences[1:]
        series = {**fields, "start": head[0], "end": head[1], "status": head[2], "title": head[3]}
        length = _length(head[0], head[1])
        overrides = [
            {
                "occurrence": start,
                "end": end if _length(start, end) != length else None,
                "status": status if status != head[2] else None,
                "title": title if title != head[3] else None,
            }
            for start, end, status, title in rest
            if _length(start, end) != length or status != head[2] or title != head[3]
        ]
        if rest:
            extra = sorted({start for start, *_ in rest}, key=_instant)
            series["recurrence"] = {"extra_dates": extra}
            series["overrides"] = overrides
        return self._valid(series), len(occurrences)


def _rule(value: Any, start: date | datetime, zone: ZoneInfo) -> dict[str, Any]:
    """The source's RRULE in our rule's fields, or _NotOurRule if it uses more."""
    parts = {key.upper(): list(items) for key, items in value.items()}
    if not set(parts) <= _RULE_PARTS:
        raise _NotOurRule
    frequency = str(parts["FREQ"][0]).lower()
    rule: dict[str, Any] = {"frequency": frequency}
    if "INTERVAL" in parts:
        rule["interval"] = int(parts["INTERVAL"][0])
    if "COUNT" in parts:
        rule["count"] = int(parts["COUNT"][0])
    if "UNTIL" in parts:
        rule["until"] = _until_day(parts["UNTIL"][0], start, zone)
    if "BYMONTH" in parts:
        rule["by_month"] = [int(month) for month in parts["BYMONTH"]]
    if "BYMONTHDAY" in parts:
        rule["by_month_day"] = [int(day) for day in parts["BYMONTHDAY"]]
    if "BYDAY" in parts:
        days = [str(day).upper().lstrip("+") for day in parts["BYDAY"]]
        if not all(_WEEKDAY.fullmatch(day) for day in days):
            raise _NotOurRule
        rule["by_weekday"] = days
    if "BYSETPOS" in parts:
        rule["by_set_position"] = [int(position) for position in parts["BYSETPOS"]]
    try:
        Rule.model_validate(rule)
    except ValidationError:
        raise _NotOurRule from None
    return rule


def _until_day(value: Any, start: date | datetime, zone: ZoneInfo) -> date:
    """UNTIL as our rule's last day: an occurrence on that day after UNTIL's time is not
    one, so the day before is the last then (every occurrence starts at the start's time)."""
    if not isinstance(value, datetime):
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    local = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(start, datetime) and local.time() < start.time():
        return local.date() - timedelta(days=1)
    return local.date()


def _bounded(master: Component, stop: date) -> Component:
    """A copy of the series whose rule ends by `stop`: the expander then never walks further,
    whatever the rule (a rule that never matches would walk to the year 9999)."""
    bounded = copy.deepcopy(master)
    start = master.decoded("DTSTART")
    for rule in _rules(bounded):
        limit: date | datetime = stop
        if isinstance(start, datetime):  # UNTIL is UTC for a zoned start, floating otherwise
            limit = datetime.combine(stop, time(), UTC if start.tzinfo is not None else None)
        given = rule.get("UNTIL")
        if not given or day_of(given[0]) > stop:
            rule["UNTIL"] = [limit]
    return bounded


def _goes_on(master: Component, stop: date) -> bool:
    """Whether the series' rule may give occurrences after `stop`."""
    for rule in _rules(master):
        if "COUNT" not in rule and ("UNTIL" not in rule or day_of(rule["UNTIL"][0]) > stop):
            return True
    return False


def _rules(component: Component) -> list[Any]:
    """Every RRULE of a component (RFC 5545 deprecates more than one; some feeds have it)."""
    found = component.get("RRULE")
    return found if isinstance(found, list) else [found] if found is not None else []


def _date_values(component: Component, name: str) -> list[Any]:
    """Every value of a date-list property (EXDATE, RDATE), however many lines it takes."""
    found = component.get(name)
    lines = found if isinstance(found, list) else [found] if found is not None else []
    return [value for line in lines for value in line.dts]


def _categories(component: Component) -> list[str]:
    found = component.get("CATEGORIES")
    lines = found if isinstance(found, list) else [found] if found is not None else []
    return [plain_line(str(value)) for line in lines for value in line.cats if str(value).strip()]


_URL: TypeAdapter[str] = TypeAdapter(Url)


def _url(value: Any) -> str | None:
    """The event's own link, if it is an http(s) URL we would publish; else none."""
    if value is None:
        return None
    try:
        url = _URL.validate_python(str(value))
    except ValidationError:
        return None
    return url if url.lower().startswith(("https://", "http://")) else None


def _location(value: Any) -> dict[str, Any] | None:
    venue = plain_line(str(value)) if value is not None else ""
    return {"venue": venue} if venue else None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _instant(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def _length(start: date | datetime, end: date | datetime | None) -> timedelta | None:
    return None if end is None else _instant(end) - _instant(start)


__all__ = ["EXPANSION_SPAN", "EventReader", "Skipped"]
