"""Recompiling with the previous snapshot, or rendering in a forked child, gives exactly
what compiling from scratch in one process gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from compiling_support import assert_same, snapshot

from calendar_service import ics
from calendar_service.feed_files import render_feed
from calendar_service.forked import cores

TODAY_UTC = datetime(2026, 1, 15, tzinfo=UTC)  # the feeds' Last-Modified is never older


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


@pytest.mark.skipif(not hasattr(os, "fork") or cores() < 2, reason="no fork, or one core")
def test_events_drawn_in_a_child_are_those_drawn_here() -> None:
    """In a process of its own (compiling_support.py says why), the snapshot compiled with
    a child drawing the events, and with a child that fails, is the one compiled alone."""
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("compiling_support.py"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"drawn": [True], "failed": [False]}
