"""Compile loaded data into an immutable Catalog snapshot with pre-rendered feeds."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any, TypeVar

from icalendar import Calendar

from calendar_service import ics
from calendar_service.index import (
    HORIZON_FUTURE,
    HORIZON_PAST,
    OccurrenceIndex,
    SeriesFacts,
    expand,
    facts_of,
)
from calendar_service.loading import LoadedData
from calendar_service.model import (
    CalendarSettings,
    Event,
    FeedDefinition,
    FeedFilter,
    Occurrence,
    occurrence_duration,
)
from calendar_service.query import Filter, FilterKeys, keys_for
from calendar_service.recurrence import index_reach, rule_starts

T = TypeVar("T")
ICS_TYPE = "text/calendar; charset=utf-8"
COMPILE_BATCH = 500  # events rendered and expanded together
RESPONSE_CACHE_SIZE = 512  # rendered responses kept per snapshot
RESPONSE_CACHE_BYTES = 32_000_000  # and their bytes, plain and compressed
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body rendered once: bytes, gzip bytes, ETag and Last-Modified."""

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str
    gzipped: bytes

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime) -> Rendered:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        # mtime=0 keeps the compressed bytes identical on every machine.
        return cls(body, content_type, last_modified, etag, gzip.compress(body, 6, mtime=0))

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped)

    @property
    def http_date(self) -> str:
        return format_datetime(self.last_modified.astimezone(UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One event in the snapshot with everything requests need, computed once."""

    event: Event
    keys: FilterKeys
    vevents: bytes  # its VEVENTs, serialised
    current: bool  # still within the feeds' window (not long past)
    first: date  # the first day any occurrence can start
    until: date | None  # the day after the last occurrence ends; None: endless

    def may_occur(self, start: datetime, end: datetime) -> bool:
        """Whether any occurrence can touch [start, end) (a day's slack for zones)."""
        if self.first > end.date() + timedelta(days=1):
            return False
        return self.until is None or self.until >= start.date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Feed:
    """A named feed and its pre-rendered body."""

    definition: FeedDefinition
    filter: Filter
    file: Rendered


def feed_filter(definition: FeedFilter) -> Filter:  # shim: C removes it for Filter.of_feed
    return Filter.of_feed(definition)


@dataclass(frozen=True)
class Catalog:
    """An immutable snapshot of the calendar: requests only ever read one of these."""

    settings: CalendarSettings
    identity: ics.Identity
    version: str
    compiled_on: date
    loaded_at: datetime
    events: Mapping[str, EventEntry]
    feeds: Mapping[str, Feed]
    header: ics.FeedHeader
    timezone: bytes
    everything: Rendered  # /calendar.ics: every current event under the calendar's own name
    index: OccurrenceIndex
    facts: Mapping[str, SeriesFacts]  # per event: title, status, overrides
    warnings: tuple[str, ...] = ()
    _cache: OrderedDict[Hashable, Rendered] = field(default_factory=OrderedDict, repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    _cache_bytes: list[int] = field(default_factory=lambda: [0], repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matching(self, query: Filter) -> list[EventEntry]:
        """Events passing the event-level part of a filter, in id order."""
        return [entry for entry in self.events.values() if query.matches(entry.keys)]

    def feed_for(self, query: Filter) -> Rendered:
        """The ICS feed of any filter, named for it; kept, bounded, per snapshot."""
        query = query.event_level()
        if query.is_empty:
            return self.everything
        return self.memo(("ics", query), lambda: self._render(query))

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value computed from this snapshot once, on first use (one per event at most).

        Unlocked: two threads may both compute it; they get equal values.
        """
        try:
            value: T = self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
        return value

    def memo(self, key: Hashable, build: Callable[[], Rendered]) -> Rendered:
        """A response rendered once per snapshot; the least recently used are dropped.

        Building happens outside the lock: two requests may both build, never block.
        """
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        rendered = build()
        size = rendered.size
        if size > RESPONSE_CACHE_BYTES // 4:
            return rendered  # a few very large responses would push out all the others
        with self._lock:
            if key not in self._cache:
                self._cache[key] = rendered
                self._cache_bytes[0] += size
            while len(self._cache) > RESPONSE_CACHE_SIZE or (
                self._cache_bytes[0] > RESPONSE_CACHE_BYTES
            ):
                self._cache_bytes[0] -= self._cache.popitem(last=False)[1].size
        return rendered

    def _render(self, query: Filter) -> Rendered:
        name = f"{self.settings.name} ({describe(query, self.settings)})"
        header = ics.feed_header(self.settings, name, self.settings.description)
        chosen = [entry for entry in self.matching(query) if entry.current]
        return render_feed(header, self.timezone, chosen, self.day_began)

    @property
    def day_began(self) -> datetime:
        """Midnight UTC of the snapshot's day: what depends on the day is no older."""
        return datetime.combine(self.compiled_on, time(), UTC)

    def occurrences(
        self, start: datetime, end: datetime, query: Filter | None = None
    ) -> list[Occurrence]:
        """Occurrences overlapping [start, end): from the index, or expanded on demand.

        Callers bound the window. Outside the horizon only the events passing `query` are
        expanded, from components built again for the purpose: the snapshot does not
        keep every event's components, which would triple its memory.
        """
        if self.index.covers(start, end):
            return self.index.between(start, end)
        chosen = self.events.values() if query is None else self.matching(query)
        entries = [entry for entry in chosen if entry.may_occur(start, end)]
        zone = self.settings.zone
        suffix = "@" + self.identity.uid_domain
        return expand(self.calendar_of(entries), start, end, zone, suffix, self.facts)

    def calendar_of(self, entries: Iterable[EventEntry]) -> Calendar:
        """An icalendar Calendar of these events with the VTIMEZONE, for expansion."""
        return build_calendar(
            self.settings, self.identity, self.compiled_on, (e.event for e in entries)
        )

    @property
    def calendar(self) -> Calendar:
        """Every event as one icalendar Calendar (built on each use)."""
        return self.calendar_of(self.events.values())

    def event_file(self, event_id: str) -> Rendered | None:
        """One event's own calendar, for "add to calendar"."""
        entry = self.events.get(event_id)
        if entry is None:
            return None
        header = ics.feed_header(self.settings, entry.event.data.title, entry.event.data.summary)
        return render_feed(header, self.timezone, [entry])


def describe(query: Filter, settings: CalendarSettings) -> str:  # shim: C removes it
    return query.describe(settings.vocabularies)


def render_feed(
    header: ics.FeedHeader, timezone: bytes, entries: list[EventEntry], since: datetime = EPOCH
) -> Rendered:
    """Assemble a feed from pre-rendered parts.

    Last-Modified is the newest event's, but never before `since`: a feed that depends on
    the day (events drop out of its past window) must not answer If-Modified-Since with a
    304 on a later day. No stamp counts as later than now (RFC 9110 8.8.2.1): one from a
    clock running ahead would otherwise answer 304 to every change until its time.
    """
    body = ics.assemble(header, timezone, (entry.vevents for entry in entries))
    modified = max((entry.event.modified for entry in entries), default=EPOCH)
    now = datetime.now(UTC).replace(microsecond=0)
    return Rendered.of(body, ICS_TYPE, max(min(modified, now), since))


def last_end(event: Event, reach: date) -> date | None:
    """The day after the series' last occurrence ends; None when it may go on after `reach`
    (endless, or not over by then). The rule is expanded no further than `reach`, as far as
    compiling expands it, a cost the loader has bounded."""
    data = event.data
    recurrence = data.recurrence
    spans: list[tuple[date | datetime, timedelta]] = [(data.start, data.duration)]
    if recurrence is not None:
        rule = recurrence.rule
        if rule is not None:
            if (rule.count is None and rule.until is None) or (rule.until or reach) > reach:
                return None
            starts = rule_starts(data, rule.until or reach)
            if rule.count is not None and len(starts) < rule.count:
                return None
            spans += [(value, data.duration) for value in starts]
        spans += [(value, data.duration) for value in recurrence.extra_dates]
    for override in data.overrides:
        if override.start is not None or override.end is not None:
            begin = override.start if override.start is not None else override.occurrence
            length = occurrence_duration(begin, override.end) if override.end else data.duration
            spans.append((begin, length))
    return max(_day(value + length) for value, length in spans)


def old_occurrences(previous: Catalog, event_id: str) -> list[Occurrence]:
    """An unchanged event's occurrences in the previous snapshot's index."""
    index = previous.index
    return [index.occurrences[position] for position in index.by_event.get(event_id, ())]


def first_start(event: Event) -> date:
    """The earliest day an occurrence starts: the start, an extra date or a moved one."""
    data = event.data
    starts: list[date | datetime] = [data.start]
    if data.recurrence is not None:
        starts += data.recurrence.extra_dates
    starts += [override.start for override in data.overrides if override.start is not None]
    return min(_day(value) for value in starts)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def compile_catalog(
    loaded: LoadedData,
    *,
    base_url: str | None = None,
    uid_domain: str | None = None,
    today: date | None = None,
    previous: Catalog | None = None,
) -> Catalog:
    """Build the snapshot: components, feeds and caches. Deterministic for a given day.

    With the `previous` snapshot, events whose content and revision did not change keep
    their rendered VEVENTs and occurrences: a reload after one edit renders one event.
    The result is the same as compiling from scratch (tested).
    """
    settings = loaded.settings
    identity = ics.Identity(
        base_url=(base_url or settings.base_url).rstrip("/"),
        uid_domain=uid_domain or settings.uid_domain,
    )
    today = today or datetime.now(UTC).date()
    horizon_start = today - timedelta(days=settings.past_days)
    timezone_component = ics.vtimezone(settings.timezone, today.year)
    timezone_bytes = timezone_component.to_ical()
    zone = settings.zone
    facts = MappingProxyType({event.id: facts_of(event.data, zone) for event in loaded.events})
    horizon = (
        day_start(today - HORIZON_PAST, settings),
        day_start(today + HORIZON_FUTURE, settings),
    )
    reach = index_reach(today)
    suffix = "@" + identity.uid_domain
    entries: dict[str, EventEntry] = {}
    occurrences: list[Occurrence] = []
    context = (settings, identity, today)
    reuse = (
        previous
        if previous is not None
        and (previous.settings, previous.identity, previous.compiled_on) == context
        else None
    )
    fresh: list[Event] = []
    for event in loaded.events:
        old = reuse.events.get(event.id) if reuse is not None else None
        if reuse is not None and old is not None and old.event.revision == event.revision:
            entries[event.id] = replace(old, event=event)
            occurrences += old_occurrences(reuse, event.id)
        else:
            fresh.append(event)
    # A batch at a time: components are needed only to render and expand, and holding all
    # of them at once would leave the process three times the size it keeps.
    for start in range(0, len(fresh), COMPILE_BATCH):
        calendar = Calendar()
        calendar.add_component(timezone_component)
        for event in fresh[start : start + COMPILE_BATCH]:
            components = ics.event_components(event, settings, identity)
            for component in components:
                calendar.add_component(component)
            end = last_end(event, reach)
            entries[event.id] = EventEntry(
                event=event,
                keys=keys_for(event.data),
                vevents=ics.render_components(components),
                current=end is None or end > horizon_start,
                first=first_start(event),
                until=end,
            )
        occurrences += expand(calendar, *horizon, settings.zone, suffix, facts)
    index = OccurrenceIndex.of(occurrences, settings.zone, *horizon)
    entries = {event.id: entries[event.id] for event in loaded.events}  # in id order
    day_began = datetime.combine(today, time(), UTC)
    header = ics.feed_header(settings, settings.name, settings.description)
    current = [entry for entry in entries.values() if entry.current]
    feeds: dict[str, Feed] = {}
    for definition in settings.feeds:
        query = feed_filter(definition.filter)
        feed_header = ics.feed_header(settings, definition.title, definition.description)
        chosen = [entry for entry in current if query.matches(entry.keys)]
        feeds[definition.name] = Feed(
            definition, query, render_feed(feed_header, timezone_bytes, chosen, day_began)
        )
    version_source = f"{loaded.version}|{identity.base_url}|{identity.uid_domain}|{today}"
    return Catalog(
        settings=settings,
        identity=identity,
        version=hashlib.sha256(version_source.encode()).hexdigest()[:16],
        compiled_on=today,
        loaded_at=datetime.now(UTC),
        events=MappingProxyType(entries),
        feeds=MappingProxyType(feeds),
        header=header,
        timezone=timezone_bytes,
        everything=render_feed(header, timezone_bytes, current, day_began),
        index=index,
        facts=facts,
        warnings=loaded.warnings,
    )


def build_calendar(
    settings: CalendarSettings, identity: ics.Identity, today: date, events: Iterable[Event]
) -> Calendar:
    """A Calendar of events' components, exactly as compiling builds them."""
    calendar = Calendar()
    calendar.add_component(ics.vtimezone(settings.timezone, today.year))
    for event in events:
        for component in ics.event_components(event, settings, identity):
            calendar.add_component(component)
    return calendar


def day_start(value: date, settings: CalendarSettings) -> datetime:
    return datetime.combine(value, time(), settings.zone)
