"""Read the data directory into validated models, with file/line/field errors."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, field_validator

from calendar_service.documents import (
    DataError,
    DataInvalid,
    Document,
    YamlProblem,
    field_path,
    parse_yaml,
)
from calendar_service.fields import FIELDS
from calendar_service.local_times import check_local_times
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
from calendar_service.partner_feeds import (
    ImportedFeed,
    SourceConfig,
    SourcesFile,
    import_sources,
    vocabulary_problems,
)
from calendar_service.provenance import provenance_problems
from calendar_service.recurrence import check_expansion, check_recurrence
from calendar_service.skipping import SkipProblem, TermDays, schedule, skip_problems
from calendar_service.sources import (
    CHANGES_FILE,
    EVENTS_DIR,
    REVISIONS_FILE,
    SETTINGS_FILE,
    SOURCES_FILE,
    TERMS_DIR,
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
        elif error["type"] == "extra_forbidden":
            message = f"unknown field {path[-1]!r} (see `calendar-service schema` for the fields)"
        elif error["type"] == "missing":
            message = "this field is required"
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


def load(root: Path, *, today: date | None = None, fetched: Path | None = None) -> LoadedData:
    """Load and validate a data directory; raise `DataInvalid` listing every error.

    With `fetched`, the directory of partner feeds' last good copies, the events of the
    sources in `sources.yaml` are added (partner_feeds.py); their problems are reported in
    `imports`, never raised: the sources file itself is data, checked like the rest.
    """
    errors: list[DataError] = []
    contents = read_data_files(Path(root), errors)
    digest = hashlib.sha256()
    for name, raw in contents.items():
        digest.update(name.encode() + b"\0" + raw + b"\0")
    loaded_settings = (
        _load_model(CalendarSettings, SETTINGS_FILE, contents[SETTINGS_FILE], errors)
        if SETTINGS_FILE in contents
        else None
    )
    settings = loaded_settings[0] if loaded_settings else None

    terms = _load_terms(contents, errors)
    term_days = {key: TermDays.of(key, calendar) for key, calendar in terms.items()}
    located: list[tuple[EventData, str, int]] = []  # event as published, file, line
    written: list[tuple[EventData, Schedule]] = []  # event as written, what its skip makes
    seen: dict[str, str] = {}
    # Provenance is judged on the calendar's own date (a test or `validate --date` gives it).
    local_today = today or datetime.now(settings.zone if settings else UTC).date()
    provenance: list[str] = []
    for name, raw in contents.items():
        if name in (SETTINGS_FILE, REVISIONS_FILE, SOURCES_FILE, CHANGES_FILE) or name.startswith(
            f"{TERMS_DIR}/"
        ):
            continue
        doc, found = _load_events(name, raw, errors)
        for event, index in found:
            assert doc is not None
            problems: list[DataError] = []
            sessions = _check_event(
                event, name, doc, ("events", index), settings, seen, term_days, problems
            )
            errors.extend(problems)
            published = sessions.published(event)
            located.append((published, name, doc.line_of(("events", index)) or 1))
            written.append((event, sessions))
            if not problems:  # a well-formed event; its rule is asked about one year only
                for path, message in provenance_problems(published, local_today):
                    full = ("events", index, *path)
                    about = f"event {event.id!r}: {message}"
                    provenance.append(
                        str(DataError(name, doc.line_of(full), field_path(full), about))
                    )
        # The document (every value's line) is dropped here, one file at a time.

    if settings is not None and loaded_settings is not None:
        errors.extend(_check_feeds(settings, loaded_settings[1]))
    revisions = _read_revisions(contents.get(REVISIONS_FILE), errors, latest_stamp(today))
    sources = _read_sources(contents.get(SOURCES_FILE), settings, errors)
    changes = _read_changes(contents.get(CHANGES_FILE), errors)
    if errors:
        raise DataInvalid(errors)
    assert settings is not None
    # Across the catalog, once each event is valid: bounded expansion cost, clock changes.
    errors.extend(check_expansion(located, settings.zone, today or datetime.now(UTC).date()))
    if errors:
        raise DataInvalid(errors)

    stamp_day = today or datetime.now(UTC).date()
    events, warnings = [], provenance
    for (event, sessions), (_, name, line) in zip(written, located, strict=True):
        digest_value = content_hash(event, sessions)
        known = revisions.get(event.id)
        if known is not None and known.hash == digest_value:
            sequence, modified = known.sequence, known.modified
        else:
            # Unstamped edits still get a newer SEQUENCE; the day keeps workers in agreement.
            sequence = known.sequence + 1 if known is not None else 0
            modified = datetime.combine(stamp_day, time(), UTC)
            if sequence > MAX_SEQUENCE:
                errors.append(_sequence_exhausted(event.id, name, line))
            state = "changed since it was stamped" if known else "has no revision stamp yet"
            warnings.append(f"{name}:{line}: event {event.id!r} {state}; {STAMP_ADVICE}")
        events.append(Event(event, name, line, sequence, modified, digest_value, sessions))
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
    withdrawn = _withdrawn_events(revisions, present, since, errors)
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
    )


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


def _load_terms(contents: Mapping[str, bytes], errors: list[DataError]) -> dict[str, TermCalendar]:
    """The term calendars under terms/, by id: the file's name without .yaml."""
    terms: dict[str, TermCalendar] = {}
    where: dict[str, str] = {}
    for name, raw in contents.items():
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
        loaded = _load_model(TermCalendar, name, raw, errors)
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


def _check_event(
    event: EventData,
    name: str,
    doc: Document,
    base: FieldPath,
    settings: CalendarSettings | None,
    seen: dict[str, str],
    terms: Mapping[str, TermDays],
    errors: list[DataError],
) -> Schedule:
    """Checks across fields and files: unique ids, vocabularies, local times, recurrence
    and the days it skips. Records problems in `errors`; returns what the skip makes of
    the rule (UNSKIPPED when it cannot be applied)."""

    def located(path: FieldPath, message: str) -> DataError:
        full = (*base, *path)
        return DataError(name, doc.line_of(full), field_path(full), message)

    if event.id in seen:
        errors.append(
            located(("id",), f"duplicate id {event.id!r}, already used at {seen[event.id]}")
        )
    else:
        seen[event.id] = f"{name}:{doc.line_of(base)}"
    if settings is not None:
        errors.extend(_check_vocabulary(event, settings, name, doc, base))
        for path, message in check_local_times(event, settings.zone):
            errors.append(located(path, message))
    try:
        sessions = schedule(event, terms)
    except SkipProblem as problem:
        errors.append(located(("recurrence", *problem.path), str(problem)))
        sessions = UNSKIPPED
    # Excluded dates and overrides are checked against the rule as published.
    for path, message in check_recurrence(sessions.published(event)):
        errors.append(located(path, message))
    for path, message in skip_problems(event, sessions):
        errors.append(located(path, message))
    return sessions


def _check_vocabulary(
    event: EventData, settings: CalendarSettings, name: str, doc: Document, base: FieldPath
) -> Iterator[DataError]:
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
            full = (*base, *path)
            yield DataError(
                name,
                doc.line_of(full),
                field_path(full),
                f"unknown value {value!r}; expected one of: {', '.join(allowed)}",
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
    revisions: dict[str, Revision], present: set[str], since: datetime, errors: list[DataError]
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


def _read_changes(raw: bytes | None, errors: list[DataError]) -> tuple[Change, ...]:
    """The change log `stamp` writes, each entry checked; oldest first."""
    if raw is None:
        return ()
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
            changes.append(Change.model_validate(item))
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
