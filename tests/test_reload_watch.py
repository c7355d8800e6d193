"""Live reload: renamed, replaced, symlinked or missing data is followed, and reported.

The watch logic is driven in this process (reload_support.watched), where it runs the same
threads as in `serve`; that `serve` reports its watch in /healthz: test_reload_edits.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import WAITING
from reload_support import (
    FILE,
    NEW_TITLE,
    QUICK_TIMES,
    TITLE_LINE,
    Watched,
    edit,
    health,
    history_mentions,
    served,
    wait_for,
    watch_in_process,
    watcher,
)
from reload_support import watched as watched

pytestmark = WAITING  # one worker runs the waiting modules in a row: conftest


def retitle(data_dir: Path, marker: str) -> None:
    """Give the file's first event, whatever its title now, the title with `marker`."""
    path = data_dir / FILE
    text = path.read_text(encoding="utf-8")
    title = re.search(r"^    title: Time to Talk Day.*\n", text, flags=re.MULTILINE)
    assert title is not None
    path.write_text(text.replace(title[0], NEW_TITLE.format(marker), 1), encoding="utf-8")


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
    watched: Watched, name: bytes, kind: str, is_data: bool
) -> None:
    path = os.path.join(os.fsencode(watched.data_dir), name)
    if kind == "directory":
        os.mkdir(path)
        with open(os.path.join(path, b"inside.yaml"), "wb") as out:
            out.write(b"not: data\n")
    else:
        with open(path, "wb") as out:
            out.write((watched.data_dir / "events/surveys.yaml").read_bytes())
    # The watch fails on the name, and /healthz says so.
    wait_for(lambda: history_mentions(watched, "decode"), "healthz to report the lost watch")
    if is_data:
        wait_for(lambda: health(watched)["last_reload_error"], "the refused reload")
        assert health(watched)["status"] == "degraded"
    else:  # edits are still served (polled, or watched again) while the name is there
        retitle(watched.data_dir, "beside the bad name")
        wait_for(lambda: served(watched, "beside the bad name"), "an edit beside the bad name")
    if kind == "directory":
        assert watcher(watched)["state"] == "polling"
        interval = QUICK_TIMES["watch_check_interval"]  # the setting, not the default 1 s
        assert f"checked every {interval:g} s" in watcher(watched)["reason"]
        assert health(watched)["status"] == "degraded"
        shutil.rmtree(path)
    else:
        os.remove(path)
    retitle(watched.data_dir, "after the bad name")
    wait_for(lambda: served(watched, "after the bad name"), "an edit after the bad name")
    wait_for(lambda: watcher(watched)["state"] == "watching", "the watch to be re-established")
    report = health(watched)
    assert report["watcher"]["restarts"] >= 1
    assert report["last_reload_error"] is None
    assert report["status"] == "ok"


def copy_with_marker(source: Path, target: Path, marker: str) -> Path:
    shutil.copytree(source, target)
    edit(target, TITLE_LINE, NEW_TITLE.format(marker))
    return target


def test_data_directory_replaced_by_a_renamed_copy_is_followed(
    watched: Watched, tmp_path: Path
) -> None:
    data = watched.data_dir
    before = os.stat(data).st_ino
    fresh = copy_with_marker(data, tmp_path / "data.new", "swapped in")
    data.rename(tmp_path / "data.old")
    fresh.rename(data)
    wait_for(lambda: served(watched, "swapped in"), "the swapped-in copy")
    # Later edits, in the directory now at the path, are served too.
    edit(data, NEW_TITLE.format("swapped in"), NEW_TITLE.format("edited after the swap"))
    wait_for(lambda: served(watched, "edited after the swap"), "an edit after the swap")
    report = watcher(watched)
    assert report["state"] == "watching"
    assert os.stat(data).st_ino != before
    assert history_mentions(watched, "replaced")


@pytest.mark.parametrize("switch", ["ln -sfn", "rename"])
def test_data_dir_symlink_switched_to_another_copy_is_followed(
    data_copy: Path, tmp_path: Path, switch: str
) -> None:
    link = tmp_path / "current"
    link.symlink_to(data_copy)
    server = watch_in_process(link)
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
        server.service.live.stop()


def test_events_folder_replaced_by_a_renamed_copy_is_followed(
    watched: Watched, tmp_path: Path
) -> None:
    events = watched.data_dir / "events"
    staging = tmp_path / "staging"
    shutil.copytree(events, staging / "events")
    edit(staging, TITLE_LINE, NEW_TITLE.format("new folder"))
    events.rename(tmp_path / "events.old")
    (staging / "events").rename(events)
    wait_for(lambda: served(watched, "new folder"), "the swapped-in events folder")
    edit(watched.data_dir, NEW_TITLE.format("new folder"), NEW_TITLE.format("after folder"))
    wait_for(lambda: served(watched, "after folder"), "an edit in the new events folder")


def test_missing_data_directory_is_reported_and_followed_when_back(
    watched: Watched, tmp_path: Path
) -> None:
    data = watched.data_dir
    version = health(watched)["version"]
    data.rename(tmp_path / "away")
    lost = wait_for(
        lambda: health(watched) if watcher(watched)["state"] == "lost" else None,
        "healthz to report the missing directory",
    )
    assert lost["status"] == "degraded"
    assert str(data) in lost["watcher"]["reason"]
    assert lost["version"] == version  # the last snapshot is still served
    assert served(watched, "back") is False
    (tmp_path / "away").rename(data)
    wait_for(lambda: watcher(watched)["state"] == "watching", "the watch to come back")
    edit(data, TITLE_LINE, NEW_TITLE.format("back"))
    wait_for(lambda: served(watched, "back"), "an edit after the directory came back")
    assert health(watched)["status"] == "ok"
