"""The data directory's files: found, checked by name, kind, place and size, then read."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from calendar_service.documents import (
    MAX_FILE_BYTES,
    MAX_STAMP_FILE_BYTES,
    DataError,
    DataInvalid,
    escaped,
)

SETTINGS_FILE = "calendar.yaml"
EVENTS_DIR = "events"
TERMS_DIR = "terms"  # optional: one term calendar per local authority, <id>.yaml
REVISIONS_FILE = "revisions.yaml"
SOURCES_FILE = "sources.yaml"  # optional: partner feeds (partner_sources.py)
CHANGES_FILE = "changes.yaml"
EVENT_SUFFIXES = (".yaml", ".yml")
MAX_DATA_BYTES = 20_000_000  # every file together: ten at the limit of one


def byte_limit(name: str) -> int:
    """The most bytes a data file may have: more for the files `stamp` writes."""
    return MAX_STAMP_FILE_BYTES if name in (REVISIONS_FILE, CHANGES_FILE) else MAX_FILE_BYTES


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
# Never wait for a writer on a FIFO swapped in after the check, nor take a terminal.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True, slots=True)
class DataFile:
    """One data file's bytes, with the size and modification time (ns) it had when read."""

    raw: bytes
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Checked:
    name: str  # as errors show it: relative to the data directory, with "/"
    target: Path  # the file itself, every link followed
    size: int


def read_data_files(root: Path, errors: list[DataError]) -> dict[str, DataFile]:
    """The bytes of calendar.yaml, and of revisions.yaml, sources.yaml and changes.yaml if
    there, every term calendar file and every events file, by name.

    Nothing is opened before its name, kind, place and size are checked: names must be
    printable UTF-8; links may lead anywhere inside the data directory but not out of it;
    only regular files are read, each at most MAX_FILE_BYTES and all together at most
    MAX_DATA_BYTES. A file that fails is left out and its error recorded.
    """
    if not os.path.lexists(root / SETTINGS_FILE):
        raise DataInvalid([DataError(SETTINGS_FILE, None, "", "the settings file is missing")])
    top = root.resolve()  # the directory itself may be a link, e.g. to the current copy
    files = [_check(top, root / SETTINGS_FILE, SETTINGS_FILE, errors)]
    for optional in (REVISIONS_FILE, SOURCES_FILE, CHANGES_FILE):
        if os.path.lexists(root / optional):
            files.append(_check(top, root / optional, optional, errors))
    if os.path.lexists(root / TERMS_DIR):
        files += _yaml_files(top, root, TERMS_DIR, errors, required=False)
    files += _yaml_files(top, root, EVENTS_DIR, errors)
    found = [file for file in files if file is not None]
    total = sum(file.size for file in found)
    if total > MAX_DATA_BYTES:
        errors.append(_too_much(total, found))
        return {}
    contents: dict[str, DataFile] = {}
    for file in found:
        read = _read(file, errors)
        if read is None:
            continue
        total += read.size - file.size  # a file may have grown since it was measured
        if total > MAX_DATA_BYTES:
            errors.append(_too_much(total, found))
            return {}
        contents[file.name] = read
    return contents


def _too_much(total: int, files: list[_Checked]) -> DataError:
    largest = sorted(files, key=lambda file: -file.size)[:3]
    named = ", ".join(f"{file.name} ({file.size:,} bytes)" for file in largest)
    return DataError(
        f"{EVENTS_DIR}/",
        None,
        "",
        f"the data files total {total:,} bytes, more than the {MAX_DATA_BYTES:,} allowed;"
        f" the largest: {named}",
    )


def _yaml_files(
    top: Path, root: Path, kind: str, errors: list[DataError], *, required: bool = True
) -> list[_Checked | None]:
    """Every *.yaml or *.yml under `kind`/, in name order; folder links inside are followed."""
    folder = _folder(top, root / kind, f"{kind}/", errors)
    if folder is None:
        if not os.path.lexists(root / kind):
            errors.append(DataError(f"{kind}/", None, "", "no *.yaml event files found"))
        return []
    found: list[_Checked | None] = []
    visited: set[Path] = set()
    pending = [(folder, kind)]
    while pending:
        directory, prefix = pending.pop()
        if directory in visited:
            continue  # two links to one folder, or a link back up: each file is read once
        visited.add(directory)
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            errors.append(DataError(f"{prefix}/", None, "", f"cannot list: {exc.strerror}"))
            continue
        for entry in entries:
            name = f"{prefix}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), name))
            elif entry.is_symlink() and _leads_to_folder(entry):
                linked = _folder(top, Path(entry.path), f"{name}/", errors)
                if linked is not None:
                    pending.append((linked, name))
            elif entry.name.endswith(EVENT_SUFFIXES) and not entry.name.startswith("."):
                # Editors' temporary and hidden files are never data.
                found.append(_check(top, Path(entry.path), name, errors))
    if not found and required:
        errors.append(DataError(f"{kind}/", None, "", "no *.yaml event files found"))
    return sorted(found, key=lambda file: PurePosixPath(file.name).parts if file else ())


def _leads_to_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False  # a loop: refused as a file if its name says it is one


def _folder(top: Path, path: Path, name: str, errors: list[DataError]) -> Path | None:
    """A folder to look in, every link followed, if it is one and inside the data directory."""
    target = _target(top, path, name, errors)
    if target is None:
        return None
    if not target.is_dir():
        errors.append(DataError(name, None, "", "expected a folder of event files"))
        return None
    return target


def _target(top: Path, path: Path, name: str, errors: list[DataError]) -> Path | None:
    def refuse(message: str) -> None:
        errors.append(DataError(escaped(name), None, "", message))

    if not name.isprintable():
        # Such a name cannot be printed safely, and a newline in it could pass for an error.
        refuse("file names must be printable UTF-8, without control or invisible characters")
        return None
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        if os.path.lexists(path):
            refuse("the link leads to nothing: no file is at its target")
        return None
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11 names a loop so
        refuse("the link cannot be followed: it leads round in a loop")
        return None
    if not target.is_relative_to(top):
        refuse("the link leads outside the data directory; copy the file in instead")
        return None
    return target


def _check(top: Path, path: Path, name: str, errors: list[DataError]) -> _Checked | None:
    """One data file, if it passes every check that needs no opening."""
    target = _target(top, path, name, errors)
    if target is None:
        return None
    try:
        info = target.stat()
    except OSError as exc:
        errors.append(DataError(name, None, "", f"cannot read the file: {exc.strerror}"))
        return None
    problem = _problem(info, byte_limit(name))
    if problem is not None:
        errors.append(DataError(name, None, "", problem))
        return None
    return _Checked(name, target, info.st_size)


def _problem(info: os.stat_result, limit: int) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
        return f"not a regular file but {kind}; data files must be regular files"
    if info.st_size > limit:
        return f"the file is larger than {limit:,} bytes ({info.st_size:,})"
    return None


def _read(file: _Checked, errors: list[DataError]) -> DataFile | None:
    """A checked file's bytes, checked again once open: it may have changed meanwhile."""
    try:
        descriptor = os.open(file.target, _OPEN_FLAGS)
    except OSError as exc:
        errors.append(DataError(file.name, None, "", f"cannot read the file: {exc.strerror}"))
        return None
    try:
        limit = byte_limit(file.name)
        info = os.fstat(descriptor)
        problem = _problem(info, limit)
        chunks: list[bytes] = []
        size = 0
        while problem is None and (chunk := os.read(descriptor, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                problem = f"the file is larger than {limit:,} bytes"
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror}"
    finally:
        os.close(descriptor)
    if problem is not None:
        errors.append(DataError(file.name, None, "", problem))
        return None
    raw = b"".join(chunks)
    return DataFile(raw, len(raw), info.st_mtime_ns)
