"""Chromium on the subscribe, home and event pages: the copy button and both Outlook links.

A real server over a copy of tests/datasets/partnership-2026 without `base_url`, so links
name the address it serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from base_url_support import data_without_base_url, start_plain
from conftest import Server, stop_server
from embed_browser_support import PLAYWRIGHTS_VIEWPORT, Watched

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

# One xdist worker runs the chromium tests (make unit: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("embed_browser")

PERSONAL = re.compile(r"Outlook\.com \(personal\)")
WORK = re.compile(r"Outlook for work or school \(Microsoft 365\)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("links-browser")
    running, _base = start_plain(data_without_base_url(folder), folder, "--port", "0")
    yield running
    stop_server(running)


def _outlook_links(page: Page) -> dict[str, str]:
    """The host of each Outlook link on the page, by account kind (exactly one of each)."""
    hosts = {}
    for kind, name in (("personal", PERSONAL), ("work", WORK)):
        link = page.get_by_role("link", name=name)
        assert link.count() == 1, (page.url, kind)
        href = link.get_attribute("href")
        assert href is not None
        hosts[kind] = href
    return hosts


@pytest.mark.parametrize("path", ["/subscribe", "/"])
def test_both_outlook_subscribe_links_name_the_feed_served(
    open_page: Callable[..., Page], served: Server, path: str
) -> None:
    watched = Watched(open_page(viewport=PLAYWRIGHTS_VIEWPORT))
    watched.page.goto(served.url + path)
    found = _outlook_links(watched.page)
    assert watched.problems() == []
    for kind, host in (("personal", "outlook.live.com"), ("work", "outlook.office.com")):
        parts = urlsplit(found[kind])
        assert (parts.hostname, parts.path) == (host, "/calendar/0/addfromweb")
        assert parse_qs(parts.query)["url"] == [served.url + "/calendar.ics"]


def test_both_outlook_links_add_one_event(open_page: Callable[..., Page], served: Server) -> None:
    watched = Watched(open_page(viewport=PLAYWRIGHTS_VIEWPORT))
    page = watched.page
    page.goto(served.url + "/")
    page.locator(".event-title a").first.click()
    page.wait_for_url(re.compile(r"/events/[a-z0-9-]+$"))
    found = _outlook_links(page)
    title = page.locator("h1").inner_text()
    assert watched.problems() == []
    for kind, host in (("personal", "outlook.live.com"), ("work", "outlook.office.com")):
        parts = urlsplit(found[kind])
        assert (parts.hostname, parts.path) == (host, "/calendar/0/deeplink/compose")
        assert parse_qs(parts.query)["subject"] == [title]


def test_the_copy_button_copies_the_feed_address(
    open_page: Callable[..., Page], served: Server
) -> None:
    watched = Watched(open_page(viewport=PLAYWRIGHTS_VIEWPORT))
    # Granted in the shared context until the test ends (open_page clears them then).
    watched.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = watched.page
    page.goto(served.url + "/subscribe")
    address = page.get_by_label("Calendar address")
    assert address.input_value() == served.url + "/calendar.ics"
    page.get_by_role("button", name="Copy calendar address").click()
    status = page.locator(".copyable", has=address).get_by_role("status")
    status.filter(has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == served.url + "/calendar.ics"
    assert watched.problems() == []


def test_without_javascript_the_address_stays_selectable(
    open_page: Callable[..., Page], served: Server
) -> None:
    page = open_page(viewport=PLAYWRIGHTS_VIEWPORT, java_script_enabled=False)
    page.goto(served.url + "/subscribe")
    address = page.get_by_label("Calendar address")
    assert address.input_value() == served.url + "/calendar.ics"
    address.select_text()
    selected = address.evaluate(
        "field => field.value.slice(field.selectionStart, field.selectionEnd)"
    )
    assert selected == served.url + "/calendar.ics"
    assert page.get_by_role("button", name=re.compile("^Copy")).count() == 0
