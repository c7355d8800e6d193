"""The bundled calendar (data/) is alive on any day: enough dates ahead, every one sourced.

Its subject is the bundled data, so it reads data/, not the frozen dataset. The catalog is
compiled once, on 2026-01-01 (its index reaches into 2031), and occurrences are counted per
window from it; a few sample days check, through the in-process client on that day, that the
home page's default view and the schools feed show exactly what is counted here.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import recurring_ical_events
from conftest import IN_PROCESS_URL, ROOT, in_process
from icalendar import Calendar

from calendar_service import agenda
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.model import Occurrence, Status
from calendar_service.query import Filter
from calendar_service.search import Window, matching_occurrences
from calendar_service.web.views import HOME_ITEMS, UPCOMING_DAYS

DATA = ROOT / "data"
COMPILED_ON = date(2026, 1, 1)
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2028, 12, 31)
AHEAD = 90  # days, today included
AT_LEAST_AHEAD = 8
AT_LEAST_A_MONTH = 3
# The day the data was last reviewed: every confirmed date from here on has a source.
ISSUE_DAY = date(2026, 11, 26)
SAMPLE_DAYS = [date(2026, 1, 1), date(2026, 7, 20), date(2027, 8, 9), date(2028, 12, 31)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    # data/ names no base URL (links follow the address served): give the one tests use.
    return compile_catalog(
        load(DATA, today=COMPILED_ON), today=COMPILED_ON, base_url=IN_PROCESS_URL
    )


def _days() -> list[date]:
    return [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]


def _ahead(day: date) -> Window:
    return Window(day, day + timedelta(days=AHEAD - 1))


def home_count(catalog: Catalog, day: date) -> int:
    """What the home page's default view lists for the next AHEAD days, served on `day`:
    its first HOME_ITEMS of UPCOMING_DAYS (views.upcoming, without recompiling)."""
    shown = matching_occurrences(
        catalog, Filter(), Window(day, day + timedelta(days=UPCOMING_DAYS))
    )[:HOME_ITEMS]
    last = _ahead(day).last
    return sum(1 for item in shown if agenda.first_day(item) <= last)


def schools_count(catalog: Catalog, day: date) -> int:
    """Occurrences of the named feed `schools` in the next AHEAD days."""
    return len(matching_occurrences(catalog, catalog.feeds["schools"].filter, _ahead(day)))


def test_every_day_of_2026_to_2028_has_enough_dates_in_the_next_90_days(catalog: Catalog) -> None:
    counts = [(day, home_count(catalog, day), schools_count(catalog, day)) for day in _days()]
    thin = [item for item in counts if min(item[1:]) < AT_LEAST_AHEAD]
    assert not thin, (
        f"{len(thin)} days with fewer than {AT_LEAST_AHEAD} ahead (day, home, schools): {thin[:5]}"
    )


def test_every_month_of_2026_and_2027_has_at_least_three_dates(catalog: Catalog) -> None:
    thin = {}
    for year in (2026, 2027):
        for month in range(1, 13):
            first = date(year, month, 1)
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            found = matching_occurrences(catalog, Filter(), Window(first, last))
            starting = [item for item in found if agenda.first_day(item) >= first]
            if len(starting) < AT_LEAST_A_MONTH:
                thin[f"{first:%Y-%m}"] = len(starting)
    assert not thin, f"months with fewer than {AT_LEAST_A_MONTH} dates: {thin}"


def _home_page_count(html: str, day: date) -> int:
    """Items on the home page (its results) starting within AHEAD days of `day`."""
    results = html[html.index('class="results"') :]
    starts = re.findall(
        r'<li class="event [^"]*">\s*<h\d[^>]*>.*?<time datetime="([^"]+)"', results, re.S
    )
    last = _ahead(day).last
    return sum(1 for start in starts if date.fromisoformat(start[:10]) <= last)


def _feed_count(body: bytes, day: date) -> int:
    window = _ahead(day)
    calendar = Calendar.from_ical(body)
    return len(recurring_ical_events.of(calendar).between(window.first, window.last + timedelta(1)))


@pytest.mark.parametrize("day", SAMPLE_DAYS, ids=str)
def test_home_page_and_schools_feed_show_what_is_counted(catalog: Catalog, day: date) -> None:
    served = in_process(DATA, today=day, base_url=IN_PROCESS_URL)
    assert _home_page_count(served.get("/").text, day) == home_count(catalog, day)
    feed = served.get("/feeds/schools.ics")
    assert feed.status_code == 200
    assert _feed_count(feed.content, day) == schools_count(catalog, day)


def test_every_confirmed_date_from_the_issue_day_on_has_a_source(catalog: Catalog) -> None:
    index = catalog.index
    unsourced: list[Occurrence] = [
        item
        for item in matching_occurrences(
            catalog, Filter(), Window(ISSUE_DAY, (index.end - timedelta(days=1)).date())
        )
        if item.status == Status.CONFIRMED
        and agenda.first_day(item) >= ISSUE_DAY
        and not (item.source or catalog.events[item.event_id].event.data.source)
    ]
    named = sorted({f"{item.event_id} {agenda.first_day(item)}" for item in unsourced})
    assert not named, f"{len(named)} confirmed dates without a source: {named[:10]}"


def test_validate_strict_passes_on_the_issue_day() -> None:
    """No unstamped change, no unsourced confirmed date ahead, nothing provisional soon."""
    assert load(DATA, today=ISSUE_DAY).warnings == ()
