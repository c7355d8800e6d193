"""Real-browser tests of the month view: category filter and keyboard navigation of the grid."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Server
from embed_browser_support import Watched, _day_titles

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")


# 2. Filters ----------------------------------------------------------------------------------


def test_month_view_filtered_by_category(context: BrowserContext, server: Server) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/embed?category=awareness-week&view=month&month=2026-02")
    assert page.locator("#grid-title").inner_text() == "February 2026"
    shown = set(_day_titles(page))
    assert "Children's Mental Health Week" in shown
    assert "Random Acts of Kindness Week" in shown
    assert "Time to Talk Day" not in shown
    assert not any("Young Parents" in title for title in shown)
    # Each week is placed on the days it covers (2026's Children's Mental Health Week moved).
    on_ninth = _day_titles(page, "2026-02-09")
    assert "Children's Mental Health Week" in on_ninth
    # Unfiltered, the same month does show Time to Talk Day (on the first Thursday).
    page.goto(server.url + "/embed?view=month&month=2026-02")
    on_fifth = _day_titles(page, "2026-02-05")
    assert "Time to Talk Day" in on_fifth
    assert watched.problems() == []


# 3. Keyboard ---------------------------------------------------------------------------------


def _active_date(page: Page) -> str | None:
    script = "document.activeElement && document.activeElement.dataset.date || null"
    return page.evaluate(script)  # type: ignore[no-any-return]


def test_month_grid_keyboard_navigation(context: BrowserContext, server: Server) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/embed?view=month&month=2026-02")
    page.wait_for_load_state("load")
    # Exactly one cell is in the tab order (roving tabindex): the month's first day.
    roving = page.eval_on_selector_all(
        "td[data-date]", "cells => cells.filter(c => c.tabIndex === 0).map(c => c.dataset.date)"
    )
    assert roving == ["2026-02-01"]

    for _ in range(10):
        page.keyboard.press("Tab")
        if _active_date(page):
            break
    assert _active_date(page) == "2026-02-01", "Tab never reached the grid"

    # Feb 2026 starts on a Sunday; the grid runs Monday to Sunday.
    for key, expected in [
        ("ArrowRight", "2026-02-02"),
        ("ArrowDown", "2026-02-09"),
        ("ArrowRight", "2026-02-10"),
        ("End", "2026-02-15"),
        ("Home", "2026-02-09"),
        ("ArrowLeft", "2026-02-08"),
        ("ArrowUp", "2026-02-01"),
        ("ArrowUp", "2026-02-01"),  # nothing above the first row: focus stays
        ("ArrowLeft", "2026-01-31"),  # into the previous month's days shown in the grid
    ]:
        page.keyboard.press(key)
        assert _active_date(page) == expected, f"after {key}"
    roving = page.eval_on_selector_all(
        "td[data-date]", "cells => cells.filter(c => c.tabIndex === 0).map(c => c.dataset.date)"
    )
    assert roving == ["2026-01-31"]

    with page.expect_navigation():
        page.keyboard.press("PageDown")
    assert parse_qs(urlsplit(page.url).query)["month"] == ["2026-03"]
    assert page.locator("#grid-title").inner_text() == "March 2026"
    page.locator('td[data-date="2026-03-02"]').focus()
    with page.expect_navigation():
        page.keyboard.press("PageUp")
    assert page.locator("#grid-title").inner_text() == "February 2026"
    assert watched.problems() == []
