"""Real-browser tests of the pages as a calendar: month bars, times, colours, error pages, axe."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import BUNDLED_DATA, Server
from embed_browser_support import AXE, Watched, _unavailable, serious_violations
from pages_support import CSS_COLOURS, wcag_contrast

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, Page

# One xdist worker runs the module (make unit: --dist loadgroup): one chromium, one server.
pytestmark = pytest.mark.xdist_group("embed_browser")

FEB_2026 = "/embed?view=month&month=2026-02&category=awareness-week"
BOX = "el => { const b = el.getBoundingClientRect(); return [b.left, b.right, b.top]; }"


def _bars(page: Page, title: str) -> list[Any]:
    """The bar cells whose link names `title`, in document order."""
    return page.locator(".month-grid td.bar").filter(has_text=title).all()


def _cell_box(page: Page, day: str) -> list[float]:
    return page.locator(f'td[data-date="{day}"]').evaluate(BOX)  # type: ignore[no-any-return]


def test_a_week_is_one_bar_across_its_days(context: BrowserContext, server: Server) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + FEB_2026)
    # Children's Mental Health Week 2026: Monday 9 to Sunday 15 February, one row of the grid.
    bars = _bars(page, "Children's Mental Health Week")
    assert len(bars) == 1
    left, right, _ = bars[0].evaluate(BOX)
    assert abs(left - _cell_box(page, "2026-02-09")[0]) <= 1
    assert abs(right - _cell_box(page, "2026-02-15")[1]) <= 1
    # Its title is written once, not in each of the seven days.
    assert page.locator(".month-grid").inner_text().count("Children's Mental Health Week") == 1
    assert watched.problems() == []


def test_a_week_across_two_rows_wraps_and_says_so(context: BrowserContext, server: Server) -> None:
    page = Watched(context).page
    page.goto(server.url + FEB_2026)
    # Random Acts of Kindness Week 2026 runs Sunday 8 to Saturday 14: the grid's rows are
    # Monday to Sunday, so it is a one-day bar on the 8th and a bar from the 9th to the 14th.
    first, second = _bars(page, "Random Acts of Kindness Week")
    sunday = _cell_box(page, "2026-02-08")
    assert [round(x) for x in first.evaluate(BOX)[:2]] == [round(x) for x in sunday[:2]]
    left, right, top = second.evaluate(BOX)
    assert abs(left - _cell_box(page, "2026-02-09")[0]) <= 1
    assert abs(right - _cell_box(page, "2026-02-14")[1]) <= 1
    assert top > sunday[2]  # on the next row
    assert "continues next week" in first.text_content()  # type: ignore[operator]
    assert "continued" in second.text_content()  # type: ignore[operator]
    # Provisional, in words as well as in the bar's dashed edge.
    assert "(provisional)" in first.inner_text()


def test_timed_events_show_their_time_with_gmt_or_bst(
    context: BrowserContext, server: Server
) -> None:
    page = Watched(context).page
    page.goto(server.url + "/embed?view=month&month=2026-03&category=programme")
    texts = {
        day: page.locator(".bar a", has=page.locator(f'time[datetime^="{day}"]')).inner_text()
        for day in ("2026-03-24", "2026-03-31")
    }
    # The clocks went forward on Sunday 29 March 2026.
    assert texts["2026-03-24"].startswith("10:00 GMT Young Parents")
    assert texts["2026-03-31"].startswith("10:00 BST Young Parents")


def _rgb(css: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css)[:3])
    return f"{red:02x}{green:02x}{blue:02x}"


def test_category_colours_from_calendar_yaml_with_aa_text(
    context: BrowserContext, server: Server
) -> None:
    page = Watched(context).page
    categories = yaml.safe_load((BUNDLED_DATA / "calendar.yaml").read_text())["vocabularies"][
        "categories"
    ]
    seen = set()
    for month, query in (("2026-02", ""), ("2026-03", ""), ("2026-10", "")):
        page.goto(server.url + f"/embed?view=month&month={month}{query}")
        # Every bar's class and its link's colours in one call: a call per bar was ~90 calls.
        bars = page.eval_on_selector_all(
            ".month-grid td.bar",
            """bars => bars.map(bar => { const s = getComputedStyle(bar.querySelector("a"));
                 return [bar.className, s.backgroundColor, s.color]; })""",
        )
        for classes, background_css, text_css in bars:
            key = re.search(r"category-([a-z0-9-]+)", classes)
            assert key, classes
            background, text = _rgb(background_css), _rgb(text_css)
            expected = CSS_COLOURS[categories[key.group(1)]["color"]]
            assert background == expected, key.group(1)
            assert wcag_contrast(background, text) >= 4.5, (key.group(1), background, text)
            seen.add(key.group(1))
    assert {"awareness-week", "programme"} <= seen, seen


def test_weekday_headers_do_not_look_like_links(context: BrowserContext, server: Server) -> None:
    page = Watched(context).page
    page.goto(server.url + FEB_2026)
    styles = page.eval_on_selector_all(
        ".month-grid th, .month-grid th *",
        """els => els.map(el => { const s = getComputedStyle(el);
             return [s.textDecorationLine, s.cursor, el.tagName]; })""",
    )
    assert styles and all(line == "none" and cursor != "pointer" for line, cursor, _ in styles)
    assert not any(tag in ("A", "ABBR") for _, _, tag in styles)


def test_enter_on_a_day_reaches_its_first_bar(context: BrowserContext, server: Server) -> None:
    page = Watched(context).page
    page.goto(server.url + FEB_2026)
    page.locator('td[data-date="2026-02-10"]').focus()
    page.keyboard.press("Enter")
    focused = page.evaluate("document.activeElement.closest('td.bar').textContent")
    assert "Mental Health Week" in focused or "Kindness" in focused


def test_a_bad_link_gives_an_html_page_with_a_way_home(
    context: BrowserContext, server: Server
) -> None:
    watched = Watched(context)
    page = watched.page
    for path, status in (("/events/nope", 404), ("/?category=nope", 422)):
        response = page.goto(server.url + path)
        assert response is not None and response.status == status
        assert page.locator("h1").inner_text()
        assert page.locator("link[href='/static/calendar.css']").count() == 1
        with page.expect_navigation():
            page.get_by_role("link", name="Go to the calendar's home page").click()
        assert page.url == server.url + "/"
        assert page.locator("h1").inner_text() == "Durham Safeguarding Children Partnership dates"
    # Chromium reports the 4xx of the page itself as a console error; nothing else.
    assert all("status of 4" in problem for problem in watched.problems()), watched.problems()


AXE_PAGES = [FEB_2026, "/embed?view=month&month=2026-03", "/events/nope", "/?category=nope", "/"]
# A phone's 320 CSS px, then 200% zoom of a 1280px window: a 640px-wide viewport at twice the
# pixels. Zoom changes the size of a page already shown, so the page is resized, not loaded
# again; the pages' layout is CSS alone (no script reads a width), so a resized page lays
# out as one loaded at that size. Loading each page once with axe injected once, not once
# per size, saved chromium ~0.8 s of CPU a run.
AXE_WIDTHS = (320, 640)


def test_axe_clean_when_narrow_and_zoomed(open_page: Callable[..., Page], server: Server) -> None:
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run `make browser-deps` (npm ci in tests/browser)")
    page = open_page(viewport={"width": 320, "height": 900}, bypass_csp=True, device_scale_factor=2)
    failures: list[str] = []
    for path in AXE_PAGES:
        page.set_viewport_size({"width": AXE_WIDTHS[0], "height": 900})
        page.goto(server.url + path)
        for width in AXE_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            failures += [
                f"{path} at {width}px: {violation['id']} -> "
                f"{[n['target'] for n in violation['nodes'][:3]]}"
                for violation in serious_violations(page)
            ]
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (path, width, overflow)
    assert failures == [], "\n".join(failures)


def test_checkboxes_line_up_with_labels_that_wrap(
    open_page: Callable[..., Page], server: Server
) -> None:
    # At 800px the form is a 16rem column beside the results, where long labels wrap.
    page = open_page(viewport={"width": 800, "height": 900})
    page.goto(server.url + "/")
    rows = page.eval_on_selector_all(
        ".filters .check",
        """checks => checks.map(check => {
             const box = check.querySelector("input").getBoundingClientRect();
             const label = check.querySelector("label");
             const range = document.createRange();
             range.selectNodeContents(label);
             const line = range.getClientRects()[0];  // the label's first line of text
             const lines = Math.round(label.getBoundingClientRect().height /
                                      parseFloat(getComputedStyle(label).lineHeight));
             return [label.textContent, lines, box.top, line.top, line.bottom, box.right,
                     label.getBoundingClientRect().left];
           })""",
    )
    assert any(lines > 1 for _, lines, *_ in rows), "no label wraps at 800px"
    for text, _, box_top, line_top, line_bottom, box_right, label_left in rows:
        # The box sits on the label's first line, beside it, however many lines follow.
        box_middle, line_middle = box_top + 10, (line_top + line_bottom) / 2  # 20px box
        assert abs(box_middle - line_middle) <= 3, text
        assert box_right <= label_left, text
