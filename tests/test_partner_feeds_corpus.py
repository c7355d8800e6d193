"""Each feed of the partner corpus gives the events, problems or refusal its expectation names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from partner_feeds_support import CORPUS, EXPECTED, SETTINGS, SOURCE, TODAY, by_uid, source

from calendar_service.model import Event
from calendar_service.partner_feeds import FeedRejected, check_feed, read_feed
from calendar_service.plain_text import plain_text


def _when(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _actual(event: Event, name: str) -> Any:
    """One field of an imported event, written as expected.yaml writes it."""
    data = event.data
    recurrence = data.recurrence
    rule = recurrence.rule if recurrence else None
    if name in ("start", "end"):
        return _when(getattr(data, name))
    if name == "modified":
        return event.modified.isoformat()
    if name == "sequence":
        return event.sequence
    if name == "status":
        return data.status.value
    if name == "location":
        return data.location.text if data.location else None
    if name == "rule":
        return rule.describe() if rule else None
    if name == "extra_dates":
        extra = [_when(value) for value in recurrence.extra_dates] if recurrence else []
        return extra
    if name == "excluded_dates":
        return [_when(value) for value in recurrence.excluded_dates] if recurrence else []
    if name == "overrides":
        return [
            {
                key: value.isoformat() if isinstance(value, date) else value
                for key, value in override.model_dump(mode="json", exclude_none=True).items()
            }
            for override in data.overrides
        ]
    return getattr(data, name)


def test_every_feed_in_the_corpus_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in CORPUS.glob("*.ics"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_feed_gives_what_its_expectation_names(name: str) -> None:
    expected = EXPECTED[name]
    body = (CORPUS / name).read_bytes()
    if "rejected" in expected:
        with pytest.raises(FeedRejected) as refused:
            read_feed(SOURCE, body, SETTINGS, today=TODAY)
        assert expected["rejected"] in str(refused.value)
        with pytest.raises(FeedRejected):
            check_feed(body, SOURCE)
        return
    feed = read_feed(SOURCE, body, SETTINGS, today=TODAY)
    assert len(feed.events) == len(expected["events"])
    assert check_feed(body, SOURCE) == len(expected["events"])
    for wanted in expected["events"]:
        event = by_uid(feed.events, wanted["uid"])
        for field, value in wanted.items():
            if field == "uid":
                continue
            actual = _actual(event, field)
            if field == "extra_dates" and isinstance(value, int):
                actual = len(actual)
            assert actual == value, f"{name}: {wanted['uid']}: {field}"
        assert event.data.source == SOURCE.page  # every event links to the source's page
        assert event.data.organiser == SOURCE.organiser
    assert len(feed.problems) == len(expected["problems"]), feed.problems
    for problem, part in zip(feed.problems, expected["problems"], strict=True):
        assert part in problem


def test_an_edited_partner_event_keeps_its_id_and_follows_the_source_stamps() -> None:
    before = read_feed(SOURCE, (CORPUS / "normal.ics").read_bytes(), SETTINGS).events
    after = read_feed(SOURCE, (CORPUS / "normal-changed.ics").read_bytes(), SETTINGS).events
    uid = "course-101@training.example.gov.uk"
    old, new = by_uid(before, uid), by_uid(after, uid)
    assert old.id == new.id
    assert (new.sequence, new.modified) > (old.sequence, old.modified)
    assert old.content_hash != new.content_hash


def test_the_same_uid_in_two_sources_gives_two_events() -> None:
    body = (CORPUS / "normal.ics").read_bytes()
    first = read_feed(SOURCE, body, SETTINGS).events
    second = read_feed(source(id="health-trust"), body, SETTINGS).events
    assert not {event.id for event in first} & {event.id for event in second}


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_events": 1}, "2 events, more than the 1"),
        ({"max_occurrences": 100}, "more than the 100 this source may add"),
    ],
)
def test_a_feed_over_its_source_limits_is_rejected(limits: dict[str, int], message: str) -> None:
    name = "normal.ics" if "max_events" in limits else "unbounded-rrule.ics"
    with pytest.raises(FeedRejected, match=message):
        check_feed((CORPUS / name).read_bytes(), source(**limits))


@pytest.mark.parametrize(
    ("include", "exclude", "titles"),
    [
        ({"categories": ["leadership"]}, {}, ["Neglect: recognising and responding"]),
        ({"text": ["working together"]}, {}, ["Working Together 2023: an introduction"]),
        (
            {"text": ["course", "neglect"]},
            {},
            ["Neglect: recognising and responding", "Working Together 2023: an introduction"],
        ),
        ({"text": ["neglect"], "categories": ["safeguarding"]}, {}, []),
        ({}, {"categories": ["SAFEGUARDING"]}, ["Neglect: recognising and responding"]),
        (
            {},
            {"text": ["neglect"], "categories": ["safeguarding"]},
            ["Neglect: recognising and responding", "Working Together 2023: an introduction"],
        ),
    ],
)
def test_include_and_exclude_filters_or_within_and_across(
    include: dict[str, list[str]], exclude: dict[str, list[str]], titles: list[str]
) -> None:
    chosen = source(include=include, exclude=exclude)
    events = read_feed(chosen, (CORPUS / "normal.ics").read_bytes(), SETTINGS).events
    assert sorted(event.data.title for event in events) == titles


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("<script>alert(1)</script>Safe", "Safe"),
        ("<style>p { color: red }</style><b>Bold</b> &amp; plain", "Bold & plain"),
        ("a &lt;script&gt; b", "a <script> b"),  # text about a tag stays text
        ("<img src=x onerror=alert(1)>Caption", "Caption"),
        ("Line\x00with\x1bcontrols", "Linewithcontrols"),
        ("x" * 30_000, "x" * 19_999 + "…"),
    ],
)
def test_plain_text_strips_html_scripts_styles_and_controls_and_caps(html: str, text: str) -> None:
    assert plain_text(html) == text
