"""Every ICS document the service serves, over bundled and hostile data, is well formed."""

from __future__ import annotations

import pytest
from bad_inputs_support import hostile as hostile
from conftest import (
    InProcess,
)
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole corpus.
pytestmark = pytest.mark.xdist_group("bad_inputs")


# --- Every ICS document is well formed ---------------------------------------------------------


def ics_paths(client: InProcess) -> list[str]:
    """Every named feed, the calendar with a few filters, and every event's file."""
    feeds = client.get("/healthz").json()["feeds"]
    paths = [f"/feeds/{name}.ics" for name in feeds]
    facets = client.get("/api/facets").json()
    paths.append("/calendar.ics")
    for name in ("category", "audience", "theme"):
        for item in facets[name][:2]:
            paths.append(f"/calendar.ics?{name}={item['value']}")
    paths += ["/calendar.ics?online=true", "/calendar.ics?q=day", "/calendar.ics?q=zzzz-nothing"]
    events = client.get("/api/events", params={"limit": "500"}).json()["events"]
    paths += [f"/events/{event['id']}.ics" for event in events]
    return paths


def assert_well_formed_ics(body: bytes, where: str) -> None:
    assert body.startswith(b"BEGIN:VCALENDAR\r\n"), where
    assert body.endswith(b"END:VCALENDAR\r\n"), where
    for number, line in enumerate(body[:-2].split(b"\r\n"), start=1):
        assert b"\r" not in line and b"\n" not in line, f"{where}:{number}: bare CR or LF"
        assert b"\x00" not in line, f"{where}:{number}: NUL"
        assert len(line) <= 75, f"{where}:{number}: {len(line)} octets"
        text = line.decode("utf-8")
        assert not set(text) & {"\x85", "\u2028", "\u2029"}, f"{where}:{number}"
    parsed = Calendar.from_ical(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(list(parsed.walk("VEVENT"))), where


@pytest.mark.parametrize("which", ["bundled", "hostile"])
def test_every_ics_document_served_is_well_formed(
    which: str, request: pytest.FixtureRequest
) -> None:
    running: InProcess = request.getfixturevalue("client" if which == "bundled" else "hostile")
    paths = ics_paths(running)
    assert len(paths) >= 8
    for path in paths:
        response = running.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/calendar"), path
        assert_well_formed_ics(response.content, path)
