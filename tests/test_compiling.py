"""Recompiling with the previous snapshot gives exactly what compiling from scratch gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load

TODAY = date(2026, 1, 15)


def snapshot(data: Path, previous: Catalog | None = None, today: date = TODAY) -> Catalog:
    return compile_catalog(load(data, today=today), today=today, previous=previous)


def assert_same(reused: Catalog, scratch: Catalog) -> None:
    assert list(reused.events) == list(scratch.events)
    for event_id, entry in scratch.events.items():
        assert reused.events[event_id] == entry, event_id
    assert reused.index.occurrences == scratch.index.occurrences
    assert reused.index.by_event == scratch.index.by_event
    # The sort keys and end instants a reload takes over from the previous index.
    assert reused.index.keys == scratch.index.keys
    assert reused.index.ends == scratch.index.ends
    assert reused.index.longest == scratch.index.longest
    assert reused.everything.body == scratch.everything.body
    for name, feed in scratch.feeds.items():
        assert reused.feeds[name].file.body == feed.file.body, name


def edit(data: Path, old: str, new: str) -> None:
    for path in (data / "events").glob("*.yaml"):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new, 1))
            return
    raise AssertionError(f"{old!r} is in no events file")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("title: Time to Talk Day", "title: Time to Talk Day (edited)"),
        ('by_weekday: ["1MO"]', 'by_weekday: ["1MO"]\n        count: 3'),
        ("start: 2025-03-01", "start: 2025-03-02"),
    ],
)
def test_recompiling_after_an_edit_equals_compiling_from_scratch(
    data_copy: Path, old: str, new: str
) -> None:
    before = snapshot(data_copy)
    edit(data_copy, old, new)
    assert_same(snapshot(data_copy, previous=before), snapshot(data_copy))


def test_an_unchanged_event_keeps_its_rendered_parts(data_copy: Path) -> None:
    before = snapshot(data_copy)
    edit(data_copy, "title: Time to Talk Day", "title: Time to Talk Day (edited)")
    after = snapshot(data_copy, previous=before)
    untouched = "kindness-challenge-deadline"
    assert after.events[untouched].vevents is before.events[untouched].vevents
    assert after.events["time-to-talk-day"].vevents != before.events["time-to-talk-day"].vevents


def test_a_new_day_or_new_settings_compile_everything_again(data_copy: Path) -> None:
    before = snapshot(data_copy)
    later = snapshot(data_copy, previous=before, today=date(2026, 1, 16))
    assert later.events["time-to-talk-day"].vevents is not before.events["time-to-talk-day"].vevents
    assert_same(later, snapshot(data_copy, today=date(2026, 1, 16)))
