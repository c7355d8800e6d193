"""Imported events reach every output: feeds, API, pages, embed and the static export."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import in_process
from export_support import BROTLI_QUALITY
from ical.calendar_stream import IcsCalendarStream
from partner_feeds_support import PAGE, TODAY, data_with_feed
from partner_feeds_support import by_uid as imported

from calendar_service.export import build_site
from calendar_service.loading import load
from calendar_service.settings import ServiceSettings

COURSE = "course-101@training.example.gov.uk"
BASE = "https://calendar.example.test"


def test_an_imported_event_is_in_the_feeds_api_pages_and_embed(tmp_path: Path) -> None:
    data, fetched = data_with_feed(tmp_path, "normal.ics")
    event = imported(load(data, today=TODAY, fetched=fetched).events, COURSE)
    client = in_process(data, today=TODAY, fetched_dir=fetched)

    feed = client.get("/calendar.ics")
    assert feed.status_code == 200
    parsed = IcsCalendarStream.calendar_from_ics(feed.text)  # an independent parser
    (found,) = [item for item in parsed.events if item.uid == f"{event.id}@{_uid_domain(data)}"]
    assert found.summary == "Working Together 2023: an introduction"
    assert found.sequence == 2
    assert "Organiser: Example County Council" in (found.description or "")

    api = client.get(f"/api/events/{event.id}")
    assert api.status_code == 200, api.text
    shown = api.json()
    assert shown["title"] == event.data.title
    assert shown["source"] == PAGE
    assert shown["organiser"]["name"] == "Example County Council"

    page = client.get(f"/events/{event.id}")
    assert page.status_code == 200
    assert f'href="{PAGE}"' in page.text
    assert "Example County Council" in page.text
    assert event.data.title in client.get("/embed?month=2027-01").text


def test_an_export_after_a_fetch_is_the_same_for_the_same_fetched_bytes(tmp_path: Path) -> None:
    data, fetched = data_with_feed(tmp_path, "recurring-with-exceptions.ics")
    settings = ServiceSettings(
        data_dir=data, fetched_dir=fetched, base_url=BASE, export_brotli_quality=BROTLI_QUALITY
    )
    first = build_site(settings, tmp_path / "first", today=TODAY)
    second = build_site(settings, tmp_path / "second", today=TODAY)
    assert [(item.path, item.sha256) for item in first] == [
        (item.path, item.sha256) for item in second
    ]
    manifest = json.loads((tmp_path / "first" / "manifest.json").read_text())
    event_id = imported(load(data, today=TODAY, fetched=fetched).events, "forum@events.example.org")
    assert any(item["url"] == f"/events/{event_id.id}" for item in manifest["files"])
    assert (
        b"Parents' forum (moved to Thursday)" in (tmp_path / "first" / "calendar.ics").read_bytes()
    )


def _uid_domain(data: Path) -> str:
    return load(data).settings.uid_domain
