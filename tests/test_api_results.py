"""The JSON API, in process over the bundled data: results, links and time zones."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from api_support import (
    FEB_2026,
    LONDON,
    YEAR_2026,
    expected_occurrences,
    occurrences,
    start_instant,
    today_of,
    when,
)
from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess, in_process

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
