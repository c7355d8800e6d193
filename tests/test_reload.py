"""Live reload of a real server: edits are picked up, broken edits are refused and reported."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from conftest import Server, start_server, stop_server

from calendar_service.reloading import HOLD_LIMIT_S, STABLE_AFTER_S, LiveCatalog
from calendar_service.settings import ServiceSettings

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


def test_valid_edit_is_served_within_seconds(watching: Server) -> None:
    before = health(watching)
    etag = watching.get("/feeds/all.ics").headers["etag"]
    edit(watching.data_dir, TITLE_LINE, "    title: Time to Talk Day (edited)\n")
    wait_for(lambda: "SUMMARY:Time to Talk Day (edited)" in feed_text(watching), "the new title")
    after = health(watching)
    assert after["version"] != before["version"]
    assert after["last_reload_error"] is None
    assert after["reloads"] >= 1
    assert watching.get("/feeds/all.ics").headers["etag"] != etag
    single = watching.get("/events/time-to-talk-day.ics").text
    assert "Time to Talk Day (edited)" in single


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            TITLE_LINE,
            "    title: Time to Talk Day: the sequel: again\n",
            5,
            "not valid YAML",
        ),
        (CATEGORY_LINE, "    category: seminar\n", 12, "unknown value 'seminar'"),
    ],
    ids=["invalid-yaml", "unknown-category"],
)
def test_broken_edit_keeps_old_content_and_reports_file_and_line(
    watching: Server, old: str, new: str, line: int, message: str
) -> None:
    before = health(watching)
    feed = watching.get("/feeds/all.ics")
    path = watching.data_dir / FILE
    original = path.read_text(encoding="utf-8")
    edit(watching.data_dir, old, new)
    broken = wait_for(lambda: health(watching)["last_reload_error"], "the reload error")
    assert f"{FILE}:{line}" in broken["message"]
    assert message in broken["message"]
    report = health(watching)
    assert report["status"] == "degraded"
    assert report["version"] == before["version"]
    still = watching.get("/feeds/all.ics")
    assert still.status_code == 200
    assert still.headers["etag"] == feed.headers["etag"]
    assert "SUMMARY:Time to Talk Day\r\n" in still.text

    # Fixing the file clears the error and serves the fixed content.
    fixed_title = TITLE_LINE.replace("Talk Day", "Talk Day (fixed)")
    path.write_text(original.replace(TITLE_LINE, fixed_title), encoding="utf-8")
    wait_for(lambda: health(watching)["last_reload_error"] is None, "the error to clear")
    fixed = health(watching)
    assert fixed["status"] == "ok"
    assert fixed["version"] != before["version"]
    assert "SUMMARY:Time to Talk Day (fixed)" in feed_text(watching)


def test_sighup_reloads_when_watching_is_off(not_watching: Server) -> None:
    before = health(not_watching)
    edit(not_watching.data_dir, TITLE_LINE, "    title: Time to Talk Day (after SIGHUP)\n")
    # Not watching: no watcher runs, so the old content is served until the signal.
    assert health(not_watching)["watcher"]["state"] == "off"
    assert "(after SIGHUP)" not in feed_text(not_watching)
    assert health(not_watching)["version"] == before["version"]
    not_watching.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "(after SIGHUP)" in feed_text(not_watching), "the reload after SIGHUP")
    after = health(not_watching)
    assert after["version"] != before["version"]
    assert after["last_reload_error"] is None
    assert not_watching.process.poll() is None  # SIGHUP reloads; it does not stop the server


def test_sighup_with_broken_data_keeps_serving_and_reports(not_watching: Server) -> None:
    before = health(not_watching)
    edit(not_watching.data_dir, CATEGORY_LINE, "    category: seminar\n")
    not_watching.process.send_signal(signal.SIGHUP)
    broken = wait_for(lambda: health(not_watching)["last_reload_error"], "the reload error")
    assert f"{FILE}:12" in broken["message"]
    assert health(not_watching)["version"] == before["version"]
    assert "SUMMARY:Time to Talk Day\r\n" in feed_text(not_watching)


def test_sighup_to_several_workers_with_broken_data_keeps_the_old_workers(
    data_copy: Path, tmp_path: Path
) -> None:
    # uvicorn's supervisor answers SIGHUP by starting new workers before retiring the old
    # ones; a worker that cannot load the data never starts, so the old ones keep serving.
    server = start_server(data_copy, tmp_path, watch=False, workers=2)
    try:
        before = health(server)["version"]
        edit(data_copy, CATEGORY_LINE, "    category: seminar\n")
        server.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: "aborting the restart" in server.output() or None,
            "the supervisor to keep its workers",
            timeout=60,
        )
        for _ in range(10):
            assert health(server)["version"] == before
            assert "SUMMARY:Time to Talk Day\r\n" in feed_text(server)
        assert server.process.poll() is None
    finally:
        stop_server(server)


# --- The watcher survives what it cannot follow, and says so (issue 9, items 8 and 9) ------

NEW_TITLE = "    title: Time to Talk Day ({})\n"


def served(server: Server, marker: str) -> bool:
    return f"SUMMARY:Time to Talk Day ({marker})" in feed_text(server)


def retitle(data_dir: Path, marker: str) -> None:
    """Give the file's first event, whatever its title now, the title with `marker`."""
    path = data_dir / FILE
    text = path.read_text(encoding="utf-8")
    title = re.search(r"^    title: Time to Talk Day.*\n", text, flags=re.MULTILINE)
    assert title is not None
    path.write_text(text.replace(title[0], NEW_TITLE.format(marker), 1), encoding="utf-8")


def watcher(server: Server) -> dict[str, Any]:
    report: dict[str, Any] = health(server)["watcher"]
    return report


def history_mentions(server: Server, *words: str) -> bool:
    return any(
        all(word in note["message"] for word in words) for note in watcher(server)["history"]
    )


def test_healthz_reports_the_watch(watching: Server, not_watching: Server) -> None:
    report = wait_for(
        lambda: watcher(watching) if watcher(watching)["state"] == "watching" else None,
        "the watch to answer",
    )
    assert report["state"] == "watching"
    assert report["reason"] is None
    assert report["directory"] == str(watching.data_dir.resolve())
    assert datetime.fromisoformat(report["since"]).tzinfo is not None
    assert health(watching)["status"] == "ok"
    off = watcher(not_watching)
    assert off["state"] == "off"
    assert health(not_watching)["status"] == "ok"


# Names that are not UTF-8: watchfiles cannot decode them; its thread died on the first
# event about them (a directory so named stops it from starting at all). A data file is
# refused by the loader; the others are not data, and reloading goes on while they exist.
UNDECODABLE = [
    (b"events/bad\xff.yaml", "file", True),
    (b"events/notes-\xe9t\xe9.txt", "file", False),
    (b"archive-\xff", "directory", False),
    (b"\xfe\xff.md", "file", False),
]


@pytest.mark.parametrize(
    ("name", "kind", "is_data"),
    UNDECODABLE,
    ids=["data-file", "latin1-text-file", "directory", "top-level-file"],
)
def test_a_name_that_is_not_utf8_does_not_stop_reloading(
    watching: Server, name: bytes, kind: str, is_data: bool
) -> None:
    path = os.path.join(os.fsencode(watching.data_dir), name)
    if kind == "directory":
        os.mkdir(path)
        with open(os.path.join(path, b"inside.yaml"), "wb") as out:
            out.write(b"not: data\n")
    else:
        with open(path, "wb") as out:
            out.write((watching.data_dir / "events/surveys.yaml").read_bytes())
    # The watch fails on the name, and /healthz says so.
    wait_for(lambda: history_mentions(watching, "decode"), "healthz to report the lost watch")
    if is_data:
        wait_for(lambda: health(watching)["last_reload_error"], "the refused reload")
        assert health(watching)["status"] == "degraded"
    else:  # edits are still served (polled, or watched again) while the name is there
        retitle(watching.data_dir, "beside the bad name")
        wait_for(lambda: served(watching, "beside the bad name"), "an edit beside the bad name")
    if kind == "directory":
        assert watcher(watching)["state"] == "polling"
        assert health(watching)["status"] == "degraded"
        shutil.rmtree(path)
    else:
        os.remove(path)
    retitle(watching.data_dir, "after the bad name")
    wait_for(lambda: served(watching, "after the bad name"), "an edit after the bad name")
    wait_for(lambda: watcher(watching)["state"] == "watching", "the watch to be re-established")
    report = health(watching)
    assert report["watcher"]["restarts"] >= 1
    assert report["last_reload_error"] is None
    assert report["status"] == "ok"
    assert watching.process.poll() is None


def copy_with_marker(source: Path, target: Path, marker: str) -> Path:
    shutil.copytree(source, target)
    edit(target, TITLE_LINE, NEW_TITLE.format(marker))
    return target


def test_data_directory_replaced_by_a_renamed_copy_is_followed(
    watching: Server, tmp_path: Path
) -> None:
    data = watching.data_dir
    before = os.stat(data).st_ino
    fresh = copy_with_marker(data, tmp_path / "data.new", "swapped in")
    data.rename(tmp_path / "data.old")
    fresh.rename(data)
    wait_for(lambda: served(watching, "swapped in"), "the swapped-in copy")
    # Later edits, in the directory now at the path, are served too.
    edit(data, NEW_TITLE.format("swapped in"), NEW_TITLE.format("edited after the swap"))
    wait_for(lambda: served(watching, "edited after the swap"), "an edit after the swap")
    report = watcher(watching)
    assert report["state"] == "watching"
    assert os.stat(data).st_ino != before
    assert history_mentions(watching, "replaced")


@pytest.mark.parametrize("switch", ["ln -sfn", "rename"])
def test_data_dir_symlink_switched_to_another_copy_is_followed(
    data_copy: Path, tmp_path: Path, switch: str
) -> None:
    link = tmp_path / "current"
    link.symlink_to(data_copy)
    server = start_server(link, tmp_path, watch=True)
    try:
        other = copy_with_marker(data_copy, tmp_path / "other", "switched")
        if switch == "ln -sfn":
            subprocess.run(["ln", "-sfn", str(other), str(link)], check=True)
        else:  # atomic: a new link renamed over the old one
            (tmp_path / "next").symlink_to(other)
            (tmp_path / "next").rename(link)
        wait_for(lambda: served(server, "switched"), "the copy the link now points to")
        edit(other, NEW_TITLE.format("switched"), NEW_TITLE.format("edited after switching"))
        wait_for(lambda: served(server, "edited after switching"), "an edit after switching")
        report = watcher(server)
        assert report["state"] == "watching"
        assert report["directory"] == str(other.resolve())
        assert history_mentions(server, "replaced")
    finally:
        stop_server(server)


def test_events_folder_replaced_by_a_renamed_copy_is_followed(
    watching: Server, tmp_path: Path
) -> None:
    events = watching.data_dir / "events"
    staging = tmp_path / "staging"
    shutil.copytree(events, staging / "events")
    edit(staging, TITLE_LINE, NEW_TITLE.format("new folder"))
    events.rename(tmp_path / "events.old")
    (staging / "events").rename(events)
    wait_for(lambda: served(watching, "new folder"), "the swapped-in events folder")
    edit(watching.data_dir, NEW_TITLE.format("new folder"), NEW_TITLE.format("after folder"))
    wait_for(lambda: served(watching, "after folder"), "an edit in the new events folder")


def test_missing_data_directory_is_reported_and_followed_when_back(
    watching: Server, tmp_path: Path
) -> None:
    data = watching.data_dir
    version = health(watching)["version"]
    data.rename(tmp_path / "away")
    lost = wait_for(
        lambda: health(watching) if watcher(watching)["state"] == "lost" else None,
        "healthz to report the missing directory",
    )
    assert lost["status"] == "degraded"
    assert str(data) in lost["watcher"]["reason"]
    assert lost["version"] == version  # the last snapshot is still served
    assert served(watching, "back") is False
    (tmp_path / "away").rename(data)
    wait_for(lambda: watcher(watching)["state"] == "watching", "the watch to come back")
    edit(data, TITLE_LINE, NEW_TITLE.format("back"))
    wait_for(lambda: served(watching, "back"), "an edit after the directory came back")
    assert health(watching)["status"] == "ok"


# --- A file still being written is not served half (issue 9, item 10) ----------------------

SECOND_EVENT = "\n  - id: childrens-mental-health-week\n"
THIRD_EVENT = "\n  - id: random-acts-of-kindness-week\n"


class EventCounts:
    """Poll /healthz in a thread, keeping every event count a served snapshot had."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.seen: set[int] = set()
        self.held: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=10) as client:
            while not self._stop.is_set():
                body = client.get("/healthz").json()
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
    watching: Server, cut_before: str, dropped: int, removed_first: bool
) -> None:
    path = watching.data_dir / FILE
    text = path.read_text(encoding="utf-8").replace(TITLE_LINE, NEW_TITLE.format("whole"))
    total = health(watching)["events"]
    counts = EventCounts(watching)
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
    wait_for(lambda: served(watching, "whole"), "the whole file")
    seen = counts.stop()
    assert total - dropped not in seen, "a half-written file was served"
    assert seen == {total}
    assert health(watching)["events"] == total
    assert history_mentions(watching, "held")


@pytest.mark.parametrize("how", ["in place", "atomic rename", "file removed"])
def test_deliberate_deletion_is_applied_once_the_files_are_stable(
    watching: Server, how: str
) -> None:
    path = watching.data_dir / FILE
    total = health(watching)["events"]
    counts = EventCounts(watching)
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
    wait_for(lambda: health(watching)["events"] == total - dropped, "the deletion to be served")
    assert counts.held, "the deletion was served without waiting for the files to settle"
    assert counts.stop() <= {total, total - dropped}
    report = health(watching)
    assert report["reload_held"] is None
    assert report["status"] == "ok"


def test_deletion_with_a_future_mtime_waits_by_our_own_clock(data_copy: Path) -> None:
    # A clock ahead on another machine (a network share) stamps files in the future; the
    # hold then counts quiet time itself rather than waiting for that moment to come.
    live = LiveCatalog.open(ServiceSettings(data_dir=data_copy, watch=False))
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
        assert STABLE_AFTER_S <= elapsed < HOLD_LIMIT_S
        assert live.held is None
        assert any("held" in note.message for note in live.journal.notes())
    finally:
        live.stop()


def test_a_new_day_is_compiled_within_seconds(data_copy: Path) -> None:
    days = [datetime.now(UTC).date()]
    live = LiveCatalog.open(ServiceSettings(data_dir=data_copy), today=lambda: days[-1])
    live.start_watching()
    try:
        wait_for(lambda: live.watch_status().state == "watching", "the watch")
        days.append(days[-1] + timedelta(days=1))
        wait_for(lambda: live.current.compiled_on == days[-1], "the recompile for the new day")
        assert live.last_error is None
    finally:
        live.stop()
    assert live.watch_status().state == "stopped"
