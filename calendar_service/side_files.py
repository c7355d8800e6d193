"""The data directory's files besides the events: settings, sources, terms, changes, stamps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from functools import partial
from pathlib import Path, PurePosixPath

from calendar_service.documents import DataError, DataInvalid, Document, field_path
from calendar_service.fields import FIELDS
from calendar_service.load_cache import LoadCache
from calendar_service.located import load_model
from calendar_service.model import CalendarSettings, Change, TermCalendar
from calendar_service.partner_sources import SourceConfig, SourcesFile, vocabulary_problems
from calendar_service.revisions import Stamps, latest_stamp, read_changes, read_stamps
from calendar_service.sources import (
    CHANGES_FILE,
    REVISIONS_FILE,
    SETTINGS_FILE,
    SOURCES_FILE,
    TERMS_DIR,
    DataFile,
)
from calendar_service.values import FieldPath, is_slug


def read_settings(
    contents: Mapping[str, DataFile], cache: LoadCache, errors: list[DataError]
) -> tuple[CalendarSettings, Document] | None:
    """The calendar's settings and their document (the named feeds' lines are read from it
    later), kept in `cache`; None if the file is missing or not valid."""
    if SETTINGS_FILE not in contents:
        return None
    return cache.reuse(
        SETTINGS_FILE,
        contents[SETTINGS_FILE],
        None,
        errors,
        partial(load_model, CalendarSettings, SETTINGS_FILE, contents[SETTINGS_FILE].raw),
    )


def feed_problems(settings: CalendarSettings, doc: Document) -> Iterator[DataError]:
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


def read_sources(root: Path) -> list[SourceConfig]:
    """The partner feeds `sources.yaml` lists (none without the file), for fetching; raise
    `DataInvalid` with file, line and field if the file is not valid."""
    path = Path(root) / SOURCES_FILE
    if not path.is_file():
        return []
    errors: list[DataError] = []
    raw = path.read_bytes()  # the fetcher reads only this file; load() checks the rest
    sources = read_sources_file(raw, None, errors)  # no settings read: no vocabulary check
    if sources is None:
        raise DataInvalid(errors)
    return list(sources.sources)


def read_sources_file(
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


def load_terms(
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


def read_change_log(
    contents: Mapping[str, DataFile], cache: LoadCache, errors: list[DataError] | None = None
) -> tuple[Change, ...]:
    """The change log, if there is one, kept in `cache` (its errors are recorded there too:
    read once without `errors`, while a child checks events files, they are told later)."""
    file = contents.get(CHANGES_FILE)
    if file is None:
        return ()
    read = partial(read_changes, file.raw)
    return cache.reuse(CHANGES_FILE, file, None, [] if errors is None else errors, read)


def read_revisions(
    contents: Mapping[str, DataFile], today: date | None, errors: list[DataError]
) -> Stamps:
    """The stamps of revisions.yaml, if there is one. Read every time, not kept in the
    cache: as stamp writes it, the file is read in 0.03 s at 10,000 events, and keeping
    what it gave would hold 2 MB for the life of the process."""
    file = contents.get(REVISIONS_FILE)
    if file is None:
        return Stamps({}, {})
    return read_stamps(file.raw, latest_stamp(today), errors)
