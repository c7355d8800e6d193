"""A build after an edit takes the occurrences' JSON of unchanged events from the previous
version's named feed files (calendar_service/export_fragments.py), and only those."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from changes_support import replace_once
from conftest import BUNDLED_DATA
from export_support import FIXED_DAY, Exports, build_here
from export_support import exports as exports

from calendar_service.export_fragments import occurrences_in

pytestmark = pytest.mark.xdist_group("export")

EDITED, OLD_TITLE, NEW_TITLE = "time-to-talk-day", "Time to Talk Day", "Talk About It Day"
UNCHANGED = "random-acts-of-kindness-week"
MARKER = "Taken from the previous version"


def feed_body(occurrences: list[dict[str, object]], total: int | None = None) -> bytes:
    """A named feed's JSON laid out as web/feeds.py writes it."""
    count = len(occurrences) if total is None else total
    body = {"feed": "all", "title": "All", "total": count, "count": count}
    return orjson.dumps({**body, "next_cursor": None, "occurrences": occurrences})


def test_a_named_feeds_json_comes_apart_into_each_occurrences_bytes(exports: Exports) -> None:
    body = (exports.of(FIXED_DAY).root / "feeds" / "all.json").read_bytes()
    listed = json.loads(body)["occurrences"]
    made = occurrences_in(body)
    assert len(listed) > 10
    assert list(made) == [item["id"] for item in listed]
    assert [json.loads(fragment) for fragment in made.values()] == listed
    # Joined again, they are the very bytes of the list.
    assert b"[" + b",".join(made.values()) + b"]}" in body


@pytest.mark.parametrize(
    "body",
    [
        # A nested object whose first field is "id": one piece too many for the total.
        feed_body([{"id": "a/1", "links": [{"id": "x"}, {"id": "y"}]}, {"id": "b/1"}]),
        feed_body([{"id": "a/1"}, {"id": "b/1"}], total=3),
        feed_body([{"id": "a/1"}, {"id": "b/1"}])[:-1],
        feed_body([{"title": "no id first", "id": "a/1"}]),
        b"not json",
    ],
    ids=["nested-id", "wrong-total", "cut-short", "id-not-first", "not-json"],
)
def test_a_body_not_laid_out_as_the_service_writes_it_gives_nothing(body: bytes) -> None:
    assert occurrences_in(body) == {}


def test_an_id_found_twice_with_other_bytes_or_escaped_is_not_taken() -> None:
    occurrences = [
        {"id": "a/1", "title": "one"},
        {"id": "a/1", "title": "two"},
        {"id": 'b"/1', "title": "escaped"},
        {"id": "c/1", "title": "three"},
    ]
    made = occurrences_in(feed_body(occurrences))
    assert made == {"c/1": b'{"id":"c/1","title":"three"}'}
    assert occurrences_in(feed_body([])) == {}


def test_only_unchanged_events_occurrences_are_taken_from_the_previous_version(
    exports: Exports, tmp_path: Path
) -> None:
    # The previous version's all.json altered where an unchanged event's occurrences are,
    # and where the edited one's are: the first alteration is taken, the second is not.
    previous = tmp_path / "previous"
    shutil.copytree(exports.of(FIXED_DAY).root.resolve(), previous)
    served = previous / "feeds" / "all.json"
    body = json.loads(served.read_bytes())
    for item in body["occurrences"]:
        if item["event_id"] in (UNCHANGED, EDITED):
            item["note"] = MARKER
    served.write_bytes(orjson.dumps(body))
    data = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, data)
    replace_once(
        data / "events" / "awareness.yaml", f"title: {OLD_TITLE}\n", f"title: {NEW_TITLE}\n"
    )
    link = tmp_path / "site"
    link.symlink_to(previous, target_is_directory=True)

    build_here(data, link, FIXED_DAY, workers=1)

    rebuilt = json.loads((link / "feeds" / "all.json").read_bytes())["occurrences"]
    notes: dict[str, set[str | None]] = {}
    for item in rebuilt:
        notes.setdefault(item["event_id"], set()).add(item["note"])
    assert notes[UNCHANGED] == {MARKER}
    assert MARKER not in notes[EDITED]
    assert {item["title"] for item in rebuilt if item["event_id"] == EDITED} == {NEW_TITLE}
    # The schools feed, rendered again too, took them from all.json's, read first.
    schools = json.loads((link / "feeds" / "schools.json").read_bytes())["occurrences"]
    assert {item["note"] for item in schools if item["event_id"] == UNCHANGED} == {MARKER}
