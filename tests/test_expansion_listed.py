"""Each rule is expanded once between loading and compiling (series.Expansion): listed over
a window, it answers every question as its Series does, inside the window or not, and a
catalog compiled from the lists is the one compiled without them."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from conftest import DATASETS
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st
from test_recurrence import PROPERTIES, naive, rule_text, series

from calendar_service import series as series_module
from calendar_service.compiling import compile_catalog, last_end
from calendar_service.loading import LoadedData, load
from calendar_service.model import EventData
from calendar_service.recurrence import index_reach
from calendar_service.series import Expansion, Series

TODAY = date(2026, 11, 25)
BASE_URL = "https://calendar.example.org"
DAY = timedelta(days=1)


@st.composite
def moments(draw: st.DrawFn, near: list[datetime]) -> datetime:
    """A moment at, or some hours or days from, one of `near` (the window's edges, the
    start): where a list and a walk could part."""
    anchor = draw(st.sampled_from(near))
    return anchor + timedelta(hours=draw(st.integers(-24 * 400, 24 * 400)))


@PROPERTIES
@given(event=series(), data=st.data())
def test_a_listed_rule_answers_as_its_series_does(event: EventData, data: st.DataObject) -> None:
    start = naive(event.start)
    first = data.draw(moments([start]))
    last = first + timedelta(days=data.draw(st.integers(-3, 3 * 366)))
    listed, walked = Expansion(Series(event), first, last), Series(event)
    edges = [start, first, last]
    for _ in range(6):
        begin = data.draw(moments(edges))
        end = begin + timedelta(hours=data.draw(st.integers(0, 24 * 500)))
        assert listed.between(begin, end) == walked.between(begin, end), (begin, end)
        assert listed.gives(begin) == walked.gives(begin), begin
        found = walked.between(start, end)
        assert listed.latest(end) == (found[-1] if found else None), end
        for inclusive in (False, True):
            expected = walked.after(begin, inclusive=inclusive)
            assert listed.after(begin, inclusive=inclusive) == expected, (begin, inclusive)
    for value in walked.between(first - 40 * DAY, last + 40 * DAY)[:50]:
        assert listed.gives(value)
        assert listed.after(value, inclusive=True) == value


@PROPERTIES
@given(event=series(), data=st.data())
def test_a_rule_listed_by_date_arithmetic_gives_what_dateutil_walks(
    event: EventData, data: st.DataObject
) -> None:
    """Series lists rules without ordinal weekdays or set positions itself: in any window,
    far from the start or across it, the dates dateutil gives walking from the start."""
    start = naive(event.start)
    walk = rrulestr(rule_text(event) or "", dtstart=start, cache=True)
    found = Series(event)
    for _ in range(4):
        begin = data.draw(moments([start, start + timedelta(days=3 * 366)]))
        end = begin + timedelta(hours=data.draw(st.integers(0, 24 * 800)))
        assert found.naive_between(begin, end) == walk.between(begin, end, inc=True), (begin, end)


def _unlisted(loaded: LoadedData) -> LoadedData:
    """The same data with no event's rule listed: compiling asks each Series instead."""
    return dataclasses.replace(loaded, expansions={})


DATASET_NAMES = [
    "partnership-2026",
    "term-time-programmes",
    "series-until-in-summer",
    "provenance-shown",
]


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_compiling_from_listed_rules_gives_the_same_catalog(name: str) -> None:
    loaded = load(DATASETS / name, today=TODAY)
    assert loaded.expansions
    listed = compile_catalog(loaded, base_url=BASE_URL, today=TODAY)
    walked = compile_catalog(_unlisted(loaded), base_url=BASE_URL, today=TODAY)
    assert listed.index == walked.index
    assert listed.events == walked.events
    assert listed.everything == walked.everything
    reach = index_reach(TODAY)
    for event in loaded.events:
        assert last_end(event, reach, loaded.expansions.get(event.id)) == last_end(event, reach)


def test_a_compile_a_day_later_uses_the_lists_and_agrees() -> None:
    """The window has slack: compiling the next day (as after midnight UTC, before the
    calendar's own day turns) still reads the lists, and gives what the walks give."""
    loaded = load(DATASETS / "partnership-2026", today=TODAY)
    later = TODAY + DAY
    listed = compile_catalog(loaded, base_url=BASE_URL, today=later)
    walked = compile_catalog(_unlisted(loaded), base_url=BASE_URL, today=later)
    assert (listed.index, listed.events) == (walked.index, walked.events)


def test_loading_and_compiling_expand_each_rule_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each recurring event's rule is built into a dateutil Series once from loading to the
    compiled index (its skip, if any, walks it once more to find the days skipped), where
    the checks, provenance, clock changes, index and last end each built their own."""
    built: list[EventData] = []
    original = Series.__init__

    def counting(self: Series, event: EventData) -> None:
        built.append(event)
        original(self, event)

    monkeypatch.setattr(series_module.Series, "__init__", counting)
    folder: Path = DATASETS / "term-time-programmes"
    loaded = load(folder, today=TODAY)
    compile_catalog(loaded, base_url=BASE_URL, today=TODAY)
    recurring = [
        event.data
        for event in loaded.events
        if event.data.recurrence is not None and event.data.recurrence.rule is not None
    ]
    skipping = [event for event in recurring if event.recurrence and event.recurrence.skip]
    assert recurring
    assert len(built) <= len(recurring) + len(skipping)
    assert {event.id for event in built} == {event.id for event in recurring}


def test_a_window_far_from_the_start_lists_only_the_window() -> None:
    """A daily rule from 1990 is listed over the window only, not walked from its start."""
    event = EventData.model_validate(
        {
            "id": "daily",
            "title": "Daily",
            "category": "event",
            "audiences": ["schools"],
            "start": "1990-01-01",
            "recurrence": {"rule": {"frequency": "daily"}},
        }
    )
    first = datetime.combine(TODAY, time())
    listed = Expansion(Series(event), first, first + 9 * DAY)
    assert listed.between(first, first + 9 * DAY) == [TODAY + n * DAY for n in range(10)]
    assert listed.latest(first - DAY) == TODAY - DAY  # before the window: asked of the Series
