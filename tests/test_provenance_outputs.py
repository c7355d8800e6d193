"""Provenance reaches readers: the JSON API, its OpenAPI shapes, the event page and the ICS.

Dataset `tests/datasets/provenance-shown/`: a yearly week checked against its organiser's
page, 2027 still provisional with a note, 2028 confirmed on that year's own page.
"""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest
import recurring_ical_events
from conftest import DATASETS, InProcess, in_process
from icalendar import Calendar

DATASET = DATASETS / "provenance-shown"
EVENT = "checked-awareness-week"
SERIES_SOURCE = "https://example.org/checked-awareness-week"
YEAR_SOURCE = "https://example.org/checked-awareness-week/2028"
PROVISIONAL_NOTE = "Dates for 2027 not yet announced by the organiser; this is the usual pattern."


@pytest.fixture(scope="module")
def shown() -> InProcess:
    return in_process(DATASET, today=date(2026, 11, 25))


def test_event_json_carries_the_series_source_and_checked_day(shown: InProcess) -> None:
    body = shown.get(f"/api/events/{EVENT}").json()
    assert (body["source"], body["checked"]) == (SERIES_SOURCE, "2026-11-20")
    overrides = body["recurrence"]["overrides"]
    assert overrides[1]["source"] == YEAR_SOURCE
    assert overrides[1]["checked"] == "2026-11-24"


def test_each_occurrence_carries_its_own_source_else_the_series_and_the_provisional_note(
    shown: InProcess,
) -> None:
    body = shown.get("/api/occurrences?from=2026-11-25&to=2028-12-31").json()
    by_start = {item["start"]: item for item in body["occurrences"]}
    provisional = by_start["2027-02-01"]
    assert provisional["status"] == "provisional"
    assert provisional["note"] == PROVISIONAL_NOTE
    assert (provisional["source"], provisional["checked"]) == (SERIES_SOURCE, "2026-11-20")
    confirmed = by_start["2028-02-07"]
    assert confirmed["status"] == "confirmed"
    assert confirmed["note"] == "2028 theme: being heard."
    assert (confirmed["source"], confirmed["checked"]) == (YEAR_SOURCE, "2026-11-24")


def test_openapi_documents_source_and_checked_on_events_and_occurrences(shown: InProcess) -> None:
    schemas = shown.get("/openapi.json").json()["components"]["schemas"]
    for shape in ("EventOut", "OccurrenceOut"):
        properties = schemas[shape]["properties"]
        for name in ("source", "checked", "status"):
            assert name in properties, (shape, name)
            assert name in schemas[shape]["required"], (shape, name)
        assert "checked" in properties["source"]["description"]
    assert "provisional" in schemas["OccurrenceOut"]["properties"]["note"]["description"]


class _Text(HTMLParser):
    """The text of an HTML page, and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if tag == "a" and name == "href" and value]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def test_event_page_says_where_and_when_dates_were_checked_and_why_a_year_is_provisional(
    shown: InProcess,
) -> None:
    page = _Text()
    page.feed(shown.get(f"/events/{EVENT}").text)
    assert f"Dates checked against {SERIES_SOURCE} on 20 November 2026" in page.text
    assert SERIES_SOURCE in page.links and YEAR_SOURCE in page.links
    assert f"Sun 7 Feb 2027 Provisional · {PROVISIONAL_NOTE}" in page.text
    assert "2028 theme: being heard. · date checked on 24 November 2026" in page.text


def test_ics_marks_the_provisional_year_tentative_and_the_confirmed_year_confirmed(
    shown: InProcess,
) -> None:
    calendar = Calendar.from_ical(shown.get(f"/events/{EVENT}.ics").content)
    found = recurring_ical_events.of(calendar).between(date(2026, 11, 25), date(2029, 1, 1))
    status = {event.start: str(event.get("STATUS")) for event in found}
    assert status[date(2027, 2, 1)] == "TENTATIVE"
    assert status[date(2028, 2, 7)] == "CONFIRMED"
