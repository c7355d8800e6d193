"""Shared by the load-cache tests: a loaded directory summed up, and edits made as editors do."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from calendar_service.loading import DataError, DataInvalid, LoadCache, LoadedData, load

TODAY = date(2026, 11, 25)


def summary(loaded: LoadedData) -> tuple[object, ...]:
    """Everything a load gives that a snapshot is compiled from, comparable with ==."""
    events = [
        (event.id, event.source, event.line, event.sequence, event.modified, event.content_hash)
        for event in loaded.events
    ]
    data = [event.data for event in loaded.events]
    withdrawn = [(event.id, event.sequence, event.data) for event in loaded.withdrawn]
    return (events, data, loaded.version, loaded.warnings, withdrawn, loaded.changes)


def loaded(root: Path, cache: LoadCache | None) -> LoadedData:
    return load(root, today=TODAY, cache=cache)


def errors(root: Path, cache: LoadCache | None) -> list[str]:
    """The errors a load lists, as `validate` prints them."""
    with pytest.raises(DataInvalid) as caught:
        load(root, today=TODAY, cache=cache)
    found: list[DataError] = caught.value.errors
    return [str(error) for error in found]


def replace_once(path: Path, old: str, new: str, *, keep_time: bool = False) -> None:
    """Edit a file, saved atomically; with `keep_time` its modification time is kept."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path.name} exactly once"
    before = path.stat()
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text.replace(old, new), encoding="utf-8")
    os.replace(temporary, path)
    if keep_time:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
