"""Recompiling with the previous snapshot, or rendering in a forked child, gives exactly
what compiling from scratch in one process gives."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_DATA

from calendar_service import compiling, ics
from calendar_service.compiling import Catalog, compile_catalog, render_feed
from calendar_service.forked import Forked, can_fork
from calendar_service.loading import load

TODAY = date(2026, 1, 15)
TODAY_UTC = datetime(2026, 1, 15, tzinfo=UTC)  # the feeds' Last-Modified is never older


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


def test_a_named_feed_of_every_event_shares_the_whole_feeds_bytes(data_copy: Path) -> None:
    catalog = snapshot(data_copy)
    whole, every = catalog.everything, catalog.feeds["all"]
    assert every.filter.is_empty
    # Its own header, then the very bytes of the whole feed after the whole feed's header.
    assert len(every.file.parts) == 2 and every.file.parts[1] is whole.parts[1]
    definition = every.definition
    header = ics.feed_header(catalog.settings, definition.title, definition.description)
    rendered = render_feed(header, catalog.timezone, catalog.in_feeds(every.filter), TODAY_UTC)
    assert every.file == replace(rendered, parts=every.file.parts)  # the same Last-Modified
    assert every.file.body == rendered.body and every.file.size == len(rendered.body)
    assert whole.body.startswith(catalog.header.opening) and whole.body != every.file.body
    # A feed of some of the events is its own bytes, in one part.
    assert len(catalog.feeds["schools"].file.parts) == 1


Drawn = list[tuple[bytes, date, date | None]]


def compiled_forking(monkeypatch: pytest.MonkeyPatch, children: list[bool]) -> Catalog:
    """The bundled data compiled with its events drawn (rendered, first and last days) by
    a forked child, whatever the machine's load; `children` gets whether each child sent
    what it drew back."""

    class Watched(Forked[Drawn]):
        def result(self) -> Drawn | None:
            found = super().result()
            children.append(found is not None)
            return found

    monkeypatch.setattr(compiling, "PARALLEL_EVENTS", 1)
    monkeypatch.setattr(compiling, "core_free", lambda: True)
    monkeypatch.setattr(compiling, "Forked", Watched)
    return snapshot(BUNDLED_DATA)


@pytest.mark.skipif(not can_fork(), reason="one core, or threads running")
def test_events_drawn_in_a_child_are_those_drawn_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    children: list[bool] = []
    forked = compiled_forking(monkeypatch, children)
    assert children == [True]
    monkeypatch.setattr(compiling, "core_free", lambda: False)
    here = snapshot(BUNDLED_DATA)
    assert_same(forked, here)
    assert forked.version == here.version and len(forked.events) > 10


@pytest.mark.skipif(not can_fork(), reason="one core, or threads running")
def test_a_failed_child_leaves_the_drawing_to_the_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent, draw = os.getpid(), compiling._drawn

    def fails_in_the_child(*args: Any) -> Drawn:
        if os.getpid() != parent:
            raise RuntimeError("in the child")
        return draw(*args)

    monkeypatch.setattr(compiling, "_drawn", fails_in_the_child)
    children: list[bool] = []
    forked = compiled_forking(monkeypatch, children)
    assert children == [False]
    monkeypatch.undo()
    assert_same(forked, snapshot(BUNDLED_DATA))
