"""Shared by the live-reload tests: waiting, health and feed reads, edits, and watching servers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import Server, start_server, stop_server

T = TypeVar("T")
RELOAD_SECONDS = 15.0  # watchfiles' debounce is under a second; allow for a slow machine
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


def health(server: Server) -> dict[str, Any]:
    response = server.get("/healthz")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def feed_text(server: Server) -> str:
    response = server.get("/feeds/all.ics")
    assert response.status_code == 200
    return response.text


def edit(data_dir: Path, old: str, new: str) -> None:
    path = data_dir / FILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def watching(data_copy: Path, tmp_path: Path) -> Iterator[Server]:
    server = start_server(data_copy, tmp_path, watch=True)
    yield server
    stop_server(server)


@pytest.fixture
def not_watching(data_copy: Path, tmp_path: Path) -> Iterator[Server]:
    server = start_server(data_copy, tmp_path, watch=False)
    yield server
    stop_server(server)


# --- The watcher survives what it cannot follow, and says so (issue 9, items 8 and 9) ------

NEW_TITLE = "    title: Time to Talk Day ({})\n"


def served(server: Server, marker: str) -> bool:
    return f"SUMMARY:Time to Talk Day ({marker})" in feed_text(server)


def watcher(server: Server) -> dict[str, Any]:
    report: dict[str, Any] = health(server)["watcher"]
    return report


def history_mentions(server: Server, *words: str) -> bool:
    return any(
        all(word in note["message"] for word in words) for note in watcher(server)["history"]
    )
