"""Shared by the live-reload tests: waiting, health and feed reads, edits, watching services.

`watching` is a real `serve` process; `watched` is the same service in this process, for
the watch logic itself (renames, held reloads), which needs no process of its own.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess, Server, start_server, stop_server

from calendar_service.settings import ServiceSettings
from calendar_service.web.service import CalendarService

T = TypeVar("T")
RELOAD_SECONDS = 15.0  # the watch's debounce is under a second; allow for a slow machine
TITLE_LINE = "    title: Time to Talk Day\n"
CATEGORY_LINE = "    category: awareness-day\n"
FILE = "events/awareness.yaml"


def wait_for(check: Callable[[], T], what: str, timeout: float = RELOAD_SECONDS) -> T:
    """Poll `check` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Watched:
    """The service over `data_dir` in this process, watching it as `serve` does.

    Requests go through the ASGI transport; the watcher and reloads run in threads here.
    """

    service: CalendarService
    client: InProcess
    data_dir: Path

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)


Running = Server | Watched


# The watcher's debounce and periodic check (also its wait for file events and its first
# retry), shortened for the service in this process: no test that opens it is about their
# length (test_reload_edits' real server keeps the defaults), and each waited on them for
# seconds. A reload that drops events still waits for the default `reload_stable_after`
# unless a test asks for less.
QUICK_TIMES: dict[str, float] = {"watch_debounce_ms": 200, "watch_check_interval": 0.2}


def watch_in_process(data_dir: Path, **times: float) -> Watched:
    """Open the service over `data_dir`, once its watch is up (`stop` with `.service.live`).

    The watcher's times are QUICK_TIMES, with `times` (settings' names) over them.
    """
    settings = ServiceSettings(data_dir=data_dir).with_options(
        base_url=IN_PROCESS_URL, **{**QUICK_TIMES, **times}
    )
    service = CalendarService.open(settings)
    service.live.start_watching()
    # Changes made before the watch answers would be found by the periodic check, not by the
    # watch whose handling the tests are about.
    wait_for(lambda: service.live.watch_status().state == "watching", "the watch to start")
    return Watched(service, InProcess(service.app()), data_dir)


def health(server: Running) -> dict[str, Any]:
    response = server.get("/healthz")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def feed_text(server: Running) -> str:
    response = server.get("/feeds/all.ics")
    assert response.status_code == 200
    return response.text


def edit(data_dir: Path, old: str, new: str) -> None:
    path = data_dir / FILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def watching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server watching a copy of the data, with the default times, shared by a
    module's tests: one edits a line no other reads, one reads the watch's report."""
    data = tmp_path_factory.mktemp("watching") / "data"
    shutil.copytree(BUNDLED_DATA, data)
    server = start_server(data, data.parent, watch=True)
    yield server
    stop_server(server)


@pytest.fixture
def watched(data_copy: Path) -> Iterator[Watched]:
    running = watch_in_process(data_copy)
    yield running
    running.service.live.stop()


@pytest.fixture(scope="module")
def not_watching_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server not watching, over a copy of the data: see `not_watching`."""
    data = tmp_path_factory.mktemp("not-watching") / "data"
    shutil.copytree(BUNDLED_DATA, data)
    server = start_server(data, data.parent, watch=False)
    yield server
    stop_server(server)


@pytest.fixture
def not_watching(not_watching_module: Server) -> Iterator[Server]:
    """The module's server not watching, serving the data as copied; after the test, the
    file it edits is put back and reloaded (SIGHUP): a reload for each test, not a start."""
    server = not_watching_module
    path = server.data_dir / FILE
    original = path.read_bytes()
    version = health(server)["version"]
    yield server
    path.write_bytes(original)
    reloads = health(server)["reloads"]
    server.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: (
            (report := health(server))["reloads"] > reloads
            and report["version"] == version
            and report["last_reload_error"] is None
        ),
        "the data as copied to be served again",
    )


# --- The watcher survives what it cannot follow, and says so (issue 9, items 8 and 9) ------

NEW_TITLE = "    title: Time to Talk Day ({})\n"


def served(server: Running, marker: str) -> bool:
    return f"SUMMARY:Time to Talk Day ({marker})" in feed_text(server)


def watcher(server: Running) -> dict[str, Any]:
    report: dict[str, Any] = health(server)["watcher"]
    return report


def history_mentions(server: Running, *words: str) -> bool:
    return any(
        all(word in note["message"] for word in words) for note in watcher(server)["history"]
    )
