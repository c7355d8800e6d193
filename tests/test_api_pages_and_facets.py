"""The JSON API, in process over the bundled data: pagination, event listings, facets and search."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from api_support import FEB_2026, YEAR_2026, assert_error, fold, get_json, occurrences, today_of
from conftest import InProcess

# --- Pagination ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [YEAR_2026, {"from": "2026-01-01", "to": "2027-12-31", "audience": "schools"}]
)
def test_cursor_pages_of_two_walk_every_occurrence_once_in_order(
    client: InProcess, params: dict[str, str]
) -> None:
    whole = occurrences(client, params)
    assert len(whole) > 4
    walked: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        body = get_json(client, "/api/occurrences", query)
        pages += 1
        assert body["total"] == len(whole)
        assert body["count"] == len(body["occurrences"]) <= 2
        walked += body["occurrences"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert body["count"] == 2
    assert walked == whole
    assert pages == (len(whole) + 1) // 2


def test_events_are_listed_by_id_in_pages_with_rule_in_words(client: InProcess) -> None:
    whole = get_json(client, "/api/events", {"limit": "500"})
    assert whole["next_cursor"] is None and whole["total"] == whole["count"]
    ids = [event["id"] for event in whole["events"]]
    assert ids == sorted(ids) and "time-to-talk-day" in ids
    walked: list[str] = []
    cursor = None
    while True:
        body = get_json(
            client, "/api/events", {"limit": "2", **({"cursor": cursor} if cursor else {})}
        )
        walked += [event["id"] for event in body["events"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == ids
    schools = get_json(client, "/api/events", {"audience": "schools"})["events"]
    assert schools and all(
        "schools" in [a["value"] for a in event["audiences"]] for event in schools
    )


def test_one_event_has_its_rule_in_words_and_its_next_occurrence(client: InProcess) -> None:
    event = get_json(client, "/api/events/childrens-mental-health-week")
    assert event["id"] == event["event_id"] == "childrens-mental-health-week"
    assert event["all_day"] is True
    recurrence = event["recurrence"]
    assert recurrence["rule"] == "every year on the first Monday in February"
    assert recurrence["rrule"] == "FREQ=YEARLY;BYDAY=1MO;BYMONTH=2"
    assert {"occurrence": "2026-02-02", "start": "2026-02-09", "end": "2026-02-15"}.items() <= (
        recurrence["overrides"][0].items()
    )
    following = event["next_occurrence"]
    today = today_of(client)
    assert following["event_id"] == event["id"]
    assert date.fromisoformat(following["end"]) > today
    # It is the first one that has not ended, as the occurrence list says.
    listed = occurrences(client, {"q": "Children's Mental Health Week", "from": str(today)})
    assert following == next(i for i in listed if i["event_id"] == event["id"])
    talk = get_json(client, "/api/events/time-to-talk-day")
    assert talk["recurrence"]["rule"] == "every year on the first Thursday in February"
    single = get_json(client, "/api/events/kindness-challenge-deadline")
    assert single["recurrence"] is None and single["start"] == "2025-03-01"


def test_unknown_event_is_a_404_in_the_json_error_shape(client: InProcess) -> None:
    error = assert_error(client, "/api/events/no-such-event", None, "event_id", status=404)
    assert "no-such-event" in error["message"]


# --- Facets and search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [FEB_2026, {"audience": "schools", **FEB_2026}, YEAR_2026, {"q": "young parents", **YEAR_2026}],
)
def test_facet_counts_are_the_events_among_the_occurrences(
    client: InProcess, params: dict[str, str]
) -> None:
    facets = get_json(client, "/api/facets", params)
    assert (facets["from"], facets["to"]) == (params["from"], params["to"])
    events: dict[str, dict[str, Any]] = {}
    for item in occurrences(client, params):
        events[item["event_id"]] = item
    expected: dict[str, Counter[str]] = {
        "category": Counter(e["category"]["value"] for e in events.values()),
        "audience": Counter(a["value"] for e in events.values() for a in e["audiences"]),
        "theme": Counter(t["value"] for e in events.values() for t in e["themes"]),
        "tag": Counter(t for e in events.values() for t in e["tags"]),
    }
    for name, counter in expected.items():
        counts = {entry["value"]: entry["count"] for entry in facets[name]}
        assert {key: count for key, count in counts.items() if count} == dict(counter), name
        assert all(entry["label"] for entry in facets[name])


def test_text_search_ignores_case_and_accents(client: InProcess) -> None:
    plain = occurrences(client, {"q": "kindness", **YEAR_2026})
    assert plain
    for spelling in ("KINDNÉSS", "Kindnéss", "kìndness"):
        assert occurrences(client, {"q": spelling, **YEAR_2026}) == plain
    for item in plain:
        organiser = (item["organiser"] or {}).get("name", "")
        text = " ".join(
            (item["title"], item["summary"], item["description"], " ".join(item["tags"]), organiser)
        )
        assert "kindness" in fold(text)
    # Every word must match, in any order.
    both = occurrences(client, {"q": "HEALTH mental", **YEAR_2026})
    assert {i["event_id"] for i in both} == {"time-to-talk-day", "childrens-mental-health-week"}
