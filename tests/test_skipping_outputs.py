"""A programme that skips half terms and bank holidays holds the same sessions in every
output: its ICS as ical.js (node), recurring-ical-events and the `ical` package expand it,
the JSON API, the event page and the embed's month view, which also say "No session:
<reason>" on the skipped dates. And each term calendar's own feed."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from conftest import ROOT, InProcess, in_process
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar
from skipping_support import BEFORE, SESSIONS, SKIPPED, TERM_TIME, day

from calendar_service.compiling import compile_catalog
from calendar_service.export import urls
from calendar_service.loading import load

LONDON = ZoneInfo("Europe/London")
EXPAND = ROOT / "tests" / "browser" / "expand.mjs"
NODE = shutil.which("node")
SERIES = sorted(SESSIONS)


@pytest.fixture(scope="module")
def client() -> InProcess:
    return in_process(TERM_TIME, today=BEFORE)


def event_ics(client: InProcess, event_id: str) -> str:
    response = client.get(f"/events/{event_id}.ics")
    assert response.status_code == 200, response.text
    return response.text


def ical_js(text: str, first: str = "2025-01-01", last: str = "2027-12-31") -> list[dict[str, str]]:
    """Occurrences as ical.js (Thunderbird's library) expands them, run by node."""
    if NODE is None or not (EXPAND.parent / "node_modules" / "ical.js").is_dir():
        pytest.fail(
            "node and tests/browser/node_modules/ical.js are needed: npm ci --prefix tests/browser"
        )
    done = subprocess.run(
        [NODE, str(EXPAND), first, last], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, str]] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("event_id", SERIES)
def test_ical_js_expands_the_hand_derived_sessions(client: InProcess, event_id: str) -> None:
    found = ical_js(event_ics(client, event_id))
    assert [day(item["start"]) for item in found] == SESSIONS[event_id]


@pytest.mark.parametrize("event_id", SERIES)
def test_recurring_ical_events_expands_the_hand_derived_sessions(
    client: InProcess, event_id: str
) -> None:
    calendar = Calendar.from_ical(event_ics(client, event_id))
    found = recurring_ical_events.of(calendar).between(date(2025, 1, 1), date(2028, 1, 1))
    assert sorted(day(item.start) for item in found) == SESSIONS[event_id]


@pytest.mark.parametrize("event_id", SERIES)
def test_ical_package_expands_the_hand_derived_sessions(client: InProcess, event_id: str) -> None:
    timeline = IcsCalendarStream.calendar_from_ics(event_ics(client, event_id)).timeline_tz(LONDON)
    found = timeline.overlapping(date(2025, 1, 1), date(2028, 1, 1))
    assert [day(item.dtstart) for item in found] == SESSIONS[event_id]


def test_a_counted_programme_is_published_with_until_and_exdates(client: InProcess) -> None:
    text = event_ics(client, "monday-parents-group")
    assert "RRULE:FREQ=WEEKLY;UNTIL=20260420T225959Z\r\n" in text  # 23:59:59 BST, in UTC
    assert "EXDATE;TZID=Europe/London:20260216T100000,20260330T100000,20260406T100000" in text
    assert "COUNT=" not in text
    all_day = event_ics(client, "friday-play-day")
    assert "RRULE:FREQ=WEEKLY;UNTIL=20260424\r\n" in all_day  # a DATE, as DTSTART is
    assert "EXDATE;VALUE=DATE:20260403\r\n" in all_day


@pytest.mark.parametrize("event_id", SERIES)
def test_json_occurrences_are_the_sessions_and_skipped_dates_carry_their_reason(
    client: InProcess, event_id: str
) -> None:
    params = {"from": "2026-01-01", "to": "2026-12-31", "limit": "500", "category": "programme"}
    body = client.get("/api/occurrences", params=params).json()
    mine = [item for item in body["occurrences"] if item["event_id"] == event_id]
    assert [day(item["start"]) for item in mine] == SESSIONS[event_id]
    event = client.get(f"/api/events/{event_id}").json()
    skipped = {date.fromisoformat(item["date"]): item["reason"] for item in event["skipped"]}
    assert skipped == SKIPPED[event_id]
    assert mine[0]["skipped"] == event["skipped"]  # each occurrence carries them too
    assert not {day(item["start"]) for item in mine} & set(skipped)


def test_event_json_rrule_is_the_feed_s(client: InProcess) -> None:
    event = client.get("/api/events/monday-parents-group").json()
    assert event["recurrence"]["rrule"] == "FREQ=WEEKLY;UNTIL=20260420T225959Z"
    assert event["recurrence"]["skip"] == {"bank_holidays": True, "school_holidays": "testshire"}


class _Grid(HTMLParser):
    """The month grid read with the standard library's parser: each day cell's text by its
    data-date, and each bar's first day with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self.bars: list[tuple[str, str]] = []
        self._cell: str | None = None
        self._bar: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "td" and found.get("data-date"):
            self._cell = found["data-date"]
            self.cells[self._cell or ""] = ""
        if tag == "a" and found.get("data-first") and self._cell is None:
            self._bar = found["data-first"]
            self.bars.append((self._bar or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        if tag == "a":
            self._bar = None

    def handle_data(self, data: str) -> None:
        if self._cell:
            self.cells[self._cell] += data
        elif self._bar:
            first, text = self.bars[-1]
            self.bars[-1] = (first, text + data)


def month_grid(client: InProcess, month: str) -> _Grid:
    response = client.get("/embed", params={"view": "month", "month": month})
    assert response.status_code == 200, response.text
    grid = _Grid()
    grid.feed(response.text)
    return grid


@pytest.mark.parametrize("month", ["2026-02", "2026-03", "2026-04"])
def test_month_view_shows_each_session_and_no_session_with_its_reason(
    client: InProcess, month: str
) -> None:
    grid = month_grid(client, month)
    cells = {date.fromisoformat(key): " ".join(text.split()) for key, text in grid.cells.items()}
    bars = {
        date.fromisoformat(first) for first, text in grid.bars if "Monday parents group" in text
    }
    in_view = {when for when in cells if when.weekday() == 0}
    sessions = set(SESSIONS["monday-parents-group"])
    assert bars == in_view & sessions
    assert bars
    shown = 0
    for event_id, skipped in SKIPPED.items():
        for when, reason in skipped.items():
            if when in cells:
                shown += 1
                assert f"No session: {reason}" in cells[when], (event_id, when, cells[when])
    assert shown
    assert not [text for when, text in cells.items() if "No session" in text and when in sessions]


def test_event_page_lists_no_session_between_the_upcoming_dates(client: InProcess) -> None:
    page = client.get("/events/monday-parents-group").text
    assert "No session: February half term" in page
    assert "No session: Easter Monday" in page
    assert page.index("Mon 9 Feb 2026") < page.index("No session: February half term")
    assert page.index("No session: February half term") < page.index("Mon 23 Feb 2026")
    assert "not on bank holidays or in the school holidays of Testshire schools" in page


# --- The term calendar's own feed ---------------------------------------------------------------


def test_term_feed_parses_in_ical_js_and_ical_as_all_day_terms_half_terms_and_closures(
    client: InProcess,
) -> None:
    response = client.get("/feeds/terms/testshire.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    from_node = ical_js(response.text)
    timeline = IcsCalendarStream.calendar_from_ics(response.text).timeline_tz(LONDON)
    from_ical = [
        (str(item.uid), item.dtstart.isoformat(), item.dtend.isoformat())
        for item in timeline.overlapping(date(2025, 1, 1), date(2028, 1, 1))
    ]
    assert sorted(from_ical) == sorted(
        (item["uid"], item["start"], item["end"]) for item in from_node
    )
    spans = {item["start"]: (item["summary"], item["end"]) for item in from_node}
    # DTEND is exclusive: the February half term is Monday 16 to Friday 20, inclusive.
    half_term = ("February half term (Testshire schools)", "2026-02-21")
    assert spans["2026-02-16"] == half_term
    closure = "Schools closed: Testshire schools' training day (Testshire schools)"
    assert spans["2026-06-12"] == (closure, "2026-06-13")
    assert len(from_node) == 2 * 3 * 2 + 1  # two years of three terms with half terms, a closure
    assert all("T" not in item["start"] for item in from_node)


def test_term_feed_uids_are_stable_and_unknown_calendars_404(client: InProcess) -> None:
    text = client.get("/feeds/terms/testshire.ics").text
    assert "UID:terms-testshire-2025-26-half-term-2@calendar.test.example" in text
    again = in_process(TERM_TIME, today=date(2026, 3, 1)).get("/feeds/terms/testshire.ics").text
    assert again == text  # the day served does not change it
    missing = client.get("/feeds/terms/nowhere.ics")
    assert missing.status_code == 404
    assert "testshire" in missing.text


def test_term_feed_is_linked_from_the_subscribe_page_and_exported(client: InProcess) -> None:
    page = client.get("/subscribe").text
    assert 'href="http://127.0.0.1:8000/feeds/terms/testshire.ics"' in page
    catalog = compile_catalog(load(TERM_TIME, today=BEFORE), today=BEFORE)
    assert "/feeds/terms/testshire.ics" in set(urls(catalog))
