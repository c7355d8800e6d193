"""The fetched directory: each partner source's last good copy and the status of its fetches,
written atomically so a reader sees the old file or the new one, never a mix."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from calendar_service.partner_sources import FETCHED_SUFFIX, SourceConfig
from calendar_service.values import is_slug

STATUS_SUFFIX = ".json"
BODY_SUFFIX = FETCHED_SUFFIX  # the last good copy, where the importer reads it


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What the last fetches of one source did; saved beside its last good copy."""

    id: str
    url: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    events: int | None = None  # in the last good copy
    sha256: str | None = None  # of the last good copy

    @property
    def ok(self) -> bool:
        return self.last_error is None and self.last_success is not None

    def as_json(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SourceStatus:
        moments = {"last_attempt", "last_success"}
        known: dict[str, Any] = {
            key: datetime.fromisoformat(item) if key in moments and item else item
            for key, item in value.items()
            if key in cls.__dataclass_fields__
        }
        return cls(**known)


class FetchStore:
    """The fetched directory: `<id>.ics` (the last good copy) and `<id>.json` (its status).

    Both are written atomically (a temporary file in the same directory, then os.replace),
    the copy before its status: a reader sees the old file or the new one, never a mix.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, source_id: str, suffix: str) -> Path:
        if not is_slug(source_id):  # a name that could leave the directory never reaches it
            raise ValueError(f"not a source id: {source_id!r}")
        return self.directory / f"{source_id}{suffix}"

    def last_good(self, source_id: str) -> bytes | None:
        try:
            return self._path(source_id, BODY_SUFFIX).read_bytes()
        except FileNotFoundError:
            return None

    def status(self, source_id: str) -> SourceStatus | None:
        try:
            raw = json.loads(self._path(source_id, STATUS_SUFFIX).read_text(encoding="utf-8"))
            return SourceStatus.from_json(raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return None  # a damaged status: the next fetch writes a fresh one

    def latest(self, source: SourceConfig) -> SourceStatus:
        """The source's recorded status, or an empty one if it was never fetched."""
        return self.status(source.id) or SourceStatus(source.id, source.url)

    def save(self, status: SourceStatus, body: bytes | None = None) -> None:
        """Record `status`, and `body` as the new last good copy when given."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if body is not None:
            _write_atomically(self._path(status.id, BODY_SUFFIX), body)
        text = json.dumps(status.as_json(), indent=2, sort_keys=True) + "\n"
        _write_atomically(self._path(status.id, STATUS_SUFFIX), text.encode())

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store for one round of fetches: two processes never fetch at once."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, content: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, 0o644)  # as data files are: readable by a server run as another user
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetched_stamps(directory: Path) -> tuple[tuple[str, int, int, int], ...]:
    """(name, size, modified, inode) of every last good copy: what a reload compares."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return ()
    stamps = []
    for entry in entries:
        if entry.name.endswith(BODY_SUFFIX) and not entry.name.startswith("."):
            with_info = entry.stat(follow_symlinks=False)
            stamps.append((entry.name, with_info.st_size, with_info.st_mtime_ns, entry.inode()))
    return tuple(stamps)


__all__ = ["FetchStore", "SourceStatus", "fetched_stamps"]
