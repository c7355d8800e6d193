"""Real-browser tests of the embeddable widget on another origin and its noscript fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Server, wait_until
from embed_browser_support import HEIGHT, PLAYWRIGHTS_VIEWPORT, HostSite, Watched, _titles

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, Page

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")


# 1. Embedding from a third-party origin -----------------------------------------------------


def test_widget_embedded_on_another_origin(
    context: BrowserContext, server: Server, host_site: HostSite
) -> None:
    assert urlsplit(host_site.url).port != urlsplit(server.url).port
    watched = Watched(context)
    page = watched.page
    page.goto(host_site.url + "/host.html")

    iframe = page.wait_for_selector("#widget iframe")
    assert iframe is not None
    src = urlsplit(iframe.get_attribute("src") or "")
    assert f"{src.scheme}://{src.netloc}" == server.url
    assert src.path == "/embed"
    # The loader writes the canonical query: defaults such as view=list are left out.
    assert parse_qs(src.query) == {"audience": ["schools"]}
    assert iframe.get_attribute("title")

    frame = iframe.content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    frame.wait_for_selector(".widget-footer")

    # The frame posts its height; the loader sizes the iframe to it (from the 480px default).
    def sized() -> bool:
        scroll = frame.evaluate("document.documentElement.scrollHeight")
        return bool(abs(iframe.evaluate(HEIGHT) - scroll) <= 3)

    wait_until(sized, "the iframe sized to its content", timeout=5)
    scroll_height = frame.evaluate("document.documentElement.scrollHeight")
    height = iframe.evaluate(HEIGHT)
    style_height = iframe.evaluate("el => el.style.height")
    assert abs(height - scroll_height) <= 3, (height, scroll_height, style_height)
    assert style_height.endswith("px") and style_height != "480px", style_height
    # No inner scrollbars: the whole document fits inside the frame both ways.
    inner = frame.evaluate(
        """() => ({
             scrollHeight: document.documentElement.scrollHeight,
             clientHeight: document.documentElement.clientHeight,
             scrollWidth: document.documentElement.scrollWidth,
             clientWidth: document.documentElement.clientWidth,
           })"""
    )
    assert inner["scrollHeight"] <= inner["clientHeight"] + 1, inner
    assert inner["scrollWidth"] <= inner["clientWidth"], inner
    # The host's content after the widget is pushed below it, not covered by it.
    after_top = page.eval_on_selector("#after", "el => el.getBoundingClientRect().top")
    frame_bottom = iframe.evaluate("el => el.getBoundingClientRect().bottom")
    assert after_top >= frame_bottom

    # The frame shows what the API lists for the same filter from today.
    api = server.get("/api/occurrences", params={"audience": "schools"}).json()
    expected = [occurrence["title"] for occurrence in api["occurrences"]]
    shown = _titles(frame)
    assert shown, "the widget shows no events"
    count = min(len(shown), len(expected), 10)
    assert set(shown[:count]) == set(expected[:count]), (shown, expected)
    assert len(shown) == min(10, api["total"])

    assert watched.problems() == []
    assert watched.dialogs == []


def test_attributes_written_over_several_lines_still_load_the_widget(
    context: BrowserContext, server: Server, host_site: HostSite
) -> None:
    """The service refuses line breaks in parameters (issue 9); the loader sends words."""
    watched = Watched(context)
    watched.page.goto(host_site.url + "/multiline.html")
    iframe = watched.page.wait_for_selector("#widget iframe")
    assert iframe is not None
    query = parse_qs(urlsplit(iframe.get_attribute("src") or "").query)
    assert query == {"title": ["Dates for schools and parents"], "q": ["mental health"]}
    frame = iframe.content_frame()
    assert frame is not None
    frame.wait_for_selector(".widget-footer")
    assert frame.inner_text(".widget-title") == "Dates for schools and parents"
    assert watched.problems() == []


def test_noscript_fallback_links_to_the_calendar(
    open_page: Callable[..., Page], server: Server, host_site: HostSite
) -> None:
    page = open_page(viewport=PLAYWRIGHTS_VIEWPORT, java_script_enabled=False)
    page.goto(host_site.url + "/host.html")
    assert page.locator("iframe").count() == 0
    link = page.locator("#widget noscript a, #widget a").first
    assert link.get_attribute("href") == f"{server.url}/?audience=schools"
    assert link.is_visible()
