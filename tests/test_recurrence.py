"""Rules asked about any date cheaply, the cost of expanding estimated without expanding, and
catalogs whose expansion would cost too much refused before anything is expanded."""

from __future__ import annotations

import bisect
import importlib
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from calendar_service.compiling import compile_catalog
from calendar_service.loading import DataInvalid, load
from calendar_service.model import EventData
from calendar_service.recurrence import (
    COSTLIEST_SHOWN,
    EXPANSION_BUDGET,
    check_recurrence,
    expansion_cost,
    index_reach,
)
from calendar_service.rules import WEEKDAYS
from calendar_service.series import Series

VALID = FIXTURES / "valid"
TODAY = date(2026, 11, 25)

PROPERTIES = settings(
    deadline=None,
    max_examples=200,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def event_of(start: date | datetime, rule: dict[str, Any], **recurrence: Any) -> EventData:
    return EventData.model_validate(
        {
            "id": "series",
            "title": "Series",
            "category": "event",
            "audiences": ["schools"],
            "start": start.isoformat(),
            "recurrence": {"rule": rule, **recurrence},
        }
    )


@st.composite
def series(draw: st.DrawFn) -> EventData:
    """Any rule the schema accepts that can produce an occurrence, from any start."""
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly", "yearly"]))
    rule: dict[str, Any] = {
        "frequency": frequency,
        "interval": draw(st.sampled_from([1, 1, 2, 3, 5, 7, 13])),
    }
    if draw(st.booleans()):
        rule["by_month"] = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
    if draw(st.booleans()):
        days = st.sampled_from([1, 2, 5, 15, 28, 29, 30, 31, -1, -2])
        rule["by_month_day"] = draw(st.lists(days, min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        codes = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        if frequency in ("monthly", "yearly") and draw(st.booleans()):
            codes = [f"{draw(st.sampled_from([1, 2, 4, 5, -1, -2]))}{code}" for code in codes]
        rule["by_weekday"] = codes
        plain = all(len(code) == 2 for code in codes)
        if frequency == "monthly" and plain and "by_month_day" not in rule and draw(st.booleans()):
            rule["by_set_position"] = [draw(st.sampled_from([1, 2, -1]))]
    first = draw(st.dates(date(1970, 1, 1), date(2150, 12, 31)))
    ending = draw(st.sampled_from(["none", "count", "until"]))
    if ending == "count":
        rule["count"] = draw(st.integers(1, 40))
    elif ending == "until":
        rule["until"] = (first + timedelta(days=draw(st.integers(0, 3000)))).isoformat()
    start: date | datetime = first
    if draw(st.booleans()):
        start = datetime(first.year, first.month, first.day, draw(st.integers(0, 23)), 30)
    try:
        event = event_of(start, rule)
    except ValidationError:
        assume(False)
    assert event.recurrence is not None and event.recurrence.rule is not None
    assume(event.recurrence.rule.unreachable(first) is None)
    return event


def rule_text(event: EventData) -> str | None:
    """The rule as dateutil's rrulestr reads it beside a naive start (the oracle here):
    an all-day UNTIL a DATE, a timed one the local end of its day. The feed's own RRULE
    (ics.rrule_text) has a UTC UNTIL, which a naive start cannot be compared with."""
    recurrence = event.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    parts = []
    for key, value in recurrence.rule.ical().items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}={text}")
    until = recurrence.rule.until
    if until is not None:
        parts.append(f"UNTIL={until:%Y%m%d}" if event.all_day else f"UNTIL={until:%Y%m%d}T235959")
    return ";".join(parts)


def naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


@PROPERTIES
@given(event=series(), offsets=st.lists(st.integers(0, 4 * 366), min_size=1, max_size=8))
def test_series_answers_as_a_walk_from_the_start_does(event: EventData, offsets: list[int]) -> None:
    """Started again near the date asked about, the rule gives what dateutil gives walking
    from DTSTART, as recurring-ical-events reads our RRULE."""
    start = naive(event.start)
    walk = rrulestr(rule_text(event) or "", dtstart=start, cache=True)  # asked many times
    limit = start + timedelta(days=4 * 366 + 400)
    expected = walk.between(start, limit, inc=True)
    given_set = set(expected)
    found = Series(event)

    def kind(value: datetime) -> date | datetime:
        return value if isinstance(event.start, datetime) else value.date()

    probes = [start + timedelta(days=offset) for offset in offsets]
    probes += expected[:: max(1, len(expected) // 60)]
    probes += [value - timedelta(days=1) for value in probes]
    for probe in probes:
        assert found.gives(kind(probe)) == (probe in given_set), probe
        # The walk's next date: the first listed after the probe (the list holds every date
        # from the start to `limit`), asked of the walk only beyond it (walk.after reads its
        # cache from the start each time: a third of this test's CPU).
        position = bisect.bisect_right(expected, probe)
        following = expected[position] if position < len(expected) else walk.after(probe)
        assert found.after(kind(probe)) == (kind(following) if following else None), probe
    middle = start + timedelta(days=offsets[0])
    assert found.between(kind(middle), kind(limit)) == [
        kind(value) for value in expected if value >= middle
    ]


@PROPERTIES
@given(event=series(), years=st.integers(0, 12))
def test_estimated_cost_is_never_below_what_expanding_gives(event: EventData, years: int) -> None:
    start = naive(event.start)
    stop = start.date() + timedelta(days=366 * years)
    walked = rrulestr(rule_text(event) or "", dtstart=start).between(
        start, datetime.combine(stop, datetime.max.time()), inc=True
    )
    assert len(walked) + 1 <= expansion_cost(event, stop)


@pytest.mark.parametrize(
    ("rule", "stop", "cost"),
    [
        ({"frequency": "daily"}, date(2026, 12, 31), 1 + 365),
        ({"frequency": "daily", "count": 10}, date(2040, 1, 1), 1 + 10),
        ({"frequency": "weekly", "by_weekday": ["MO", "WE", "FR"]}, date(2026, 12, 31), 1 + 53 * 3),
        ({"frequency": "monthly", "until": "2026-06-30"}, date(2040, 1, 1), 1 + 6),
        ({"frequency": "yearly", "interval": 2}, date(2035, 12, 31), 1 + 5),
    ],
)
def test_cost_of_a_rule_is_its_periods_times_what_each_gives(
    rule: dict[str, Any], stop: date, cost: int
) -> None:
    assert expansion_cost(event_of(date(2026, 1, 1), rule), stop) == cost


def test_a_far_excluded_date_is_checked_near_itself() -> None:
    """A daily rule from 1970 excluding 2200-12-31 was walked 84,000 days to check it."""
    event = event_of(date(1970, 1, 1), {"frequency": "daily"}, excluded_dates=["2200-12-31"])
    wrong = event_of(
        date(1970, 1, 5), {"frequency": "weekly"}, excluded_dates=["2200-12-31", "2200-12-29"]
    )
    assert check_recurrence(event) == []
    problems = check_recurrence(wrong)
    assert problems == [(("recurrence", "excluded_dates", 0), "2200-12-31 is not an occurrence")]


def test_a_count_rule_is_walked_only_so_far_to_check_the_dates_it_names() -> None:
    """A rule with a count runs from its start; a sparse one (February 29th, counted) would
    be walked for centuries to check a date far away."""
    rule = {"frequency": "daily", "by_month": [2], "by_month_day": [29], "count": 100}
    event = event_of(date(1972, 2, 29), rule, excluded_dates=["2196-02-29"])
    problems = check_recurrence(event)
    assert [path for path, _ in problems] == [("recurrence", "rule", "count")]
    assert "give the rule an until instead of a count" in problems[0][1]
    near = event_of(date(1972, 2, 29), rule, excluded_dates=["1976-02-29"])
    assert check_recurrence(near) == []


def test_an_empty_series_is_found_without_listing_it() -> None:
    """Every occurrence excluded: the first and each excluded one's successor are."""
    rule = {"frequency": "weekly", "until": "2026-01-19"}
    dates = ["2026-01-05", "2026-01-12", "2026-01-19"]
    assert [
        path for path, _ in check_recurrence(event_of(date(2026, 1, 5), rule, excluded_dates=dates))
    ] == [("recurrence",)]
    assert check_recurrence(event_of(date(2026, 1, 5), rule, excluded_dates=dates[:2])) == []
    endless = {"frequency": "weekly"}
    assert check_recurrence(event_of(date(2026, 1, 5), endless, excluded_dates=dates)) == []


# --- Costly catalogs ------------------------------------------------------------------------

DAILY_WITHOUT_END = """\
  - id: daily-{number:03d}
    title: Daily {number}
    category: event
    audiences: [schools]
    start: 2026-01-01T09:00
    end: 2026-01-01T10:00
    recurrence:
      rule:
        frequency: daily
"""
DAILY_SINCE_1970 = """\
  - id: since-1970-{number:03d}
    title: Since 1970 {number}
    category: event
    audiences: [schools]
    start: 1970-01-01
    recurrence:
      rule:
        frequency: daily
      excluded_dates: [2200-12-31]
"""
# The two reproductions of issue 9, item 12: 22.6 s and 696 MB to start; 35.7 s to validate.
COSTLY = {
    "500-daily-without-end": (DAILY_WITHOUT_END, 500),
    "100-daily-from-1970": (DAILY_SINCE_1970, 100),
}


def write_catalog(tmp_path: Path, template: str, number: int) -> Path:
    root = tmp_path / "data"
    shutil.copytree(VALID, root)
    events = "".join(template.format(number=index) for index in range(number))
    if events:
        (root / "events" / "costly.yaml").write_text("events:\n" + events)
    return root


def cost_of_one(tmp_path: Path, template: str) -> int:
    """The cost of one event of a template, and of the fixture's own events, as loaded."""
    loaded = load(write_catalog(tmp_path, template, 1), today=TODAY).events
    return sum(expansion_cost(event.data, index_reach(TODAY)) for event in loaded)


@pytest.mark.parametrize("name", list(COSTLY))
def test_a_costly_catalog_is_refused_fast_naming_its_costliest_events(
    name: str, tmp_path: Path
) -> None:
    template, number = COSTLY[name]
    fixture = cost_of_one(tmp_path / "none", "")
    single = cost_of_one(tmp_path / "one", template) - fixture
    root = write_catalog(tmp_path, template, number)
    with pytest.raises(DataInvalid) as refused:
        load(root, today=TODAY)
    errors = refused.value.errors
    assert len(errors) == COSTLIEST_SHOWN
    lines = template.count("\n")
    for position, error in enumerate(errors):
        assert (error.file, error.field) == ("events/costly.yaml", f"events[{position}]")
        assert error.line == 2 + position * lines
        assert f"walks about {single:,} occurrences" in error.message
        assert f"need {single * number + fixture:,} together" in error.message
        assert f"more than the {EXPANSION_BUDGET:,} allowed" in error.message


def test_the_benchmark_catalog_is_well_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/generate.py's 10,000 events (the benchmark's data) load with room to spare."""
    monkeypatch.syspath_prepend(str(ROOT))
    generate = importlib.import_module("benchmarks.generate")
    made = generate.events(10_000, generate.DEFAULT_SEED, TODAY)
    generated = [EventData.model_validate(item) for item in made]
    total = sum(expansion_cost(event, index_reach(TODAY)) for event in generated)
    assert total < EXPANSION_BUDGET / 4, total


# Compiling at the budget is shown at a tenth of it: what a daily series adds to the estimate
# and to the index does not depend on the budget, and at the real one the test compiled
# 200,000 occurrences (3 s of CPU) to show the same.
SMALL_BUDGET = EXPANSION_BUDGET // 10


def test_at_the_budget_compiling_stays_bounded(tmp_path: Path) -> None:
    """Just under the budget, daily series with no end load and compile, their index no
    bigger than the budget; one more is refused, naming the budget."""
    single = cost_of_one(tmp_path / "one", DAILY_WITHOUT_END) - cost_of_one(tmp_path / "none", "")
    number = (SMALL_BUDGET - 100) // single
    at = write_catalog(tmp_path / "at", DAILY_WITHOUT_END, number)
    loaded = load(at, today=TODAY, expansion_budget=SMALL_BUDGET)
    catalog = compile_catalog(loaded, today=TODAY)
    assert SMALL_BUDGET / 2 < len(catalog.index.occurrences) <= SMALL_BUDGET
    over = write_catalog(tmp_path / "over", DAILY_WITHOUT_END, number + 1)
    with pytest.raises(DataInvalid) as refused:
        load(over, today=TODAY, expansion_budget=SMALL_BUDGET)
    assert f"more than the {SMALL_BUDGET:,} allowed" in refused.value.errors[0].message
