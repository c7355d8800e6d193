"""The ICS feeds escape awkward text in names and event fields and still parse strictly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml
from conftest import FIXTURES
from feeds_support import TODAY, content_lines
from feeds_support import catalog as catalog
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.query import Filter

# --- iCalendar TEXT: every property escaped the one way -----------------------------------------

# Each of RFC 5545's escaped characters (\ ; , newline), alone and together, in every text the
# data or a query can put into a feed.
AWKWARD = "a\\b;c,d"
AWKWARD_LINES = "first; line, with \\ backslash\nsecond \\n line"
AWKWARD_QUERIES = [AWKWARD, "semi;colon", "com,ma", "back\\slash", "\\;", "new\nline"]


@pytest.fixture(scope="module")
def awkward_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The valid fixture with RFC 5545's special characters in every text that is served."""
    target = tmp_path_factory.mktemp("awkward") / "data"
    shutil.copytree(FIXTURES / "valid", target)
    settings_file = target / "calendar.yaml"
    settings = yaml.safe_load(settings_file.read_text())
    settings["name"] = f"Calendar {AWKWARD}"
    settings["description"] = AWKWARD_LINES
    settings["organisation"] = f"Partnership {AWKWARD}"
    settings["vocabularies"]["categories"]["event"]["label"] = f"Event {AWKWARD}"
    for feed in settings["feeds"]:
        feed["title"] = f"{feed['title']} {AWKWARD}"
        feed["description"] = AWKWARD_LINES
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True))
    events_file = target / "events" / "sample.yaml"
    document = yaml.safe_load(events_file.read_text())
    for event in document["events"]:
        event["title"] = f"{event['title']} {AWKWARD}"
        event["summary"] = f"Summary {AWKWARD}"
        event["description"] = AWKWARD_LINES
        event["organiser"] = {"name": f"Organiser {AWKWARD}", "email": "team@example.org"}
        event["location"] = {"venue": f"Venue {AWKWARD}", "address": f"Address {AWKWARD}"}
        for override in event.get("overrides", []):
            override["title"] = f"Override {AWKWARD}"
            override["note"] = AWKWARD_LINES
    events_file.write_text(yaml.safe_dump(document, allow_unicode=True))
    return compile_catalog(load(target, today=TODAY), today=TODAY)


def awkward_bodies(catalog: Catalog) -> Iterator[tuple[str, bytes]]:
    """Every document the awkward catalog serves, and ad-hoc feeds for awkward queries."""
    yield "calendar", catalog.everything.body
    for name, feed in catalog.feeds.items():
        yield name, feed.file.body
    for event_id_ in catalog.events:
        rendered = catalog.event_file(event_id_)
        assert rendered is not None
        yield f"events/{event_id_}", rendered.body
    for query in AWKWARD_QUERIES:
        yield f"q={query!r}", catalog.feed_for(Filter(q=query)).body


def test_awkward_text_feeds_parse_strictly(awkward_catalog: Catalog) -> None:
    for name, body in awkward_bodies(awkward_catalog):
        strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
        assert strict.name, name
        # An event's own file is described by the event's summary, feeds by their settings.
        expected = f"Summary {AWKWARD}" if name.startswith("events/") else AWKWARD_LINES
        assert strict.description == [expected], name
        # The X-WR- twins say exactly what NAME and DESCRIPTION say, escaped alike.
        header = content_lines(body)[: content_lines(body).index("BEGIN:VTIMEZONE")]
        lines = dict(line.split(":", 1) for line in header if ";" not in line.split(":")[0])
        assert lines["X-WR-CALNAME"] == lines["NAME"], name
        assert lines["X-WR-CALDESC"] == lines["DESCRIPTION"], name


def test_awkward_calendar_names_survive_escaping(awkward_catalog: Catalog) -> None:
    def name_of(body: bytes) -> str:
        (name,) = IcsCalendarStream.calendar_from_ics(body.decode("utf-8")).name
        return str(name)

    assert name_of(awkward_catalog.everything.body) == f"Calendar {AWKWARD}"
    for feed in awkward_catalog.feeds.values():
        assert name_of(feed.file.body) == feed.definition.title
        assert feed.definition.title.endswith(AWKWARD)
    for event_id_, entry in awkward_catalog.events.items():
        rendered = awkward_catalog.event_file(event_id_)
        assert rendered is not None
        assert name_of(rendered.body) == entry.event.data.title
        assert entry.event.data.title.endswith(AWKWARD)
    for query in AWKWARD_QUERIES:
        folded = " ".join(query.split())
        assert f'("{folded}")' in name_of(awkward_catalog.feed_for(Filter(q=query)).body)


def test_awkward_event_text_survives_escaping(awkward_catalog: Catalog) -> None:
    strict = IcsCalendarStream.calendar_from_ics(awkward_catalog.everything.body.decode("utf-8"))
    assert strict.events
    for event in strict.events:
        assert event.summary is not None and event.summary.endswith(AWKWARD)
        assert event.description is not None and AWKWARD_LINES in event.description
        assert event.location == f"Venue {AWKWARD}, Address {AWKWARD}"
        assert event.organizer is not None
        assert event.organizer.common_name == f"Organiser {AWKWARD}"
    # `ical` splits CATEGORIES at escaped commas too (14.3); icalendar reads the list right.
    parsed = Calendar.from_ical(awkward_catalog.everything.body)
    labels = {str(label) for item in parsed.walk("VEVENT") for label in item["CATEGORIES"].cats}
    assert f"Event {AWKWARD}" in labels
