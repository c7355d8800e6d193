"""The web service: one live catalog as served over HTTP, modelled on datasette's `Datasette`.

`CalendarService.open(settings)` builds the first snapshot; `.app()` is the ASGI
application, `.urls` the URL builder and `.client` an in-process HTTP client. What is
HTTP-shaped lives here, not in the Catalog: each snapshot is served through a `Published`
that owns its rendered responses (ETag, gzip), their bounded cache and the JSON pieces
computed once per snapshot. A reload replaces the `Published` whole, with the snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fastapi import Request

from calendar_service import capacity
from calendar_service.compiling import Catalog
from calendar_service.feed_files import ICS_TYPE, FeedFile
from calendar_service.forked import cores
from calendar_service.query import Filter
from calendar_service.reloading import LiveCatalog
from calendar_service.settings import ServiceSettings
from calendar_service.urls import Urls
from calendar_service.web.responses import Rendered, ResponseCache

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
CLIENT_BASE = "http://service.invalid"


def _ics(file: FeedFile, compressed: bool = True) -> Rendered:
    return Rendered.of_parts(file.parts, ICS_TYPE, file.last_modified, compressed=compressed)


def _rendered_feeds(files: dict[K, FeedFile], compressed: bool) -> dict[K, Rendered]:
    """Each feed's ETag and (if `compressed`) gzip, the largest first, on as many threads as
    there are cores.

    zlib-ng and hashlib let go of the GIL while they work on large buffers, so the threads run
    at once: at 10,000 events the feeds are about 40 MB, which a start or a reload would
    otherwise compress in turn.
    """
    largest_first = sorted(files, key=lambda key: -files[key].size)
    workers = min(cores(), len(files))
    if workers < 2:
        return {key: _ics(files[key], compressed) for key in largest_first}
    with ThreadPoolExecutor(workers, thread_name_prefix="published") as pool:
        made = pool.map(lambda key: _ics(files[key], compressed), largest_first)
        return dict(zip(largest_first, made, strict=True))


class Published:
    """One snapshot as served: its pre-rendered feeds, response cache and derived values.

    `compressed`: whether the feeds get their gzip copy now; an export, which compresses
    what it writes its own way, makes none (0.2 s of its critical path at 10,000 events).
    """

    def __init__(
        self, catalog: Catalog, cache: ResponseCache | None = None, *, compressed: bool = True
    ) -> None:
        self.catalog = catalog
        self.cache = cache or ResponseCache()
        # Made now, in the reloading thread: the first request after a swap waits for none.
        named = {("feed", name): feed.file for name, feed in catalog.feeds.items()}
        terms = {("term", key): feed.file for key, feed in catalog.term_feeds.items()}
        files = {("all", ""): catalog.everything, **named, **terms}
        made = _rendered_feeds(files, compressed)
        self.everything = made[("all", "")]
        self._named = {name: made[("feed", name)] for name in catalog.feeds}
        self._terms = {key: made[("term", key)] for key in catalog.term_feeds}
        self._derived: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def rendered(self, key: Hashable, build: Callable[[], Rendered]) -> Rendered:
        """A response rendered once per snapshot and key (while the cache keeps it)."""
        return self.cache(key, build)

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value computed from this snapshot once, on first use (web/shapes.py's Memo).

        Built outside the lock: two threads may both compute it; the first one stored wins.
        """
        with self._lock:
            if key in self._derived:
                return cast(T, self._derived[key])
        value = build()
        with self._lock:
            return cast(T, self._derived.setdefault(key, value))

    def feed(self, query: Filter) -> Rendered:
        """The ICS feed of any filter (its event-level part)."""
        query = query.event_level()
        if query.is_empty:
            return self.everything
        return self.rendered(("ics", query), lambda: _ics(self.catalog.feed_for(query)))

    def feed_ready(self, query: Filter) -> Rendered | None:
        """The feed of a filter if it needs no building (the whole calendar, or cached)."""
        query = query.event_level()
        if query.is_empty:
            return self.everything
        return self.cache.get(("ics", query))

    def named_feed(self, name: str) -> Rendered | None:
        return self._named.get(name)

    def term_feed(self, calendar_id: str) -> Rendered | None:
        """A term calendar's feed; None for an unknown id."""
        return self._terms.get(calendar_id)

    def event_file(self, event_id: str) -> Rendered | None:
        """One event's own calendar, for "add to calendar"; None for an unknown id."""
        if event_id not in self.catalog.events:
            return None

        def build() -> Rendered:
            file = self.catalog.event_file(event_id)
            assert file is not None
            return _ics(file)

        return self.rendered(("event-ics", event_id), build)

    def event_file_ready(self, event_id: str) -> Rendered | None:
        """One event's calendar if it is cached (None also for an unknown id)."""
        return self.cache.get(("event-ics", event_id))


class CalendarService:
    """The live calendar served over HTTP: the app, the URLs and an in-process client."""

    def __init__(
        self,
        settings: ServiceSettings,
        live: LiveCatalog,
        first: Published,
        *,
        compressed: bool = True,
    ) -> None:
        """Hold what `open` made; `open` is how a service is made."""
        self.settings = settings
        self.live = live
        self._published = first
        self._compressed = compressed
        self._app: FastAPI | None = None
        self._app_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        settings: ServiceSettings,
        *,
        today: Callable[[], date] | None = None,
        served_url: str | None = None,
        compressed: bool = True,
    ) -> CalendarService:
        """Load, compile and publish the data directory; DataInvalid if it is not valid.

        `served_url` is the address `serve` listens on, the links' base when no base URL is
        configured; without both, BaseUrlMissing. `compressed`: see Published (False: the
        feeds are sent uncompressed; for the export, which asks for them so).
        """
        # The first Published is made inside open(), before the collector is kept off the
        # snapshot, so that it is frozen with it; the list carries it out of the callback.
        published: list[Published] = []
        live = LiveCatalog.open(
            settings,
            today=today,
            on_swap=lambda catalog: published.append(Published(catalog, compressed=compressed)),
            served_url=served_url,
        )
        service = cls(settings, live, published[-1], compressed=compressed)
        live.on_swap = service._publish  # later snapshots replace the Published whole
        published.clear()
        return service

    def _publish(self, catalog: Catalog) -> None:
        self._published = Published(catalog, compressed=self._compressed)

    @property
    def snapshot(self) -> Published:
        """The snapshot being served, with its caches."""
        return self._published

    @property
    def urls(self) -> Urls:
        """The URL builder of the snapshot served (its base may change on reload)."""
        return self._published.catalog.identity.urls

    def app(self) -> FastAPI:
        """The ASGI application, built once; its routes read `request.app.state.service`."""
        from calendar_service.web.app import create_app

        with self._app_lock:
            if self._app is None:
                capacity.configure(self.settings)  # the process's expansion pool, sized
                self._app = create_app(self)
            return self._app

    @property
    def client(self) -> httpx.AsyncClient:
        """A new HTTP client that calls the application in this process (no socket)."""
        import httpx  # here: with it come rich and pygments, megabytes a server never uses

        transport = httpx.ASGITransport(app=self.app())
        return httpx.AsyncClient(transport=transport, base_url=CLIENT_BASE)


def service_of(request: Request) -> CalendarService:
    """The service whose application answers this request."""
    service: CalendarService = request.app.state.service
    return service


def snapshot_of(request: Request) -> Published:
    """The snapshot served now: a request reads this one throughout."""
    return service_of(request).snapshot
