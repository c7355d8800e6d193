"""Read the data directory into validated models, with file/line/field errors."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError, field_validator

from calendar_service.documents import (
    DataError,
    DataInvalid,
    Document,
    YamlProblem,
    field_path,
    parse_yaml,
    plain_value,
)
from calendar_service.fields import FIELDS
from calendar_service.forked import Forked, can_fork, core_free
from calendar_service.local_times import check_local_times, rule_clock_problems
from calendar_service.model import (
    HASH_DIGITS,
    UNSKIPPED,
    CalendarSettings,
    Change,
    Event,
    EventData,
    EventFile,
    Schedule,
    Status,
    TermCalendar,
    content_hash,
)
from calendar_service.partner_feeds import ImportedFeed, import_sources
from calendar_service.partner_sources import SourceConfig, SourcesFile, vocabulary_problems
from calendar_service.provenance import Problem, provenance_problems
from calendar_service.recurrence import (
    Allowance,
    ClockCheck,
    Located,
    check_expansion,
    judge_recurrence,
)
from calendar_service.series import Expansion
from calendar_service.skipping import SkipProblem, TermDays, schedule, skip_problems
from calendar_service.sources import (
    CHANGES_FILE,
    EVENTS_DIR,
    REVISIONS_FILE,
    SETTINGS_FILE,
    SOURCES_FILE,
    TERMS_DIR,
    DataFile,
    byte_limit,
    read_data_files,
)
from calendar_service.values import (
    MAX_SEQUENCE,
    FieldPath,
    FieldProblem,
    SequenceNumber,
    Strict,
    UtcMoment,
    is_slug,
    parse_utc,
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


# --- Validation ---------------------------------------------------------------------------


def _pydantic_errors(
    exc: ValidationError, file: str, doc: Document, base: FieldPath
) -> list[DataError]:
    errors = []
    for error in exc.errors(include_url=False):
        path: FieldPath = (*base, *error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            path = (*path, *cause.path)
            message = str(cause)
        elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = f"unknown field {path[-1]!r} (see `calendar-service schema` for the fields)"
        elif error["type"] == "missing":
            message = "this field is required"
        elif error["type"] == "dataclass_type":  # said as it is of a model
            name = (error.get("ctx") or {}).get("class_name", "")
            message = f"Input should be a valid dictionary or instance of {name}"
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        errors.append(DataError(file, doc.line_of(path), field_path(path), message))
    return errors


def _read_document(
    name: str,
    raw: bytes,
    errors: list[DataError],
    expected: str = "expected a mapping at the top of the file",
) -> Document | None:
    """Parse one data file whose top level must be a mapping; record why if it cannot be."""
    try:
        doc = parse_yaml(raw, byte_limit(name))
    except YamlProblem as problem:
        errors.append(DataError(name, problem.line, "", problem.message))
        return None
    if not isinstance(doc.value, dict):
        line = doc.line_of(()) or 1  # where the document starts, after any comments
        errors.append(DataError(name, line, "", expected))
        return None
    return doc


def _load_model(
    model: type[M], name: str, raw: bytes, errors: list[DataError]
) -> tuple[M, Document] | None:
    doc = _read_document(name, raw, errors)
    if doc is None:
        return None
    try:
        return model.model_validate(doc.value), doc
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, name, doc, ()))
        return None


def _load_events(
    name: str, raw: bytes, errors: list[DataError]
) -> tuple[Document | None, list[tuple[EventData, int]]]:
    """The events of one file. When some are invalid, the others are still returned, so
    that their own errors (vocabulary, recurrence, duplicate ids) are listed at once too."""
    doc = _read_document(name, raw, errors)
    if doc is None:
        return None, []
    try:
        model = EventFile.model_validate(doc.value)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, name, doc, ()))
        items = doc.value.get("events")
        found: list[tuple[EventData, int]] = []
        for index, item in enumerate(items if isinstance(items, list) else []):
            # An invalid event was reported above, with the file's other errors.
            with contextlib.suppress(ValidationError):
                found.append((EventData.model_validate(item), index))
        return doc, found
    return doc, [(event, index) for index, event in enumerate(model.events)]


@dataclass(frozen=True, slots=True)
class _Judged:
    """What an event's own checks found, wherever in its file it is (paths from the event)."""

    data: EventData  # as written
    context: Hashable  # settings, term calendars and day the checks depended on
    sessions: Schedule
    published: EventData
    problems: tuple[Problem, ...]
    provenance: tuple[Problem, ...]  # warnings, told only if it has no problem at all
    content_hash: str


@dataclass(frozen=True, slots=True)
class _CheckedEvent:
    """One event of a file, its judgement located there (the cache keeps these per file)."""

    judged: _Judged
    source: str  # the file
    index: int  # in the file's `events`
    line: int
    id_line: int | None
    problems: tuple[DataError, ...]  # its own, a duplicate id apart (that is across files)
    provenance: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Listing:
    """The rules one load lists (Expansion), by the id() of each event as published: kept
    for this load's checks across files and its compile, never in the LoadCache."""

    allowance: Allowance = field(default_factory=Allowance)
    listed: dict[int, tuple[EventData, Expansion]] = field(default_factory=dict)

    def of(self, published: EventData) -> Expansion | None:
        """The event's rule as listed by this load, if it was."""
        entry = self.listed.get(id(published))
        return entry[1] if entry is not None and entry[0] is published else None


R = TypeVar("R")


class LoadCache:
    """What each data file gave at the last load, reused while it and its context are the same.

    An entry is keyed by the file's name, size, modification time (ns) and content hash,
    and by what its checks depended on besides (settings, term calendars, the day), so a
    reload after one edit reads and checks that file only. Results are kept with the
    errors they recorded: the errors listed are the same with the cache as without it.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Hashable, tuple[Any, tuple[DataError, ...]]]] = {}
        # Each event's judgement at the last load, by id: a changed file's other events
        # are not checked again.
        self.judged: dict[str, _Judged] = {}
        # The clock changes each event's rule meets, by the id() of the event as published.
        self._clocks: dict[int, tuple[EventData, ZoneInfo, date, tuple[Problem, ...]]] = {}

    def clock_problems(self) -> ClockCheck:
        """rule_clock_problems, remembering its answers until the next load asks again."""
        known, self._clocks = self._clocks, {}

        def clock_problems(
            event: EventData, zone: ZoneInfo, reach: date, expansion: Expansion | None
        ) -> tuple[Problem, ...]:
            entry = known.get(id(event))
            if entry is None or entry[0] is not event or (entry[1], entry[2]) != (zone, reach):
                found = tuple(rule_clock_problems(event, zone, reach, expansion))
                entry = (event, zone, reach, found)
            self._clocks[id(event)] = entry
            return entry[3]

        return clock_problems

    def reuse(
        self,
        name: str,
        file: DataFile,
        context: Hashable,
        errors: list[DataError],
        compute: Callable[[list[DataError]], R],
    ) -> R:
        """`compute(errors)`'s result for this file, from the cache if it is still valid."""
        key = self._key(file, context)
        entry = self._entries.get(name)
        if entry is None or entry[0] != key:
            found: list[DataError] = []
            entry = key, (compute(found), tuple(found))
            self._entries[name] = entry
        result, recorded = entry[1]
        errors.extend(recorded)
        return cast(R, result)

    @staticmethod
    def _key(file: DataFile, context: Hashable) -> Hashable:
        return (file.size, file.mtime_ns, hashlib.sha256(file.raw).digest(), context)

    def stale(self, name: str, file: DataFile, context: Hashable) -> bool:
        """Whether `reuse` would compute this file's result again."""
        entry = self._entries.get(name)
        return entry is None or entry[0] != self._key(file, context)

    def store(
        self,
        name: str,
        file: DataFile,
        context: Hashable,
        result: object,
        recorded: tuple[DataError, ...],
    ) -> None:
        """Keep a result computed elsewhere (another process) as `reuse` would have."""
        self._entries[name] = (self._key(file, context), (result, recorded))

    def keep_only(self, names: Iterable[str]) -> None:
        """Forget the files no longer in the data directory."""
        kept = set(names)
        for name in [name for name in self._entries if name not in kept]:
            del self._entries[name]


def _is_events_file(name: str) -> bool:
    return name not in (
        SETTINGS_FILE,
        REVISIONS_FILE,
        SOURCES_FILE,
        CHANGES_FILE,
    ) and not name.startswith(f"{TERMS_DIR}/")


def load(
    root: Path,
    *,
    today: date | None = None,
    fetched: Path | None = None,
    cache: LoadCache | None = None,
) -> LoadedData:
    """Load and validate a data directory; raise `DataInvalid` listing every error.

    With `fetched`, the directory of partner feeds' last good copies, the events of the
    sources in `sources.yaml` are added (partner_feeds.py); their problems are reported in
    `imports`, never raised: the sources file itself is data, checked like the rest.
    With `cache` (kept between loads, as reloading does), the files unchanged since the
    last load are not read again; checks across files run over every file each time.
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
            partial(_load_model, CalendarSettings, SETTINGS_FILE, contents[SETTINGS_FILE].raw),
        )
        if SETTINGS_FILE in contents
        else None
    )
    settings = loaded_settings[0] if loaded_settings else None

    terms = _load_terms(contents, errors, cache)
    term_days = {key: TermDays.of(key, calendar) for key, calendar in terms.items()}
    located: list[Located] = []  # event as published, file, line, its rule listed
    written: list[_CheckedEvent] = []
    seen: dict[str, str] = {}
    # Provenance is judged on the calendar's own date (a test or `validate --date` gives it).
    local_today = today or datetime.now(settings.zone if settings else UTC).date()
    context = (settings, tuple(terms.items()), local_today)
    provenance: list[str] = []
    judged = cache.judged
    listing = _Listing()
    check = partial(
        _check_events_file,
        settings=settings,
        terms=term_days,
        today=local_today,
        context=context,
        judged=judged,
        listing=listing,
    )
    events_files = [(name, file) for name, file in contents.items() if _is_events_file(name)]
    _check_on_two_cores(events_files, cache, context, listing, check)
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
    # Read every time, not kept in the cache: as stamp writes it, the file is read in 0.03 s
    # at 10,000 events, and keeping what it gave would hold 2 MB for the life of the process.
    stamps = (
        _read_stamps(contents[REVISIONS_FILE].raw, latest_stamp(today), errors)
        if REVISIONS_FILE in contents
        else _Stamps({}, {})
    )
    raw_sources = contents.get(SOURCES_FILE)
    sources = _read_sources(raw_sources.raw if raw_sources else None, settings, errors)
    changes = (
        cache.reuse(
            CHANGES_FILE,
            contents[CHANGES_FILE],
            None,
            errors,
            partial(_read_changes, contents[CHANGES_FILE].raw),
        )
        if CHANGES_FILE in contents
        else ()
    )
    if errors:
        raise DataInvalid(errors)
    assert settings is not None
    # Across the catalog, once each event is valid: bounded expansion cost, clock changes.
    day = today or datetime.now(UTC).date()
    errors.extend(check_expansion(located, settings.zone, day, cache.clock_problems()))
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
    withdrawn = _withdrawn_events(stamps.withdrawn, present, since, errors)
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

CheckFile = Callable[[str, bytes, list[DataError]], tuple["_CheckedEvent", ...]]
# What a child sends back of one file: its position in the queue, its checked events
# (without the context they were checked in: the parent's own is put back, and each with
# its listed rule), and the file's errors.
_Sent = tuple[int, tuple[tuple[Any, ...], ...], tuple[DataError, ...]]


def _check_on_two_cores(
    files: list[tuple[str, DataFile]],
    cache: LoadCache,
    context: Hashable,
    listing: _Listing,
    check: CheckFile,
) -> None:
    """Check the stale events files in two processes, if there is enough to check and two
    cores to check it on, and keep what each file gave in `cache`, as `reuse` would: the
    results and errors are those of checking every file here (tested). A second core must
    be free (the load average says), not only there. Both processes take
    the next file from one queue, so that a child starved of a core takes little; what it
    took and could not send back (if it failed) is left for `load` to check."""
    stale = [(name, file) for name, file in files if cache.stale(name, file, context)]
    if len(stale) < 2 or sum(file.size for _, file in stale) < PARALLEL_BYTES:
        return
    if not can_fork() or not core_free() or len(stale) > _QUEUE_MOST:
        return
    queue = _FileQueue(len(stale))
    listing.allowance.left //= 2  # each process lists rules within half of what is left

    def check_taken() -> list[_Sent]:
        sent = []
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            checked = check(name, file.raw, found)
            events = tuple(_sendable(event, listing) for event in checked)
            sent.append((position, events, tuple(found)))
        return sent

    child = Forked(check_taken)
    try:
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            cache.store(name, file, context, check(name, file.raw, found), tuple(found))
    finally:
        queue.close()
        received = child.result()
    for position, events, found_there in received or ():
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


def _sendable(event: _CheckedEvent, listing: _Listing) -> tuple[Any, ...]:
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


def _received(sent: tuple[Any, ...], context: Hashable, listing: _Listing) -> _CheckedEvent:
    data, sessions, published, problems, told, hashed, expansion, *located = sent
    judged = _Judged(data, context, sessions, published, problems, told, hashed)
    if expansion is not None:
        listing.listed[id(published)] = (published, expansion)
    return _CheckedEvent(judged, *located)


def _check_events_file(
    name: str,
    raw: bytes,
    errors: list[DataError],
    *,
    settings: CalendarSettings | None,
    terms: Mapping[str, TermDays],
    today: date,
    context: Hashable,
    judged: Mapping[str, _Judged],
    listing: _Listing,
) -> tuple[_CheckedEvent, ...]:
    """One events file read and each of its events checked on its own (not across files).

    An event the same as in `judged` (by id, the last load's), in the same `context` (what
    the checks depend on besides the event: settings, term calendars, day), keeps its
    judgement: editing one event of a file checks that event again, not the file's.
    """
    doc, found = _load_events(name, raw, errors)
    checked = []
    for event, index in found:
        assert doc is not None
        base: FieldPath = ("events", index)
        known = judged.get(event.id)
        if known is None or known.context != context or known.data != event:
            known = _judge(event, settings, terms, today, context, listing)

        told = [(path, f"event {event.id!r}: {message}") for path, message in known.provenance]
        checked.append(
            _CheckedEvent(
                known,
                name,
                index,
                doc.line_of(base) or 1,
                doc.line_of((*base, "id")),
                tuple(_located(name, doc, (*base, *path), text) for path, text in known.problems),
                tuple(str(_located(name, doc, (*base, *path), text)) for path, text in told),
            )
        )
    # The document (every value's line) is dropped here, one file at a time.
    return tuple(checked)


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
    loaded = _load_model(SourcesFile, SOURCES_FILE, raw, errors)
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
            name, file, None, errors, partial(_load_model, TermCalendar, name, file.raw)
        )
        if loaded is not None:
            terms[key] = loaded[0]
    return terms


def _sequence_exhausted(event_id: str, name: str, line: int) -> DataError:
    return DataError(
        name,
        line,
        "",
        f"event {event_id!r} changed, but its SEQUENCE in {REVISIONS_FILE} is already"
        f" {MAX_SEQUENCE:,}, the largest calendars accept; give the changed event a new id",
    )


def _judge(
    event: EventData,
    settings: CalendarSettings | None,
    terms: Mapping[str, TermDays],
    today: date,
    context: Hashable,
    listing: _Listing | None = None,
) -> _Judged:
    """An event's checks across its fields: vocabularies, local times, recurrence and the
    days it skips, then (if it passes them) its provenance on `today`. Unique ids are
    checked across files, by `load`."""
    problems: list[Problem] = []
    if settings is not None:
        problems += _vocabulary_problems(event, settings)
        problems += check_local_times(event, settings.zone)
    try:
        sessions = schedule(event, terms)
    except SkipProblem as problem:
        problems.append((("recurrence", *problem.path), str(problem)))
        sessions = UNSKIPPED
    published = sessions.published(event)
    # Excluded dates and overrides are checked against the rule as published, listed once
    # over the window that the other checks and compiling ask about too.
    allowance = listing.allowance if listing is not None else None
    found, expansion = judge_recurrence(published, today, allowance)
    if listing is not None and expansion is not None:
        listing.listed[id(published)] = (published, expansion)
    problems += found
    problems += skip_problems(event, sessions)
    # A well-formed event's rule is asked about its provenance, one year only.
    told = () if problems else tuple(provenance_problems(published, today, expansion))
    hashed = content_hash(event, sessions)
    return _Judged(event, context, sessions, published, tuple(problems), told, hashed)


def _located(name: str, doc: Document, path: FieldPath, message: str) -> DataError:
    return DataError(name, doc.line_of(path), field_path(path), message)


def _vocabulary_problems(event: EventData, settings: CalendarSettings) -> Iterator[Problem]:
    vocab = settings.vocabularies
    checks: list[tuple[FieldPath, str, Mapping[str, Any]]] = [
        (("category",), event.category, vocab.terms("category"))
    ]
    checks += [
        (("audiences", i), value, vocab.terms("audience"))
        for i, value in enumerate(event.audiences)
    ]
    checks += [(("themes", i), value, vocab.terms("theme")) for i, value in enumerate(event.themes)]
    for path, value, allowed in checks:
        if value not in allowed:
            yield path, f"unknown value {value!r}; expected one of: {', '.join(allowed)}"


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


# --- Revision stamps -----------------------------------------------------------------------


class Revision(Strict):
    """The recorded revision of one event: SEQUENCE and LAST-MODIFIED follow content.

    `last` is the event as last stamped, without its summary and description: what the
    next stamp compares with to say what changed, and what feeds render, every date
    cancelled, once the event is `withdrawn` (removed from the data).
    """

    hash: str
    sequence: SequenceNumber
    modified: UtcMoment
    last: dict[str, Any] | None = None
    withdrawn: UtcMoment | None = None

    @field_validator("hash")
    @classmethod
    def _as_content_hash_writes_it(cls, value: str) -> str:
        if len(value) != HASH_DIGITS or value.strip("0123456789abcdef"):
            raise ValueError(f"expected {HASH_DIGITS} hexadecimal digits, as stamp writes it")
        return value


# A stamp may come from a machine whose clock runs a little ahead of this one's.
STAMP_CLOCK_TOLERANCE = timedelta(hours=1)


def latest_stamp(today: date | None) -> datetime:
    """The latest LAST-MODIFIED a valid stamp may record: the end of the loading day.

    That is the real day, or the day loaded for if later; an earlier day given for
    testing must not make real past stamps look like future ones.
    """
    day = max(today or date.min, datetime.now(UTC).date())
    return datetime.combine(day + timedelta(days=1), time(), UTC) + STAMP_CLOCK_TOLERANCE


def _read_revisions(
    raw: bytes | None, errors: list[DataError], latest: datetime
) -> dict[str, Revision]:
    """Each event's recorded revision, every one checked like the events are."""
    if raw is None:
        return {}
    doc = _read_document(REVISIONS_FILE, raw, errors, "expected a mapping of event ids")
    if doc is None:
        return {}
    revisions = {}
    for key, value in doc.value.items():
        try:
            revision = Revision.model_validate(value)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, REVISIONS_FILE, doc, (key,)))
            continue
        if revision.modified > latest:
            # It would be every feed's Last-Modified, and answer 304 to clients for ever.
            path = (key, "modified")
            errors.append(
                DataError(
                    REVISIONS_FILE,
                    doc.line_of(path),
                    field_path(path),
                    f"{revision.modified:%Y-%m-%dT%H:%M:%SZ} is in the future; a stamp records"
                    " when an event changed (correct it by hand, keeping the sequence)",
                )
            )
            continue
        revisions[str(key)] = revision
    return revisions


Stamp = tuple[str, int, datetime]  # content hash, SEQUENCE, LAST-MODIFIED


@dataclass(frozen=True, slots=True)
class _Stamps:
    """What a load needs of revisions.yaml: each event's stamp, and the revisions of the
    events withdrawn (the only ones whose `last` it reads)."""

    known: dict[str, Stamp]
    withdrawn: dict[str, Revision]


# One revision exactly as `stamp` writes it; `last` is the block indented under it.
_STAMPED_HEADER = re.compile(r"(?:#[^\n]*\n)*")
_STAMPED = re.compile(
    r"(?P<id>[a-z0-9][a-z0-9-]*):\n"
    rf"  hash: '(?P<hash>[0-9a-f]{{{HASH_DIGITS}}})'\n"
    r"  sequence: (?P<sequence>0|[1-9][0-9]{0,9})\n"
    r"  modified: '(?P<modified>[0-9TZ:-]{20})'\n"
    r"(?P<withdrawn>  withdrawn: '[0-9TZ:-]{20}'\n)?"
    r"(?:  last:\n(?P<last>(?:    [^\n]*\n)+))?"
)


def _read_stamps(raw: bytes, latest: datetime, errors: list[DataError]) -> _Stamps:
    """revisions.yaml, read fast when it is as `stamp` writes it, else as any data file.

    Each event's `last` is most of the file's bytes, and a load reads only the withdrawn
    events' ones: the fast reader takes the others as they are, unread, and parses the
    withdrawn ones as any YAML is (parse_yaml). Anything it does not expect, a stamp it
    would refuse, or a problem in those `last`s, and the whole file is read as YAML and
    checked like the others, so that errors are reported as they always were.
    """
    stamps = _stamped(raw, latest)
    if stamps is not None:
        return stamps
    revisions = _read_revisions(raw, errors, latest)
    known = {key: (item.hash, item.sequence, item.modified) for key, item in revisions.items()}
    withdrawn = {key: item for key, item in revisions.items() if item.withdrawn is not None}
    return _Stamps(known, withdrawn)


def _stamped(raw: bytes, latest: datetime) -> _Stamps | None:
    """The stamps of a revisions.yaml exactly as `stamp` writes it, all valid; else None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    position = _STAMPED_HEADER.match(text).end()  # type: ignore[union-attr]  # may be empty
    known: dict[str, Stamp] = {}
    withdrawn: dict[str, Revision] = {}
    match_at = _STAMPED.match
    while position < len(text):
        found = match_at(text, position)
        if found is None or found["id"] in known:
            return None
        position = found.end()
        sequence = int(found["sequence"])
        try:
            modified = parse_utc(found["modified"])
        except ValueError:
            return None
        if sequence > MAX_SEQUENCE or modified > latest:
            return None
        known[found["id"]] = (found["hash"], sequence, modified)
        if found["withdrawn"] is not None:
            revision = _withdrawn_revision(found)
            if revision is None:
                return None
            withdrawn[found["id"]] = revision
    return _Stamps(known, withdrawn) if known else None


def _withdrawn_revision(found: re.Match[str]) -> Revision | None:
    """A withdrawn event's revision, its `last` parsed; None if any of it is invalid."""
    block = found["last"]
    last = None
    if block is not None:
        try:
            doc = parse_yaml("".join(line[4:] for line in block.splitlines(True)).encode())
        except YamlProblem:
            return None
        last = doc.value
    stamp = {
        "hash": found["hash"],
        "sequence": int(found["sequence"]),
        "modified": found["modified"],
        "withdrawn": found["withdrawn"].split("'")[1],
        "last": last,
    }
    try:
        return Revision.model_validate(stamp)
    except ValidationError:
        return None


def read_revisions(root: Path) -> dict[str, Revision]:
    """The revisions recorded in a data directory (for `stamp`); DataInvalid if invalid."""
    errors: list[DataError] = []
    path = root / REVISIONS_FILE
    raw = path.read_bytes() if path.is_file() else None
    revisions = _read_revisions(raw, errors, latest_stamp(None))
    if errors:
        raise DataInvalid(errors)
    return revisions


# What a revision keeps of an event (`Revision.last`): its dates, and what places it in
# feeds and renders it cancelled; not its texts, links and sources (most of its bytes).
KEPT_FIELDS = (
    "id",
    "title",
    "category",
    "audiences",
    "themes",
    "tags",
    "location",
    "status",
    "start",
    "end",
    "recurrence",
)
KEPT_OVERRIDE_FIELDS = ("occurrence", "start", "end", "status", "title")


def kept_content(event: EventData) -> dict[str, Any]:
    """What a revision keeps of an event: KEPT_FIELDS, and of each override its dates."""
    include: dict[str, Any] = {name: True for name in KEPT_FIELDS}
    include["overrides"] = {"__all__": set(KEPT_OVERRIDE_FIELDS)}
    return event.model_dump(mode="json", exclude_defaults=True, include=include)


def withdrawn_copy(last: dict[str, Any]) -> EventData:
    """A withdrawn event as feeds keep it: its last stamped content, every date cancelled."""
    cancelled = Status.CANCELLED.value
    overrides = [{**item, "status": cancelled} for item in last.get("overrides", [])]
    return EventData.model_validate({**last, "status": cancelled, "overrides": overrides})


def _withdrawn_events(
    revisions: Mapping[str, Revision],
    present: set[str],
    since: datetime,
    errors: list[DataError],
) -> tuple[Event, ...]:
    """Events withdrawn at or after `since` and not back in the data, every date cancelled."""
    found = []
    for key, revision in sorted(revisions.items()):
        moment = revision.withdrawn
        if moment is None or moment < since or key in present or revision.last is None:
            continue
        try:
            data = withdrawn_copy(revision.last)
        except ValidationError as exc:
            for error in exc.errors(include_url=False)[:1]:
                where = field_path((key, "last", *error["loc"]))
                errors.append(DataError(REVISIONS_FILE, None, where, error["msg"]))
            continue
        found.append(Event(data, REVISIONS_FILE, 1, revision.sequence, moment, revision.hash))
    return tuple(found)


_CHANGE = TypeAdapter(Change)
_CHANGES = TypeAdapter(list[Change])


# One change exactly as `stamp` writes it (changes_text), its summary in single quotes.
_CHANGES_START = re.compile(r"(?:#[^\n]*\n)*changes:\n")
_CHANGE_WRITTEN = re.compile(
    r"- at: '(?P<at>[0-9TZ:-]{20})'\n"
    r"  event: (?P<event>[a-z0-9][a-z0-9-]*)\n"
    r"  kind: (?P<kind>[a-z]+)\n"
    r"  summary: '(?P<summary>(?:[^'\n]|'')*)'\n"
    r"(?P<minor>  minor: true\n)?"
)


def _changes_as_stamped(raw: bytes) -> tuple[Change, ...] | None:
    """The change log of a changes.yaml exactly as `stamp` writes it, every entry valid,
    read without a YAML parser (a third of the time at 10,000 changes); else None, and
    the file is read as any other, so that errors are reported as they always were."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = _CHANGES_START.match(text)
    if start is None:
        return None
    position, match_at, items = start.end(), _CHANGE_WRITTEN.match, []
    while position < len(text):
        found = match_at(text, position)
        if found is None:
            return None
        position = found.end()
        item = {
            "at": found["at"],
            "event": plain_value(found["event"]),
            "kind": plain_value(found["kind"]),
            "summary": found["summary"].replace("''", "'"),
        }
        if found["minor"] is not None:
            item["minor"] = True
        items.append(item)
    try:
        changes = _CHANGES.validate_python(items)  # in one call: a fifth of the time
    except ValidationError:
        return None
    return tuple(sorted(changes, key=lambda change: change.at)) if changes else None


def _read_changes(raw: bytes | None, errors: list[DataError]) -> tuple[Change, ...]:
    """The change log `stamp` writes, each entry checked; oldest first."""
    if raw is None:
        return ()
    if (stamped := _changes_as_stamped(raw)) is not None:
        return stamped
    doc = _read_document(CHANGES_FILE, raw, errors, "expected a mapping with `changes:`")
    if doc is None:
        return ()
    items = doc.value.get("changes") or []
    if not isinstance(items, list):
        errors.append(
            DataError(CHANGES_FILE, doc.line_of(("changes",)), "changes", "expected a list")
        )
        return ()
    changes = []
    for index, item in enumerate(items):
        try:
            changes.append(_CHANGE.validate_python(item))
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, CHANGES_FILE, doc, ("changes", index)))
    return tuple(sorted(changes, key=lambda change: change.at))


REVISIONS_HEADER = (
    "# Written by `calendar-service stamp`: each event's content hash, SEQUENCE and\n"
    "# LAST-MODIFIED, and the event as stamped (`last`, to tell what changes next).\n"
    "# Commit it with the data; do not edit by hand.\n"
)
CHANGES_HEADER = (
    "# Written by `calendar-service stamp`: what changed in the events, newest last.\n"
    "# Commit it with the data; a summary may be reworded by hand.\n"
)


class _Quoted(str):
    """A string written in single quotes, so a hash or a time never reads as a number or date."""

    __slots__ = ()


class _RevisionsDumper(yaml.SafeDumper):
    """`yaml.safe_dump`'s dumper, writing `_Quoted` strings in single quotes."""


def _quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="'")


_RevisionsDumper.add_representer(_Quoted, _quoted)


def _moment(value: datetime) -> _Quoted:
    return _Quoted(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _dump(document: Any) -> str:
    return yaml.dump(
        document, Dumper=_RevisionsDumper, sort_keys=False, allow_unicode=True, width=1000
    )


def revisions_text(revisions: dict[str, Revision]) -> str:
    """`revisions.yaml` as `stamp` writes it: the header, then each event by id, sorted."""
    document: dict[str, dict[str, Any]] = {}
    for key, revision in sorted(revisions.items()):
        entry: dict[str, Any] = {
            "hash": _Quoted(revision.hash),
            "sequence": revision.sequence,
            "modified": _moment(revision.modified),
        }
        if revision.withdrawn is not None:
            entry["withdrawn"] = _moment(revision.withdrawn)
        if revision.last is not None:
            entry["last"] = revision.last
        document[key] = entry
    return REVISIONS_HEADER + (_dump(document) if document else "")


def changes_text(changes: list[Change]) -> str:
    """`changes.yaml` as `stamp` writes it: the header, then every change, oldest first."""
    entries = [
        {
            "at": _moment(change.at),
            "event": change.event,
            "kind": change.kind.value,
            "summary": change.summary,
            **({"minor": True} if change.minor else {}),
        }
        for change in changes
    ]
    return CHANGES_HEADER + _dump({"changes": entries})
