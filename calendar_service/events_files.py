"""One events file read and each of its events checked on its own, located by line and field."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from calendar_service.documents import DataError, Document, field_path
from calendar_service.judging import Judged, Listing, judge
from calendar_service.located import pydantic_errors, read_document
from calendar_service.model import CalendarSettings, EventData, EventFile
from calendar_service.skipping import TermDays
from calendar_service.sources import (
    CHANGES_FILE,
    REVISIONS_FILE,
    SETTINGS_FILE,
    SOURCES_FILE,
    TERMS_DIR,
)
from calendar_service.values import FieldPath


@dataclass(frozen=True, slots=True)
class CheckedEvent:
    """One event of a file, its judgement located there (the cache keeps these per file)."""

    judged: Judged
    source: str  # the file
    index: int  # in the file's `events`
    line: int
    id_line: int | None
    problems: tuple[DataError, ...]  # its own, a duplicate id apart (that is across files)
    provenance: tuple[str, ...]


def is_events_file(name: str) -> bool:
    """Whether the data file of this name holds events: not the settings, stamps, sources,
    change log or a term calendar."""
    return name not in (
        SETTINGS_FILE,
        REVISIONS_FILE,
        SOURCES_FILE,
        CHANGES_FILE,
    ) and not name.startswith(f"{TERMS_DIR}/")


def check_events_file(
    name: str,
    raw: bytes,
    errors: list[DataError],
    *,
    settings: CalendarSettings | None,
    terms: Mapping[str, TermDays],
    today: date,
    context: Hashable,
    judged: Mapping[str, Judged],
    listing: Listing,
) -> tuple[CheckedEvent, ...]:
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
            known = judge(event, settings, terms, today, context, listing)

        told = [(path, f"event {event.id!r}: {message}") for path, message in known.provenance]
        checked.append(
            CheckedEvent(
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


def _load_events(
    name: str, raw: bytes, errors: list[DataError]
) -> tuple[Document | None, list[tuple[EventData, int]]]:
    """The events of one file. When some are invalid, the others are still returned, so
    that their own errors (vocabulary, recurrence, duplicate ids) are listed at once too."""
    doc = read_document(name, raw, errors)
    if doc is None:
        return None, []
    try:
        model = EventFile.model_validate(doc.value)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, name, doc, ()))
        items = doc.value.get("events")
        found: list[tuple[EventData, int]] = []
        for index, item in enumerate(items if isinstance(items, list) else []):
            # An invalid event was reported above, with the file's other errors.
            with contextlib.suppress(ValidationError):
                found.append((EventData.model_validate(item), index))
        return doc, found
    return doc, [(event, index) for index, event in enumerate(model.events)]


def _located(name: str, doc: Document, path: FieldPath, message: str) -> DataError:
    return DataError(name, doc.line_of(path), field_path(path), message)
