"""Read the data directory into validated models, with file/line/field errors."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType

from calendar_service.documents import DataError, DataInvalid, Document, field_path
from calendar_service.events_files import CheckedEvent, check_events_file, is_events_file
from calendar_service.judging import Listing
from calendar_service.load_cache import LoadCache
from calendar_service.model import CalendarSettings, Change, Event, TermCalendar
from calendar_service.parallel_checking import check_on_two_cores
from calendar_service.partner_feeds import ImportedFeed, import_sources
from calendar_service.partner_sources import SourcesFile
from calendar_service.recurrence import EXPANSION_BUDGET, Allowance, Located, check_expansion
from calendar_service.revisions import Stamps, withdrawn_events
from calendar_service.series import Expansion
from calendar_service.side_files import (
    feed_problems,
    load_terms,
    read_change_log,
    read_revisions,
    read_settings,
    read_sources,
    read_sources_file,
)
from calendar_service.skipping import TermDays
from calendar_service.sources import (
    CHANGES_FILE,
    EVENTS_DIR,
    REVISIONS_FILE,
    SETTINGS_FILE,
    SOURCES_FILE,
    TERMS_DIR,
    DataFile,
    read_data_files,
)
from calendar_service.values import MAX_SEQUENCE

__all__ = [
    "CHANGES_FILE",
    "EVENTS_DIR",
    "REVISIONS_FILE",
    "SETTINGS_FILE",
    "SOURCES_FILE",
    "TERMS_DIR",
    "DataError",
    "DataInvalid",
    "LoadCache",
    "LoadedData",
    "load",
    "read_sources",
]


STAMP_ADVICE = "run `calendar-service stamp` to record its revision"  # ends unstamped warnings


@dataclass(frozen=True, slots=True)
class LoadedData:
    """Everything read from a valid data directory."""

    settings: CalendarSettings
    events: tuple[Event, ...]
    version: str  # content hash of every input file (and every fetched feed read)
    warnings: tuple[str, ...] = ()
    imports: tuple[ImportedFeed, ...] = ()  # per partner feed: what it added, what not
    terms: Mapping[str, TermCalendar] = field(default_factory=dict)  # by id: the file stem
    # Events removed from the data within the feeds' window, every date cancelled: feeds
    # keep them so that subscribers' calendars remove them (revisions.yaml keeps them).
    withdrawn: tuple[Event, ...] = ()
    changes: tuple[Change, ...] = ()  # the change log, oldest first
    # Each event's rule as published, listed by loading over the window compiling indexes,
    # by id: compiling reads it rather than expanding the rule again. Not kept in the
    # LoadCache, nor in the snapshot: held, the lists cost 9 MB at 10,000 events.
    expansions: Mapping[str, Expansion] = field(default_factory=dict)


def load(
    root: Path,
    *,
    today: date | None = None,
    fetched: Path | None = None,
    cache: LoadCache | None = None,
    expansion_budget: int = EXPANSION_BUDGET,
) -> LoadedData:
    """Load and validate a data directory; raise `DataInvalid` listing every error.

    With `fetched`, the directory of partner feeds' last good copies, the events of the
    sources in `sources.yaml` are added (partner_feeds.py); their problems are reported in
    `imports`, never raised: the sources file itself is data, checked like the rest.
    With `cache` (kept between loads, as reloading does), the files unchanged since the
    last load are not read again; checks across files run over every file each time.
    `expansion_budget` is what expanding every rule may cost together (check_expansion).
    """
    cache = cache if cache is not None else LoadCache()
    errors: list[DataError] = []
    contents = read_data_files(Path(root), errors)
    cache.keep_only(contents)
    digest = hashlib.sha256()
    for name, file in contents.items():
        digest.update(name.encode() + b"\0" + file.raw + b"\0")
    loaded_settings = read_settings(contents, cache, errors)
    settings = loaded_settings[0] if loaded_settings else None
    terms = load_terms(contents, errors, cache)
    logs = _Logs(contents, cache, today)
    found = _check_events(contents, cache, settings, terms, today, expansion_budget, logs, errors)
    stamps, sources, changes = _check_side_files(contents, loaded_settings, logs, errors)
    if errors:
        raise DataInvalid(errors)
    assert settings is not None
    errors.extend(_check_across_catalog(found, settings, today, cache, expansion_budget))
    if errors:
        raise DataInvalid(errors)
    stamp_day = today or datetime.now(UTC).date()
    events, warnings, expansions = _stamped(found, stamps, stamp_day, errors)
    if errors:
        raise DataInvalid(errors)
    imports, bodies = _import_partner_events(events, sources, fetched, settings, stamp_day)
    for body in bodies:
        digest.update(body + b"\0")
    events.sort(key=lambda item: item.id)
    withdrawn = _withdrawn(stamps, events, stamp_day, settings, errors)
    if errors:
        raise DataInvalid(errors)
    return LoadedData(
        settings,
        tuple(events),
        digest.hexdigest()[:16],
        tuple(warnings),
        imports=tuple(imports),
        terms=MappingProxyType(terms),
        withdrawn=withdrawn,
        changes=changes,
        expansions=MappingProxyType(expansions),
    )


class _Logs:
    """The change log and the stamps, each read once: while a child checks events files, if
    one does, their errors told later in their place; otherwise when `load` asks for them."""

    def __init__(
        self, contents: Mapping[str, DataFile], cache: LoadCache, today: date | None
    ) -> None:
        self._contents, self._cache, self._today = contents, cache, today
        self._stamps: Stamps | None = None
        self.stamp_errors: list[DataError] = []

    def read(self) -> None:
        """Read both, their errors kept (the change log's in the cache) until asked for."""
        read_change_log(self._contents, self._cache)
        self.stamps()

    def stamps(self) -> Stamps:
        """The stamps of revisions.yaml, read on the first call; errors in `stamp_errors`."""
        if self._stamps is None:
            self._stamps = read_revisions(self._contents, self._today, self.stamp_errors)
        return self._stamps

    def changes(self, errors: list[DataError]) -> tuple[Change, ...]:
        """The change log, its errors added to `errors`."""
        return read_change_log(self._contents, self._cache, errors)


@dataclass(frozen=True, slots=True)
class _EventsChecked:
    """The events of every events file as one load checked them, in the files' order."""

    written: list[CheckedEvent]
    located: list[Located]  # event as published, file, line, its rule listed
    provenance: list[str]  # warnings of the well-formed events
    listing: Listing  # the rules listed by this load


def _check_events(
    contents: Mapping[str, DataFile],
    cache: LoadCache,
    settings: CalendarSettings | None,
    terms: Mapping[str, TermCalendar],
    today: date | None,
    expansion_budget: int,
    logs: _Logs,
    errors: list[DataError],
) -> _EventsChecked:
    """Every events file checked (unchanged ones taken from `cache`, stale ones on two cores
    when worth it, the logs read meanwhile), then each id checked unique across files."""
    term_days = {key: TermDays.of(key, calendar) for key, calendar in terms.items()}
    located: list[Located] = []
    written: list[CheckedEvent] = []
    seen: dict[str, str] = {}
    # Provenance is judged on the calendar's own date (a test or `validate --date` gives it).
    local_today = today or datetime.now(settings.zone if settings else UTC).date()
    context = (settings, tuple(terms.items()), local_today)
    provenance: list[str] = []
    judged = cache.judged
    listing = Listing(Allowance(expansion_budget))
    check = partial(
        check_events_file,
        settings=settings,
        terms=term_days,
        today=local_today,
        context=context,
        judged=judged,
        listing=listing,
    )
    events_files = [(name, file) for name, file in contents.items() if is_events_file(name)]
    # The change log and the stamps are read while a child checks events files, if one
    # does, their errors told by `load` in their place; otherwise they are read there.
    check_on_two_cores(events_files, cache, context, listing, check, logs.read)
    for name, file in events_files:
        checked = cache.reuse(name, file, context, errors, partial(check, name, file.raw))
        for event in checked:
            event_id = event.judged.data.id
            if event_id in seen:  # across files: checked every time
                full = ("events", event.index, "id")
                message = f"duplicate id {event_id!r}, already used at {seen[event_id]}"
                errors.append(DataError(name, event.id_line, field_path(full), message))
            else:
                seen[event_id] = f"{name}:{event.line}"
                if not event.problems:  # a well-formed event: its provenance is told
                    provenance += event.provenance
            errors.extend(event.problems)
            published = event.judged.published
            located.append((published, name, event.line, listing.of(published)))
            written.append(event)
    cache.judged = {event.judged.data.id: event.judged for event in written}
    return _EventsChecked(written, located, provenance, listing)


def _check_side_files(
    contents: Mapping[str, DataFile],
    loaded_settings: tuple[CalendarSettings, Document] | None,
    logs: _Logs,
    errors: list[DataError],
) -> tuple[Stamps, SourcesFile | None, tuple[Change, ...]]:
    """The checks of the files besides the events, their errors told in this order: the
    named feeds' vocabularies, the stamps, the sources file, the change log."""
    settings = loaded_settings[0] if loaded_settings else None
    if settings is not None and loaded_settings is not None:
        errors.extend(feed_problems(settings, loaded_settings[1]))
    stamps = logs.stamps()
    errors += logs.stamp_errors
    raw_sources = contents.get(SOURCES_FILE)
    sources = read_sources_file(raw_sources.raw if raw_sources else None, settings, errors)
    changes = logs.changes(errors)
    return stamps, sources, changes


def _check_across_catalog(
    found: _EventsChecked,
    settings: CalendarSettings,
    today: date | None,
    cache: LoadCache,
    expansion_budget: int,
) -> list[DataError]:
    """Across the catalog, once each event is valid: bounded expansion cost, clock changes."""
    day = today or datetime.now(UTC).date()
    clocks = cache.clock_problems()
    return check_expansion(found.located, settings.zone, day, clocks, budget=expansion_budget)


def _stamped(
    found: _EventsChecked, stamps: Stamps, stamp_day: date, errors: list[DataError]
) -> tuple[list[Event], list[str], dict[str, Expansion]]:
    """The events with their SEQUENCE and LAST-MODIFIED from the stamps; the warnings (the
    events' provenance, then each unstamped edit's); each event's rule as listed, by id."""
    events, warnings = [], found.provenance
    expansions: dict[str, Expansion] = {}
    for event in found.written:
        data, line, digest_value = event.judged.data, event.line, event.judged.content_hash
        known = stamps.known.get(data.id)
        if known is not None and known[0] == digest_value:
            sequence, modified = known[1], known[2]
        else:
            # Unstamped edits still get a newer SEQUENCE; the day keeps workers in agreement.
            sequence = known[1] + 1 if known is not None else 0
            modified = datetime.combine(stamp_day, time(), UTC)
            if sequence > MAX_SEQUENCE:
                errors.append(_sequence_exhausted(data.id, event.source, line))
            state = "changed since it was stamped" if known else "has no revision stamp yet"
            warnings.append(f"{event.source}:{line}: event {data.id!r} {state}; {STAMP_ADVICE}")
        sessions = event.judged.sessions
        events.append(Event(data, event.source, line, sequence, modified, digest_value, sessions))
        if (expansion := found.listing.of(event.judged.published)) is not None:
            expansions[data.id] = expansion
    return events, warnings, expansions


def _sequence_exhausted(event_id: str, name: str, line: int) -> DataError:
    return DataError(
        name,
        line,
        "",
        f"event {event_id!r} changed, but its SEQUENCE in {REVISIONS_FILE} is already"
        f" {MAX_SEQUENCE:,}, the largest calendars accept; give the changed event a new id",
    )


def _import_partner_events(
    events: list[Event],
    sources: SourcesFile | None,
    fetched: Path | None,
    settings: CalendarSettings,
    stamp_day: date,
) -> tuple[list[ImportedFeed], list[bytes]]:
    """The partner feeds' events added to `events` (with `fetched` and a sources file), a
    report of each feed, and the feeds' bodies read (the version digests them)."""
    if sources is None or fetched is None:
        return [], []
    taken = {event.id for event in events}
    added, imports, bodies = import_sources(sources, Path(fetched), settings, taken, stamp_day)
    events += added
    return imports, bodies


def _withdrawn(
    stamps: Stamps,
    events: list[Event],
    stamp_day: date,
    settings: CalendarSettings,
    errors: list[DataError],
) -> tuple[Event, ...]:
    """The events withdrawn within the feeds' past days and not back, every date cancelled."""
    since = datetime.combine(stamp_day - timedelta(days=settings.past_days), time(), UTC)
    present = {event.id for event in events}
    return withdrawn_events(stamps.withdrawn, present, since, errors)
