"""The bad-inputs corpus: markup and calendar syntax in data stay text in HTML, JSON and ICS."""

from __future__ import annotations

import re

import pytest
from bad_inputs_support import CORPUS, expectation
from bad_inputs_support import hostile as hostile
from conftest import (
    InProcess,
)
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole corpus.
pytestmark = pytest.mark.xdist_group("bad_inputs")


HTML_PAGES = [
    "/",
    "/events/html-everywhere",
    "/events/valarm-text",
    "/embed",
    "/embed?view=month",
    "/subscribe",
    "/subscribe?q=script",
    "/feeds/all/subscribe",
    "/feeds/all/embed",
]
LISTING_PAGES = {"/", "/events/html-everywhere", "/embed", "/feeds/all/embed"}
ALLOWED_SCRIPT = re.compile(r'<script (src="[^"<>]+"( async| defer)?|type="application/ld\+json")>')


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_in_data_is_escaped_on_every_page(hostile: InProcess, path: str) -> None:
    response = hostile.get(path)
    assert response.status_code == 200
    body = response.text
    if path in LISTING_PAGES:
        assert "html-everywhere" in body
        assert "&lt;script&gt;alert(" in body
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert ALLOWED_SCRIPT.fullmatch(tag), tag
    assert "<img" not in body
    assert 'href="javascript:' not in body.lower()


def test_json_ld_escapes_markup(hostile: InProcess) -> None:
    body = hostile.get("/events/html-everywhere").text
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    assert found
    assert "\\u003cscript\\u003e" in found[1]
    assert "<" not in found[1]


def test_html_in_data_is_plain_text_in_json(hostile: InProcess) -> None:
    body = hostile.get("/api/events/html-everywhere").json()
    assert body["title"].startswith("<script>alert")
    assert body["location"]["venue"].startswith("<script>alert")
    assert (
        hostile.get("/api/events/html-everywhere")
        .headers["content-type"]
        .startswith("application/json")
    )


def calendar_syntax_description() -> str:
    case = CORPUS / "data" / "description-with-valarm"
    text: str = expectation(case)["fields"]["description"]
    return text


@pytest.mark.parametrize("path", ["/feeds/all.ics", "/calendar.ics", "/events/valarm-text.ics"])
def test_calendar_syntax_in_a_description_stays_inside_the_value(
    hostile: InProcess, path: str
) -> None:
    body = hostile.get(path).content
    lines = body.split(b"\r\n")
    assert not [line for line in lines if line.startswith(b"BEGIN:VALARM")]
    assert not [line for line in lines if line.startswith(b"UID:injected")]
    calendar = Calendar.from_ical(body)
    names = {component.name for component in calendar.walk()}
    assert names == {"VCALENDAR", "VTIMEZONE", "STANDARD", "DAYLIGHT", "VEVENT"}
    events = list(calendar.walk("VEVENT"))
    ours = [item for item in events if str(item["UID"]).startswith("valarm-text@")]
    assert len(ours) == 1
    assert str(ours[0]["DESCRIPTION"]).startswith(calendar_syntax_description())
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(events)
    assert not any("evil.example" in str(item["UID"]) for item in events)
