"""What the pages show: month bars, colours with contrast, embed heading and badges, past dates."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import BUNDLED_DATA, InProcess, in_process
from hypothesis import given
from hypothesis import strategies as st
from pages_support import CSS_COLOURS, wcag_contrast

from calendar_service import agenda
from calendar_service.colours import text_on
from calendar_service.model import Occurrence, Status

LONDON = ZoneInfo("Europe/London")
CATEGORIES = yaml.safe_load((BUNDLED_DATA / "calendar.yaml").read_text())["vocabularies"][
    "categories"
]


@pytest.fixture(scope="module")
def past_2026() -> InProcess:
    """The bundled data on 25 November 2026: the February 2026 Young Parents intake is over."""
    return in_process(BUNDLED_DATA, today=date(2026, 11, 25))


@pytest.fixture(scope="module")
def february_2026() -> InProcess:
    """The bundled data on 1 February 2026: Children's Mental Health Week 2026 and 2027 ahead."""
    return in_process(BUNDLED_DATA, today=date(2026, 2, 1))


# Month bars --------------------------------------------------------------------------------


def _day(start: date, days: int, title: str = "Week") -> Occurrence:
    return Occurrence("x", start, start + timedelta(days=days), True, Status.CONFIRMED, title)


def test_a_week_is_one_bar_and_wraps_at_the_weeks_end() -> None:
    # Sunday 8 to Saturday 14 February 2026 (ends are exclusive).
    grid = agenda.month_grid(2026, 2, [_day(date(2026, 2, 8), 7)])
    bars = [(week.days[0].day, lane.bars) for week in grid.weeks for lane in week.lanes]
    assert [
        (monday, [(b.column, b.span, b.continued, b.continues) for b in lane])
        for monday, lane in bars
    ] == [
        (date(2026, 2, 2), [(6, 1, False, True)]),
        (date(2026, 2, 9), [(0, 6, True, False)]),
    ]
    counts = {day.day: day.count for week in grid.weeks for day in week.days}
    assert counts[date(2026, 2, 7)] == 0 and counts[date(2026, 2, 8)] == 1
    assert counts[date(2026, 2, 14)] == 1 and counts[date(2026, 2, 15)] == 0


def test_overlapping_items_stack_in_lanes_and_gaps_fill_the_week() -> None:
    week = [
        _day(date(2026, 2, 9), 7, "A"),
        _day(date(2026, 2, 10), 1, "B"),
        _day(date(2026, 2, 12), 2, "C"),
    ]
    grid = agenda.month_grid(2026, 2, week)
    lanes = next(w.lanes for w in grid.weeks if w.days[0].day == date(2026, 2, 9))
    shapes = [
        [
            cell if isinstance(cell, int) else (cell.occurrence.title, cell.span)
            for cell in lane.cells()
        ]
        for lane in lanes
    ]
    assert shapes == [[("A", 7)], [1, ("B", 1), 1, ("C", 2), 2]]
    assert all(
        sum(c if isinstance(c, int) else c.span for c in lane.cells()) == 7 for lane in lanes
    )


def test_timed_items_name_gmt_or_bst() -> None:
    winter = datetime(2026, 3, 24, 10, tzinfo=LONDON)
    summer = datetime(2026, 3, 31, 10, tzinfo=LONDON)
    for start, zone in ((winter, "10:00 GMT"), (summer, "10:00 BST")):
        occurrence = Occurrence(
            "x", start, start + timedelta(hours=4), False, Status.CONFIRMED, "T"
        )
        assert agenda.clock_text(occurrence) == zone
    assert agenda.clock_text(_day(date(2026, 3, 24), 1)) == ""


def test_month_view_has_one_bar_per_week_and_plain_weekday_headers(past_2026: InProcess) -> None:
    body = past_2026.get("/embed?view=month&month=2026-02&category=awareness-week").text
    grid = body[body.index('<table class="month-grid"') : body.index("</table>")]
    assert grid.count("Children&#39;s Mental Health Week") == 1
    assert re.search(r'<td class="bar category-awareness-week status-confirmed" colspan="7">', grid)
    header = grid[: grid.index("</thead>")]
    assert "<abbr" not in header and "<a " not in header


# Colours -----------------------------------------------------------------------------------


def test_categories_css_gives_each_colour_text_that_meets_aa(client: InProcess) -> None:
    response = client.get("/categories.css")
    assert response.headers["content-type"].startswith("text/css")
    rule = r"\.category-([a-z0-9-]+)\{--category:#([0-9a-f]{6});--on-category:#([0-9a-f]{6})\}"
    rules = {key: (bg, fg) for key, bg, fg in re.findall(rule, response.text)}
    assert set(rules) == {key for key, term in CATEGORIES.items() if term.get("color")}
    for key, (background, text) in rules.items():
        assert background == CSS_COLOURS[CATEGORIES[key]["color"]]
        assert wcag_contrast(background, text) >= 4.5, key


@given(st.from_regex(r"[0-9a-f]{6}", fullmatch=True))
def test_text_on_any_colour_meets_aa(background: str) -> None:
    assert wcag_contrast(background, text_on(background)) >= 4.5


# Embed heading and badges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        ("", "Durham Safeguarding Children Partnership dates"),
        ("?audience=schools", "Durham Safeguarding Children Partnership dates for schools"),
        (
            "?category=awareness-week",
            "Durham Safeguarding Children Partnership dates for awareness week",
        ),
        ("?audience=schools&title=Our+dates", "Our dates"),
    ],
)
def test_embed_heading_reflects_its_filter_unless_titled(
    client: InProcess, query: str, heading: str
) -> None:
    body = client.get("/embed" + query).text
    assert re.search(r'<h1 class="widget-title">([^<]*)</h1>', body).group(1) == heading  # type: ignore[union-attr]


def _badges(body: str) -> list[str]:
    return re.findall(r'<li class="badge">([^<]*)</li>', body)


def test_embed_does_not_repeat_the_audience_it_is_filtered_to(client: InProcess) -> None:
    only_schools = _badges(client.get("/embed?audience=schools&limit=50").text)
    assert only_schools and "Schools" not in only_schools
    # Filtered to either of two audiences, each item's badge says which: kept.
    either = _badges(client.get("/embed?audience=schools&audience=parents-carers&limit=50").text)
    assert "Schools" in either and "Parents and carers" in either


# Past dates and per-occurrence notes -------------------------------------------------------


def test_a_finished_series_page_shows_its_past_dates(past_2026: InProcess) -> None:
    body = past_2026.get("/events/young-parents-programme-2026-02").text
    assert "No upcoming dates; the last was Tue 21 Apr 2026, 10:00–14:00 BST" in body
    past = body[body.index("<h2>Past dates</h2>") :]
    assert past.count("<li><time") == 12
    assert "Tue 3 Feb 2026, 10:00–14:00 GMT" in past


@pytest.mark.parametrize("page", ["/embed", "/"])
def test_agenda_filtered_to_a_finished_series_shows_its_past_dates(
    past_2026: InProcess, page: str
) -> None:
    # Both 2026 intakes are over by then; the latest dates are the April intake's.
    body = past_2026.get(page + "?q=young+parents").text
    assert "No upcoming events match. These dates have passed:" in body
    assert "Young Parents Programme (April 2026 intake)" in body
    assert "Tue 7 Jul 2026" in body


def test_a_series_with_dates_ahead_shows_no_past_list(past_2026: InProcess) -> None:
    body = past_2026.get("/events/childrens-mental-health-week").text
    assert "Past dates" not in body and "No upcoming dates" not in body


def test_an_overrides_note_shows_only_on_its_own_occurrence(february_2026: InProcess) -> None:
    note = "Dates for 2027 not yet confirmed by Place2Be."
    body = february_2026.get("/events/childrens-mental-health-week").text
    when = body[body.index("<dt>When</dt>") : body.index("<dt>Kind</dt>")]
    assert "9 Feb" in when and note not in when  # the next date is 2026's: no note
    rows = re.findall(r"<li><time[^>]*>([^<]*)</time>(.*?)</li>", body)
    assert [text for text, rest in rows if note in rest] == ["Mon 1 Feb – Sun 7 Feb 2027"]
    embed = february_2026.get("/embed?q=children%27s+mental+health+week&limit=2").text
    items = embed.split('<li class="event ')[1:]
    assert [note in item for item in items] == [False, True]
    found = february_2026.get(
        "/api/occurrences?from=2026-01-01&to=2027-12-31&q=children%27s+mental+health+week"
    ).json()["occurrences"]
    assert [
        item["note"] for item in found if item["event_id"] == "childrens-mental-health-week"
    ] == [None, note]


# Home form ---------------------------------------------------------------------------------


def test_home_search_box_is_labelled_as_a_search(client: InProcess) -> None:
    body = client.get("/").text
    assert re.search(r'<form class="filters"[^>]* role="search"', body)
    assert '<label for="q">Words</label>' in body  # visible; the legend is fields.py's
    assert re.search(r'<input type="search" id="q" name="q"', body)
