"""Revision stamps and the change log as files: `revisions.yaml` and `changes.yaml`.

Read quickly where they are as `stamp` writes them, else through the YAML parser (so errors
stay located); written by `stamp` with PyYAML's dumper.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError, field_validator

from calendar_service.documents import (
    DataError,
    DataInvalid,
    YamlProblem,
    field_path,
    parse_yaml,
    plain_value,
)
from calendar_service.located import pydantic_errors, read_document
from calendar_service.model import (
    HASH_DIGITS,
    Change,
    Event,
    EventData,
    Status,
)
from calendar_service.sources import (
    CHANGES_FILE,
    REVISIONS_FILE,
)
from calendar_service.values import (
    MAX_SEQUENCE,
    SequenceNumber,
    Strict,
    UtcMoment,
    parse_utc,
)


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
    doc = read_document(REVISIONS_FILE, raw, errors, "expected a mapping of event ids")
    if doc is None:
        return {}
    revisions = {}
    for key, value in doc.value.items():
        try:
            revision = Revision.model_validate(value)
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, REVISIONS_FILE, doc, (key,)))
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
class Stamps:
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


def read_stamps(raw: bytes, latest: datetime, errors: list[DataError]) -> Stamps:
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
    return Stamps(known, withdrawn)


def _stamped(raw: bytes, latest: datetime) -> Stamps | None:
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
    return Stamps(known, withdrawn) if known else None


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


def withdrawn_events(
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


def read_changes(raw: bytes | None, errors: list[DataError]) -> tuple[Change, ...]:
    """The change log `stamp` writes, each entry checked; oldest first."""
    if raw is None:
        return ()
    if (stamped := _changes_as_stamped(raw)) is not None:
        return stamped
    doc = read_document(CHANGES_FILE, raw, errors, "expected a mapping with `changes:`")
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
            errors.extend(pydantic_errors(exc, CHANGES_FILE, doc, ("changes", index)))
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


__all__ = [
    "CHANGES_HEADER",
    "KEPT_FIELDS",
    "REVISIONS_HEADER",
    "STAMP_CLOCK_TOLERANCE",
    "Revision",
    "Stamps",
    "changes_text",
    "kept_content",
    "latest_stamp",
    "read_changes",
    "read_revisions",
    "read_stamps",
    "revisions_text",
    "withdrawn_copy",
    "withdrawn_events",
]
