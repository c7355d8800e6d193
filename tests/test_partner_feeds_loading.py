"""The sources file is checked like the data; fetched copies join the catalog, safely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import BUNDLED_DATA, ROOT
from partner_feeds_support import (
    CORPUS,
    SOURCE_ID,
    TODAY,
    by_uid,
    data_with_feed,
    sources_yaml,
)

from calendar_service.loading import DataInvalid, load, read_sources

FORUM = "forum@events.example.org"
COURSE = "course-101@training.example.gov.uk"
NEGLECT = "course-102@training.example.gov.uk"


def test_imported_events_join_the_local_ones(tmp_path: Path) -> None:
    data, fetched = data_with_feed(tmp_path, "normal.ics")
    local = load(BUNDLED_DATA, today=TODAY)
    loaded = load(data, today=TODAY, fetched=fetched)
    assert len(loaded.events) == len(local.events) + 2
    assert [event.id for event in loaded.events] == sorted(event.id for event in loaded.events)
    (report,) = loaded.imports
    assert (report.source, len(report.events), report.rejected) == (SOURCE_ID, 2, None)
    assert loaded.warnings == local.warnings  # a partner's data never fails `validate --strict`


def test_without_the_fetched_directory_only_the_sources_file_is_checked(tmp_path: Path) -> None:
    data, _ = data_with_feed(tmp_path, "normal.ics")
    loaded = load(data, today=TODAY)
    assert len(loaded.events) == len(load(BUNDLED_DATA, today=TODAY).events)
    assert loaded.imports == ()
    assert [source.id for source in read_sources(data)] == [SOURCE_ID]


def test_the_version_follows_the_fetched_bytes(tmp_path: Path) -> None:
    data, fetched = data_with_feed(tmp_path, "normal.ics")
    first = load(data, today=TODAY, fetched=fetched).version
    assert load(data, today=TODAY, fetched=fetched).version == first
    (fetched / f"{SOURCE_ID}.ics").write_bytes((CORPUS / "normal-changed.ics").read_bytes())
    assert load(data, today=TODAY, fetched=fetched).version != first


@pytest.mark.parametrize(
    ("feed", "report"), [("malformed.ics", "not valid iCalendar"), (None, "not fetched yet")]
)
def test_a_broken_or_missing_copy_adds_nothing_and_keeps_the_local_data(
    tmp_path: Path, feed: str | None, report: str
) -> None:
    data, fetched = data_with_feed(tmp_path, feed or "normal.ics")
    if feed is None:
        (fetched / f"{SOURCE_ID}.ics").unlink()
    loaded = load(data, today=TODAY, fetched=fetched)
    assert len(loaded.events) == len(load(BUNDLED_DATA, today=TODAY).events)
    assert report in (loaded.imports[0].rejected or "")


def test_overrides_hide_an_event_or_change_its_audiences(tmp_path: Path) -> None:
    overrides = [
        {"source": SOURCE_ID, "uid": COURSE, "hidden": True},
        {
            "source": SOURCE_ID,
            "uid": NEGLECT,
            "audiences": ["schools"],
            "themes": ["first-1001-days"],
        },
    ]
    data, fetched = data_with_feed(tmp_path, "normal.ics", sources_yaml(overrides))
    (report,) = load(data, today=TODAY, fetched=fetched).imports
    assert [event.data.title for event in report.events] == ["Neglect: recognising and responding"]
    assert by_uid(report.events, NEGLECT).data.audiences == ["schools"]
    assert by_uid(report.events, NEGLECT).data.themes == ["first-1001-days"]


def test_with_prefer_source_a_mapped_field_stands_against_an_override(tmp_path: Path) -> None:
    # course-102's CATEGORIES (Leadership) map its audiences; course-101's map no audience.
    overrides = [
        {"source": SOURCE_ID, "uid": NEGLECT, "audiences": ["schools"]},
        {"source": SOURCE_ID, "uid": COURSE, "audiences": ["schools"]},
    ]
    data, fetched = data_with_feed(tmp_path, "normal.ics", sources_yaml(overrides, prefer="source"))
    events = load(data, today=TODAY, fetched=fetched).imports[0].events
    assert by_uid(events, NEGLECT).data.audiences == ["managers-designated-leads"]
    assert by_uid(events, COURSE).data.audiences == ["schools"]


def test_a_recurring_partner_event_keeps_its_rule_and_changed_occurrences(tmp_path: Path) -> None:
    data, fetched = data_with_feed(tmp_path, "recurring-with-exceptions.ics")
    event = by_uid(load(data, today=TODAY, fetched=fetched).events, FORUM)
    assert event.data.recurrence is not None and event.data.recurrence.rule is not None
    assert len(event.data.overrides) == 2


@pytest.mark.parametrize(
    ("change", "located"),
    [
        (
            {"map_categories": {"Safeguarding": {"category": "webinar"}}},
            r"sources\.yaml:\d+: sources\[0\]\.map_categories\.Safeguarding\.category: "
            r"unknown value 'webinar'",
        ),
        (
            {"url": "http://training.example.gov.uk/calendar.ics"},
            r"sources\.yaml:\d+: sources\[0\]: url: http:// is refused unless",
        ),
        ({"url": "file:///etc/passwd"}, r"sources\.yaml:\d+: sources\[0\]\.url: must be"),
        ({"audiences": ["everyone"]}, r"sources\[0\]\.audiences\[0\]: unknown value 'everyone'"),
        ({"max_events": 5000}, r"sources\[0\]\.max_events: Input should be less than or equal"),
        ({"colour": "red"}, r"sources\[0\]\.colour: unknown field 'colour'"),
    ],
)
def test_sources_file_errors_name_file_line_and_field(
    tmp_path: Path, change: dict[str, object], located: str
) -> None:
    data, fetched = data_with_feed(tmp_path, "normal.ics", sources_yaml(**change))
    with pytest.raises(DataInvalid) as invalid:
        load(data, today=TODAY, fetched=fetched)
    assert re.search(located, str(invalid.value)), str(invalid.value)


def test_an_override_must_name_a_known_source_once(tmp_path: Path) -> None:
    overrides = [
        {"source": "elsewhere", "uid": COURSE, "hidden": True},
    ]
    data, _ = data_with_feed(tmp_path, "normal.ics", sources_yaml(overrides))
    with pytest.raises(DataInvalid, match=r"overrides\[0\]\.source: unknown source 'elsewhere'"):
        load(data, today=TODAY)
    twice = [{"source": SOURCE_ID, "uid": COURSE, "hidden": True} for _ in range(2)]
    (data / "sources.yaml").write_text(sources_yaml(twice), encoding="utf-8")
    with pytest.raises(DataInvalid, match=r"overrides\[1\]\.uid: this event is overridden twice"):
        load(data, today=TODAY)


def test_the_commented_example_is_a_valid_sources_file(tmp_path: Path) -> None:
    """data/sources.example.yaml, its example lines uncommented, loads with the bundled data."""
    text = (ROOT / "data" / "sources.example.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index("# sources:")
    body = [line[2:] for line in lines[start:] if line.startswith("# ")] + [""]
    data, fetched = data_with_feed(tmp_path, "normal.ics", "\n".join(body))
    loaded = load(data, today=TODAY, fetched=fetched)
    (report,) = loaded.imports
    assert report.rejected is None
    assert [event.data.title for event in report.events] == ["Neglect: recognising and responding"]
