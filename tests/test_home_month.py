"""Past dates stay findable: `/?month=YYYY-MM` lists a month's occurrences, past or future.

The frozen dataset on 2026-11-25; the month's events are compared with the JSON API's
occurrences for the same days and filter.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import BUNDLED_DATA, InProcess, in_process

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def site() -> InProcess:
    return in_process(BUNDLED_DATA, today=TODAY)


def _events_listed(html: str) -> set[str]:
    results = html[html.index('class="results"') :]
    return set(re.findall(r'href="[^"]*/events/([a-z0-9-]+)"', results))


def _events_starting_in(site: InProcess, month: str, last: int, query: str = "") -> set[str]:
    found = site.get(f"/api/occurrences?{query}from={month}-01&to={month}-{last}&limit=500").json()
    return {o["event_id"] for o in found["occurrences"] if o["start"][:7] == month}


@pytest.fixture(scope="module")
def later_site() -> InProcess:
    """Served in 2027: February 2025 lies before its index (expanded on demand)."""
    return in_process(BUNDLED_DATA, today=date(2027, 6, 1))


@pytest.mark.parametrize(
    ("month", "last", "query", "later"),
    [
        ("2025-02", 28, "", False),  # past, inside the precomputed index
        ("2025-02", 28, "", True),  # past, before the index
        ("2025-02", 28, "audience=practitioners&", False),
        ("2027-02", 28, "", False),  # ahead
    ],
)
def test_a_month_lists_the_occurrences_starting_in_it_as_the_api_does(
    site: InProcess, later_site: InProcess, month: str, last: int, query: str, later: bool
) -> None:
    if later:
        site = later_site
    response = site.get(f"/?{query}month={month}")
    assert response.status_code == 200
    expected = _events_starting_in(site, month, last, query)
    assert expected, "the dataset has dates in this month"
    assert _events_listed(response.text) == expected


def test_a_month_links_to_the_months_beside_it_and_back_to_upcoming(site: InProcess) -> None:
    html = site.get("/?audience=schools&month=2025-01").text
    assert 'href="/?audience=schools&amp;month=2024-12" rel="prev"' in html
    assert 'href="/?audience=schools&amp;month=2025-02" rel="next"' in html
    assert 'href="/?audience=schools">Upcoming dates' in html


def test_the_default_view_links_to_last_month(site: InProcess) -> None:
    assert 'href="/?month=2026-10" rel="prev"' in site.get("/").text


def test_a_month_without_dates_says_which_month_it_is(site: InProcess) -> None:
    html = site.get("/?month=2019-07").text
    assert "<h2>July 2019</h2>" in html
    assert _events_listed(html) == set()


def test_month_comes_after_the_filter_in_the_canonical_url(site: InProcess) -> None:
    response = site.get("/?month=2025-02&audience=schools")
    assert str(response.url).endswith("/?audience=schools&month=2025-02")


@pytest.mark.parametrize(
    "month", ["2025-13", "2025-1", "2025-02-01", "feb", "1800-01", "2016-10", "2036-12"]
)
def test_a_bad_or_out_of_range_month_is_refused_naming_the_parameter(
    site: InProcess, month: str
) -> None:
    response = site.get(f"/?month={month}")
    assert 400 <= response.status_code < 500, month
    assert "month" in response.text


def test_a_one_off_event_long_past_stays_findable_though_the_feeds_drop_it(
    later_site: InProcess,
) -> None:
    """Served in June 2027, the deadline of 1 March 2025 is more than `past_days` (366) ago:
    the feeds leave it out, the month's page and the API still find it."""
    assert "kindness-challenge-deadline" not in later_site.get("/calendar.ics").text
    assert "kindness-challenge-deadline" in _events_starting_in(later_site, "2025-03", 31)
    assert "kindness-challenge-deadline" in _events_listed(later_site.get("/?month=2025-03").text)
    listed = later_site.get("/api/events?limit=500").json()["events"]
    assert "kindness-challenge-deadline" in {event["id"] for event in listed}
