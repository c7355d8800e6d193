"""The JSON API, in process over the bundled data: results, links, time zones,
pagination, facets, search, CORS, documentation and the one JSON error shape."""

from __future__ import annotations

import shutil
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess, in_process
from dateutil import rrule

LONDON = ZoneInfo("Europe/London")
FEB_2026 = {"from": "2026-02-01", "to": "2026-02-28"}
YEAR_2026 = {"from": "2026-01-01", "to": "2026-12-31"}


# --- An independent reading of the data files ------------------------------------------------


def data_events() -> list[dict[str, Any]]:
    """Every event of the bundled data, as plain strings (no YAML type guessing)."""
    events = []
    for path in sorted((BUNDLED_DATA / "events").glob("*.yaml")):
        events += yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)["events"]
    return events


def past_days() -> int:
    settings = yaml.load((BUNDLED_DATA / "calendar.yaml").read_text(), Loader=yaml.BaseLoader)
    return int(settings["past_days"])


def when(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def rule_starts(event: dict[str, Any], limit: date) -> list[date | datetime]:
    """Starts of an event's series up to `limit`, with dateutil directly."""
    start = when(event["start"])
    recurrence = event.get("recurrence")
    if not recurrence:
        return [start]
    starts: list[date | datetime] = []
    rule = recurrence.get("rule")
    if rule:
        weekdays = []
        for code in rule.get("by_weekday", []):
            day = getattr(rrule, code[-2:])
            weekdays.append(day(int(code[:-2])) if code[:-2] else day)
        until = rule.get("until")
        series = rrule.rrule(
            {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "yearly": rrule.YEARLY}.get(
                rule["frequency"], rrule.MONTHLY
            ),
            dtstart=naive(start),
            interval=int(rule.get("interval", 1)),
            count=int(rule["count"]) if "count" in rule else None,
            until=datetime.combine(date.fromisoformat(until), time.max) if until else None,
            bymonth=[int(m) for m in rule.get("by_month", [])] or None,
            bymonthday=[int(d) for d in rule.get("by_month_day", [])] or None,
            byweekday=weekdays or None,
        )
        found = series.between(naive(start), datetime.combine(limit, time.max), inc=True)
        starts += [value if isinstance(start, datetime) else value.date() for value in found]
    starts += [when(value) for value in recurrence.get("extra_dates", [])]
    excluded = {when(value) for value in recurrence.get("excluded_dates", [])}
    return [value for value in starts if value not in excluded]


def expected_occurrences(
    wanted: dict[str, str], first: date, last: date, today: date
) -> list[dict[str, Any]]:
    """What /api/occurrences should list for an audience filter, read from the YAML."""
    window_start = datetime.combine(first, time(), LONDON)
    window_end = datetime.combine(last + timedelta(days=1), time(), LONDON)
    found = []
    for event in data_events():
        if "audience" in wanted and wanted["audience"] not in event["audiences"]:
            continue
        start = when(event["start"])
        all_day = not isinstance(start, datetime)
        end = when(event["end"]) if "end" in event else None
        if all_day:
            length = ((end or start) - start) + timedelta(days=1)
        else:
            length = (end - start) if end else timedelta(hours=1)
        rule = (event.get("recurrence") or {}).get("rule") or {}
        endless = bool(rule) and "count" not in rule and "until" not in rule
        overrides = {when(o["occurrence"]): o for o in event.get("overrides", [])}
        items = []
        for original in rule_starts(event, last + timedelta(days=400)):
            override = overrides.get(original, {})
            begin = when(override["start"]) if "start" in override else original
            if "end" in override:
                finish = when(override["end"]) + (timedelta(days=1) if all_day else timedelta())
            else:
                finish = begin + length
            status = override.get("status", event.get("status", "confirmed"))
            items.append((original, begin, finish, status, override.get("note")))
        last_end = max(naive(finish) for _, _, finish, _, _ in items)
        if not endless and last_end.date() <= today - timedelta(days=past_days()):
            continue  # long past: feeds and the API leave it out
        for original, begin, finish, status, note in items:
            begin_at = naive(begin).replace(tzinfo=LONDON)
            finish_at = naive(finish).replace(tzinfo=LONDON)
            if finish_at > window_start and begin_at < window_end:
                found.append(
                    {
                        "event_id": event["id"],
                        "title": event["title"],
                        "key": naive(original).strftime("%Y%m%d" if all_day else "%Y%m%dT%H%M%S"),
                        "start": begin.isoformat(),
                        "last_day": (finish - timedelta(days=1)).isoformat() if all_day else None,
                        "status": status,
                        "note": note,
                    }
                )
    return found


# --- Helpers -----------------------------------------------------------------------------------


def get_json(client: InProcess, path: str, params: Any = None, status: int = 200) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def occurrences(client: InProcess, params: Any) -> list[dict[str, Any]]:
    body = get_json(client, "/api/occurrences", [*_pairs(params), ("limit", "500")])
    assert body["next_cursor"] is None and body["count"] == body["total"]
    items: list[dict[str, Any]] = body["occurrences"]
    return items


def _pairs(params: Any) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, dict) else list(params)


def start_instant(item: dict[str, Any]) -> datetime:
    value = when(item["start"])
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value
    return datetime.combine(value, time(), LONDON)


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def today_of(client: InProcess) -> date:
    return date.fromisoformat(get_json(client, "/healthz")["compiled_on"])


def assert_error(
    client: InProcess, path: str, params: Any, parameter: str | None, status: int = 422
) -> dict[str, Any]:
    """The one error shape: {"error": {"status", "message", "parameter", ...}}."""
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "message", "parameter", "allowed"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert len(error["message"]) < 500  # never echoes a huge value back
    assert error.get("parameter") == parameter
    return dict(error)


# --- Results ------------------------------------------------------------------------------------


def test_schools_in_february_2026_lists_what_the_data_files_give(client: InProcess) -> None:
    items = occurrences(client, {"audience": "schools", **FEB_2026})
    expected = expected_occurrences(
        {"audience": "schools"}, date(2026, 2, 1), date(2026, 2, 28), today_of(client)
    )
    expected.sort(key=lambda item: (start_instant(item), item["title"].casefold()))
    got = [
        {
            "event_id": item["event_id"],
            "title": item["title"],
            "key": item["id"].split("/", 1)[1],
            "start": item["start"],
            "last_day": item["last_day"],
            "status": item["status"],
            "note": item["note"],
        }
        for item in items
    ]
    assert got == expected
    # The dates the newsletter gives, as a sanity check of the derivation above.
    summary = [(item["title"], item["start"], item["last_day"], item["status"]) for item in items]
    assert summary == [
        ("Time to Talk Day", "2026-02-05", "2026-02-05", "confirmed"),
        ("Random Acts of Kindness Week", "2026-02-08", "2026-02-14", "provisional"),
        ("Children's Mental Health Week", "2026-02-09", "2026-02-15", "confirmed"),
    ]
    moved = items[2]
    assert moved["id"] == "childrens-mental-health-week/20260202"  # keyed by the rule's date
    assert moved["end"] == "2026-02-16"  # exclusive
    assert items[1]["note"] and "not yet confirmed" in items[1]["note"]


@pytest.mark.parametrize(
    "params",
    [{}, {"audience": "schools"}, {"category": "programme"}, {"q": "kindness"}],
    ids=["all", "schools", "programme", "kindness"],
)
def test_occurrences_are_sorted_by_start_then_title(
    client: InProcess, params: dict[str, str]
) -> None:
    items = occurrences(client, {**params, **YEAR_2026})
    assert items
    keys = [(start_instant(item), item["title"].casefold()) for item in items]
    assert keys == sorted(keys)
    assert len({item["id"] for item in items}) == len(items)


def test_every_occurrence_links_to_its_page_its_ics_and_adds_to_google_and_outlook(
    client: InProcess,
) -> None:
    items = occurrences(client, YEAR_2026)
    assert any(item["all_day"] for item in items) and not all(item["all_day"] for item in items)
    for item in items:
        page, ics = f"{client.url}/events/{item['event_id']}", f"{client.url}/events/"
        links = item["links"]
        assert set(links) == {"event_page", "ics", "google", "outlook"}
        assert links["event_page"] == item["event_page"] == page
        assert links["ics"] == item["event_ics"] == f"{ics}{item['event_id']}.ics"
        google, outlook = urlsplit(links["google"]), urlsplit(links["outlook"])
        assert (google.scheme, google.netloc) == ("https", "calendar.google.com")
        assert (outlook.scheme, outlook.netloc) == ("https", "outlook.office.com")
        g, o = parse_qs(google.query), parse_qs(outlook.query)
        assert g["action"] == ["TEMPLATE"] and g["text"] == [item["title"]]
        assert g["ctz"] == ["Europe/London"] and page in g["details"][0]
        assert o["subject"] == [item["title"]] and page in o["body"][0]
        start, end = when(item["start"]), when(item["end"])
        if item["all_day"]:
            assert g["dates"] == [f"{start:%Y%m%d}/{end:%Y%m%d}"]
            assert (o["startdt"], o["enddt"]) == ([start.isoformat()], [end.isoformat()])
            assert o["allday"] == ["true"]
        else:
            assert isinstance(start, datetime) and isinstance(end, datetime)
            start, end = start.astimezone(UTC), end.astimezone(UTC)
            assert g["dates"] == [f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"]
            assert o["startdt"] == [f"{start:%Y-%m-%dT%H:%M:%SZ}"]
            assert o["enddt"] == [f"{end:%Y-%m-%dT%H:%M:%SZ}"]
            assert o["allday"] == ["false"]
        assert client.get(urlsplit(links["ics"]).path).status_code == 200


def test_all_day_items_have_dates_and_timed_items_datetimes_with_offsets(client: InProcess) -> None:
    items = occurrences(client, YEAR_2026)
    for item in items:
        if item["all_day"]:
            assert date.fromisoformat(item["start"]) < date.fromisoformat(item["end"])
            assert len(item["start"]) == len(item["end"]) == 10
            assert date.fromisoformat(item["last_day"]) == when(item["end"]) - timedelta(days=1)
        else:
            start, end = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
            assert start.utcoffset() is not None and end.utcoffset() is not None
            assert start < end and item["last_day"] is None


@pytest.fixture(scope="module")
def archive_client(tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    """The bundled data with ten years of past occurrences kept, so that the 2026 Young
    Parents Programme stays listed however long after 2026 the tests run."""
    folder = tmp_path_factory.mktemp("archive")
    data = folder / "data"
    shutil.copytree(BUNDLED_DATA, data)
    settings = data / "calendar.yaml"
    text = settings.read_text(encoding="utf-8")
    assert "\npast_days: " in text
    settings.write_text(text.replace("\npast_days: ", "\npast_days: 3650 # ", 1), "utf-8")
    return in_process(data, base_url=IN_PROCESS_URL)


def test_young_parents_programme_is_at_ten_in_london_with_the_offset_of_the_season(
    archive_client: InProcess,
) -> None:
    items = occurrences(archive_client, {"tag": "young-parents", **YEAR_2026})
    expected = [
        item
        for item in expected_occurrences({}, date(2026, 1, 1), date(2026, 12, 31), date(2026, 1, 1))
        if item["event_id"].startswith("young-parents-programme-")
    ]
    assert [item["start"][:19] for item in items] == sorted(e["start"] for e in expected)
    offsets = Counter()
    for item in items:
        start, end = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
        assert (start.hour, start.minute, end.hour) == (10, 0, 14)
        local = start.replace(tzinfo=None)
        summer = date(2026, 3, 29) <= local.date() < date(2026, 10, 25)
        offset = "+01:00" if summer else "+00:00"
        assert item["start"].endswith(offset) and item["end"].endswith(offset), item
        assert start.utcoffset() == local.replace(tzinfo=LONDON).utcoffset()
        offsets[offset] += 1
    # The February intake runs across the change to summer time; April is all summer.
    assert offsets["+00:00"] >= 1 and offsets["+01:00"] >= 12
    spring = [i["start"] for i in items if i["event_id"] == "young-parents-programme-2026-02"]
    assert spring[0] == "2026-02-03T10:00:00+00:00" and spring[-1] == "2026-04-21T10:00:00+01:00"


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


# --- CORS and documentation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/occurrences?from=2026-02-01&to=2026-02-28",
        "/api/events",
        "/api/events/time-to-talk-day",
        "/api/facets",
        "/api/occurrences?limit=0",
        "/api/events/nope",
    ],
)
def test_api_answers_any_origin(client: InProcess, path: str) -> None:
    for headers in ({}, {"Origin": "https://school.example"}):
        response = client.get(path, headers=headers)
        assert response.headers["access-control-allow-origin"] == "*", path


def test_openapi_documents_every_parameter_the_api_accepts(client: InProcess) -> None:
    document = get_json(client, "/openapi.json")
    paths = {path: ops for path, ops in document["paths"].items() if path.startswith("/api/")}
    assert set(paths) == {
        "/api/occurrences",
        "/api/events",
        "/api/events/{event_id}",
        "/api/facets",
    }
    for path, operations in paths.items():
        parameters = operations["get"].get("parameters", [])
        for parameter in parameters:
            assert parameter.get("description"), (path, parameter["name"])
        documented = {p["name"] for p in parameters if p["in"] == "query"}
        concrete = path.replace("{event_id}", "time-to-talk-day")
        refused = assert_error(client, concrete, {"not-a-parameter": "1"}, "not-a-parameter")
        assert documented == set(refused.get("allowed", [])), path
    assert {p["name"] for p in paths["/api/occurrences"]["get"]["parameters"]} >= {
        "from", "to", "limit", "cursor", "category", "audience", "theme", "tag", "q", "online",
        "status",
    }  # fmt: skip


def test_interactive_docs_are_served(client: InProcess) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


# --- Refusals -------------------------------------------------------------------------------


OCCURRENCE_REFUSALS = [
    pytest.param([("from", "2026-13-01")], "from", id="impossible-month"),
    pytest.param([("from", "2026-W05-1")], "from", id="week-date"),
    pytest.param([("to", "1 March")], "to", id="words"),
    pytest.param([("from", "2026-02-01"), ("to", "2026-01-31")], "to", id="to-before-from"),
    pytest.param([("from", "2026-01-01"), ("to", "2031-12-31")], "to", id="window-over-cap"),
    pytest.param([("from", "1900-01-01")], "from", id="year-out-of-range"),
    pytest.param([("category", "no-such-category")], "category", id="unknown-category"),
    pytest.param([("audience", "aliens")], "audience", id="unknown-audience"),
    pytest.param([("status", "maybe")], "status", id="unknown-status"),
    pytest.param([("online", "perhaps")], "online", id="online-not-boolean"),
    pytest.param([("colour", "red")], "colour", id="unknown-parameter"),
    pytest.param([("limit", "501")], "limit", id="limit-over-cap"),
    pytest.param([("limit", "0")], "limit", id="limit-zero"),
    pytest.param([("limit", "-1")], "limit", id="limit-negative"),
    pytest.param([("limit", "²")], "limit", id="limit-superscript-digit"),
    pytest.param([("limit", "five")], "limit", id="limit-words"),
    pytest.param([("cursor", "not-a-cursor!")], "cursor", id="garbage-cursor"),
    pytest.param([("cursor", "WzEsImEiLCJiIl0")], "cursor", id="cursor-of-wrong-shape"),
    pytest.param([("from", "2026-01-01"), ("from", "2026-02-01")], "from", id="repeated-from"),
    pytest.param([("q", "a"), ("q", "b")], "q", id="repeated-q"),
]


@pytest.mark.parametrize(("params", "parameter"), OCCURRENCE_REFUSALS)
def test_refused_occurrence_queries_name_the_parameter(
    client: InProcess, params: list[tuple[str, str]], parameter: str
) -> None:
    assert_error(client, "/api/occurrences", params, parameter)


def test_unknown_category_lists_the_allowed_values(client: InProcess) -> None:
    error = assert_error(client, "/api/occurrences", {"category": "nope"}, "category")
    settings = yaml.load((BUNDLED_DATA / "calendar.yaml").read_text(), Loader=yaml.BaseLoader)
    assert error["allowed"] == list(settings["vocabularies"]["categories"])
    assert "awareness-day" in error["allowed"]


def test_window_over_the_cap_is_refused_and_the_cap_itself_is_served(client: InProcess) -> None:
    error = assert_error(
        client, "/api/occurrences", {"from": "2026-01-01", "to": "2031-12-31"}, "to"
    )
    assert "days" in error["message"]
    cap = date(2026, 1, 1) + timedelta(days=5 * 366 - 1)
    ok = get_json(client, "/api/occurrences", {"from": "2026-01-01", "to": cap.isoformat()})
    assert ok["to"] == cap.isoformat()
    assert_error(
        client,
        "/api/occurrences",
        {"from": "2026-01-01", "to": (cap + timedelta(days=1)).isoformat()},
        "to",
    )


LONG_VALUE_NAMES = ["from", "to", "limit", "cursor", "category", "audience", "theme", "tag", "q"]


@pytest.mark.parametrize("length", [5_000, 10_000])
@pytest.mark.parametrize("name", [*LONG_VALUE_NAMES, "online", "status"])
def test_long_parameter_values_are_refused_naming_the_parameter_without_echo(
    client: InProcess, name: str, length: int
) -> None:
    # Long, yet inside the URL limit: the parameter itself is refused.
    error = assert_error(client, "/api/occurrences", {name: "7" * length}, name)
    assert "7" * 100 not in error["message"]


def test_url_over_the_limit_is_refused_as_json_414(client: InProcess) -> None:
    error = assert_error(client, "/api/occurrences", {"q": "7" * 20_000}, None, status=414)
    assert "7" * 100 not in error["message"]


@pytest.mark.parametrize("length", [5_000, 10_000])
def test_long_parameter_name_is_refused_shortened(client: InProcess, length: int) -> None:
    error = assert_error(client, "/api/occurrences", {"x" * length: "1"}, "x" * 60)
    assert "unknown parameter" in error["message"]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/events", {"status": "confirmed"}, "status"),
        ("/api/events", {"from": "2026-01-01"}, "from"),
        ("/api/events", {"limit": "0"}, "limit"),
        ("/api/events", {"cursor": "%%%"}, "cursor"),
        ("/api/facets", {"from": "2026-13-01"}, "from"),
        ("/api/facets", {"limit": "5"}, "limit"),
        ("/api/events/time-to-talk-day", {"q": "x"}, "q"),
    ],
)
def test_other_endpoints_refuse_in_the_same_shape(
    client: InProcess, path: str, params: dict[str, str], parameter: str
) -> None:
    assert_error(client, path, params, parameter)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/occurrences", {"from": "2150-01-01", "to": "2150-12-31"}, "to"),
        ("/api/occurrences", {"from": "1990-01-01", "to": "1990-12-31"}, "from"),
        ("/api/facets", {"from": "2150-01-01", "to": "2150-12-31"}, "to"),
        ("/embed", {"view": "month", "month": "2150-06"}, "month"),
    ],
)
def test_windows_far_from_today_are_refused_so_expansion_stays_bounded(
    client: InProcess, path: str, params: dict[str, str], parameter: str
) -> None:
    error = assert_error(client, path, params, parameter)
    assert "years either side of today" in error["message"]


def test_window_beyond_the_index_but_within_reach_is_expanded_on_demand(client: InProcess) -> None:
    today = date.fromisoformat(client.get("/version.json").json()["compiled_on"])
    year = today.year + 8  # past the five-year index, inside the ten-year reach
    body = get_json(client, "/api/occurrences", {"from": f"{year}-02-01", "to": f"{year}-02-28"})
    titles = {item["title"] for item in body["occurrences"]}
    assert "Time to Talk Day" in titles
