"""The ICS feeds follow our publishing profile (docs/ics-profile.md) and expand alike in two
independent implementations."""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
import yaml
from conftest import BUNDLED_DATA, FIXTURES
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar, Component

from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.model import EventData
from calendar_service.query import Filter
from calendar_service.reloading import build
from calendar_service.settings import ServiceSettings

TODAY = date(2026, 1, 15)
LONDON = ZoneInfo("Europe/London")
YEAR_2026 = (date(2026, 1, 1), date(2027, 1, 1))
FEED_NAMES = [feed.name for feed in load(BUNDLED_DATA).settings.feeds]
FEEDS = ["calendar", *FEED_NAMES]
DATE_VALUED = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build(ServiceSettings(data_dir=BUNDLED_DATA), TODAY)


@pytest.fixture(scope="module")
def events() -> dict[str, EventData]:
    return {event.id: event.data for event in load(BUNDLED_DATA, today=TODAY).events}


def feed_bytes(catalog: Catalog, name: str) -> bytes:
    return catalog.everything.body if name == "calendar" else catalog.feeds[name].file.body


def every_body(catalog: Catalog) -> Iterator[tuple[str, bytes]]:
    """Every ICS document the catalog serves: the calendar, named feeds and event files."""
    for name in FEEDS:
        yield name, feed_bytes(catalog, name)
    for event_id in catalog.events:
        rendered = catalog.event_file(event_id)
        assert rendered is not None
        yield f"events/{event_id}", rendered.body


def content_lines(body: bytes) -> list[str]:
    """Unfolded content lines."""
    return body.decode("utf-8").replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def vevents(body: bytes) -> list[Component]:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def event_id(component: Component) -> str:
    return str(component["UID"]).split("@", 1)[0]


def instant(value: date | datetime) -> date | datetime:
    """An occurrence's start for comparison: UTC for timed, the date for all-day."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def rie_occurrences(body: bytes, span: tuple[date, date] = YEAR_2026) -> list[tuple[str, ...]]:
    calendar = Calendar.from_ical(body)
    found = recurring_ical_events.of(calendar).between(*span)
    return sorted(
        (
            str(item["UID"]),
            instant(item["DTSTART"].dt).isoformat(),
            instant(item["DTEND"].dt).isoformat(),
        )
        for item in found
    )


def ical_occurrences(body: bytes, span: tuple[date, date] = YEAR_2026) -> list[tuple[str, ...]]:
    calendar = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    found = calendar.timeline_tz(LONDON).overlapping(*span)
    return sorted(
        (str(item.uid), instant(item.dtstart).isoformat(), instant(item.dtend).isoformat())
        for item in found
    )


@pytest.mark.parametrize("name", FEEDS)
def test_feed_parses_with_icalendar_and_with_ical(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    parsed = Calendar.from_ical(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(list(parsed.walk("VEVENT")))
    assert len(strict.timezones) == 1


def test_event_files_parse_with_icalendar_and_with_ical(catalog: Catalog) -> None:
    for name, body in every_body(catalog):
        parsed = Calendar.from_ical(body)
        strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
        assert strict.events, name
        assert len(strict.events) == len(list(parsed.walk("VEVENT"))), name


def test_full_feed_holds_every_current_event(catalog: Catalog) -> None:
    uids = {str(item["UID"]) for item in vevents(catalog.everything.body)}
    expected = {
        catalog.identity.uid(event_id)
        for event_id, entry in catalog.events.items()
        if entry.current
    }
    assert uids == expected
    assert "time-to-talk-day@calendar.durham-scp.org.uk" in uids


@pytest.mark.parametrize("name", FEEDS)
def test_uids_are_unique_and_overrides_share_their_series_uid(catalog: Catalog, name: str) -> None:
    components = vevents(feed_bytes(catalog, name))
    masters = [str(item["UID"]) for item in components if "RECURRENCE-ID" not in item]
    assert len(masters) == len(set(masters))
    overrides = [
        (str(item["UID"]), item["RECURRENCE-ID"].to_ical())
        for item in components
        if "RECURRENCE-ID" in item
    ]
    assert len(overrides) == len(set(overrides))
    assert {uid for uid, _ in overrides} <= set(masters)
    assert all(re.fullmatch(r"[a-z0-9-]+@calendar\.durham-scp\.org\.uk", uid) for uid in masters)


def test_uids_are_identical_across_separate_loads_and_deployments(catalog: Catalog) -> None:
    again = build(ServiceSettings(data_dir=BUNDLED_DATA), TODAY)
    elsewhere = build(
        ServiceSettings(data_dir=BUNDLED_DATA, base_url="https://calendar.example.org"), TODAY
    )
    for name in FEEDS:
        first = [str(item["UID"]) for item in vevents(feed_bytes(catalog, name))]
        assert first == [str(item["UID"]) for item in vevents(feed_bytes(again, name))]
        assert first == [str(item["UID"]) for item in vevents(feed_bytes(elsewhere, name))]
    assert feed_bytes(catalog, "all") == feed_bytes(again, "all")


@pytest.mark.parametrize("name", FEEDS)
def test_every_tzid_used_has_a_vtimezone_written_with_rrules(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    lines = content_lines(body)
    used = set()
    in_event = False
    for line in lines:
        in_event = line == "BEGIN:VEVENT" or (in_event and line != "END:VEVENT")
        head = line.split(":", 1)[0]
        used.update(re.findall(r";TZID=([^;:]+)", head))
        prop = head.split(";", 1)[0]
        if in_event and prop in DATE_VALUED and "VALUE=DATE" not in head:
            assert "TZID=" in head, f"timed {prop} without a TZID: {line}"
    calendar = Calendar.from_ical(body)
    timezones = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE")}
    assert used <= set(timezones)
    assert set(timezones) == {"Europe/London"}
    if name in ("calendar", "all", "training"):  # feeds with timed events
        assert used == {"Europe/London"}
    for zone in timezones.values():
        blocks = zone.walk("DAYLIGHT") + zone.walk("STANDARD")
        assert len(blocks) == 2
        for block in blocks:
            assert "RRULE" in block
            assert "RDATE" not in block
    # British Summer Time: from the last Sunday of March to the last Sunday of October.
    (summer,) = timezones["Europe/London"].walk("DAYLIGHT")
    (winter,) = timezones["Europe/London"].walk("STANDARD")
    assert summer["RRULE"]["BYMONTH"] == [3] and summer["RRULE"]["BYDAY"] == ["-1SU"]
    assert winter["RRULE"]["BYMONTH"] == [10] and winter["RRULE"]["BYDAY"] == ["-1SU"]
    assert "X-WR-TIMEZONE:Europe/London" in lines


def test_all_day_event_end_is_exclusive(catalog: Catalog, events: dict[str, EventData]) -> None:
    checked = 0
    for component in vevents(catalog.everything.body):
        start = component["DTSTART"].dt
        if isinstance(start, datetime):
            continue
        data = events[event_id(component)]
        assert isinstance(data.start, date)
        series_days = ((data.end or data.start) - data.start).days + 1
        if "RECURRENCE-ID" in component:
            occurrence = component["RECURRENCE-ID"].dt
            override = next(item for item in data.overrides if item.occurrence == occurrence)
            assert start == (override.start or occurrence)
            last = override.end or (start + timedelta(days=series_days - 1))
        else:
            assert start == data.start
            last = data.end or data.start
        assert isinstance(last, date)
        assert component["DTEND"].dt == last + timedelta(days=1)
        assert component["DTEND"].params.get("VALUE") == "DATE"
        checked += 1
    assert checked >= 5


def test_one_day_event_ends_the_next_day(catalog: Catalog) -> None:
    body = catalog.everything.body
    talk = next(item for item in vevents(body) if event_id(item) == "time-to-talk-day")
    assert talk["DTSTART"].dt == date(2025, 2, 6)
    assert talk["DTEND"].dt == talk["DTSTART"].dt + timedelta(days=1)
    (block,) = [
        block
        for block in body.decode().split("BEGIN:VEVENT\r\n")
        if "UID:time-to-talk-day@" in block
    ]
    assert "DTSTART;VALUE=DATE:20250206" in block
    assert "DTEND;VALUE=DATE:20250207" in block


@pytest.mark.parametrize("name", FEEDS)
def test_feed_lines_end_in_crlf_only(catalog: Catalog, name: str) -> None:
    body = feed_bytes(catalog, name)
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert b"\r" not in body.replace(b"\r\n", b"")


def test_no_line_is_longer_than_75_octets(catalog: Catalog) -> None:
    for name, body in every_body(catalog):
        for line in body.split(b"\r\n"):
            assert len(line) <= 75, f"{name}: {line!r}"
            line.decode("utf-8")  # folding never splits a UTF-8 sequence


@pytest.mark.parametrize("name", FEEDS)
def test_feed_has_publishing_properties(catalog: Catalog, name: str) -> None:
    calendar = Calendar.from_ical(feed_bytes(catalog, name))
    title = catalog.settings.name if name == "calendar" else catalog.feeds[name].definition.title
    assert calendar["VERSION"] == "2.0"
    assert str(calendar["PRODID"]).startswith(f"-//{catalog.settings.organisation}//")
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert str(calendar["NAME"]) == title
    assert str(calendar["X-WR-CALNAME"]) == title
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=catalog.settings.refresh_hours)
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert str(calendar["X-PUBLISHED-TTL"]) == f"PT{catalog.settings.refresh_hours}H"


def test_awareness_days_are_transparent_and_programmes_opaque(
    catalog: Catalog, events: dict[str, EventData]
) -> None:
    categories = catalog.settings.vocabularies.categories
    seen = set()
    for component in vevents(catalog.everything.body):
        category = events[event_id(component)].category
        seen.add(category)
        expected = "TRANSPARENT" if categories[category].transparent else "OPAQUE"
        assert component["TRANSP"] == expected, event_id(component)
    assert {"awareness-day", "awareness-week", "programme"} <= seen
    talk = next(
        item for item in vevents(catalog.everything.body) if event_id(item) == "time-to-talk-day"
    )
    assert talk["TRANSP"] == "TRANSPARENT"


def occurrences_2026(catalog: Catalog, wanted: str) -> list[Component]:
    calendar = Calendar.from_ical(catalog.everything.body)
    found = recurring_ical_events.of(calendar).between(*YEAR_2026)
    return sorted(
        (item for item in found if event_id(item) == wanted),
        key=lambda item: instant(item["DTSTART"].dt).isoformat(),
    )


def test_time_to_talk_day_2026_is_the_first_thursday_of_february(catalog: Catalog) -> None:
    (talk,) = occurrences_2026(catalog, "time-to-talk-day")
    assert talk["DTSTART"].dt == date(2026, 2, 5)
    assert talk["DTSTART"].dt.weekday() == 3  # Thursday
    assert talk["DTEND"].dt == date(2026, 2, 6)


def test_moved_occurrence_replaces_the_rules_date(catalog: Catalog) -> None:
    (week,) = occurrences_2026(catalog, "childrens-mental-health-week")
    assert week["DTSTART"].dt == date(2026, 2, 9)
    assert week["DTEND"].dt == date(2026, 2, 16)
    assert week["STATUS"] == "CONFIRMED"


def test_provisional_programme_runs_12_weekly_sessions_at_10_london_time(
    catalog: Catalog,
) -> None:
    sessions = occurrences_2026(catalog, "young-parents-programme-2026-02")
    assert len(sessions) == 12
    starts = [item["DTSTART"].dt for item in sessions]
    assert starts[0] == datetime(2026, 2, 3, 10, 0, tzinfo=LONDON)
    for start, item in zip(starts, sessions, strict=True):
        local = start.astimezone(LONDON)
        assert (local.weekday(), local.time()) == (1, time(10, 0))
        assert item["DTEND"].dt.astimezone(LONDON).time() == time(14, 0)
        assert item["STATUS"] == "TENTATIVE"
    assert [b - a for a, b in itertools.pairwise(starts)] == [timedelta(days=7)] * 11
    # Across the change to summer time the wall clock stays at 10:00; UTC moves.
    assert starts[-1].astimezone(UTC).hour == 9
    assert starts[0].astimezone(UTC).hour == 10


@pytest.mark.parametrize("name", FEEDS)
def test_ical_timeline_gives_the_same_occurrences_as_recurring_ical_events(
    catalog: Catalog, name: str
) -> None:
    body = feed_bytes(catalog, name)
    expected = rie_occurrences(body)
    assert ical_occurrences(body) == expected
    if name in ("calendar", "all"):
        assert len(expected) > 20


@pytest.fixture(scope="module")
def valid_feed() -> bytes:
    loaded = load(FIXTURES / "valid", today=TODAY)
    return compile_catalog(loaded, today=TODAY).everything.body


def test_timed_series_until_is_utc(valid_feed: bytes) -> None:
    lines = content_lines(valid_feed)
    rules = [line for line in lines if line.startswith("RRULE:")]
    # 23:59:59 on the last day, London summer time, is 22:59:59 UTC.
    assert "RRULE:FREQ=WEEKLY;UNTIL=20260428T225959Z" in rules
    drop_in = next(item for item in vevents(valid_feed) if event_id(item) == "weekly-drop-in")
    until = drop_in["RRULE"]["UNTIL"][0]
    assert until.utcoffset() == timedelta(0)
    assert drop_in["DTSTART"].params["TZID"] == "Europe/London"


def test_all_day_series_until_is_a_date(valid_feed: bytes) -> None:
    rules = [line for line in content_lines(valid_feed) if line.startswith("RRULE:")]
    (annual,) = [rule for rule in rules if "FREQ=YEARLY" in rule and "UNTIL" in rule]
    assert re.search(r"(^|;)UNTIL=20281231(;|$)", annual), annual


def test_series_with_until_ends_on_its_last_day_in_both_expanders(valid_feed: bytes) -> None:
    span = (date(2026, 1, 1), date(2031, 1, 1))
    expected = rie_occurrences(valid_feed, span)
    assert ical_occurrences(valid_feed, span) == expected
    drop_in = [start for uid, start, _ in expected if uid.startswith("weekly-drop-in@")]
    assert drop_in == [
        datetime(*day, 18, 30, tzinfo=LONDON).astimezone(UTC).isoformat()
        for day in [
            (2026, 3, 3),
            (2026, 3, 10),
            (2026, 3, 18),  # moved from Tuesday 17
            (2026, 3, 24),
            (2026, 3, 31),
            (2026, 4, 14),  # 7 April is excluded
            (2026, 4, 21),
            (2026, 4, 28),  # the until day itself is included
        ]
    ]
    annual = [start for uid, start, _ in expected if uid.startswith("annual-awareness-day@")]
    assert annual == ["2026-05-14", "2027-05-13", "2028-05-11"]


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
