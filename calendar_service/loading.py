"""Read the data directory into validated models, with file/line/field errors."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import struct
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from calendar_service.documents import (
    DataError,
    DataInvalid,
    Document,
    field_path,
)
from calendar_service.events_files import CheckedEvent, check_events_file, is_events_file
from calendar_service.fields import FIELDS
from calendar_service.forked import Forked, can_fork, core_free
from calendar_service.judging import Judged, Listing
from calendar_service.load_cache import LoadCache
from calendar_service.located import load_model
from calendar_service.model import (
    CalendarSettings,
    Change,
    Event,
    TermCalendar,
)
from calendar_service.partner_feeds import ImportedFeed, import_sources
from calendar_service.partner_sources import SourceConfig, SourcesFile, vocabulary_problems
from calendar_service.recurrence import (
    EXPANSION_BUDGET,
    Allowance,
    Located,
    check_expansion,
)
from calendar_service.revisions import (
    Stamps,
    latest_stamp,
    read_changes,
    read_stamps,
    withdrawn_events,
)
from calendar_service.series import Expansion
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
from calendar_service.values import (
    MAX_SEQUENCE,
    FieldPath,
    is_slug,
)

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


M = TypeVar("M", bound=BaseModel)
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
    loaded_settings = (
        cache.reuse(
            SETTINGS_FILE,
            contents[SETTINGS_FILE],
            None,
            errors,
            partial(load_model, CalendarSettings, SETTINGS_FILE, contents[SETTINGS_FILE].raw),
        )
        if SETTINGS_FILE in contents
        else None
    )
    settings = loaded_settings[0] if loaded_settings else None

    terms = _load_terms(contents, errors, cache)
    term_days = {key: TermDays.of(key, calendar) for key, calendar in terms.items()}
    located: list[Located] = []  # event as published, file, line, its rule listed
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
    # does, their errors told below in their place; otherwise they are read there.
    read_change_log = partial(_read_change_log, contents, cache)
    stamp_errors: list[DataError] = []
    read_revisions = functools.cache(partial(_read_revisions, contents, today, stamp_errors))

    def read_logs() -> None:
        read_change_log()
        read_revisions()

    _check_on_two_cores(events_files, cache, context, listing, check, read_logs)
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

    if settings is not None and loaded_settings is not None:
        errors.extend(_check_feeds(settings, loaded_settings[1]))
    stamps = read_revisions()
    errors += stamp_errors
    raw_sources = contents.get(SOURCES_FILE)
    sources = _read_sources(raw_sources.raw if raw_sources else None, settings, errors)
    changes = read_change_log(errors)
    if errors:
        raise DataInvalid(errors)
    assert settings is not None
    # Across the catalog, once each event is valid: bounded expansion cost, clock changes.
    day = today or datetime.now(UTC).date()
    errors.extend(
        check_expansion(
            located, settings.zone, day, cache.clock_problems(), budget=expansion_budget
        )
    )
    if errors:
        raise DataInvalid(errors)

    stamp_day = today or datetime.now(UTC).date()
    events, warnings = [], provenance
    expansions: dict[str, Expansion] = {}
    for event in written:
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
        if (expansion := listing.of(event.judged.published)) is not None:
            expansions[data.id] = expansion
    if errors:
        raise DataInvalid(errors)
    imports: list[ImportedFeed] = []
    if sources is not None and fetched is not None:
        taken = {event.id for event in events}
        added, imports, bodies = import_sources(sources, Path(fetched), settings, taken, stamp_day)
        events += added
        for body in bodies:
            digest.update(body + b"\0")
    events.sort(key=lambda item: item.id)
    since = datetime.combine(stamp_day - timedelta(days=settings.past_days), time(), UTC)
    present = {event.id for event in events}
    withdrawn = withdrawn_events(stamps.withdrawn, present, since, errors)
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


# Events files are checked in two processes when those to check hold this many bytes
# (about 3,000 events) and two cores are free: a forked child takes files from the same
# queue as the parent and pickles what it found back (0.1 s each way for half of 10,000
# events, against 0.7 s of checking them). Below this, forking costs more than it saves.
PARALLEL_BYTES = 2_000_000

CheckFile = Callable[[str, bytes, list[DataError]], tuple["CheckedEvent", ...]]
# What a child sends back of one file, pickled as soon as the file is checked: its position
# in the queue, its checked events (without the context they were checked in: the parent's
# own is put back, and each with its listed rule), and the file's errors.
_Sent = tuple[int, tuple[tuple[Any, ...], ...], tuple[DataError, ...]]


def _check_on_two_cores(
    files: list[tuple[str, DataFile]],
    cache: LoadCache,
    context: Hashable,
    listing: Listing,
    check: CheckFile,
    meanwhile: Callable[[], object] = lambda: None,
) -> None:
    """Check the stale events files in two processes, if there is enough to check and two
    cores to check it on, and keep what each file gave in `cache`, as `reuse` would: the
    results and errors are those of checking every file here (tested). A second core must
    be free (the load average says), not only there. Both processes take
    the next file from one queue, so that a child starved of a core takes little; what it
    took and could not send back (if it failed) is left for `load` to check. The parent
    does `meanwhile` (work of its own that the files' checks do not need) first, once the
    child has begun: the queue leaves the child more files to check meanwhile."""
    stale = [(name, file) for name, file in files if cache.stale(name, file, context)]
    if len(stale) < 2 or sum(file.size for _, file in stale) < PARALLEL_BYTES:
        return
    if not can_fork() or not core_free() or len(stale) > _QUEUE_MOST:
        return
    queue = _FileQueue(len(stale))
    listing.allowance.left //= 2  # each process lists rules within half of what is left

    def check_taken() -> list[bytes]:
        # Each file pickled once checked, not all at the end: the queue then shares out
        # the pickling too, and the parent waits for no more than the last file.
        sent = []
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            checked = check(name, file.raw, found)
            events = tuple(_sendable(event, listing) for event in checked)
            entry: _Sent = (position, events, tuple(found))
            sent.append(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        return sent

    child = Forked(check_taken)
    try:
        meanwhile()
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            cache.store(name, file, context, check(name, file.raw, found), tuple(found))
    finally:
        queue.close()
        received = child.result()
    for payload in received or ():
        position, events, found_there = cast(_Sent, pickle.loads(payload))
        name, file = stale[position]
        checked = tuple(_received(event, context, listing) for event in events)
        cache.store(name, file, context, checked, found_there)


_QUEUE_MOST = 32_768  # positions a pipe's buffer holds (64 KiB, two bytes each)


class _FileQueue:
    """Positions 0..count-1 in a pipe, taken by whichever process reads first: each read
    of two bytes takes one whole position (Linux reads a pipe under its lock, and every
    position was written before anyone reads)."""

    def __init__(self, count: int) -> None:
        self._read, write = os.pipe()
        os.write(write, struct.pack(f"<{count}H", *range(count)))
        os.close(write)  # empty, a read gives b"": the queue is done

    def take(self) -> int | None:
        taken = os.read(self._read, 2)
        return struct.unpack("<H", taken)[0] if taken else None

    def close(self) -> None:
        os.close(self._read)


def _sendable(event: CheckedEvent, listing: Listing) -> tuple[Any, ...]:
    judged = event.judged
    return (
        judged.data,
        judged.sessions,
        judged.published,
        judged.problems,
        judged.provenance,
        judged.content_hash,
        listing.of(judged.published),
        event.source,
        event.index,
        event.line,
        event.id_line,
        event.problems,
        event.provenance,
    )


def _received(sent: tuple[Any, ...], context: Hashable, listing: Listing) -> CheckedEvent:
    data, sessions, published, problems, told, hashed, expansion, *located = sent
    judged = Judged(data, context, sessions, published, problems, told, hashed)
    if expansion is not None:
        listing.listed[id(published)] = (published, expansion)
    return CheckedEvent(judged, *located)


def read_sources(root: Path) -> list[SourceConfig]:
    """The partner feeds `sources.yaml` lists (none without the file), for fetching; raise
    `DataInvalid` with file, line and field if the file is not valid."""
    path = Path(root) / SOURCES_FILE
    if not path.is_file():
        return []
    errors: list[DataError] = []
    raw = path.read_bytes()  # the fetcher reads only this file; load() checks the rest
    sources = _read_sources(raw, None, errors)  # no settings read: no vocabulary check
    if sources is None:
        raise DataInvalid(errors)
    return list(sources.sources)


def _read_sources(
    raw: bytes | None, settings: CalendarSettings | None, errors: list[DataError]
) -> SourcesFile | None:
    """The sources file, if there, checked like the events: fields, then vocabularies."""
    if raw is None:
        return None
    loaded = load_model(SourcesFile, SOURCES_FILE, raw, errors)
    if loaded is None:
        return None
    sources, doc = loaded
    if settings is not None:
        for path, message in vocabulary_problems(sources, settings):
            errors.append(DataError(SOURCES_FILE, doc.line_of(path), field_path(path), message))
    return sources


def _load_terms(
    contents: Mapping[str, DataFile], errors: list[DataError], cache: LoadCache
) -> dict[str, TermCalendar]:
    """The term calendars under terms/, by id: the file's name without .yaml."""
    terms: dict[str, TermCalendar] = {}
    where: dict[str, str] = {}
    for name, file in contents.items():
        if not name.startswith(f"{TERMS_DIR}/"):
            continue
        key = PurePosixPath(name).stem
        if key in where:
            message = f"term calendar {key!r} is already given by {where[key]}"
            errors.append(DataError(name, None, "", message))
            continue
        where[key] = name
        if not is_slug(key):
            message = "a term calendar's file name is its id: lower-case letters, digits and -"
            errors.append(DataError(name, None, "", message))
            continue
        loaded = cache.reuse(
            name, file, None, errors, partial(load_model, TermCalendar, name, file.raw)
        )
        if loaded is not None:
            terms[key] = loaded[0]
    return terms


def _read_change_log(
    contents: Mapping[str, DataFile], cache: LoadCache, errors: list[DataError] | None = None
) -> tuple[Change, ...]:
    """The change log, if there is one, kept in `cache` (its errors are recorded there too:
    read once without `errors`, while a child checks events files, they are told later)."""
    file = contents.get(CHANGES_FILE)
    if file is None:
        return ()
    read = partial(read_changes, file.raw)
    return cache.reuse(CHANGES_FILE, file, None, [] if errors is None else errors, read)


def _read_revisions(
    contents: Mapping[str, DataFile], today: date | None, errors: list[DataError]
) -> Stamps:
    """The stamps of revisions.yaml, if there is one. Read every time, not kept in the
    cache: as stamp writes it, the file is read in 0.03 s at 10,000 events, and keeping
    what it gave would hold 2 MB for the life of the process."""
    file = contents.get(REVISIONS_FILE)
    if file is None:
        return Stamps({}, {})
    return read_stamps(file.raw, latest_stamp(today), errors)


def _sequence_exhausted(event_id: str, name: str, line: int) -> DataError:
    return DataError(
        name,
        line,
        "",
        f"event {event_id!r} changed, but its SEQUENCE in {REVISIONS_FILE} is already"
        f" {MAX_SEQUENCE:,}, the largest calendars accept; give the changed event a new id",
    )


def _check_feeds(settings: CalendarSettings, doc: Document) -> Iterator[DataError]:
    """Named feeds may filter only by values the vocabularies have."""
    vocab = settings.vocabularies
    allowed = {
        field.name: vocab.terms(field.name)
        for field in FIELDS
        if field.in_named_feeds and field.vocabulary
    }
    for index, feed in enumerate(settings.feeds):
        for key, terms in allowed.items():
            for position, value in enumerate(getattr(feed.filter, key)):
                if value not in terms:
                    full: FieldPath = ("feeds", index, "filter", key, position)
                    yield DataError(
                        SETTINGS_FILE,
                        doc.line_of(full),
                        field_path(full),
                        f"unknown value {value!r}; expected one of: {', '.join(terms)}",
                    )
