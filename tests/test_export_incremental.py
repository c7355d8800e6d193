"""A build after an edit writes only the files whose bytes change, beside the served export,
and gives the same export as a build from nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from conftest import BUNDLED_DATA
from export_support import (
    FIXED_DAY,
    Export,
    Exports,
    assert_same_export,
    build,
    build_here,
    manifest_of,
    tree,
)
from export_support import exports as exports

from calendar_service.export import ExportedFile

# One xdist worker runs the export modules (make unit: --dist loadgroup): exports made once.
pytestmark = pytest.mark.xdist_group("export")

EDITED_EVENT = "time-to-talk-day"
OLD_TITLE = "Time to Talk Day"
NEW_TITLE = "Talk About Mental Health Day"
STAMPED, LATER = "childrens-mental-health-week", "'2026-11-25T09:00:00Z'"
OTHER = "random-acts-of-kindness-week"


@dataclass
class Edited:
    previous: Export  # the export of the bundled data, which `link` named before the build
    link: Path  # switched by the build after the edit to its new version
    files: list[ExportedFile]  # what that build did with each file
    full: Path  # the edited data exported from nothing


@pytest.fixture(scope="module")
def edited(exports: Exports, tmp_path_factory: pytest.TempPathFactory) -> Edited:
    """One event's title edited, then exported over the bundled data's export."""
    previous = exports.of(FIXED_DAY)
    base = tmp_path_factory.mktemp("edited")
    data = base / "data"
    shutil.copytree(BUNDLED_DATA, data)
    source = data / "events" / "awareness.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count(f"    title: {OLD_TITLE}\n") == 1
    source.write_text(text.replace(f"title: {OLD_TITLE}\n", f"title: {NEW_TITLE}\n"), "utf-8")
    link = base / "site"
    link.symlink_to(previous.root.resolve(), target_is_directory=True)
    files = build_here(data, link, FIXED_DAY)
    build_here(data, base / "full", FIXED_DAY)
    return Edited(previous, link, files, base / "full")


def test_editing_one_event_changes_only_the_files_that_show_it(edited: Edited) -> None:
    before, after = edited.previous.manifest, manifest_of(edited.link)
    old, new = tree(edited.previous.root), tree(edited.link)
    assert sorted(old) == sorted(new)
    changed = {path for path in old if old[path] != new[path]}

    # What legitimately changes: every file that shows the event (the whole calendar, the
    # feeds and embeds that include it, the home page if it lists it, its own page and .ics),
    # the snapshot's version, and the export's own listings.
    showing = {
        item["path"]
        for item in before["files"]
        if EDITED_EVENT.encode() in old[item["path"]] or OLD_TITLE.encode() in old[item["path"]]
    }
    expected = {"manifest.json", "nginx-etags.conf"}
    for path in showing | {"version.json"}:
        expected |= {path + suffix for suffix in ("", ".gz", ".br") if path + suffix in old}
    assert changed == expected
    assert {f"events/{EDITED_EVENT}", f"events/{EDITED_EVENT}.ics", "calendar.ics"} <= changed
    assert any(path.startswith("feeds/") for path in changed)
    # (The description still names the day; only the title changed.)
    assert all(NEW_TITLE.encode() in new[path] for path in showing)

    # Other events' files are untouched, and keep their ETags.
    others = [
        item
        for item in before["files"]
        if item["path"].startswith("events/") and EDITED_EVENT not in item["path"]
    ]
    assert others
    assert [item["path"] for item in others if item["path"] in changed] == []
    after_etags = {item["url"]: item["etag"] for item in after["files"]}
    assert all(after_etags[item["url"]] == item["etag"] for item in others)
    assert before["version"] != after["version"]


def test_an_export_after_an_edit_is_the_export_of_the_edited_data_from_nothing(
    edited: Edited,
) -> None:
    assert_same_export(edited.link, edited.full)


def test_the_cli_in_worker_processes_exports_the_edit_as_this_process_does(
    edited: Edited, tmp_path: Path
) -> None:
    # Forked workers publish while the parent renders the named feeds' occurrences, taking
    # unchanged events' from the previous version; here (threads: one process) in turn.
    link = tmp_path / "site"
    link.symlink_to(edited.previous.root.resolve(), target_is_directory=True)
    build(edited.link.parent / "data", link, FIXED_DAY)
    assert_same_export(link, edited.full)


def test_an_export_compressed_otherwise_is_written_again_not_reused(
    edited: Edited, tmp_path: Path
) -> None:
    # Its .gz and .br are another library's (or level's) bytes: none is linked.
    other = tmp_path / "other"
    shutil.copytree(edited.previous.root.resolve(), other, symlinks=True)
    manifest = manifest_of(other)
    manifest["compression"] = "zlib 1.2.13, brotli 1.0.9, aarch64"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    link = tmp_path / "site"
    link.symlink_to(other, target_is_directory=True)
    files = build_here(edited.link.parent / "data", link, FIXED_DAY)
    assert {item.stored for item in files} == {"written"}
    assert_same_export(link, edited.full)


def test_only_files_whose_bytes_change_are_written(edited: Edited) -> None:
    previous = edited.previous.root
    old, new = tree(previous), tree(edited.link)
    stored = {item.path: item.stored for item in edited.files}
    written = {path for path, how in stored.items() if how == "written"}
    assert written == {item.path for item in edited.files if old[item.path] != new[item.path]}
    assert f"events/{EDITED_EVENT}" in written
    linked = [path for path, how in stored.items() if how == "linked"]
    # Other events' .ics keep their dates: the very same files, hard-linked, not rewritten.
    assert f"events/{EDITED_EVENT}.ics" not in linked
    assert any(path.startswith("events/") and path.endswith(".ics") for path in linked)
    for path in linked:
        for suffix in ("", ".gz", ".br"):
            if (previous / (path + suffix)).exists():
                assert (
                    os.stat(previous / (path + suffix)).st_ino
                    == os.stat(edited.link / (path + suffix)).st_ino
                ), path
    assert {how for how in stored.values()} == {"written", "linked"}  # no date moved


def test_the_export_being_served_is_not_changed_by_the_next_build(edited: Edited) -> None:
    previous = edited.previous
    assert manifest_of(previous.root) == previous.manifest
    for item in previous.manifest["files"]:
        moment = parsedate_to_datetime(item["last_modified"]).timestamp()
        for suffix in ("", ".gz", ".br"):
            path = previous.root / (item["path"] + suffix)
            if path.exists():
                assert path.stat().st_mtime == moment, path
    # The link names the new version, written beside it.
    assert edited.link.resolve().parent == edited.link.with_name("site.versions").resolve()


def test_a_later_stamp_re_dates_pages_in_copies_and_the_link_switches_whole(
    edited: Edited,
) -> None:
    # A later stamp of another event (its bytes unchanged) moves the catalog's Last-Modified,
    # which every page carries: the same bytes, re-dated in a copy, so the version being
    # served keeps its dates.
    data = edited.link.parent / "data"
    revisions = data / "revisions.yaml"
    text = revisions.read_text(encoding="utf-8")
    stamped = re.compile(rf"^({STAMPED}:\n(?:  .*\n)*?  modified: )'2026-11-25T08:01:18Z'$", re.M)
    assert len(stamped.findall(text)) == 1
    revisions.write_text(stamped.sub(rf"\g<1>{LATER}", text), encoding="utf-8")
    served = edited.link.resolve()
    dates = {path: path.stat().st_mtime for path in served.rglob("*") if path.is_file()}
    names = [served.name]

    redated = build_here(data, edited.link, FIXED_DAY)
    names.append(edited.link.resolve().name)
    stored = {item.path: item.stored for item in redated}
    assert stored[f"events/{STAMPED}.ics"] == "written"  # its LAST-MODIFIED is in the bytes
    assert stored[f"events/{OTHER}.ics"] == "linked"
    assert stored[f"events/{OTHER}"] == "copied"
    for path in (path for path, how in stored.items() if how == "copied"):
        assert (served / path).read_bytes() == (edited.link / path).read_bytes()
        assert os.stat(served / path).st_ino != os.stat(edited.link / path).st_ino
    assert {path: path.stat().st_mtime for path in dates} == dates

    # The same data again: every file is the one already there.
    again = build_here(data, edited.link, FIXED_DAY)
    names.append(edited.link.resolve().name)
    assert {item.stored for item in again} == {"linked"}
    assert len(set(names)) == 3
    # The link names the newest, kept with the one it replaced; the oldest is gone.
    versions = edited.link.with_name("site.versions")
    assert sorted(path.name for path in versions.iterdir()) == sorted(names[1:])
    assert os.readlink(edited.link) == f"site.versions/{names[-1]}"
