"""An export published whole: written as a new version beside a symbolic link, then switched.

`OUT_DIR` is a symbolic link to the version being served (a web server's root names the
link). A build writes a new version under `OUT_DIR.versions/`, hard-linking every file whose
bytes the previous version's manifest already holds (or, for a keyed file, whose inputs it
holds: export_keys.py), and replaces the link in one rename: a reader sees the old export
or the new one, never a mixture or a half-written file.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

import orjson

from calendar_service.errors import CalendarServiceError

MANIFEST = "manifest.json"
VERSIONS = ".versions"  # OUT_DIR.versions/, beside the link


class ExportError(CalendarServiceError):
    """The export could not be written, or its output is unsafe to use; nothing was published."""


def relative_folder(relative: str) -> str:
    """A manifest path's folder ("" for the export's root), refused if the path is absolute,
    empty or climbs out. (PurePosixPath's reading of it, without its cost at 20,000 paths.)"""
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if relative.startswith("/") or ".." in parts or not parts:
        raise ExportError(f"{MANIFEST} in the output directory lists {relative[:200]!r}")
    return "/".join(parts[:-1])


@dataclass(frozen=True, slots=True)
class Listed:
    """A file as the previous manifest lists it: enough to list it again without its bytes."""

    url: str
    size: int
    sha256: str
    content_type: str
    etag: str
    last_modified: str
    key: str | None  # the digest of its inputs (calendar_service/export_keys.py), if keyed

    @classmethod
    def of(cls, item: dict[str, object]) -> Listed | None:
        """The entry, if every field has its type (an older manifest's may not)."""
        fields = {name: item.get(name) for name in cls.__slots__}
        texts = ("url", "sha256", "content_type", "etag", "last_modified")
        if not all(isinstance(fields[name], str) for name in texts):
            return None
        if not isinstance(fields["size"], int) or not isinstance(fields["key"], str | None):
            return None
        return cls(**fields)  # type: ignore[arg-type]  # checked just above


class OpenFolders:
    """Folders under a root by their path in it ("" for the root), each opened once and kept
    open: files are looked up and linked by name in them, not by a path the kernel walks
    from the root each time (after one edit at 10,000 events, 60,000 links)."""

    def __init__(self, root: str | os.PathLike[str], *, make: bool = False) -> None:
        self.root = os.fspath(root)
        self._make = make  # make a folder that is missing (the new version's)
        self._opened: dict[str, int] = {}

    def __call__(self, folder: str) -> int:
        """The folder's descriptor, opened (and made, if so asked) the first time."""
        opened = self._opened.get(folder)
        if opened is None:
            path = os.path.join(self.root, folder)
            if self._make:
                os.makedirs(path, exist_ok=True)
            opened = self._opened[folder] = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        return opened

    def close(self) -> None:
        """Close the folders opened here (a forked worker's copies close at its exit)."""
        for opened in self._opened.values():
            os.close(opened)
        self._opened.clear()


@dataclass
class PreviousExport:
    """The version `OUT_DIR` names now: its directory and what its manifest lists.

    The manifest is a file anyone may have written; its paths, and any symbolic link among
    the folders they pass through, must never lead a build to read another file.
    """

    root: Path
    hashes: dict[str, str]
    # Each file's entry as the manifest has it, read into a Listed only when asked about
    # (`unchanged`: each worker its own share; all 20,000 up front cost 0.1 s of the build).
    entries: dict[str, dict[str, object]] = field(default_factory=dict)
    _checked: dict[str, bool] = field(default_factory=dict)
    _folders: OpenFolders = field(init=False)  # see folder()

    def __post_init__(self) -> None:
        self._folders = OpenFolders(self.root)

    @classmethod
    def read(cls, root: Path, compression: str) -> PreviousExport:
        """The version at `root`, its manifest checked (ExportError if it is not one a build
        wrote); its files are listed for reuse only if it was compressed as `compression`
        says (the manifest's "compression"): else nothing of it is reused."""
        manifest = root / MANIFEST
        if not manifest.is_file():
            return cls(root, {})
        problem = f"{MANIFEST} in the output directory is not one this command wrote"
        try:
            written = orjson.loads(manifest.read_bytes())
            items = written["files"]
            entries = [(item["path"], item.get("sha256"), item) for item in items]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ExportError(f"{problem}; remove it or choose another directory") from exc
        if not all(isinstance(path, str) for path, _, _ in entries):
            raise ExportError(f"{problem}; remove it or choose another directory")
        previous = cls(root, {})
        for path, _sha256, _item in entries:
            previous._folder_inside(relative_folder(path))
        if written.get("compression") != compression:
            return previous
        for path, sha256, item in entries:
            if isinstance(sha256, str):
                previous.hashes[path] = sha256
            previous.entries[path] = item
        return previous

    def _folder_inside(self, folder: str) -> None:
        """Refuse a folder of the previous export that a link leads out of (checked once)."""
        if folder not in self._checked:
            resolved = (self.root / folder).resolve()
            self._checked[folder] = resolved.is_relative_to(self.root.resolve())
        if not self._checked[folder]:
            raise ExportError(f"{str(folder)[:200]!r} leads outside the output directory")

    def same_file(self, relative: str, sha256: str) -> bool:
        """Whether the previous version lists `relative` with these bytes."""
        return self.hashes.get(relative) == sha256

    def unchanged(self, relative: str, url: str, key: str) -> Listed | None:
        """The previous entry of `relative` when it was made for the same URL from the same
        inputs (`key`): its bytes are the ones a render would give."""
        item = self.entries.get(relative)
        if item is None or item.get("key") != key or item.get("url") != url:
            return None
        return Listed.of(item)

    def plain_files(self, relative: str, siblings: tuple[str, ...]) -> list[os.stat_result] | None:
        """The status of the previous `relative` and its siblings (`relative + suffix`) when
        all are plain files: a link among them is never reused."""
        folder, _, name = relative.rpartition("/")
        found = []
        for suffix in siblings:
            try:
                status = os.stat(name + suffix, dir_fd=self.folder(folder), follow_symlinks=False)
            except OSError:
                return None
            if not stat.S_ISREG(status.st_mode):
                return None
            found.append(status)
        return found

    def folder(self, folder: str) -> int:
        """A folder of the previous version (`relative_folder`'s, "" for its root), open
        (`OpenFolders`) until `close`, or this process's end."""
        return self._folders(folder)

    def close(self) -> None:
        """Close the folders this process opened."""
        self._folders.close()

    def path(self, relative: str) -> str:
        """Where the previous version holds `relative`."""
        return os.path.join(self.root, relative)


@dataclass
class Publication:
    """One build's new version directory, published by `commit` or removed by `abandon`."""

    link: Path
    directory: Path
    previous: PreviousExport | None
    remover: BaseProcess | None = None  # removing the stale versions, beside the build

    @classmethod
    def begin(cls, link: Path, compression: str) -> Publication:
        """Check `link` can be switched, read what it names now, make the new version's folder.
        `compression`: the build's, which the previous version's must be to be reused.

        Nothing is written unless every check passes: a refused build changes nothing.
        """
        previous = None
        if link.is_symlink():
            if link.is_dir():
                previous = PreviousExport.read(link.resolve(), compression)
        elif link.is_dir():
            if any(link.iterdir()):
                raise ExportError(
                    f"{link} is a folder, not a link to an export: the build publishes by "
                    "switching a symbolic link. Move it away or name a new path"
                )
        elif link.exists():
            raise ExportError(f"{link} is a file, not a link to an export")
        versions = versions_of(link)
        if versions.is_symlink() or (versions.exists() and not versions.is_dir()):
            raise ExportError(f"{versions} leads outside the output directory")
        versions.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="export-", dir=versions))
        directory.chmod(0o755)  # mkdtemp's 0700 would keep a web server's workers out
        publication = cls(link, directory, previous)
        publication.remover = _remove_beside(publication.stale())
        return publication

    def stale(self) -> list[Path]:
        """The versions neither served nor being written: the one the link names now is kept
        until the next build begins (a web server may still be reading it then)."""
        kept = {self.directory.name}
        if self.previous is not None:
            kept.add(self.previous.root.name)
        return [
            version
            for version in versions_of(self.link).iterdir()
            if version.name not in kept and version.is_dir() and not version.is_symlink()
        ]

    def commit(self) -> None:
        """Switch the link to the new version in one rename, once the stale versions are gone."""
        self._removed()
        if self.link.is_dir() and not self.link.is_symlink():
            self.link.rmdir()  # an empty folder, checked by begin(): nothing is served from it
        temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.link")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(Path(versions_of(self.link).name) / self.directory.name)
        os.replace(temporary, self.link)

    def abandon(self) -> None:
        """Remove the new version: the link still names the previous one."""
        shutil.rmtree(self.directory, ignore_errors=True)
        self._removed()

    def _removed(self) -> None:
        """Wait for the stale versions' removal; what it could not remove is removed here,
        so that its error is raised."""
        if self.remover is not None:
            self.remover.join()
            self.remover = None
        for version in self.stale():
            shutil.rmtree(version)


def _remove_beside(stale: list[Path]) -> BaseProcess | None:
    """Remove `stale` versions in a forked process while this one loads and compiles (60,000
    files at 10,000 events: about a second, mostly waiting on the file system); here and now
    where a fork is unsafe (see export._workers)."""
    if not stale:
        return None
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        _remove_all(stale)
        return None
    remover = multiprocessing.get_context("fork").Process(target=_remove_all, args=(stale,))
    remover.start()
    return remover


def _remove_all(stale: list[Path]) -> None:
    for version in stale:
        shutil.rmtree(version, ignore_errors=True)


def versions_of(link: Path) -> Path:
    """The folder beside `link` that holds its versions."""
    return link.with_name(link.name + VERSIONS)
