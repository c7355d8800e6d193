"""The web service object: a pure snapshot under it, one cache per service, no environment.

The Catalog is the data and nothing HTTP-shaped; `CalendarService` owns the rendered
responses, their bounded cache and the JSON pieces, per snapshot. These run the real
application in process (httpx's ASGI transport).
"""

from __future__ import annotations

import ast
import asyncio
import gc
import hashlib
import os
import sys
import threading
import weakref
from collections.abc import Iterator, MutableMapping
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType

import httpx
import pytest
from conftest import BUNDLED_DATA, DATASETS, ROOT
from error_page_support import for_people, html_error

import calendar_service
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.reloading import LiveCatalog
from calendar_service.settings import ServiceSettings
from calendar_service.web import pages
from calendar_service.web.responses import Rendered, ResponseCache
from calendar_service.web.service import CalendarService

TODAY = date(2026, 11, 25)
ASSET_HASHES = DATASETS / "assets.sha256"


def settings(data_dir: Path = BUNDLED_DATA) -> ServiceSettings:
    return ServiceSettings(data_dir=data_dir, watch=False)


@pytest.fixture(scope="module")
def service() -> CalendarService:
    return CalendarService.open(settings(), today=lambda: TODAY)


def get_all(service: CalendarService, paths: list[str]) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        async with service.client as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(fetch())


# --- The snapshot is pure --------------------------------------------------------------------


def test_the_catalog_holds_no_private_state_and_two_compiles_are_equal() -> None:
    loaded = load(BUNDLED_DATA, today=TODAY)
    first = compile_catalog(loaded, today=TODAY)
    second = compile_catalog(loaded, today=TODAY)
    assert not [field.name for field in fields(Catalog) if field.name.startswith("_")]
    assert not [name for name in vars(first) if name.startswith("_")]
    assert replace(first, loaded_at=second.loaded_at) == second


def test_a_live_catalog_made_from_a_snapshot_touches_no_files(tmp_path: Path) -> None:
    catalog = compile_catalog(load(BUNDLED_DATA, today=TODAY), today=TODAY)
    live = LiveCatalog(settings(tmp_path / "not-there"), catalog, today=lambda: TODAY)
    assert live.current is catalog
    assert not (tmp_path / "not-there").exists()


# --- The response cache ----------------------------------------------------------------------


def rendered(size: int, mark: str = "x") -> Rendered:
    body = (mark * size).encode()
    return Rendered.of(body, "text/plain", datetime(2026, 1, 1, tzinfo=UTC))


def test_the_response_cache_is_bounded_by_bytes_and_drops_the_least_recently_used() -> None:
    items = {name: rendered(1000, name) for name in "abcde"}
    size = items["a"].size
    assert all(item.size == size for item in items.values())
    cache = ResponseCache(max_bytes=4 * size + size // 2)  # room for four
    for name in "abcd":
        assert cache(name, lambda name=name: items[name]) is items[name]
    assert cache("a", lambda: rendered(1)) is items["a"]  # kept, and now the most recent
    assert cache("e", lambda: items["e"]) is items["e"]
    assert [name for name in "abcde" if name in cache] == ["a", "c", "d", "e"]
    assert cache.bytes == 4 * size <= cache.max_bytes


def test_a_response_over_a_quarter_of_the_cache_is_served_but_not_kept() -> None:
    large = rendered(3000)
    cache = ResponseCache(max_bytes=large.size * 3)
    assert cache("large", lambda: large) is large
    assert "large" not in cache and cache.bytes == 0


class Made:
    """A value made from a kept response (the lean path's are its prepared answers)."""

    def __init__(self, response: Rendered) -> None:
        self.letter = response.body[:1].decode()


def test_what_is_made_from_a_kept_response_is_kept_and_let_go_of_with_it() -> None:
    items = {name: rendered(1000, name) for name in "abcde"}
    cache = ResponseCache(max_bytes=4 * items["a"].size + 10)  # room for four
    assert cache.made("a", Made) is None  # nothing kept: nothing made
    cache("a", lambda: items["a"])
    first = cache.made("a", Made)
    assert first is not None and first.letter == "a" and cache.made("a", Made) is first
    held = weakref.ref(first)
    del first
    for name in "bcde":
        cache(name, lambda name=name: items[name])  # "a" is let go of, and what was made of it
    assert "a" not in cache and cache.made("a", Made) is None
    gc.collect()
    assert held() is None
    cache("a", lambda: rendered(1000, "A"))
    again = cache.made("a", Made)
    assert again is not None and again.letter == "A"


def test_the_response_cache_is_safe_across_threads() -> None:
    cache = ResponseCache(max_bytes=50 * rendered(100).size)
    bodies = {key: rendered(100, str(key % 10)) for key in range(200)}

    def work() -> None:
        for _ in range(5):
            for key, value in bodies.items():
                assert cache(key, lambda value=value: value).body == value.body

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.bytes <= cache.max_bytes


def test_two_services_in_one_process_never_share_a_cache(service: CalendarService) -> None:
    other = CalendarService.open(settings(), today=lambda: TODAY)
    assert other.snapshot is not service.snapshot
    assert other.snapshot.cache is not service.snapshot.cache
    [home] = get_all(service, ["/"])
    assert home.status_code == 200
    assert ("page", "/", pages_key()) in service.snapshot.cache
    assert ("page", "/", pages_key()) not in other.snapshot.cache


def pages_key() -> object:
    from calendar_service.query import Filter

    return (Filter(), None)  # the home page's filter and month (none: upcoming dates)


def test_derived_values_are_computed_once_per_snapshot(service: CalendarService) -> None:
    calls: list[int] = []
    snapshot = service.snapshot
    for _ in range(3):
        assert snapshot.derived(("test", 1), lambda: calls.append(1) or "value") == "value"
    assert calls == [1]


def test_a_reload_publishes_a_new_snapshot_with_an_empty_cache(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, data)
    service = CalendarService.open(settings(data), today=lambda: TODAY)
    before = service.snapshot
    get_all(service, ["/", "/api/facets"])
    assert before.cache.bytes > 0
    assert service.live.reload("test")
    assert service.snapshot is not before
    assert service.snapshot.catalog is service.live.current
    assert service.snapshot.cache.bytes == 0


# --- No environment at run time --------------------------------------------------------------


def _reader() -> str:
    """The module that reads the environment (past this one, os and the mapping mixins)."""
    skipped = {__name__, "os", "collections.abc", "_collections_abc"}
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") in skipped:
        frame = frame.f_back
    return str(frame.f_globals.get("__name__")) if frame is not None else "?"


class Guarded(MutableMapping[str, str]):
    """os.environ that records every read by calendar-service's own code (the event loop
    and httpx may read theirs): settings are passed in, never looked up while serving."""

    def __init__(self, wrapped: MutableMapping[str, str]) -> None:
        self.wrapped = wrapped
        self.reads: list[str] = []

    def _note(self, key: object) -> None:
        reader = _reader()
        if reader.startswith("calendar_service"):
            self.reads.append(f"{reader}: {key}")

    def __getitem__(self, key: str) -> str:
        self._note(key)
        return self.wrapped[key]

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return key in self.wrapped

    def __iter__(self) -> Iterator[str]:
        self._note("*")
        return iter(self.wrapped)

    def __len__(self) -> int:
        return len(self.wrapped)

    def __setitem__(self, key: str, value: str) -> None:
        self._note(key)
        self.wrapped[key] = value

    def __delitem__(self, key: str) -> None:
        self._note(key)
        del self.wrapped[key]


def test_nothing_reads_the_environment_after_open(monkeypatch: pytest.MonkeyPatch) -> None:
    service = CalendarService.open(settings(), today=lambda: TODAY)
    client = service.client  # httpx reads proxy variables as the client is made
    guard = Guarded(os.environ)
    paths = ["/", "/calendar.ics?audience=schools", "/api/occurrences", "/api/facets"]
    paths += ["/embed", "/feeds/all.json", "/version.json", "/healthz", "/openapi.json"]

    async def fetch() -> list[httpx.Response]:
        async with client:
            return [await client.get(path) for path in paths]

    monkeypatch.setattr(os, "environ", guard)
    answers = asyncio.run(fetch())
    monkeypatch.undo()
    assert [(path, r.status_code) for path, r in zip(paths, answers, strict=True)] == [
        (path, 200) for path in paths
    ]
    assert guard.reads == []


# --- One 404 for an unknown event ------------------------------------------------------------


def test_every_unknown_event_404_names_event_id(service: CalendarService) -> None:
    paths = ["/events/nope", "/events/nope.ics", "/api/events/nope"]
    for path, answer in zip(paths, get_all(service, paths), strict=True):
        assert answer.status_code == 404, path
        # The event's page answers people with the HTML error page; the others JSON.
        error = html_error(answer) if for_people(path) else answer.json()["error"]
        assert error["parameter"] == "event_id", path


# --- The service object ----------------------------------------------------------------------


def test_the_service_builds_its_app_once_and_its_urls_follow_the_snapshot(
    service: CalendarService,
) -> None:
    assert service.app() is service.app()
    assert service.app().state.service is service
    assert service.urls == service.snapshot.catalog.identity.urls


def test_the_public_names_are_declared() -> None:
    for name in calendar_service.__all__:
        assert getattr(calendar_service, name) is not None, name
    assert {"CalendarService", "Catalog", "ServiceSettings", "__version__"} <= set(
        calendar_service.__all__
    )


def test_the_domain_never_imports_the_web_layer() -> None:
    """Only the application's edges (the CLI and the export) reach into web/."""
    package = ROOT / "calendar_service"
    # The export's URLs include the web layer's assets (export_urls.py); its keyed files are
    # rendered by the routes' functions (export_held.py).
    edges = {"cli.py", "export.py", "export_held.py", "export_urls.py", "__init__.py"}
    offenders = []
    for path in sorted(package.glob("*.py")):
        if path.name in edges:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "calendar_service.web"
            ):
                offenders.append(f"{path.name}: from {node.module}")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.name}: import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("calendar_service.web")
                ]
    assert offenders == []


# --- Assets change only with a release -------------------------------------------------------


def asset_hashes() -> str:
    lines = [f"released {calendar_service.__released__}"]
    for _path, name, _kind in pages.ASSETS:
        digest = hashlib.sha256(pages.asset_bytes(name)).hexdigest()
        lines.append(f"{digest}  {name}")
    return "\n".join(lines) + "\n"


def test_an_asset_changes_only_with_a_new_release_day() -> None:
    """The assets' Last-Modified is `__released__`: a changed asset needs a new day, or a
    cache holding the old file would keep it (its If-Modified-Since still matches)."""
    recorded = ASSET_HASHES.read_text(encoding="utf-8")
    current = asset_hashes()
    if recorded != current:
        same_day = recorded.splitlines()[0] == current.splitlines()[0]
        assert not same_day, (
            "a static asset changed but calendar_service.__released__ did not: set it to "
            f"the release's day, then write {ASSET_HASHES.name} as:\n{current}"
        )
        pytest.fail(f"__released__ moved on: record the new hashes in {ASSET_HASHES}:\n{current}")
    served = get_all(
        CalendarService.open(settings(), today=lambda: TODAY),
        [path for path, _name, _kind in pages.ASSETS],
    )
    for answer in served:
        assert answer.headers["last-modified"].endswith(" 00:00:00 GMT")
        assert datetime.strptime(
            answer.headers["last-modified"], "%a, %d %b %Y %H:%M:%S GMT"
        ).date() == date.fromisoformat(calendar_service.__released__)
