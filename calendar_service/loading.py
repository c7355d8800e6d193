"""Read the data directory into validated models, with file/line/field errors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import yaml
from dateutil.rrule import rrulestr
from pydantic import BaseModel, ValidationError

from calendar_service.model import (
    CalendarSettings,
    Event,
    EventData,
    EventFile,
    FieldProblem,
    is_all_day,
)

SETTINGS_FILE = "calendar.yaml"
EVENTS_DIR = "events"
REVISIONS_FILE = "revisions.yaml"
MAX_FILE_BYTES = 2_000_000
MAX_NODES = 500_000
MAX_DEPTH = 24
# Expanding a rule to check it stops here; bounded rules (count/until) end sooner.
CHECK_HORIZON_YEARS = 30

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "bool", "null", "float", "timestamp", "map", "seq")
}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DataError:
    """One problem in the data, located for the person who will fix it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DataInvalid(Exception):
    """The data directory holds errors; nothing from it may be served."""

    def __init__(self, errors: list[DataError]) -> None:
        self.errors = errors
        super().__init__(
            f"{len(errors)} error(s) in the data:\n" + "\n".join(f"  {e}" for e in errors)
        )


@dataclass(frozen=True, slots=True)
class LoadedData:
    """Everything read from a valid data directory."""

    settings: CalendarSettings
    events: tuple[Event, ...]
    version: str  # content hash of every input file
    warnings: tuple[str, ...] = ()


def field_path(path: Path_) -> str:
    """`('events', 0, 'recurrence')` -> `events[0].recurrence`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- YAML with line numbers -------------------------------------------------------------


class _YamlProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases, which allow "billion laughs" bombs."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise _YamlProblem(line, "YAML aliases (*name) are not allowed; write it out")
        if getattr(event, "anchor", None):
            raise _YamlProblem(line, "YAML anchors (&name) are not allowed; write it out")
        return super().compose_node(parent, index)


@dataclass
class _Document:
    value: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of the nearest node on `path` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # editors on Windows add a byte-order mark; it carries no meaning
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _YamlProblem(line, "the file is not valid UTF-8; save it as UTF-8") from exc


def parse_yaml(raw: bytes) -> _Document:
    """Parse YAML safely into plain values, recording the line of every node.

    Plain scalars follow YAML 1.2's core schema: only true/false are booleans, `no` and
    `12:30` stay text, and dates stay text for the models to read.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise _YamlProblem(None, f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    text = _decode(raw)
    if not text.strip():
        raise _YamlProblem(1, "the file is empty")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except _YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise _YamlProblem(line, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise _YamlProblem(None, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if node is None:
        raise _YamlProblem(1, "the file is empty")
    document = _Document(None)
    counter = [0]
    document.value = _construct(node, (), document, counter)
    return document


def _construct(node: yaml.Node, path: Path_, doc: _Document, counter: list[int]) -> Any:
    counter[0] += 1
    line = node.start_mark.line + 1
    if counter[0] > MAX_NODES:
        raise _YamlProblem(line, f"more than {MAX_NODES:,} YAML nodes")
    if len(path) > MAX_DEPTH:
        raise _YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels")
    if node.tag not in _ALLOWED_TAGS:
        raise _YamlProblem(line, f"the YAML tag {node.tag!r} is not allowed")
    doc.lines[path] = line
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                raise _YamlProblem(key_node.start_mark.line + 1, "keys must be plain names")
            key = key_node.value
            if key in result:
                raise _YamlProblem(
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first on line {doc.lines[(*path, key)]})",
                )
            result[key] = None  # reserve so the line lookup below works for the key
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, (*path, key), doc, counter)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, index), doc, counter) for index, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    value: str = node.value
    if node.style is not None:  # quoted or block scalars are always text
        return value
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


# --- Validation ---------------------------------------------------------------------------


def _pydantic_errors(
    exc: ValidationError, file: str, doc: _Document, base: Path_
) -> list[DataError]:
    errors = []
    for error in exc.errors(include_url=False):
        path: Path_ = (*base, *error["loc"])
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


def _read_document(root: Path, path: Path, errors: list[DataError]) -> _Document | None:
    """Parse one data file whose top level must be a mapping; record why if it cannot be."""
    name = path.relative_to(root).as_posix()
    try:
        doc = parse_yaml(path.read_bytes())
    except _YamlProblem as problem:
        errors.append(DataError(name, problem.line, "", problem.message))
        return None
    except OSError as exc:
        errors.append(DataError(name, None, "", f"cannot read the file: {exc.strerror}"))
        return None
    if not isinstance(doc.value, dict):
        line = doc.line_of(()) or 1  # where the document starts, after any comments
        errors.append(DataError(name, line, "", "expected a mapping at the top of the file"))
        return None
    return doc


def _load_model(
    model: type[M], root: Path, path: Path, errors: list[DataError]
) -> tuple[M, _Document] | None:
    doc = _read_document(root, path, errors)
    if doc is None:
        return None
    try:
        return model.model_validate(doc.value), doc
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, path.relative_to(root).as_posix(), doc, ()))
        return None


def _load_events(
    root: Path, path: Path, errors: list[DataError]
) -> list[tuple[EventData, _Document, int]]:
    """The events of one file. When some are invalid, the others are still returned, so
    that their own errors (vocabulary, recurrence, duplicate ids) are listed at once too."""
    doc = _read_document(root, path, errors)
    if doc is None:
        return []
    try:
        model = EventFile.model_validate(doc.value)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, path.relative_to(root).as_posix(), doc, ()))
        items = doc.value.get("events")
        found: list[tuple[EventData, _Document, int]] = []
        for index, item in enumerate(items if isinstance(items, list) else []):
            # An invalid event was reported above, with the file's other errors.
            with contextlib.suppress(ValidationError):
                found.append((EventData.model_validate(item), doc, index))
        return found
    return [(event, doc, index) for index, event in enumerate(model.events)]


def _event_files(root: Path) -> list[Path]:
    folder = root / EVENTS_DIR
    if not folder.is_dir():
        return []
    files = [p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    # Editors' temporary and hidden files are never data.
    return sorted(p for p in files if not any(part.startswith(".") for part in p.parts[-1:]))


def content_hash(event: EventData) -> str:
    """A hash of an event's meaning, independent of file layout and key order."""
    text = json.dumps(event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(root: Path, *, today: date | None = None) -> LoadedData:
    """Load and validate a data directory; raise `DataInvalid` listing every error."""
    root = Path(root)
    errors: list[DataError] = []
    warnings: list[str] = []
    digest = hashlib.sha256()
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise DataInvalid([DataError(SETTINGS_FILE, None, "", "the settings file is missing")])
    loaded_settings = _load_model(CalendarSettings, root, settings_path, errors)
    settings = loaded_settings[0] if loaded_settings else None

    located: list[tuple[EventData, str, _Document, int]] = []
    files = _event_files(root)
    if not files:
        errors.append(DataError(f"{EVENTS_DIR}/", None, "", "no *.yaml event files found"))
    for path in [settings_path, *files]:
        try:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        except OSError:
            pass  # reported by _load_model
    for path in files:
        name = path.relative_to(root).as_posix()
        for event, doc, index in _load_events(root, path, errors):
            located.append((event, name, doc, index))

    seen: dict[str, str] = {}
    for event, name, doc, index in located:
        base: Path_ = ("events", index)
        where = f"{name}:{doc.line_of(base)}"
        if event.id in seen:
            errors.append(
                DataError(
                    name,
                    doc.line_of((*base, "id")),
                    field_path((*base, "id")),
                    f"duplicate id {event.id!r}, already used at {seen[event.id]}",
                )
            )
        else:
            seen[event.id] = where
        if settings is not None:
            errors.extend(_check_vocabulary(event, settings, name, doc, base))
            for problem_path, message in check_local_times(event, settings.zone):
                full = (*base, *problem_path)
                errors.append(DataError(name, doc.line_of(full), field_path(full), message))
        for problem_path, message in check_recurrence(event):
            located_path = (*base, *problem_path)
            errors.append(
                DataError(name, doc.line_of(located_path), field_path(located_path), message)
            )

    if settings is not None:
        errors.extend(_check_feeds(settings, root / SETTINGS_FILE, loaded_settings))
    if errors:
        raise DataInvalid(errors)
    assert settings is not None

    revisions = _read_revisions(root, errors)
    if errors:
        raise DataInvalid(errors)
    stamp_day = today or datetime.now(UTC).date()
    events = []
    for event, name, doc, index in located:
        digest_value = content_hash(event)
        known = revisions.get(event.id)
        if known is not None and known.hash == digest_value:
            sequence, modified = known.sequence, known.modified
        else:
            # Unstamped edits still get a newer SEQUENCE; the day keeps workers in agreement.
            sequence = known.sequence + 1 if known is not None else 0
            modified = datetime.combine(stamp_day, time(), UTC)
            state = "changed since it was stamped" if known else "has no revision stamp yet"
            warnings.append(
                f"{name}:{doc.line_of(('events', index))}: event {event.id!r} {state}; "
                "run `calendar-service stamp` to record its revision"
            )
        events.append(
            Event(
                data=event,
                source=name,
                line=doc.line_of(("events", index)) or 1,
                sequence=sequence,
                modified=modified,
                content_hash=digest_value,
            )
        )
    events.sort(key=lambda item: item.id)
    return LoadedData(settings, tuple(events), digest.hexdigest()[:16], tuple(warnings))


def _check_vocabulary(
    event: EventData, settings: CalendarSettings, name: str, doc: _Document, base: Path_
) -> Iterator[DataError]:
    vocab = settings.vocabularies
    checks: list[tuple[Path_, str, dict[str, Any]]] = [
        (("category",), event.category, vocab.categories)
    ]
    checks += [
        (("audiences", i), value, vocab.audiences) for i, value in enumerate(event.audiences)
    ]
    checks += [(("themes", i), value, vocab.themes) for i, value in enumerate(event.themes)]
    for path, value, allowed in checks:
        if value not in allowed:
            full = (*base, *path)
            yield DataError(
                name,
                doc.line_of(full),
                field_path(full),
                f"unknown value {value!r}; expected one of: {', '.join(allowed)}",
            )


def _check_feeds(
    settings: CalendarSettings,
    path: Path,
    loaded: tuple[CalendarSettings, _Document] | None,
) -> Iterator[DataError]:
    assert loaded is not None
    doc = loaded[1]
    vocab = settings.vocabularies
    allowed = {"category": vocab.categories, "audience": vocab.audiences, "theme": vocab.themes}
    for index, feed in enumerate(settings.feeds):
        for key, terms in allowed.items():
            for position, value in enumerate(getattr(feed.filter, key)):
                if value not in terms:
                    full: Path_ = ("feeds", index, "filter", key, position)
                    yield DataError(
                        path.name,
                        doc.line_of(full),
                        field_path(full),
                        f"unknown value {value!r}; expected one of: {', '.join(terms)}",
                    )


def check_local_times(event: EventData, zone: ZoneInfo) -> Iterator[tuple[Path_, str]]:
    """Refuse local times that do not exist, skipped when the clocks go forward."""
    if event.all_day:
        return
    times: list[tuple[Path_, date | datetime | None]] = [
        (("start",), event.start),
        (("end",), event.end),
    ]
    if event.recurrence is not None:
        for name in ("extra_dates", "excluded_dates"):
            times += [
                (("recurrence", name, index), value)
                for index, value in enumerate(getattr(event.recurrence, name))
            ]
    for index, override in enumerate(event.overrides):
        times += [
            (("overrides", index, name), getattr(override, name))
            for name in ("occurrence", "start", "end")
        ]
    for path, value in times:
        if not isinstance(value, datetime):
            continue
        round_trip = value.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        if round_trip.replace(tzinfo=None) != value:
            yield (
                path,
                f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
                "then; choose a time outside the skipped hour",
            )


# --- Recurrence checks ---------------------------------------------------------------------


def rule_text(event: EventData) -> str | None:
    """The event's RRULE as text; an all-day UNTIL is a DATE, a timed one local end of day."""
    recurrence = event.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    parts = []
    for key, value in recurrence.rule.ical().items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}={text}")
    until = recurrence.rule.until
    if until is not None:
        parts.append(f"UNTIL={until:%Y%m%d}" if event.all_day else f"UNTIL={until:%Y%m%d}T235959")
    return ";".join(parts)


def _as_naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def rule_starts(event: EventData, limit: date) -> list[date | datetime]:
    """Starts the rule gives up to `limit` (bounded: rules are checked before expansion)."""
    text = rule_text(event)
    if text is None:
        return []
    start = _as_naive(event.start)
    rule = rrulestr(text, dtstart=start)
    ends = datetime.combine(limit, time.max)
    starts = rule.between(start, ends, inc=True)
    return [value.date() if event.all_day else value for value in starts]


def check_recurrence(event: EventData) -> list[tuple[Path_, str]]:
    """Semantic checks the schema cannot express: the series must be well formed.

    The start must be an occurrence of its rule (RFC 5545 leaves other starts undefined and
    clients disagree), excluded dates and overrides must name real occurrences, and the
    series must keep at least one occurrence.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return []
    problems: list[tuple[Path_, str]] = []
    rule = recurrence.rule
    if rule is not None and rule.until is not None and rule.until < _as_naive(event.start).date():
        return [(("recurrence", "rule", "until"), "until is before the event's start")]
    if rule is not None and (reason := rule.unreachable(_as_naive(event.start).date())):
        return [(("recurrence", "rule"), f"the rule never produces an occurrence: {reason}")]
    horizon = _as_naive(event.start).date() + timedelta(days=366 * CHECK_HORIZON_YEARS)
    starts = rule_starts(event, horizon) if rule is not None else []
    if rule is not None and (not starts or starts[0] != event.start):
        following = starts[0].isoformat() if starts else "none"
        problems.append(
            (
                ("start",),
                f"{event.start.isoformat()} is not an occurrence of the rule "
                f"({rule.describe()}); its first occurrence from there is {following}",
            )
        )
        return problems
    occurrences = set(starts) | set(recurrence.extra_dates) | {event.start}
    for index, value in enumerate(recurrence.excluded_dates):
        if value not in occurrences:
            problems.append(
                (("recurrence", "excluded_dates", index), f"{value} is not an occurrence")
            )
    remaining = occurrences - set(recurrence.excluded_dates)
    if not remaining:
        problems.append((("recurrence",), "every occurrence is excluded; the series is empty"))
    for index, value in enumerate(recurrence.extra_dates):
        if value in starts:
            problems.append(
                (("recurrence", "extra_dates", index), f"{value} is already given by the rule")
            )
    seen: set[date | datetime] = set()
    for index, override in enumerate(event.overrides):
        if override.occurrence not in remaining:
            problems.append(
                (
                    ("overrides", index, "occurrence"),
                    f"{override.occurrence} is not an occurrence of this event",
                )
            )
        if override.occurrence in seen:
            problems.append(
                (("overrides", index, "occurrence"), f"{override.occurrence} is overridden twice")
            )
        seen.add(override.occurrence)
        if not is_all_day(event.start) and override.end is None and override.start is not None:
            pass  # the series' duration applies
    return problems


# --- Revision stamps -----------------------------------------------------------------------


class Revision(BaseModel):
    """The recorded revision of one event: SEQUENCE and LAST-MODIFIED follow content."""

    hash: str
    sequence: int
    modified: datetime


def _read_revisions(root: Path, errors: list[DataError]) -> dict[str, Revision]:
    path = root / REVISIONS_FILE
    if not path.is_file():
        return {}
    try:
        doc = parse_yaml(path.read_bytes())
    except _YamlProblem as problem:
        errors.append(DataError(REVISIONS_FILE, problem.line, "", problem.message))
        return {}
    if not isinstance(doc.value, dict):
        errors.append(
            DataError(REVISIONS_FILE, doc.line_of(()) or 1, "", "expected a mapping of event ids")
        )
        return {}
    revisions = {}
    for key, value in doc.value.items():
        try:
            revision = Revision.model_validate(value)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, REVISIONS_FILE, doc, (key,)))
            continue
        if revision.modified.tzinfo is None:
            revision = revision.model_copy(
                update={"modified": revision.modified.replace(tzinfo=UTC)}
            )
        revisions[str(key)] = revision
    return revisions


def stamp(root: Path, *, now: datetime | None = None) -> list[str]:
    """Record the revision of every changed event in `revisions.yaml`; return changed ids."""
    data = load(root)
    errors: list[DataError] = []
    revisions = _read_revisions(root, errors)
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    changed = []
    for event in data.events:
        known = revisions.get(event.id)
        if known is None or known.hash != event.content_hash:
            sequence = known.sequence + 1 if known else 0
            revisions[event.id] = Revision(
                hash=event.content_hash, sequence=sequence, modified=moment
            )
            changed.append(event.id)
    lines = [
        "# Written by `calendar-service stamp`: each event's content hash, SEQUENCE and",
        "# LAST-MODIFIED. Commit it with the data; do not edit by hand.",
    ]
    for key in sorted(revisions):
        revision = revisions[key]
        lines.append(f"{key}:")
        lines.append(f"  hash: '{revision.hash}'")
        lines.append(f"  sequence: {revision.sequence}")
        stamp_text = revision.modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"  modified: '{stamp_text}'")
    (root / REVISIONS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed
