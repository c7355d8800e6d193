"""Live reload: edits are picked up, broken edits refused; SIGHUP reloads.

A real `serve` process picks up an edit, reports its watch and answers SIGHUP; how a broken
edit is refused and reported is the same code in this process (reload_support.watched),
without a server each.
"""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path

import pytest
from conftest import WAITING, Server, start_server, stop_server
from reload_support import (
    CATEGORY_LINE,
    FILE,
    TITLE_LINE,
    Watched,
    edit,
    feed_text,
    health,
    wait_for,
    watcher,
)
from reload_support import not_watching as not_watching
from reload_support import not_watching_module as not_watching_module
from reload_support import watched as watched
from reload_support import watching as watching

pytestmark = WAITING  # one worker runs the waiting modules in a row: conftest


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


def test_healthz_reports_the_watch(watching: Server) -> None:
    # `serve --no-watch` reporting "off" (and "ok"): test_sighup_reloads_when_watching_is_off.
    report = wait_for(
        lambda: watcher(watching) if watcher(watching)["state"] == "watching" else None,
        "the watch to answer",
    )
    assert report["state"] == "watching"
    assert report["reason"] is None
    assert report["directory"] == str(watching.data_dir.resolve())
    assert datetime.fromisoformat(report["since"]).tzinfo is not None
    assert health(watching)["status"] == "ok"


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
    watched: Watched, old: str, new: str, line: int, message: str
) -> None:
    before = health(watched)
    feed = watched.get("/feeds/all.ics")
    path = watched.data_dir / FILE
    original = path.read_text(encoding="utf-8")
    edit(watched.data_dir, old, new)
    broken = wait_for(lambda: health(watched)["last_reload_error"], "the reload error")
    assert f"{FILE}:{line}" in broken["message"]
    assert message in broken["message"]
    report = health(watched)
    assert report["status"] == "degraded"
    assert report["version"] == before["version"]
    still = watched.get("/feeds/all.ics")
    assert still.status_code == 200
    assert still.headers["etag"] == feed.headers["etag"]
    assert "SUMMARY:Time to Talk Day\r\n" in still.text

    # Fixing the file clears the error and serves the fixed content.
    fixed_title = TITLE_LINE.replace("Talk Day", "Talk Day (fixed)")
    path.write_text(original.replace(TITLE_LINE, fixed_title), encoding="utf-8")
    wait_for(lambda: health(watched)["last_reload_error"] is None, "the error to clear")
    fixed = health(watched)
    assert fixed["status"] == "ok"
    assert fixed["version"] != before["version"]
    assert "SUMMARY:Time to Talk Day (fixed)" in feed_text(watched)


def test_sighup_reloads_when_watching_is_off(not_watching: Server) -> None:
    before = health(not_watching)
    assert before["status"] == "ok"  # not watching is no trouble: SIGHUP reloads
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
