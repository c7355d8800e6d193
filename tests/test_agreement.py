"""The ICS feed of a filter and the JSON API of the same filter list the same occurrences:
expanded by recurring-ical-events (what the service itself uses) and, independently, by
the `ical` package; around the changes of the clocks too, start and end."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from conftest import FIXTURES, IN_PROCESS_URL, ROOT, InProcess, in_process
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

LONDON = ZoneInfo("Europe/London")

FILTERS = {
    "everything": [],
    "schools": [("audience", "schools")],
    "parents-or-practitioners": [("audience", "parents-carers"), ("audience", "practitioners")],
    "awareness": [("category", "awareness-day"), ("category", "awareness-week")],
    "programmes-first-1001-days": [("category", "programme"), ("theme", "first-1001-days")],
    "kindness-text": [("q", "KINDNÉSS")],
    "tags": [("tag", "kindness"), ("tag", "young-parents")],
    "in-person": [("online", "false")],
    "mental-health-for-young-people": [
        ("theme", "mental-health-wellbeing"),
        ("audience", "young-people"),
    ],
}
WINDOWS = {
    "february-2026": (date(2026, 2, 1), date(2026, 2, 28)),
    "2026": (date(2026, 1, 1), date(2026, 12, 31)),
    "2027": (date(2027, 1, 1), date(2027, 12, 31)),
}

Key = tuple[str, str]


def api_starts(items: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    """The API's occurrences as (event id, start instant), sorted, as the parsers give them."""
    return sorted(
        (
            item["event_id"],
            instant(
                datetime.fromisoformat(item["start"])
                if "T" in item["start"]
                else date.fromisoformat(item["start"])
            ),
        )
        for item in items
    )


def feed(client: InProcess, params: list[tuple[str, str]]) -> str:
    response = client.get("/calendar.ics", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return response.text


def api_occurrences(
    client: InProcess, params: list[tuple[str, str]], first: date, last: date
) -> list[dict[str, Any]]:
    query = [*params, ("from", first.isoformat()), ("to", last.isoformat()), ("limit", "500")]
    response = client.get("/api/occurrences", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["occurrences"]
    return items


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The API's window: local midnight of `from` to local midnight after `to`."""
    return (
        datetime.combine(first, time(), LONDON),
        datetime.combine(last + timedelta(days=1), time(), LONDON),
    )


def iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value.astimezone(LONDON).isoformat()
    return value.isoformat()


def api_keys(items: list[dict[str, Any]]) -> list[Key]:
    return sorted((item["event_id"], item["start"]) for item in items)


@pytest.mark.parametrize("window", list(WINDOWS), ids=list(WINDOWS))
@pytest.mark.parametrize("name", list(FILTERS), ids=list(FILTERS))
def test_feed_and_json_agree_occurrence_for_occurrence(
    client: InProcess, name: str, window: str
) -> None:
    params = FILTERS[name]
    first, last = WINDOWS[window]
    calendar = Calendar.from_ical(feed(client, params))
    expanded = recurring_ical_events.of(calendar).between(*bounds(first, last))
    from_feed = sorted(
        (str(item["UID"]).split("@", 1)[0], iso(item["DTSTART"].dt)) for item in expanded
    )
    items = api_occurrences(client, params, first, last)
    assert from_feed == api_keys(items)
    # Status and end agree too, not only the start.
    by_key = {(str(c["UID"]).split("@", 1)[0], iso(c["DTSTART"].dt)): c for c in expanded}
    statuses = {"CONFIRMED": "confirmed", "TENTATIVE": "provisional", "CANCELLED": "cancelled"}
    for item in items:
        component = by_key[(item["event_id"], item["start"])]
        assert statuses[str(component.get("STATUS", "CONFIRMED"))] == item["status"]
        assert iso(component["DTEND"].dt) == item["end"]
        assert str(component["SUMMARY"]) == item["title"]


def test_the_comparison_has_something_to_compare(client: InProcess) -> None:
    """Guards the test above against agreeing on nothing."""
    first, last = WINDOWS["2026"]
    items = api_occurrences(client, [], first, last)
    assert {item["all_day"] for item in items} == {True, False}
    assert any(item["status"] == "provisional" for item in items)
    schools = api_occurrences(client, FILTERS["schools"], *WINDOWS["february-2026"])
    assert len(schools) == 3
    assert len(api_occurrences(client, FILTERS["everything"], *WINDOWS["2027"])) >= 3


def instant(value: date | datetime) -> str:
    """A start as an instant: UTC for timed, local midnight (in UTC) for all-day."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.combine(value, time(), LONDON).astimezone(UTC).isoformat()


@pytest.mark.parametrize("name", ["everything", "schools", "tags", "in-person"])
def test_ical_package_expands_the_feed_to_the_api_occurrences_of_2026(
    client: InProcess, name: str
) -> None:
    params = FILTERS[name]
    text = feed(client, params)
    calendar = IcsCalendarStream.calendar_from_ics(text)
    found = calendar.timeline_tz(LONDON).overlapping(date(2026, 1, 1), date(2027, 1, 1))
    from_ical = sorted((str(item.uid).split("@", 1)[0], instant(item.dtstart)) for item in found)
    items = api_occurrences(client, params, date(2026, 1, 1), date(2026, 12, 31))
    from_api = api_starts(items)
    assert from_api
    assert from_ical == from_api


# --- Around the changes of the clocks ------------------------------------------------------------

# Series the loader accepts near the changes: each occurrence starts at a time that happens
# once and lasts as long by the clock as in fact, or is moved or excluded by the editor.
CLOCK_CHANGE_EVENTS = """\
events:
  - id: night-slot-moved
    title: Night slot, change days moved
    category: event
    audiences: [schools]
    start: 2026-10-18T01:30
    end: 2026-10-18T02:15
    recurrence:
      rule: {frequency: weekly, until: 2027-04-04}
    overrides:
      - {occurrence: 2026-10-25T01:30, start: 2026-10-25T02:30, end: 2026-10-25T03:15}
      - {occurrence: 2027-03-28T01:30, start: 2027-03-28T00:15, end: 2027-03-28T00:45}
  - id: night-slot-excluded
    title: Night slot, change days excluded
    category: event
    audiences: [schools]
    start: 2026-10-18T01:30
    end: 2026-10-18T02:15
    recurrence:
      rule: {frequency: weekly, until: 2027-04-04}
      excluded_dates: [2026-10-25T01:30, 2027-03-28T01:30]
  - id: ends-inside-the-hour
    title: Ends inside the changed hour
    category: event
    audiences: [schools]
    start: 2026-10-18T00:30
    end: 2026-10-18T01:30
    recurrence:
      rule: {frequency: weekly}
  - id: after-the-gap
    title: Just after the skipped hour
    category: event
    audiences: [schools]
    start: 2027-03-20T02:00
    end: 2027-03-20T02:45
    recurrence:
      rule: {frequency: daily, until: 2027-04-04}
  - id: saturday-late
    title: Saturday late
    category: event
    audiences: [schools]
    start: 2026-10-17T22:00
    end: 2026-10-18T00:45
    recurrence:
      rule: {frequency: weekly}
  - id: one-night-across
    title: One night across the change
    category: event
    audiences: [schools]
    start: 2026-10-24T22:00
    end: 2026-10-25T04:00
"""
# Index windows, and windows beyond it (expanded on demand) around later changes.
CLOCK_CHANGE_WINDOWS = {
    "autumn-2026": (date(2026, 10, 17), date(2026, 11, 1)),
    "spring-2027": (date(2027, 3, 20), date(2027, 4, 4)),
    "spring-2032": (date(2032, 3, 20), date(2032, 4, 4)),
    "autumn-2032": (date(2032, 10, 23), date(2032, 11, 7)),
}
Span = tuple[str, str, str]


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    folder = tmp_path_factory.mktemp("changes")
    root = folder / "data"
    shutil.copytree(FIXTURES / "valid", root)
    (root / "events" / "changes.yaml").write_text(CLOCK_CHANGE_EVENTS)
    return in_process(root)


def api_spans(client: InProcess, first: date, last: date) -> list[Span]:
    items = api_occurrences(client, [("audience", "schools")], first, last)
    return sorted(
        (item["event_id"], instant(parsed(item["start"])), instant(parsed(item["end"])))
        for item in items
    )


def parsed(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


@pytest.mark.parametrize("window", list(CLOCK_CHANGE_WINDOWS))
def test_feed_and_json_agree_on_start_and_end_around_the_clock_changes(
    changes: InProcess, window: str
) -> None:
    first, last = CLOCK_CHANGE_WINDOWS[window]
    text = feed(changes, [("audience", "schools")])
    from_api = api_spans(changes, first, last)
    expanded = recurring_ical_events.of(Calendar.from_ical(text)).between(*bounds(first, last))
    from_feed = sorted(
        (str(c["UID"]).split("@", 1)[0], instant(c["DTSTART"].dt), instant(c["DTEND"].dt))
        for c in expanded
    )
    timeline = IcsCalendarStream.calendar_from_ics(text).timeline_tz(LONDON)
    found = timeline.overlapping(first, last + timedelta(days=1))
    from_ical = sorted(
        (str(item.uid).split("@", 1)[0], instant(item.dtstart), instant(item.dtend))
        for item in found
    )
    assert from_api == from_feed
    assert from_api == from_ical
    ours = {name for name, _, _ in from_api}
    assert {"ends-inside-the-hour", "saturday-late"} <= ours
    for _, start, end in from_api:
        assert end > start


def test_clock_change_comparison_has_something_to_compare(changes: InProcess) -> None:
    """The windows hold the occurrences that once went wrong, served as RFC 5545 reads them."""
    autumn = api_spans(changes, *CLOCK_CHANGE_WINDOWS["autumn-2026"])
    spring = api_spans(changes, *CLOCK_CHANGE_WINDOWS["spring-2027"])
    # 00:30-01:30 on the change days: ends at the first 01:30 (BST) in autumn, and at
    # 01:30 GMT (02:30 BST) in spring, one hour after it starts either way.
    assert (
        "ends-inside-the-hour",
        "2026-10-24T23:30:00+00:00",
        "2026-10-25T00:30:00+00:00",
    ) in autumn
    assert (
        "ends-inside-the-hour",
        "2027-03-28T00:30:00+00:00",
        "2027-03-28T01:30:00+00:00",
    ) in spring
    assert ("one-night-across", "2026-10-24T21:00:00+00:00", "2026-10-25T04:00:00+00:00") in autumn
    moved = [span for span in spring if span[0] == "night-slot-moved"]
    assert ("night-slot-moved", "2027-03-28T00:15:00+00:00", "2027-03-28T00:45:00+00:00") in moved
    later = api_spans(changes, *CLOCK_CHANGE_WINDOWS["spring-2032"])
    assert (
        "ends-inside-the-hour",
        "2032-03-28T00:30:00+00:00",
        "2032-03-28T01:30:00+00:00",
    ) in later


# --- The bundled calendar (data/), 2026 to 2028 ------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> InProcess:
    """The bundled data/ (its national and local layers) on the day issue 12 was filed."""
    return in_process(ROOT / "data", today=date(2026, 11, 25), base_url=IN_PROCESS_URL)


def all_api_occurrences(
    client: InProcess, params: list[tuple[str, str]], first: date, last: date
) -> list[dict[str, Any]]:
    """Every page of the API's occurrences in the window, following the cursor."""
    query = [*params, ("from", first.isoformat()), ("to", last.isoformat()), ("limit", "500")]
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get(
            "/api/occurrences", params=[*query, *([("cursor", cursor)] if cursor else [])]
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["occurrences"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize("name", ["everything", "schools"])
def test_ical_package_and_recurring_ical_events_agree_on_the_bundled_data_2026_to_2028(
    bundled: InProcess, name: str
) -> None:
    params = FILTERS[name]
    first, last = date(2026, 1, 1), date(2028, 12, 31)
    text = feed(bundled, params)
    expanded = recurring_ical_events.of(Calendar.from_ical(text)).between(*bounds(first, last))
    from_rie = sorted((str(c["UID"]).split("@", 1)[0], instant(c["DTSTART"].dt)) for c in expanded)
    timeline = IcsCalendarStream.calendar_from_ics(text).timeline_tz(LONDON)
    found = timeline.overlapping(first, last + timedelta(days=1))
    from_ical = sorted((str(item.uid).split("@", 1)[0], instant(item.dtstart)) for item in found)
    items = all_api_occurrences(bundled, params, first, last)
    from_api = api_starts(items)
    assert from_api
    assert from_ical == from_rie == from_api
