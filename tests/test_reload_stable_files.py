"""Live reload: half-written files are never served, deletions wait for stable files, days roll.

The watch and reloads run in this process (reload_support.watched), as in `serve`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import WAITING
from reload_support import (
    FILE,
    NEW_TITLE,
    QUICK_TIMES,
    TITLE_LINE,
    Watched,
    health,
    history_mentions,
    served,
    wait_for,
    watch_in_process,
)
from reload_support import watched as watched

from calendar_service.reloading import HOLD_LIMIT_S, LiveCatalog
from calendar_service.settings import ServiceSettings

pytestmark = WAITING  # one worker runs the waiting modules in a row: conftest

# --- A file still being written is not served half (issue 9, item 10) ----------------------

SECOND_EVENT = "\n  - id: childrens-mental-health-week\n"
THIRD_EVENT = "\n  - id: random-acts-of-kindness-week\n"


class EventCounts:
    """Poll /healthz in a thread, keeping every event count a served snapshot had."""

    def __init__(self, service: Watched) -> None:
        self.service = service
        self.seen: set[int] = set()
        self.held: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        # Every 50 ms, not flat out: a snapshot is served at least until the next write is
        # noticed (the 200 ms debounce) and built, far longer, and a hold lasts STABLE_S; the
        # busy loop cost seconds of CPU, and each request here is an event loop and a client.
        while not self._stop.wait(0.05):
            body = self.service.get("/healthz").json()
            self.seen.add(body["events"])
            if body.get("reload_held") is not None:
                self.held.append(body["reload_held"]["message"])

    def stop(self) -> set[int]:
        self._stop.set()
        self._thread.join(timeout=15)
        return self.seen


def parts(text: str, cut_before: str) -> tuple[bytes, bytes]:
    data = text.encode("utf-8")
    cut = data.index(cut_before.encode()) + 1
    return data[:cut], data[cut:]


@pytest.mark.parametrize(
    ("cut_before", "dropped", "removed_first"),
    [(SECOND_EVENT, 2, False), (THIRD_EVENT, 1, False), (SECOND_EVENT, 2, True)],
    ids=["after-the-first-event", "after-the-second-event", "removed-then-written"],
)
def test_file_written_in_two_parts_is_never_served_half(
    watched: Watched, cut_before: str, dropped: int, removed_first: bool
) -> None:
    path = watched.data_dir / FILE
    text = path.read_text(encoding="utf-8").replace(TITLE_LINE, NEW_TITLE.format("whole"))
    total = health(watched)["events"]
    counts = EventCounts(watched)
    first, rest = parts(text, cut_before)
    if removed_first:  # like a tool that deletes the file, then writes it anew
        path.unlink()
        wait_for(lambda: counts.held, "the server to hold the snapshot without the file")
        dropped = 3
    with path.open("wb") as out:  # truncates, like an editor saving in place
        out.write(first)
        out.flush()
        # The first part alone is valid data with fewer events: wait until the server has
        # looked at it (it says it holds it back, or it serves it), then write the rest.
        wait_for(
            lambda: counts.held or total - dropped in counts.seen,
            "the server to look at the first part",
        )
        out.write(rest)
    wait_for(lambda: served(watched, "whole"), "the whole file")
    seen = counts.stop()
    assert total - dropped not in seen, "a half-written file was served"
    assert seen == {total}
    assert health(watched)["events"] == total
    assert history_mentions(watched, "held")


# How long a deletion waits for stable files, here: these tests are about the wait, not its
# length (3 s by default), and each waited that long. Long enough for /healthz, polled
# every 50 ms, to show the hold while it lasts.
STABLE_S = 1.5


@pytest.fixture
def held_briefly(data_copy: Path) -> Iterator[Watched]:
    """As `watched`, with deletions served once the data is unchanged for STABLE_S."""
    running = watch_in_process(data_copy, reload_stable_after=STABLE_S)
    yield running
    running.service.live.stop()


@pytest.mark.parametrize("how", ["in place", "atomic rename", "file removed"])
def test_deliberate_deletion_is_applied_once_the_files_are_stable(
    held_briefly: Watched, how: str
) -> None:
    watched = held_briefly
    path = watched.data_dir / FILE
    total = health(watched)["events"]
    counts = EventCounts(watched)
    if how == "file removed":
        path.unlink()
        dropped = 3
    else:
        first, _ = parts(path.read_text(encoding="utf-8"), SECOND_EVENT)
        if how == "in place":
            path.write_bytes(first)
        else:
            temporary = path.with_name(".awareness.yaml.tmp")
            temporary.write_bytes(first)
            temporary.rename(path)
        dropped = 2
    wait_for(lambda: health(watched)["events"] == total - dropped, "the deletion to be served")
    assert counts.held, "the deletion was served without waiting for the files to settle"
    assert counts.stop() <= {total, total - dropped}
    report = health(watched)
    assert report["reload_held"] is None
    assert report["status"] == "ok"


def test_deletion_with_a_future_mtime_waits_by_our_own_clock(data_copy: Path) -> None:
    # A clock ahead on another machine (a network share) stamps files in the future; the
    # hold then counts quiet time itself rather than waiting for that moment to come.
    settings = ServiceSettings(data_dir=data_copy, watch=False, reload_stable_after=STABLE_S)
    live = LiveCatalog.open(settings)
    try:
        total = len(live.current.events)
        path = data_copy / FILE
        first, _ = parts(path.read_text(encoding="utf-8"), SECOND_EVENT)
        path.write_bytes(first)
        future = time.time() + 3600
        os.utime(path, (future, future))
        started = time.monotonic()
        assert live.reload()
        elapsed = time.monotonic() - started
        assert len(live.current.events) == total - 2  # the file's last two events
        assert STABLE_S <= elapsed < HOLD_LIMIT_S
        assert live.held is None
        # The hold's note names the time it waited for: the setting, not a default.
        held = [note.message for note in live.journal.notes() if "held" in note.message]
        assert held and f"unchanged for {STABLE_S:g} s" in held[-1], held
    finally:
        live.stop()


def test_a_new_day_is_compiled_within_seconds(data_copy: Path) -> None:
    days = [datetime.now(UTC).date()]
    settings = ServiceSettings(data_dir=data_copy, **QUICK_TIMES)  # the day: every 0.2 s
    live = LiveCatalog.open(settings, today=lambda: days[-1])
    live.start_watching()
    try:
        wait_for(lambda: live.watch_status().state == "watching", "the watch")
        days.append(days[-1] + timedelta(days=1))
        wait_for(lambda: live.current.compiled_on == days[-1], "the recompile for the new day")
        assert live.last_error is None
    finally:
        live.stop()
    assert live.watch_status().state == "stopped"
