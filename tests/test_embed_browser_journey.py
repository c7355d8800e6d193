"""Real-browser test of a newcomer's journey: filter to schools and subscribe in one click."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Server
from embed_browser_support import Watched

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")


def test_newcomer_filters_to_schools_and_subscribes_in_one_click(
    context: BrowserContext, server: Server
) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/")
    page.get_by_label("Schools").check()
    page.get_by_role("button", name="Show events").click()
    page.wait_for_load_state("load")
    # The form's query is redirected to the canonical filter URL.
    assert urlsplit(page.url).query == "audience=schools"
    titles = {title.strip() for title in page.locator(".event-title").all_inner_texts()}
    expected = {
        item["title"]
        for item in server.get("/api/occurrences?audience=schools&limit=100").json()["occurrences"]
    }
    assert titles == expected
    box = page.locator(".subscribe-box")
    webcal = box.get_by_role("link", name="Calendar app").get_attribute("href") or ""
    assert webcal.startswith("webcal://") and webcal.endswith("/calendar.ics?audience=schools")
    google = box.get_by_role("link", name="Google Calendar").get_attribute("href") or ""
    assert parse_qs(urlsplit(google).query)["cid"] == [webcal]
    feed = server.get("/calendar.ics?audience=schools")
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    assert watched.problems() == []
