"""Exports are byte-identical for the same data and day, and an edit changes only its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_DATA
from export_support import FIXED_DAY, build, tree

# One xdist worker runs the module (make unit: --dist loadgroup):
# live server, nginx and exports made once.
pytestmark = pytest.mark.xdist_group("export")


EDITED_EVENT = "time-to-talk-day"
OLD_TITLE = "Time to Talk Day"
NEW_TITLE = "Talk About Mental Health Day"


@dataclass
class Export:
    root: Path
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def fixed_day(tmp_path_factory: pytest.TempPathFactory) -> Export:
    """One export of the bundled data on FIXED_DAY, shared by the module: only read."""
    root = tmp_path_factory.mktemp("fixed-day") / "site"
    return Export(root, build(BUNDLED_DATA, root, FIXED_DAY))


def test_two_exports_of_the_same_data_and_day_are_byte_identical(
    fixed_day: Export, tmp_path: Path
) -> None:
    first = fixed_day.manifest
    second = build(BUNDLED_DATA, tmp_path / "second", FIXED_DAY)
    assert first == second
    one, two = tree(fixed_day.root), tree(tmp_path / "second")
    assert sorted(one) == sorted(two)
    assert [path for path in one if one[path] != two[path]] == []
    assert any(path.endswith(".gz") for path in one)
    assert any(path.endswith(".br") for path in one)
    # Modification times are the responses' Last-Modified, not the time of the build.
    for item in first["files"]:
        mtime = (tmp_path / "second" / item["path"]).stat().st_mtime
        assert mtime == (fixed_day.root / item["path"]).stat().st_mtime


def test_editing_one_event_changes_only_the_files_that_show_it(
    fixed_day: Export, data_copy: Path, tmp_path: Path
) -> None:
    before = fixed_day.manifest  # data_copy is the bundled data, until the edit below
    source = data_copy / "events" / "awareness.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count(f"    title: {OLD_TITLE}\n") == 1
    source.write_text(text.replace(f"title: {OLD_TITLE}\n", f"title: {NEW_TITLE}\n"), "utf-8")
    after = build(data_copy, tmp_path / "after", FIXED_DAY)

    old, new = tree(fixed_day.root), tree(tmp_path / "after")
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
