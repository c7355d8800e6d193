"""Hold the live Catalog and rebuild it in the background when the data changes."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from watchfiles import watch

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import DataInvalid, load
from calendar_service.settings import ServiceSettings

log = logging.getLogger("calendar_service.reload")
DEBOUNCE_MS = 700  # editors write files in pieces; wait for the writes to settle
SETTLE_STEP_S = 0.1
SETTLE_LIMIT_S = 10.0  # data that never stops changing is still reloaded (and validated)
DAY_CHECK_MS = 60_000  # feeds depend on the date: recompile soon after midnight


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a snapshot is built.

    A build allocates hundreds of thousands of objects that all live on; each automatic
    collection would walk them again, which tripled the time of a large build.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(
    settings: ServiceSettings, today: date | None = None, previous: Catalog | None = None
) -> Catalog:
    """Load and compile the data directory (reusing what `previous` has unchanged)."""
    try:
        with collection_paused():
            loaded = load(settings.data_dir, today=today)
            return compile_catalog(
                loaded,
                base_url=settings.base_url,
                uid_domain=settings.uid_domain,
                today=today,
                previous=previous,
            )
    finally:
        release_free_memory()


def keep_collector_off_snapshot() -> None:
    """Move what is alive now (the new snapshot) out of the collector's sight.

    Every full collection walked the whole snapshot, a million objects at 10,000 events,
    and stalled requests for tens of milliseconds. What the previous snapshot left in
    reference cycles is collected first, once, in the reloading thread.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    release_free_memory()


def release_free_memory() -> None:
    """Hand memory a build freed back to the system (glibc keeps it otherwise).

    A build's parse trees and components are freed when it ends, but the allocator keeps
    the pages; a long-running server would carry them for ever. Elsewhere: a no-op.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


@dataclass(frozen=True, slots=True)
class ReloadError:
    """Why the last reload was refused."""

    at: datetime
    message: str


class LiveCatalog:
    """The snapshot requests read, swapped whole (one reference assignment) on reload."""

    def __init__(self, settings: ServiceSettings, today: Callable[[], date] | None = None) -> None:
        self.settings = settings
        self._today = today or (lambda: datetime.now(UTC).date())
        self._catalog = build(settings, self._today())  # invalid data: refuse to start
        keep_collector_off_snapshot()
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: ReloadError | None = None
        self.reloads = 0

    @property
    def current(self) -> Catalog:
        return self._catalog

    def reload(self) -> bool:
        """Rebuild from disk; keep the old snapshot and record why if the data is invalid."""
        with self._reload_lock:
            try:
                catalog = build(self.settings, self._today(), previous=self._catalog)
            except DataInvalid as exc:
                self.last_error = ReloadError(datetime.now(UTC), str(exc))
                log.error("reload refused, still serving %s: %s", self._catalog.version, exc)
                return False
            except Exception as exc:  # never let a reload kill the watcher
                self.last_error = ReloadError(datetime.now(UTC), f"{type(exc).__name__}: {exc}")
                log.exception("reload failed, still serving %s", self._catalog.version)
                return False
            self._catalog = catalog
            self.last_error = None
            self.reloads += 1
            log.info("serving snapshot %s (%d events)", catalog.version, len(catalog.events))
            for warning in catalog.warnings:
                log.warning("%s", warning)
            keep_collector_off_snapshot()
            return True

    def reload_in_background(self) -> None:
        threading.Thread(target=self.reload, name="calendar-reload", daemon=True).start()

    def start_watching(self) -> None:
        """Watch the data directory in a thread; also recompile when the day changes."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="calendar-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        for changes in watch(
            self.settings.data_dir,
            stop_event=self._stop,
            debounce=DEBOUNCE_MS,
            step=100,
            rust_timeout=DAY_CHECK_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if changes or self._today() != self._catalog.compiled_on:
                self._settle()
                if not self._stop.is_set():
                    self.reload()

    def _signature(self) -> list[tuple[str, int, int]]:
        """Path, size and mtime of the data files (hidden and editors' temporary files aside)."""
        found = []
        for path in sorted(self.settings.data_dir.rglob("*.y*ml")):
            if path.name.startswith(".") or path.suffix not in (".yaml", ".yml"):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while listing: the next signature differs anyway
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
        return found

    def _settle(self) -> None:
        """Wait until nothing in the data directory has changed for DEBOUNCE_MS.

        watchfiles yields once no *new* path has changed for `step`: more writes to a file it
        has already reported do not extend the wait, so without this a file saved in two
        parts a few hundred ms apart was loaded (and served, when valid) half-written.
        """
        deadline = time.monotonic() + SETTLE_LIMIT_S
        seen = self._signature()
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < DEBOUNCE_MS / 1000:
            if time.monotonic() > deadline or self._stop.wait(SETTLE_STEP_S):
                return
            now = self._signature()
            if now != seen:
                seen, quiet_since = now, time.monotonic()
