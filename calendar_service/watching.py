"""Follow the data directory for changes, whatever happens to it, and say what was lost."""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from watchfiles import watch

from calendar_service.loading import EVENTS_DIR, REVISIONS_FILE, SETTINGS_FILE, TERMS_DIR

log = logging.getLogger("calendar_service.reload")
WATCH_STEP_MS = 100
SETTLE_STEP_S = 0.1
SETTLE_LIMIT_S = 10.0  # data that never stops changing is still reloaded (and validated)
# A failed watch is re-established after one check interval (the `watch_check_interval`
# setting), twice as long each time, up to this; the files are polled meanwhile.
RETRY_LIMIT_S = 30.0
HEALTHY_AFTER_S = 60.0  # a watch that lasted this long starts the backoff again
HISTORY_LENGTH = 20  # notes kept for /healthz

# What one data file or folder looked like: its name under the data directory, inode, size,
# mtime and ctime (ns). ctime too: a tool that keeps mtime (rsync -t, cp -p) still changes it.
Stamp = tuple[str, int, int, int, int]


class WatchState(StrEnum):
    """How changes to the data directory are being noticed."""

    STARTING = "starting"  # the first watch has not answered yet
    WATCHING = "watching"  # file-system events, and the periodic check
    POLLING = "polling"  # the events failed: the periodic check alone, until re-established
    LOST = "lost"  # the data directory cannot be found or read
    OFF = "off"  # not asked to watch (--no-watch): SIGHUP reloads
    STOPPED = "stopped"  # shut down


@dataclass(frozen=True, slots=True)
class Note:
    """Something the watcher or a reload went through, for /healthz and the log."""

    at: datetime
    message: str

    def as_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "message": self.message}


class Journal:
    """The latest notes, most recent first; each is logged as it is added."""

    def __init__(self) -> None:
        self._notes: deque[Note] = deque(maxlen=HISTORY_LENGTH)
        self._lock = threading.Lock()

    def add(self, message: str, level: int = logging.WARNING) -> Note:
        note = Note(datetime.now(UTC), message)
        with self._lock:
            self._notes.appendleft(note)
        log.log(level, "%s", message)
        return note

    def notes(self) -> list[Note]:
        with self._lock:
            return list(self._notes)


@dataclass(frozen=True, slots=True)
class DirectoryIdentity:
    """Which directory the data directory is now: a swap or a switched symlink changes it."""

    path: str  # resolved: every symlink followed
    device: int
    inode: int

    @classmethod
    def of(cls, data_dir: Path) -> DirectoryIdentity:
        """The directory `data_dir` names now; OSError if there is none."""
        try:
            resolved = data_dir.resolve(strict=True)
        except RuntimeError as exc:  # a symlink loop, in Python 3.11
            raise OSError(errno.ELOOP, str(exc), str(data_dir)) from None
        found = os.stat(resolved)
        if not stat.S_ISDIR(found.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(resolved))
        return cls(str(resolved), found.st_dev, found.st_ino)

    def describe(self) -> str:
        return f"{self.path!r} (device {self.device}, inode {self.inode})"


def data_stamps(root: Path) -> tuple[Stamp, ...]:
    """Stamps of what the loader reads and of the folders holding it; never opens a file.

    The folders are there because removing or renaming a file changes only its folder.
    Hidden files (editors' swap and temporary files) are not data and are left out.
    """
    found: list[Stamp] = []

    def add(path: str, name: str) -> None:
        try:
            info = os.stat(path)
        except OSError:
            return  # gone while listing: the next look differs anyway
        found.append((name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))

    top = str(root)
    for name in (".", SETTINGS_FILE, REVISIONS_FILE, EVENTS_DIR, TERMS_DIR):
        add(os.path.join(top, name), name)
    for kind in (EVENTS_DIR, TERMS_DIR):
        for folder, folders, files in os.walk(os.path.join(top, kind)):
            folders.sort()
            for name in [*folders, *sorted(files)]:
                path = os.path.join(folder, name)
                is_data = name.endswith((".yaml", ".yml")) or name in folders
                if is_data and not name.startswith("."):
                    add(path, os.path.relpath(path, top))
    return tuple(found)


def last_change(stamps: tuple[Stamp, ...]) -> float:
    """When (wall clock, seconds) anything in `stamps` last changed."""
    return max((max(stamp[3], stamp[4]) for stamp in stamps), default=0) / 1e9


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True, slots=True)
class WatcherStatus:
    """What /healthz says of the watcher."""

    state: WatchState
    since: datetime
    reason: str | None = None  # why it is not watching
    directory: str | None = None  # the directory watched, every symlink followed
    restarts: int = 0  # times the watch was re-established
    next_attempt: datetime | None = None  # when polling: the next try to watch again
    history: tuple[Note, ...] = ()

    @property
    def in_trouble(self) -> bool:
        """Whether changes may be missed or noticed late: /healthz then says degraded."""
        return self.state in (WatchState.POLLING, WatchState.LOST)

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "reason": self.reason,
            "directory": self.directory,
            "restarts": self.restarts,
            "next_attempt": None if self.next_attempt is None else self.next_attempt.isoformat(),
            "history": [note.as_json() for note in self.history],
        }


class DirectoryWatcher:
    """Call `on_change` whenever the data may have changed, and keep doing so whatever happens.

    Changes come as file-system events (watchfiles), read once nothing has changed for
    `debounce_ms`. Besides, every `check_interval` seconds the
    directory's identity, its files' stamps and `due()` (the day) are checked: a directory
    replaced by a renamed copy, a switched symlink or a change the events missed is found
    and the watch is re-established on what the path names now. When the events fail (a
    name watchfiles cannot decode killed its thread), the periodic check carries on alone
    and the watch is re-established with backoff, or as soon as the files change; a
    missing directory is looked for again every `check_interval`. `status()` says which of
    these is happening, and since when.
    """

    def __init__(
        self,
        data_dir: Path,
        on_change: Callable[[str], object],
        *,
        due: Callable[[], bool],
        journal: Journal,
        stop: threading.Event,
        identity: DirectoryIdentity | None,
        stamps: tuple[Stamp, ...],
        debounce_ms: int,
        check_interval: float,
    ) -> None:
        self.data_dir = data_dir
        self._debounce_ms = debounce_ms
        self._check_interval = check_interval
        self._on_change = on_change
        self._due = due
        self._journal = journal
        self._stop = stop
        self._identity = identity  # of the directory last loaded or watched
        self._seen = stamps  # of the files last loaded
        self._lock = threading.Lock()
        self._status = WatcherStatus(WatchState.STOPPED, datetime.now(UTC))
        self._restarts = 0
        self._watched = False  # a watch was established at least once
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._set(WatchState.STARTING)
            self._thread = threading.Thread(target=self._run, name="calendar-watch", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def status(self) -> WatcherStatus:
        with self._lock:
            status = self._status
        status = replace(status, history=tuple(self._journal.notes()))
        thread = self._thread
        ended = thread is not None and not thread.is_alive() and not self._stop.is_set()
        if ended and status.state is not WatchState.STOPPED:
            return replace(status, state=WatchState.LOST, reason="the watcher thread has ended")
        return status

    def _set(
        self, state: WatchState, reason: str | None = None, *, next_attempt: datetime | None = None
    ) -> None:
        with self._lock:
            old = self._status
            directory = None if self._identity is None else self._identity.path
            since = old.since
            if (state, reason, directory) != (old.state, old.reason, old.directory):
                since = datetime.now(UTC)
            self._status = WatcherStatus(
                state, since, reason, directory, self._restarts, next_attempt
            )

    # --- The supervising loop ----------------------------------------------------------------

    def _run(self) -> None:
        failures = 0  # consecutive failed watches: the backoff grows with them
        retry_at = 0.0  # monotonic time of the next attempt to watch
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                identity = self._find_directory()
                if identity is None:
                    continue
                if self._status.state is WatchState.LOST:
                    retry_at = 0.0  # the directory is back: watch it now
                if started < retry_at:
                    if self._check():
                        retry_at = 0.0  # what broke the watch may be gone: try again now
                    else:
                        self._stop.wait(self._check_interval)
                    continue
                ended = self._follow(identity)
                if ended is not None:
                    self._journal.add(f"{ended}; watching {identity.path!r} afresh")
            except Exception as exc:  # whatever fails, the watch must not end
                if time.monotonic() - started >= HEALTHY_AFTER_S:
                    failures = 0
                delay = min(self._check_interval * 2**failures, RETRY_LIMIT_S)
                failures += 1
                retry_at = time.monotonic() + delay
                reason = (
                    f"the watch failed ({describe_error(exc)}); the files are checked every "
                    f"{self._check_interval:g} s until it is re-established"
                )
                self._journal.add(f"{reason} (next try in {delay:g} s)", logging.ERROR)
                self._set(
                    WatchState.POLLING,
                    reason,
                    next_attempt=datetime.now(UTC) + timedelta(seconds=delay),
                )
        self._set(WatchState.STOPPED)

    def _watching(self, identity: DirectoryIdentity) -> None:
        """Say the watch works: it has answered once (re-established ones are counted)."""
        status = self._status
        if self._watched or status.in_trouble:
            self._restarts += 1
        if status.in_trouble:
            self._journal.add(
                f"watching {identity.path!r} again ({status.state.value} since "
                f"{status.since.isoformat(timespec='seconds')})",
                logging.INFO,
            )
        self._watched = True
        self._set(WatchState.WATCHING)

    def _find_directory(self) -> DirectoryIdentity | None:
        """The directory the data path names now (after a swap: a reload); None when lost."""
        try:
            identity = DirectoryIdentity.of(self.data_dir)
        except OSError as exc:
            reason = (
                f"the data directory {str(self.data_dir)!r} cannot be followed "
                f"({exc.strerror or describe_error(exc)}); still serving the last snapshot, "
                f"looking again every {self._check_interval:g} s"
            )
            if self._status.reason != reason:
                self._journal.add(reason, logging.ERROR)
            self._set(WatchState.LOST, reason)
            self._stop.wait(self._check_interval)
            return None
        if identity != self._identity:
            if self._identity is not None:
                self._journal.add(
                    f"the data directory was replaced: {self._identity.describe()} "
                    f"is now {identity.describe()}"
                )
            self._identity = identity
            status = self._status
            self._set(status.state, status.reason, next_attempt=status.next_attempt)
            self._settle()
            self._changed("the data directory was replaced")
        return identity

    def _follow(self, identity: DirectoryIdentity) -> str | None:
        """Watch `identity`; why it must be watched afresh, or None (stopped, replaced, gone)."""
        self._check()  # what changed while it was not watched
        answered = False
        for changes in watch(
            identity.path,
            stop_event=self._stop,
            debounce=self._debounce_ms,
            step=WATCH_STEP_MS,
            rust_timeout=int(self._check_interval * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if self._stop.is_set():
                return None
            if not answered:  # a watch can fail just after it starts: only now is it up
                self._watching(identity)
                answered = True
            try:
                now = DirectoryIdentity.of(self.data_dir)
            except OSError:
                return None  # gone: the supervising loop reports it and looks for it again
            if now != identity:
                return None  # replaced: the supervising loop reports it and reloads
            if changes:
                self._settle()
                self._changed(f"{len(changes)} change(s) in the data directory")
            elif self._check():
                return "a change the file-system events did not report was found"
        if self._stop.is_set():
            return None
        return "the file-system events ended"

    def _check(self) -> bool:
        """Reload if the day or the files changed since the last load; whether they did."""
        if self._due():
            self._changed("the day changed")
            return False
        if data_stamps(self.data_dir) == self._seen:
            return False
        self._settle()
        self._changed("the data files changed")
        return True

    def _changed(self, why: str) -> None:
        if self._stop.is_set():
            return
        self._seen = data_stamps(self.data_dir)  # before the load reads them
        self._on_change(why)

    def _settle(self) -> None:
        """Wait until nothing in the data directory has changed for `debounce_ms`.

        watchfiles yields once no *new* path has changed for its step: more writes to a file
        it has already reported do not extend the wait, so without this a file saved in two
        parts a few hundred ms apart was loaded (and served, when valid) half-written.
        """
        deadline = time.monotonic() + SETTLE_LIMIT_S
        seen = data_stamps(self.data_dir)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < self._debounce_ms / 1000:
            if time.monotonic() > deadline or self._stop.wait(SETTLE_STEP_S):
                return
            now = data_stamps(self.data_dir)
            if now != seen:
                seen, quiet_since = now, time.monotonic()
