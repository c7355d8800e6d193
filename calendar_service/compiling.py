"""Compile loaded data into an immutable Catalog snapshot: events, index and feed bytes.

The snapshot holds the calendar's domain output (rendered VEVENTs, the named feeds) and
nothing HTTP-shaped: ETags, compression and the response cache belong to the web service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from types import MappingProxyType

from icalendar import Calendar

from calendar_service import ics
from calendar_service.entries import EventEntry
from calendar_service.feed_files import (
    Feed,
    FeedFile,
    TermFeed,
    feed_modified,
    named_feeds,
    render_feed,
    term_feeds,
    whole_feed,
)
from calendar_service.forked import Forked, can_fork, core_free
from calendar_service.index import (
    HORIZON_FUTURE,
    HORIZON_PAST,
    OccurrenceIndex,
    SeriesFacts,
    facts_of,
    occurrences_of,
)
from calendar_service.loading import LoadedData
from calendar_service.model import (
    CalendarSettings,
    Change,
    Event,
    Occurrence,
    Skipped,
    day_of,
    occurrence_duration,
)
from calendar_service.query import Filter, keys_for
from calendar_service.recurrence import index_reach
from calendar_service.series import Expansion, Series
from calendar_service.urls import choose_base


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
    everything: FeedFile  # /calendar.ics: every current event under the calendar's own name
    index: OccurrenceIndex
    facts: Mapping[str, SeriesFacts]  # per event: title, status, overrides
    warnings: tuple[str, ...] = ()
    term_feeds: Mapping[str, TermFeed] = field(default_factory=dict)  # by term calendar id

    def skipped_between(
        self, query: Filter, first: date, last: date
    ) -> list[tuple[EventEntry, Skipped]]:
        """The dates from `first` to `last` (inclusive) on which a matching event's rule
        holds no session, in order: what pages show as "No session: <reason>"."""
        found = [
            (entry, skipped)
            for entry in self.events.values()
            if entry.event.schedule.skipped and query.matches(entry.keys)
            for skipped in entry.event.schedule.skipped
            if first <= skipped.day <= last
        ]
        return sorted(found, key=lambda pair: (str(pair[1].start), pair[0].event.id))

    # Withdrawn events, every date cancelled: in the feeds only, for their window.
    withdrawn: tuple[EventEntry, ...] = ()
    changes: tuple[Change, ...] = ()  # the change log, oldest first

    def in_feeds(self, query: Filter) -> list[EventEntry]:
        """The events a feed of this filter carries: current ones, then withdrawn ones."""
        chosen = [entry for entry in self.matching(query) if entry.current]
        return chosen + [entry for entry in self.withdrawn if query.matches(entry.keys)]

    def matching(self, query: Filter) -> list[EventEntry]:
        """Events passing the event-level part of a filter, in id order."""
        return [entry for entry in self.events.values() if query.matches(entry.keys)]

    def feed_for(self, query: Filter) -> FeedFile:
        """The ICS feed of any filter, named for it (built on each call: callers keep it)."""
        query = query.event_level()
        if query.is_empty:
            return self.everything
        name = f"{self.settings.name} ({query.describe(self.settings.vocabularies)})"
        header = ics.feed_header(self.settings, name, self.settings.description)
        return render_feed(header, self.timezone, self.in_feeds(query), self.day_began)

    @property
    def day_began(self) -> datetime:
        """Midnight UTC of the snapshot's day: what depends on the day is no older."""
        return datetime.combine(self.compiled_on, time(), UTC)

    def calendar_of(self, entries: Iterable[EventEntry]) -> Calendar:
        """An icalendar Calendar of these events with the VTIMEZONE, for expansion."""
        return build_calendar(
            self.settings, self.identity, self.compiled_on, (e.event for e in entries)
        )

    @property
    def calendar(self) -> Calendar:
        """Every event as one icalendar Calendar (built on each use)."""
        return self.calendar_of(self.events.values())

    def event_file(self, event_id: str) -> FeedFile | None:
        """One event's own calendar, for "add to calendar" (built on each call)."""
        entry = self.events.get(event_id)
        if entry is None:
            return None
        header = ics.feed_header(self.settings, entry.event.data.title, entry.event.data.summary)
        return render_feed(header, self.timezone, [entry])

    def event_file_modified(self, event_id: str) -> datetime:
        """The Last-Modified of `event_file(event_id)`, without rendering it (the export)."""
        return feed_modified([self.events[event_id]])


def last_end(event: Event, reach: date, expansion: Expansion | None = None) -> date | None:
    """The day after the series' last occurrence ends; None when it may go on after `reach`
    (endless, or not over by then). The rule is expanded no further than `reach`, as far as
    compiling expands it, a cost the loader has bounded (`expansion`: as loading listed it)."""
    data = event.timing  # a count run on past skipped days ends on its until
    recurrence = data.recurrence
    spans: list[tuple[date | datetime, timedelta]] = [(data.start, data.duration)]
    if recurrence is not None:
        rule = recurrence.rule
        if rule is not None:
            if (rule.count is None and rule.until is None) or (rule.until or reach) > reach:
                return None
            limit = datetime.combine(rule.until or reach, time.max)
            dates = expansion or Expansion.unlisted(Series(data))
            if rule.count is not None:
                starts = dates.between(data.start, limit)
                if len(starts) < rule.count:
                    return None
            else:  # the last start is all that counts
                latest = dates.latest(limit)
                starts = [] if latest is None else [latest]
            spans += [(value, data.duration) for value in starts[-1:]]
        spans += [(value, data.duration) for value in recurrence.extra_dates]
    for override in data.overrides:
        if override.start is not None or override.end is not None:
            begin = override.start if override.start is not None else override.occurrence
            length = occurrence_duration(begin, override.end) if override.end else data.duration
            spans.append((begin, length))
    return max(day_of(value + length) for value, length in spans)


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
    return min(day_of(value) for value in starts)


def identity_of(
    settings: CalendarSettings,
    base_url: str | None,
    uid_domain: str | None,
    served_url: str | None = None,
) -> ics.Identity:
    """The public base URL and UID domain: the service's settings over `calendar.yaml`,
    over the address served (urls.choose_base)."""
    return ics.Identity(
        base_url=choose_base(base_url, settings.base_url, served_url),
        uid_domain=uid_domain or settings.uid_domain,
    )


def snapshot_version(data_version: str, identity: ics.Identity, today: date) -> str:
    """The version `/version.json` reports and `validate` prints: it changes with the data
    files, the base URL and UID domain (they are in every feed) and the day compiled."""
    source = f"{data_version}|{identity.base_url}|{identity.uid_domain}|{today}"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def compile_catalog(
    loaded: LoadedData,
    *,
    base_url: str | None = None,
    served_url: str | None = None,
    uid_domain: str | None = None,
    today: date | None = None,
    previous: Catalog | None = None,
) -> Catalog:
    """Build the snapshot: components, index and feeds. Deterministic for a given day.

    Absolute links start with `base_url` (configured), else calendar.yaml's `base_url`,
    else `served_url` (where `serve` listens); BaseUrlMissing if there is none of them.
    With the `previous` snapshot, events whose content and revision did not change keep
    their rendered VEVENTs and occurrences: a reload after one edit renders one event.
    The result is the same as compiling from scratch (tested).
    """
    settings = loaded.settings
    identity = identity_of(settings, base_url, uid_domain, served_url)
    today = today or datetime.now(UTC).date()
    reuse = previous if _same_context(previous, settings, identity, today) else None
    entries, occurrences, fresh = _reuse_unchanged(loaded.events, reuse)
    # An unchanged event's facts are the previous snapshot's (they follow its content).
    known_facts = reuse.facts if reuse is not None else {}
    facts = MappingProxyType(
        {
            event.id: known_facts[event.id]
            if event.id in entries
            else facts_of(event.data, settings.zone)
            for event in loaded.events
        }
    )
    timezone_bytes = ics.vtimezone(settings.timezone, today.year).to_ical()
    index = _compile_fresh(
        fresh,
        settings,
        identity,
        today,
        facts,
        entries,
        occurrences,
        reuse.index if reuse else None,
        loaded.expansions,
    )
    entries = {event.id: entries[event.id] for event in loaded.events}  # in id order
    day_began = datetime.combine(today, time(), UTC)
    header = ics.feed_header(settings, settings.name, settings.description)
    withdrawn = tuple(_withdrawn_entries(loaded.withdrawn, settings, identity))
    current = [entry for entry in entries.values() if entry.current] + list(withdrawn)
    everything = whole_feed(header, timezone_bytes, current, day_began)
    return Catalog(
        settings=settings,
        identity=identity,
        version=snapshot_version(loaded.version, identity, today),
        compiled_on=today,
        loaded_at=datetime.now(UTC),
        events=MappingProxyType(entries),
        feeds=MappingProxyType(
            named_feeds(settings, timezone_bytes, current, day_began, everything)
        ),
        header=header,
        timezone=timezone_bytes,
        everything=everything,
        index=index,
        facts=facts,
        warnings=loaded.warnings,
        term_feeds=MappingProxyType(term_feeds(loaded, settings, identity)),
        withdrawn=withdrawn,
        changes=loaded.changes,
    )


def _withdrawn_entries(
    events: Iterable[Event], settings: CalendarSettings, identity: ics.Identity
) -> Iterable[EventEntry]:
    """Withdrawn events rendered for the feeds, but not indexed: they have no page or dates.

    One whose category the vocabulary no longer has cannot be rendered, nor be in a feed.
    """
    for event in events:
        if event.data.category not in settings.vocabularies.categories:
            continue
        vevents = ics.render_event(event, settings, identity)
        yield EventEntry(event, keys_for(event.data), vevents, True, first_start(event), None)


def _same_context(
    previous: Catalog | None, settings: CalendarSettings, identity: ics.Identity, today: date
) -> bool:
    """Whether `previous` was compiled with these settings, identity and day (reusable)."""
    if previous is None:
        return False
    return (previous.settings, previous.identity, previous.compiled_on) == (
        settings,
        identity,
        today,
    )


def _reuse_unchanged(
    events: Iterable[Event], reuse: Catalog | None
) -> tuple[dict[str, EventEntry], list[Occurrence], list[Event]]:
    """The entries and occurrences of events unchanged since `reuse`, and the other events."""
    entries: dict[str, EventEntry] = {}
    occurrences: list[Occurrence] = []
    fresh: list[Event] = []
    for event in events:
        old = reuse.events.get(event.id) if reuse is not None else None
        if reuse is not None and old is not None and old.event.revision == event.revision:
            # Built directly: dataclasses.replace costs three times as much, 10,000 times.
            entries[event.id] = EventEntry(
                event, old.keys, old.vevents, old.current, old.first, old.until
            )
            occurrences += old_occurrences(reuse, event.id)
        else:
            fresh.append(event)
    return entries, occurrences, fresh


def _compile_fresh(
    fresh: list[Event],
    settings: CalendarSettings,
    identity: ics.Identity,
    today: date,
    facts: Mapping[str, SeriesFacts],
    entries: dict[str, EventEntry],
    occurrences: list[Occurrence],
    known: OccurrenceIndex | None = None,
    expansions: Mapping[str, Expansion] | None = None,
) -> OccurrenceIndex:
    """Render and expand the `fresh` events into `entries`; the index of all occurrences
    (the reused ones keep what `known`, the previous index, worked out for them). Rules
    are read from `expansions` (LoadedData.expansions) where loading listed them."""
    listed = expansions or {}
    horizon_start = today - timedelta(days=settings.past_days)
    horizon = (
        day_start(today - HORIZON_PAST, settings),
        day_start(today + HORIZON_FUTURE, settings),
    )
    reach = index_reach(today)
    drawn = partial(_drawn, fresh, settings, identity, reach, listed)
    child = Forked(drawn) if _worth_forking(fresh) else None
    try:
        occurrences += occurrences_of(fresh, *horizon, settings.zone, facts, listed)
        index = OccurrenceIndex.of(occurrences, settings.zone, *horizon, known=known)
        keys = [keys_for(event.data) for event in fresh]
    finally:
        parts = child.result() if child is not None else None
    if parts is None:  # not forked, or the child failed: drawn here, the same
        parts = drawn()
    for event, key, (vevents, first, end) in zip(fresh, keys, parts, strict=True):
        entries[event.id] = EventEntry(
            event=event,
            keys=key,
            vevents=vevents,
            current=end is None or end > horizon_start,
            first=first,
            until=end,
        )
    return index


# Fresh events are drawn (rendered, their first and last days found) in a forked child
# while the parent expands and indexes them, when there are this many and a second core is
# free: drawing is 0.4 s of CPU at 10,000 events, as much as the parent's part, and its
# 10 MB come back through a pipe in about 0.01 s. Below this, forking costs more than it saves.
PARALLEL_EVENTS = 2_000


def _worth_forking(fresh: list[Event]) -> bool:
    """Whether to draw the fresh events in a child: enough of them, and a second core free
    (forked.core_free) for it to run beside the parent."""
    return len(fresh) >= PARALLEL_EVENTS and can_fork() and core_free()


def _drawn(
    events: list[Event],
    settings: CalendarSettings,
    identity: ics.Identity,
    reach: date,
    listed: Mapping[str, Expansion],
) -> list[tuple[bytes, date, date | None]]:
    """What each event's entry holds besides its keys, in order: its VEVENTs serialised,
    the first day it can occur and the day after it last can (last_end, up to `reach`)."""
    return [
        (
            ics.render_event(event, settings, identity),
            first_start(event),
            last_end(event, reach, listed.get(event.id)),
        )
        for event in events
    ]


def build_calendar(
    settings: CalendarSettings, identity: ics.Identity, today: date, events: Iterable[Event]
) -> Calendar:
    """A Calendar of events' VEVENTs as published (read back by icalendar), with the
    VTIMEZONE: what recurring-ical-events expands for windows outside the index."""
    calendar = Calendar()
    calendar.add_component(ics.vtimezone(settings.timezone, today.year))
    for event in events:
        for component in ics.event_components(event, settings, identity):
            calendar.add_component(component)
    return calendar


def day_start(value: date, settings: CalendarSettings) -> datetime:
    return datetime.combine(value, time(), settings.zone)
