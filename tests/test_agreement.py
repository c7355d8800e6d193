"""The ICS feed of a filter and the JSON API of the same filter list the same occurrences:
expanded by recurring-ical-events (what the service itself uses) and, independently, by
the `ical` package."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from conftest import Server
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


def feed(server: Server, params: list[tuple[str, str]]) -> str:
    response = server.get("/calendar.ics", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return response.text


def api_occurrences(
    server: Server, params: list[tuple[str, str]], first: date, last: date
) -> list[dict[str, Any]]:
    query = [*params, ("from", first.isoformat()), ("to", last.isoformat()), ("limit", "500")]
    response = server.get("/api/occurrences", params=query)
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
    server: Server, name: str, window: str
) -> None:
    params = FILTERS[name]
    first, last = WINDOWS[window]
    calendar = Calendar.from_ical(feed(server, params))
    expanded = recurring_ical_events.of(calendar).between(*bounds(first, last))
    from_feed = sorted(
        (str(item["UID"]).split("@", 1)[0], iso(item["DTSTART"].dt)) for item in expanded
    )
    items = api_occurrences(server, params, first, last)
    assert from_feed == api_keys(items)
    # Status and end agree too, not only the start.
    by_key = {(str(c["UID"]).split("@", 1)[0], iso(c["DTSTART"].dt)): c for c in expanded}
    statuses = {"CONFIRMED": "confirmed", "TENTATIVE": "provisional", "CANCELLED": "cancelled"}
    for item in items:
        component = by_key[(item["event_id"], item["start"])]
        assert statuses[str(component.get("STATUS", "CONFIRMED"))] == item["status"]
        assert iso(component["DTEND"].dt) == item["end"]
        assert str(component["SUMMARY"]) == item["title"]


def test_the_comparison_has_something_to_compare(server: Server) -> None:
    """Guards the test above against agreeing on nothing."""
    first, last = WINDOWS["2026"]
    items = api_occurrences(server, [], first, last)
    assert {item["all_day"] for item in items} == {True, False}
    assert any(item["status"] == "provisional" for item in items)
    schools = api_occurrences(server, FILTERS["schools"], *WINDOWS["february-2026"])
    assert len(schools) == 3
    assert len(api_occurrences(server, FILTERS["everything"], *WINDOWS["2027"])) >= 3


def instant(value: date | datetime) -> str:
    """A start as an instant: UTC for timed, local midnight (in UTC) for all-day."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.combine(value, time(), LONDON).astimezone(UTC).isoformat()


@pytest.mark.parametrize("name", ["everything", "schools", "tags", "in-person"])
def test_ical_package_expands_the_feed_to_the_api_occurrences_of_2026(
    server: Server, name: str
) -> None:
    params = FILTERS[name]
    text = feed(server, params)
    calendar = IcsCalendarStream.calendar_from_ics(text)
    found = calendar.timeline_tz(LONDON).overlapping(date(2026, 1, 1), date(2027, 1, 1))
    from_ical = sorted((str(item.uid).split("@", 1)[0], instant(item.dtstart)) for item in found)
    items = api_occurrences(server, params, date(2026, 1, 1), date(2026, 12, 31))
    from_api = sorted(
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
    assert from_api
    assert from_ical == from_api
