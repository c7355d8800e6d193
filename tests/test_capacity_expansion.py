"""Queries beyond the occurrence index: the same answers as direct expansion, and bounded cost."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from capacity_support import api, assert_error, daily_events, get
from capacity_support import daily as daily
from conftest import BUNDLED_DATA
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from index_support import LONDON, TODAY, compiled, happens_once_in_london, keys

from calendar_service import index
from calendar_service.compiling import Catalog
from calendar_service.expansion import (
    MAX_EXPANDED_OCCURRENCES,
    MAX_EXPANSION_STEPS,
    SERIES_STEPS,
    estimate,
    timing_only,
)
from calendar_service.local_times import rule_clock_problems
from calendar_service.model import EventData
from calendar_service.query import Filter
from calendar_service.recurrence import index_reach
from calendar_service.reloading import LiveCatalog
from calendar_service.search import Window, occurrences_in
from calendar_service.settings import ServiceSettings

# One xdist worker runs the module (make unit: --dist loadgroup):
# its servers and catalogs made once.
pytestmark = pytest.mark.xdist_group("capacity")


# --- The same answers: index inside, expansion outside -------------------------------------------


def index_edges() -> tuple[date, date]:
    with tempfile.TemporaryDirectory() as folder:
        built = compiled(
            [{"id": "one", "title": "One", "summary": "s", "description": "d",
              "category": "deadline", "audiences": ["schools"], "start": str(TODAY)}],
            Path(folder),
        ).index  # fmt: skip
    return built.start.date(), built.end.date()


EDGES = index_edges()


@st.composite
def edge_event(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """An event near an edge of the index: one-off, a span, timed, or a series across it."""
    edge = draw(st.sampled_from(EDGES))
    day = edge + timedelta(days=draw(st.integers(-400, 40)))
    day = day.replace(day=min(day.day, 28))
    event: dict[str, Any] = {
        "id": f"event-{number}",
        "title": f"Event {number}",
        "summary": "s",
        "description": "d " * draw(st.integers(1, 40)),  # folded lines the worker skips
        "category": "deadline",
        "audiences": ["schools"],
        "tags": draw(st.lists(st.sampled_from(["a", "b"]), max_size=1)),
    }
    kind = draw(st.sampled_from(["day", "span", "timed", "overnight"]))
    start: date | datetime = day
    end: date | datetime | None = None
    if kind == "span":
        end = day + timedelta(days=draw(st.integers(1, 20)))
    elif kind != "day":
        start = datetime.combine(day, clock(23, 30) if kind == "overnight" else clock(10))
        end = start + timedelta(hours=3 if kind == "overnight" else 1)
        assume(happens_once_in_london(start) and happens_once_in_london(end))
    event["start"] = (
        start.isoformat(timespec="minutes") if isinstance(start, datetime) else str(start)
    )
    if end is not None:
        event["end"] = end.isoformat(timespec="minutes") if isinstance(end, datetime) else str(end)
    rule = draw(st.sampled_from([None, "weekly", "yearly", "endless"]))
    if rule == "weekly":
        event["recurrence"] = {"rule": {"frequency": "weekly", "count": draw(st.integers(2, 30))}}
    elif rule == "yearly":
        event["recurrence"] = {"rule": {"frequency": "yearly", "count": draw(st.integers(2, 6))}}
    elif rule == "endless":
        event["recurrence"] = {"rule": {"frequency": "yearly"}}
    if rule is not None and isinstance(start, datetime):
        # The loader refuses a series with an occurrence across a change of the clocks (an
        # overnight one meets one some years): such data is no case here.
        data = EventData.model_validate(event)
        assume(not list(rule_clock_problems(data, LONDON, index_reach(TODAY))))
    return event


@st.composite
def edge_calendars(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(edge_event(number)) for number in range(draw(st.integers(1, 6)))]


@settings(deadline=None, max_examples=25, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(events=edge_calendars(), data=st.data())
def test_windows_across_and_beyond_the_index_equal_direct_expansion(
    events: list[dict[str, Any]], data: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = compiled(events, Path(folder))
    first_edge, last_edge = EDGES
    suffix = "@" + catalog.identity.uid_domain
    calendar = catalog.calendar  # built on each use: once for both windows
    for edge in (first_edge, last_edge):
        first = edge - timedelta(days=data.draw(st.integers(-30, 400)))
        last = first + timedelta(days=data.draw(st.integers(0, 500)))
        window = Window(first, last)
        start, end = window.bounds(catalog)
        expected = index.expand(calendar, start, end, LONDON, suffix, catalog.facts)
        got = occurrences_in(catalog, Filter(), window)
        assert keys(got) == keys(expected), (first, last)
        assert got == expected
        tagged = occurrences_in(catalog, Filter(tag=("a",)), window)
        wanted = {e["id"] for e in events if "a" in e["tags"]}
        assert [o for o in got if o.event_id in wanted] == [
            o for o in tagged if o.event_id in wanted
        ]


def test_the_worker_reads_only_what_places_events_in_time() -> None:
    catalog = LiveCatalog.open(ServiceSettings(data_dir=BUNDLED_DATA, watch=False)).current
    feed = catalog.everything.body
    timing = timing_only(feed)
    assert len(timing) < len(feed) / 2
    assert b"DESCRIPTION" not in timing and b"SUMMARY" not in timing
    assert timing.count(b"BEGIN:VEVENT") == feed.count(b"BEGIN:VEVENT")
    assert b"TZOFFSETFROM" in timing  # the time zone stays whole


def test_estimate_bounds_what_expansion_produces(daily: Catalog) -> None:
    first, last = EDGES[1], EDGES[1] + timedelta(days=99)
    entries = list(daily.events.values())
    cost = estimate(entries, first, last)
    window = Window(first, last)
    start, end = window.bounds(daily)
    produced = index.expand(
        daily.calendar, start, end, LONDON, "@" + daily.identity.uid_domain, daily.facts
    )
    assert cost.series == 30
    assert len(produced) <= cost.occurrences <= len(produced) + 2 * cost.series
    stepped = (last - TODAY).days + 1  # each series steps from its start to the window's end
    assert cost.steps >= 30 * (SERIES_STEPS + stepped)


@pytest.fixture(scope="module")
def daily_api(tmp_path_factory: pytest.TempPathFactory) -> httpx.AsyncClient:
    """The application over the bundled data and thirty endless daily series."""
    folder = tmp_path_factory.mktemp("daily-data")
    shutil.copytree(BUNDLED_DATA, folder / "data")
    events = daily_events(30, date.today())
    document = yaml.safe_dump({"events": events}, sort_keys=False)
    (folder / "data" / "events" / "daily.yaml").write_text(document, encoding="utf-8")
    return api(folder / "data")


@pytest.mark.parametrize("route", ["/api/occurrences", "/api/facets"])
@pytest.mark.parametrize(
    ("query", "status", "parameter"),
    [
        ("", 422, "to"),  # thirty series, five years of days each: over the budget
        ("&category=deadline", 422, "to"),  # a filter that keeps them all
        ("&status=cancelled", 422, "to"),  # status is per occurrence: all are expanded
        ("&tag=t3", 200, None),  # one series: within it
        ("&tag=t3&tag=t4", 200, None),  # two
        ("&audience=parents-carers", 200, None),  # none of them
    ],
)
def test_costly_expansion_is_refused_naming_the_window_edge(
    daily_api: httpx.AsyncClient, route: str, query: str, status: int, parameter: str | None
) -> None:
    client = daily_api
    today = date.today()
    first = today + timedelta(days=5 * 366 + 1)  # beyond the index
    last = first + timedelta(days=5 * 365)
    path = f"{route}?from={first}&to={last}{query}"
    canonical = get(client, path)
    if canonical.status_code == 301:
        canonical = get(client, canonical.headers["location"])
    if status == 200:
        assert canonical.status_code == 200, canonical.text[:300]
        return
    error = assert_error(canonical, status)
    assert error["parameter"] == parameter
    assert f"{MAX_EXPANSION_STEPS:,}" in error["message"]
    assert f"{MAX_EXPANDED_OCCURRENCES:,}" in error["message"]
    assert "narrow the filter" in error["message"]
    indexed = error["allowed"][0]
    # The same filter inside the precomputed range is served.
    inside_last = date.fromisoformat(indexed.split("..")[1])
    inside = get(client, f"{route}?from={inside_last - timedelta(days=30)}"
                         f"&to={inside_last}{query}")  # fmt: skip
    if inside.status_code == 301:
        inside = get(client, inside.headers["location"])
    assert inside.status_code == 200
