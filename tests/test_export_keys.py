"""A build renders an event's page and .ics, or a named feed's JSON, again whenever one of
its inputs changed (calendar_service/export_keys.py), and links it unrendered otherwise:
after each kind of edit the export is the export of the edited data from nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from changes_support import replace_once
from conftest import BUNDLED_DATA
from export_support import (
    BASE_URL,
    FIXED_DAY,
    assert_same_export,
    build_here,
    manifest_of,
)
from export_support import exports as exports

from calendar_service import export_keys
from calendar_service.compiling import Catalog
from calendar_service.export import ExportedFile
from calendar_service.reloading import build
from calendar_service.settings import ServiceSettings

# Its own xdist worker (make unit: --dist loadgroup): its builds are half of the export
# modules' time, which one worker ran in turn; that worker makes its own exports.
pytestmark = pytest.mark.xdist_group("export-keys")

MOVED_FILE = "surveys.yaml"  # its events, moved to another file unchanged
JOINING = "youth-provision-mapping-survey"  # an event that joins the schools feed
OTHER_BASE = "https://dates.example.test"
NEXT_DAY = "2026-11-26"
OTHER = "random-acts-of-kindness-week"  # in the schools feed, not the practitioners'
STAMPED = "childrens-mental-health-week"

Edit = Callable[[Path], None]
# Some of the pages of the named feed `all` (export_urls.feed_pages, feed_digests), keyed.
PAGES_OF_ALL = (
    "feeds/all.rss",
    "feeds/all.atom",
    "feeds/all/changes.atom",
    "feeds/all/embed",
    "feeds/all/subscribe",
    "feeds/all/digest/2026-11",
    "feeds/all/digest/2026-12.txt",
    "feeds/all/digest/2027-01.md",
)
DAY_WITH_DATES = "2026-01-15"  # its digests (January to March 2026) list the dataset's dates


def rename_calendar(data: Path) -> None:
    calendar = data / "calendar.yaml"
    replace_once(calendar, "name: Durham Safeguarding", "name: County Durham Safeguarding")


def move_a_file(data: Path) -> None:
    (data / "events" / MOVED_FILE).rename(data / "events" / f"moved-{MOVED_FILE}")


def join_the_schools_feed(data: Path) -> None:
    source = data / "events" / MOVED_FILE
    text = source.read_text(encoding="utf-8")
    old, new = "    audiences: [practitioners]\n", "    audiences: [practitioners, schools]\n"
    found = text.index(old, text.index(f"id: {JOINING}\n"))
    source.write_text(text[:found] + new + text[found + len(old) :], encoding="utf-8")


def no_edit(data: Path) -> None:
    pass


def move_an_event(data: Path) -> None:
    """A week later: its occurrences move among the others in the feeds' JSON."""
    source = data / "events" / "awareness.yaml"
    for old, new in (
        ("    start: 2025-02-09\n", "    start: 2025-02-16\n"),
        ("    end: 2025-02-15\n", "    end: 2025-02-22\n"),
        ('by_weekday: ["2SU"]', 'by_weekday: ["3SU"]'),
        ("occurrence: 2026-02-08", "occurrence: 2026-02-15"),
        ("occurrence: 2027-02-14", "occurrence: 2027-02-21"),
    ):
        replace_once(source, old, new)


def remove_an_event(data: Path) -> None:
    source = data / "events" / "awareness.yaml"
    text = source.read_text(encoding="utf-8")
    begins = text.index(f"  - id: {OTHER}\n")
    ends = text.find("\n  - id:", begins)
    source.write_text(text[:begins] + (text[ends + 1 :] if ends >= 0 else ""), encoding="utf-8")


@dataclass
class Rebuilt:
    before: dict[str, Any]  # the manifest of the export the link named
    previous: Path  # that export
    files: list[ExportedFile]  # what the build over it did with each file
    link: Path
    full: Path  # the same data exported from nothing

    def keys(self, manifest: dict[str, Any]) -> dict[str, str | None]:
        return {item["path"]: item["key"] for item in manifest["files"]}

    def rekeyed(self) -> set[str]:
        """The paths whose key changed: rendered again."""
        old, new = self.keys(self.before), self.keys(manifest_of(self.link))
        return {path for path, key in new.items() if key is not None and old.get(path) != key}

    def keyed(self) -> set[str]:
        return {path for path, key in self.keys(self.before).items() if key is not None}


def rebuild(
    exports: Any, base: Path, edit: Edit, day: str = FIXED_DAY, base_url: str = BASE_URL
) -> Rebuilt:
    """The bundled data edited, exported over its export and from nothing."""
    previous = exports.of(FIXED_DAY)
    data = base / "data"
    shutil.copytree(BUNDLED_DATA, data)
    edit(data)
    link = base / "site"
    link.symlink_to(previous.root.resolve(), target_is_directory=True)
    # One process: the workers' share of a build is not the subject here.
    files = build_here(data, link, day, base_url, workers=1)
    build_here(data, base / "full", day, base_url, workers=1)
    assert_same_export(link, base / "full")
    return Rebuilt(previous.manifest, previous.root.resolve(), files, link, base / "full")


def kept_inodes(rebuilt: Rebuilt, paths: set[str]) -> None:
    """Each of `paths` is the previous export's very file, and so are its siblings."""
    for path in paths:
        for suffix in ("", ".gz", ".br"):
            old = rebuilt.previous / (path + suffix)
            if old.exists():
                assert os.stat(old).st_ino == os.stat(rebuilt.link / (path + suffix)).st_ino, path


@pytest.mark.parametrize(
    ("edit", "day", "base_url"),
    [
        pytest.param(rename_calendar, FIXED_DAY, BASE_URL, id="calendar-name"),
        pytest.param(no_edit, FIXED_DAY, OTHER_BASE, id="base-url"),
        pytest.param(no_edit, NEXT_DAY, BASE_URL, id="next-day"),
    ],
)
def test_a_change_every_page_reads_renders_every_keyed_file_again(
    exports: Any, tmp_path: Path, edit: Edit, day: str, base_url: str
) -> None:
    rebuilt = rebuild(exports, tmp_path, edit, day, base_url)
    assert rebuilt.keyed() and rebuilt.rekeyed() == rebuilt.keyed()


def test_a_new_version_of_the_code_renders_every_keyed_file_again(
    exports: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands for a release: the package's files, its templates among them, are digested
    # (see the next test); the build reads the digest through code_fingerprint.
    monkeypatch.setattr(export_keys, "code_fingerprint", lambda: "a later release")
    rebuilt = rebuild(exports, tmp_path, no_edit)
    assert rebuilt.rekeyed() == rebuilt.keyed()


@pytest.mark.parametrize(
    "changed", ["web/templates/event.html", "web/static/calendar.css", "links.py"]
)
def test_the_code_digest_covers_templates_assets_and_modules(tmp_path: Path, changed: str) -> None:
    package = tmp_path / "calendar_service"
    shutil.copytree(export_keys.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = export_keys.package_digest(package)
    with (package / changed).open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert export_keys.package_digest(package) != before


def test_moving_events_to_another_file_renders_nothing_again(exports: Any, tmp_path: Path) -> None:
    rebuilt = rebuild(exports, tmp_path, move_a_file)
    assert rebuilt.rekeyed() == set()
    kept_inodes(rebuilt, rebuilt.keyed())
    assert {item.stored for item in rebuilt.files if item.key is not None} == {"linked"}


def test_an_event_joining_a_feed_renders_its_files_and_that_feeds_json_again(
    exports: Any, tmp_path: Path
) -> None:
    rebuilt = rebuild(exports, tmp_path, join_the_schools_feed)
    # Its own files, the JSON and pages of the feeds it is in or joins; no other feed's, no
    # other event's.
    own = {f"events/{JOINING}", f"events/{JOINING}.ics"}
    showing = ("all", "practitioners", "schools")
    feeds = {f"feeds/{name}.json" for name in showing}
    pages = {
        path
        for path in rebuilt.keyed()
        if path.startswith(tuple(f"feeds/{name}" for name in showing))
    }
    assert pages - feeds and all(path in pages for path in PAGES_OF_ALL)
    # Its dates are in January 2025: no digest month (November to January) lists it.
    digests = {path for path in pages if "/digest/" in path}
    assert digests and rebuilt.rekeyed() == own | feeds | (pages - digests)
    kept_inodes(rebuilt, rebuilt.keyed() - rebuilt.rekeyed())
    # The other feeds' pages were linked, not rendered: the previous version's very files.
    assert "feeds/training/subscribe" in rebuilt.keyed() - rebuilt.rekeyed()


@pytest.mark.parametrize("edit", [move_an_event, remove_an_event])
def test_an_event_moved_or_removed_renders_the_feeds_json_it_was_in_again(
    exports: Any, tmp_path: Path, edit: Edit
) -> None:
    # rebuild() holds the export to the one from nothing: the feeds' JSON, whose other
    # occurrences are taken from the previous version's (export_fragments.py), among it.
    rebuilt = rebuild(exports, tmp_path, edit)
    assert {"feeds/all.json", "feeds/schools.json"} <= rebuilt.rekeyed()
    assert "feeds/practitioners.json" not in rebuilt.rekeyed()
    kept_inodes(rebuilt, {"feeds/practitioners.json"})
    # A removed event is withdrawn (its change logged, its id gone): every feed's pages
    # read that, so all are rendered again; a moved one's, only those of its feeds.
    assert ("feeds/practitioners/subscribe" in rebuilt.rekeyed()) == (edit is remove_an_event)


def test_feed_pages_dated_by_the_clock_are_keyed_by_it(tmp_path: Path) -> None:
    # A stamp later than now (valid until the day ends) dates the RSS and Atom by the clock
    # (syndication._feed_date): their key then holds the clock, so they are rendered every
    # time, never linked stale.
    data = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, data)
    catalog = build(ServiceSettings(data_dir=data), date.fromisoformat(FIXED_DAY))
    context = export_keys.context_digest(catalog)

    def keys(catalog: Catalog) -> dict[str, str]:
        around = export_keys.pages_context(catalog, context)
        return export_keys.feed_pages_keys(catalog, around, export_keys.feed_members(catalog))

    assert keys(catalog) == keys(catalog)

    revisions = data / "revisions.yaml"
    stamp = f"{STAMPED}:\n  hash: 'dae8f9ede5cd0ddb'\n  sequence: 0\n  modified: "
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("'%Y-%m-%dT%H:%M:%SZ'")
    replace_once(revisions, stamp + "'2026-11-25T08:01:18Z'", stamp + soon)
    ahead = build(ServiceSettings(data_dir=data), date.fromisoformat(FIXED_DAY))
    assert keys(ahead) != keys(ahead)


def test_a_months_digest_is_rendered_again_only_when_an_event_it_lists_changed(
    exports: Any, tmp_path: Path
) -> None:
    previous = exports.of(DAY_WITH_DATES)
    data = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, data)
    title = "    title: Time to Talk Day\n"
    replace_once(data / "events" / "awareness.yaml", title, "    title: Talk About It Day\n")
    link = tmp_path / "site"
    link.symlink_to(previous.root.resolve(), target_is_directory=True)
    files = build_here(data, link, DAY_WITH_DATES, workers=1)
    build_here(data, tmp_path / "full", DAY_WITH_DATES, workers=1)
    assert_same_export(link, tmp_path / "full")
    rebuilt = Rebuilt(previous.manifest, previous.root.resolve(), files, link, tmp_path / "full")
    # February's, when the day falls (each form, each feed it is in); not January's or March's.
    digests = {path for path in rebuilt.rekeyed() if "/digest/" in path}
    assert {path.split("/digest/")[1][:7] for path in digests} == {"2026-02"}
    assert {"feeds/all/digest/2026-02", "feeds/all/digest/2026-02.md"} <= digests
    kept_inodes(rebuilt, {"feeds/all/digest/2026-01", "feeds/all/digest/2026-03.txt"})
