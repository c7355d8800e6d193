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

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.fetch_store import FetchStore, SourceStatus, fetched_stamps
from calendar_service.fetching import fetch_all
from calendar_service.loading import DataInvalid, LoadCache, load, read_sources
from calendar_service.settings import ServiceSettings
from calendar_service.watching import (
    SETTLE_STEP_S,
    DirectoryIdentity,
    DirectoryWatcher,
    Journal,
    Note,
    Stamp,
    WatcherStatus,
    WatchState,
    data_stamps,
    last_change,
)

log = logging.getLogger("calendar_service.reload")
# A snapshot with fewer events than the one served waits until the data has been unchanged
# for the `reload_stable_after` setting: a file saved in place in parts is then whole, and a
# deletion is deliberate.
HOLD_LIMIT_S = 30.0  # data that never stops changing: a held reload is served after this
HELD_IDS_SHOWN = 5  # event ids named in a hold's message


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a snapshot is built.

    A build allocates hundreds of thousands of objects that all live on; each automatic
    collection would walk them again, which tripled the time of a large build. They are
    kept out of its sight (frozen) before it resumes: else its first collection walks them
    all once more (0.2-0.36 s at 10,000 events, before a server's first answer or an
    export's workers). What the build left in cycles is collected at the next swap, which
    unfreezes everything first (keep_collector_off_snapshot). A build that fails is not
    frozen: its objects are garbage, for the collector to take.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()  # the build succeeded: what it made lives on
    finally:
        if enabled:
            gc.enable()


def build(
    settings: ServiceSettings,
    today: date | None = None,
    previous: Catalog | None = None,
    served_url: str | None = None,
    cache: LoadCache | None = None,
) -> Catalog:
    """Load and compile the data directory (reusing what `previous` has unchanged).

    `served_url` is where `serve` listens: the links' base when none is configured.
    `cache` keeps what each data file gave between builds: a reload reads only the
    files that changed (see LoadCache).
    """
    try:
        with collection_paused():
            loaded = load(settings.data_dir, today=today, fetched=settings.fetched_dir, cache=cache)
            return compile_catalog(
                loaded,
                base_url=settings.base_url,
                served_url=served_url,
                uid_domain=settings.uid_domain,
                today=today,
                previous=previous,
            )
    finally:
        release_free_memory()


def keep_collector_off_snapshot(*, collect: bool = True) -> None:
    """Move what is alive now (the new snapshot) out of the collector's sight.

    Every full collection walked the whole snapshot, a million objects at 10,000 events,
    and stalled requests for tens of milliseconds. What the previous snapshot left in
    reference cycles is collected first, once, in the reloading thread. The first snapshot
    has none before it: `collect=False` skips that walk (0.2 s of starting at 10,000
    events, where it found nothing); whatever its build left is collected at the next
    swap, which unfreezes everything first.
    """
    gc.unfreeze()
    if collect:
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


def _look(settings: ServiceSettings) -> tuple[DirectoryIdentity | None, tuple[Stamp, ...]]:
    try:
        identity: DirectoryIdentity | None = DirectoryIdentity.of(settings.data_dir)
    except OSError:
        identity = None
    return identity, data_stamps(settings.data_dir)


@dataclass(frozen=True, slots=True)
class ReloadError:
    """Why the last reload was refused."""

    at: datetime
    message: str


class LiveCatalog:
    """The snapshot requests read, swapped whole (one reference assignment) on reload."""

    def __init__(
        self,
        settings: ServiceSettings,
        catalog: Catalog,
        *,
        today: Callable[[], date] | None = None,
        on_swap: Callable[[Catalog], None] | None = None,
        identity: DirectoryIdentity | None = None,
        stamps: tuple[Stamp, ...] = (),
        served_url: str | None = None,
        fetched: tuple[tuple[str, int, int, int], ...] = (),
        cache: LoadCache | None = None,
    ) -> None:
        """Hold `catalog`, built on `today()`; `open` is how a live catalog is made.

        `on_swap(catalog)` runs in the reloading thread before each new snapshot is served;
        `identity` and `stamps` are how the data directory looked before `catalog` was read;
        `served_url` is where `serve` listens (the links' base when none is configured);
        `fetched` is how the partner feeds' last good copies looked before `catalog` was read;
        `cache` is what the data files gave when `catalog` was built.
        """
        self.settings = settings
        self.served_url = served_url
        self._today = today or (lambda: datetime.now(UTC).date())
        self.on_swap = on_swap
        self._catalog = catalog
        self._tried_on = catalog.compiled_on  # the day of the last build: a new day rebuilds
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self.journal = Journal()
        self._watcher = DirectoryWatcher(
            settings.data_dir,
            self.reload,
            due=lambda: self._today() != self._tried_on,
            journal=self.journal,
            stop=self._stop,
            identity=identity,
            stamps=stamps,
            debounce_ms=settings.watch_debounce_ms,
            check_interval=settings.watch_check_interval,
        )
        self._started = False
        self._created = datetime.now(UTC)
        self.last_error: ReloadError | None = None
        self.held: Note | None = None  # a reload waiting for the data to stop changing
        self.reloads = 0
        self._fetched = fetched
        self._fetcher: threading.Thread | None = None
        self._cache = cache if cache is not None else LoadCache()

    @classmethod
    def open(
        cls,
        settings: ServiceSettings,
        *,
        today: Callable[[], date] | None = None,
        on_swap: Callable[[Catalog], None] | None = None,
        served_url: str | None = None,
    ) -> LiveCatalog:
        """Look at the data directory, build the first snapshot, keep the collector off it.

        Invalid data raises DataInvalid: a server refuses to start. `on_swap` also sees the
        first snapshot, before this returns. `served_url`: see `build`.
        """
        clock = today or (lambda: datetime.now(UTC).date())
        identity, stamps = _look(settings)  # before reading: a change meanwhile is seen later
        fetched = fetched_stamps(settings.fetched_dir)
        cache = LoadCache()
        catalog = build(settings, clock(), served_url=served_url, cache=cache)
        if on_swap is not None:
            on_swap(catalog)
        keep_collector_off_snapshot(collect=False)  # nothing before it to collect
        return cls(
            settings,
            catalog,
            today=clock,
            on_swap=on_swap,
            identity=identity,
            stamps=stamps,
            served_url=served_url,
            fetched=fetched,
            cache=cache,
        )

    @property
    def current(self) -> Catalog:
        return self._catalog

    def reload(self, why: str = "a reload was asked for") -> bool:
        """Rebuild from disk; keep the old snapshot and record why if the data is invalid.

        A snapshot that has fewer events than the one served is held back while the data
        is still changing (see `_hold`): it may be a file caught half-written.
        """
        with self._reload_lock:
            deadline = time.monotonic() + HOLD_LIMIT_S
            while True:
                before = data_stamps(self.settings.data_dir)
                fetched = fetched_stamps(self.settings.fetched_dir)
                self._tried_on = self._today()
                try:
                    catalog = build(
                        self.settings,
                        self._tried_on,
                        previous=self._catalog,
                        served_url=self.served_url,
                        cache=self._cache,
                    )
                except DataInvalid as exc:
                    self._refused(str(exc))
                    log.error("reload refused, still serving %s: %s", self._catalog.version, exc)
                    return False
                except Exception as exc:  # never let a reload kill the watcher
                    self._refused(f"{type(exc).__name__}: {exc}")
                    log.exception("reload failed, still serving %s", self._catalog.version)
                    return False
                if not self._hold(catalog, before, deadline):
                    break
            if self.on_swap is not None:
                try:
                    self.on_swap(catalog)
                except Exception as exc:  # the old snapshot stays served, whole
                    self._refused(f"{type(exc).__name__}: {exc}")
                    log.exception("publishing failed, still serving %s", self._catalog.version)
                    return False
            self._catalog = catalog
            self._fetched = fetched
            self.last_error = None
            self.reloads += 1
            log.info(
                "serving snapshot %s (%d events; %s)", catalog.version, len(catalog.events), why
            )
            for warning in catalog.warnings:
                log.warning("%s", warning)
            keep_collector_off_snapshot()
            return True

    def _refused(self, message: str) -> None:
        self.last_error = ReloadError(datetime.now(UTC), message)
        self.held = None

    def _hold(self, catalog: Catalog, before: tuple[Stamp, ...], deadline: float) -> bool:
        """Whether `catalog` must be built again: it drops events while the data is changing.

        A file saved in place in two parts, whose first part ends after a whole event, is
        valid data with events missing; the debounce cannot tell a pause of a second or
        two from the end of the save. So a snapshot that drops events is accepted only once
        the data has been unchanged for `reload_stable_after` (by its stamps, and by our own clock
        for stamps in the future): then a deletion is deliberate. Waits at most until
        `deadline`; True when the files changed meanwhile (build again), else False.
        """
        dropped = sorted(self._catalog.events.keys() - catalog.events.keys())
        age = time.time() - last_change(before)
        stable_after = self.settings.reload_stable_after
        if dropped and age < stable_after and time.monotonic() < deadline:
            shown = ", ".join(repr(event_id) for event_id in dropped[:HELD_IDS_SHOWN])
            if len(dropped) > HELD_IDS_SHOWN:
                shown += f" and {len(dropped) - HELD_IDS_SHOWN} more"
            message = (
                f"reload held: the new snapshot drops {len(dropped)} event(s) ({shown}) and "
                f"the data changed {max(age, 0.0):.1f} s ago; it is served once the data has "
                f"been unchanged for {stable_after:g} s (a file may be half-written)"
            )
            if self.held is None:
                self.held = self.journal.add(message, logging.INFO)
            else:  # held again: one note in the history, the latest reason in /healthz
                self.held = Note(self.held.at, message)
            if not self._quiet(before, min(max(age, 0.0), stable_after), deadline):
                return True
        if self.held is not None:
            removed = f"{len(dropped)} event(s) removed" if dropped else "no event removed"
            if dropped and time.monotonic() >= deadline:
                removed += f": the data was still changing after {HOLD_LIMIT_S:g} s"
            self.journal.add(f"reload released, {removed}", logging.INFO)
            self.held = None
        return False

    def _quiet(self, stamps: tuple[Stamp, ...], quiet_for: float, deadline: float) -> bool:
        """Wait until the data has been unchanged for `reload_stable_after`; False if it changed.

        Polls with a deadline; at `deadline` (or on stop) it stops waiting: True.
        """
        quiet_since = time.monotonic() - quiet_for
        while time.monotonic() - quiet_since < self.settings.reload_stable_after:
            if time.monotonic() >= deadline or self._stop.wait(SETTLE_STEP_S):
                return True
            if data_stamps(self.settings.data_dir) != stamps:
                return False
        return True

    def reload_in_background(self) -> None:
        threading.Thread(target=self.reload, name="calendar-reload", daemon=True).start()

    def start_watching(self) -> None:
        """Watch the data directory in a thread; also recompile when the day changes."""
        if not self._started:
            self._started = True
            self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        if self._fetcher is not None:
            self._fetcher.join(timeout=5)

    # --- Partner feeds ----------------------------------------------------------------------

    def refresh_feeds(self) -> bool:
        """Fetch every partner feed once; reload if a last good copy changed. True if swapped.

        Compares the copies with how they looked before the served snapshot was read, so a
        change made by `calendar-service fetch` in another process is picked up too.
        """
        try:
            sources = read_sources(self.settings.data_dir)
        except DataInvalid as exc:
            log.error("partner feeds not fetched: %s", exc)
            sources = []
        if sources:
            # The User-Agent names where the calendar is published, as its links do.
            catalog = self._catalog
            settings = self.settings.with_options(base_url=catalog.identity.base_url)
            store = FetchStore(self.settings.fetched_dir)
            timezone = catalog.settings.timezone
            for status in fetch_all(sources, store, settings, timezone=timezone):
                if status.last_error is not None:
                    log.warning("partner feed %s: %s", status.id, status.last_error)
        if fetched_stamps(self.settings.fetched_dir) == self._fetched:
            return False
        return self.reload("a partner feed changed")

    def start_fetching(self) -> None:
        """Refresh the partner feeds now and every `fetch_interval_hours`, in a thread."""
        if self._fetcher is not None or self.settings.fetch_interval_hours <= 0:
            return
        interval = self.settings.fetch_interval_hours * 3600

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.refresh_feeds()
                except Exception:  # never let a fetch end the refreshing
                    log.exception("refreshing partner feeds failed")
                self._stop.wait(interval)

        self._fetcher = threading.Thread(target=run, name="calendar-fetch", daemon=True)
        self._fetcher.start()

    def source_statuses(self) -> list[tuple[str, SourceStatus]]:
        """(name, status) of every partner feed of the sources file, for /healthz."""
        try:
            sources = read_sources(self.settings.data_dir)
        except DataInvalid:
            return []
        store = FetchStore(self.settings.fetched_dir)
        return [(source.name, store.latest(source)) for source in sources]

    def watch_status(self) -> WatcherStatus:
        """How changes are being noticed, for /healthz."""
        if not self._started:
            return WatcherStatus(
                WatchState.OFF,
                self._created,
                reason="not watching the data directory: SIGHUP reloads",
                history=tuple(self.journal.notes()),
            )
        return self._watcher.status()
