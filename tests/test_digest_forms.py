"""The digest in its four forms, over HTTP from the in-process app, read by independent parsers:
plain text (its width), Markdown (markdown-it), email HTML (html.parser) and PDF (pypdf)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import IN_PROCESS_URL, InProcess, in_process
from digest_support import (
    MONTH,
    PROVISIONAL_MONTH,
    PROVISIONAL_NOTE,
    TERM,
    links_of,
    pdf_page_sizes_mm,
    pdf_pages,
)
from markdown_it import MarkdownIt

from calendar_service.digest import TEXT_WIDTH
from calendar_service.web.digests import most_that_fit

# February 2025's dates in words, as the frozen data gives them.
FEBRUARY_2025 = (
    "Monday 3 to Sunday 9 February",  # Children's Mental Health Week
    "Thursday 6 February",  # Time to Talk Day
    "Sunday 9 to Saturday 15 February",  # Random Acts of Kindness Week
    "Tuesday 4 February, 10:00 to 14:00 GMT",  # the Young Parents Programme, weekly
    "Monday 3 February",  # a change in law
)
WIDTH_CASES = [
    "/digest.txt?month=2025-02",
    f"/digest.txt?{TERM}",
    f"/digest.txt?{PROVISIONAL_MONTH}",
    "/digest.txt?audience=practitioners&month=2025-03",
    "/feeds/training/digest/2025-01.txt",
]


@pytest.mark.parametrize("path", WIDTH_CASES)
def test_plain_text_lines_are_at_most_72_columns_but_urls_stay_whole(
    client: InProcess, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert len(lines) > 10
    # A URL wider than the page stands alone on its line: broken, it would not work.
    too_wide = [line for line in lines if len(line) > TEXT_WIDTH]
    assert all(re.fullmatch(r" *http://testserver/\S+", line) for line in too_wide), too_wide
    assert sum(len(line) > 60 for line in lines if "http" not in line) > 0  # prose is wrapped


def test_plain_text_says_each_date_in_words_under_its_week(client: InProcess) -> None:
    text = client.get("/digest.txt?month=2025-02").text
    assert text.startswith("DATES FOR YOUR DIARY: FEBRUARY 2025\n")
    for words in FEBRUARY_2025:
        assert f"\n  {words}\n" in text, words
    weeks = re.findall(r"^Week beginning (.+)$", text, re.M)
    assert weeks == [
        "Monday 3 February",
        "Monday 10 February",
        "Monday 17 February",
        "Monday 24 February",
    ]


def test_within_a_week_awareness_dates_come_first_then_programmes_then_law(
    client: InProcess,
) -> None:
    text = client.get("/digest.txt?month=2025-02").text
    first_week = text.split("Week beginning Monday 10 February")[0]
    order = [
        first_week.index(title)
        for title in (
            "* Time to Talk Day (Awareness day)",
            "* Children's Mental Health Week (Awareness week)",
            "* Young Parents Programme",
            "* Controlling and Coercive Behaviour",
        )
    ]
    assert order == sorted(order)


def test_a_provisional_date_is_marked_with_its_note_in_every_form(client: InProcess) -> None:
    text = client.get(f"/digest.txt?{PROVISIONAL_MONTH}").text
    assert f"PROVISIONAL: {PROVISIONAL_NOTE}" in " ".join(text.split())
    markdown = client.get(f"/digest.md?{PROVISIONAL_MONTH}").text
    assert f"*Provisional: {PROVISIONAL_NOTE}*" in markdown
    html = client.get(f"/digest?{PROVISIONAL_MONTH}").text
    assert f"Provisional: {PROVISIONAL_NOTE}" in html
    assert (
        f"Provisional: {PROVISIONAL_NOTE}"
        in pdf_pages(client.get(f"/digest.pdf?{PROVISIONAL_MONTH}").content)[0]
    )


def _markdown_tokens(text: str) -> list[tuple[str, str]]:
    """(type, content) of the block tokens and links markdown-it reads."""
    tokens = MarkdownIt("commonmark").parse(text)
    found: list[tuple[str, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            found.append((token.tag, tokens[index + 1].content))
        for child in token.children or ():
            if child.type == "link_open":
                found.append(("link", str(child.attrs["href"])))
    return found


def test_markdown_has_a_title_a_heading_per_week_and_links_per_date(client: InProcess) -> None:
    response = client.get("/digest.md?audience=schools&month=2025-02")
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    tokens = _markdown_tokens(response.text)
    headings = [(kind, text) for kind, text in tokens if kind in ("h1", "h2")]
    assert headings == [
        ("h1", "Dates for your diary: February 2025"),
        ("h2", "Week beginning Monday 3 February"),
        ("h2", "Subscribe"),
    ]
    links = [url for kind, url in tokens if kind == "link"]
    assert "http://testserver/events/time-to-talk-day" in links
    assert "http://testserver/events/time-to-talk-day.ics" in links
    assert "http://testserver/subscribe?audience=schools" in links
    assert "http://testserver/calendar.ics?audience=schools" in links  # the autolink
    assert all(url.startswith("http://testserver/") for url in links)


def test_email_html_is_inlined_without_scripts_with_absolute_links(client: InProcess) -> None:
    response = client.get(f"/digest?{TERM}")
    assert response.status_code == 200
    html = response.text
    assert len(response.content) < 100_000
    found = links_of(html)
    assert found.scripts == 0 and found.stylesheets == 0
    assert all(image.get("alt") is not None for image in found.images)
    assert found.urls and all(url.startswith("http://testserver/") for url in found.urls)
    # Inlined: the rules became style attributes; only @media rules are left in <style>.
    assert 'class="when" style="' in html
    kept = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(kept) == 1 and "prefers-color-scheme: dark" in kept[0]
    assert not re.search(r"^\s*\.[a-z]+ \{", kept[0].split("@media")[0], re.M)
    for words in FEBRUARY_2025:
        assert words in html


def test_email_html_may_use_its_inline_styles_and_nothing_else(client: InProcess) -> None:
    policy = client.get(MONTH).headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("query", ["month=2025-02", TERM, "audience=schools&month=2025-02"])
def test_pdf_is_one_a4_page_holding_the_dates(client: InProcess, query: str) -> None:
    response = client.get(f"/digest.pdf?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert pdf_page_sizes_mm(response.content) == [(210, 297)]  # one A4 page
    text = pdf_pages(response.content)[0]
    for words in ("Thursday 6 February", "Monday 3 to Sunday 9 February"):
        assert words in text


CROWDED = """events:
  - id: daily-drop-in
    title: Daily drop-in for parents and carers in Durham and Darlington
    summary: A daily drop-in, to fill a term with more dates than one page can hold.
    category: event
    audiences: [parents-carers]
    start: 2025-01-01
    recurrence:
      rule: {frequency: daily, count: 30}
  - id: second-daily-drop-in
    title: Second daily drop-in for young people across County Durham
    summary: Another daily drop-in, so that the term holds 60 of them.
    category: event
    audiences: [young-people]
    start: 2025-01-01
    recurrence:
      rule: {frequency: daily, count: 30}
"""


def test_a_pdf_too_full_for_one_page_leaves_dates_out_and_says_how_many(
    data_copy: Path,
) -> None:
    (data_copy / "events" / "crowded.yaml").write_text(CROWDED, encoding="utf-8")
    site = in_process(data_copy, base_url=IN_PROCESS_URL, today=date(2025, 1, 15))
    term = "from=2025-01-01&to=2025-04-30"
    listed = site.get(f"/digest.txt?{term}").text.count("\n* ")
    # About 80 with the data's own: a page holds about 65 at the smallest type. Twice that
    # (120 drop-ins) cost WeasyPrint ~1.1 s of CPU more for the same check.
    assert listed > 75
    body = site.get(f"/digest.pdf?{term}").content
    pages = pdf_pages(body)
    assert len(pages) == 1
    left_out = re.search(r"(\d+) more dates: see", pages[0])
    assert left_out is not None, pages[0][-300:]
    assert 0 < int(left_out[1]) < listed
    assert f"more dates: see {IN_PROCESS_URL}/ " in pages[0]  # the page with every date
    shown = pages[0].count("Daily drop-in") + pages[0].count("Second daily drop-in")
    assert shown + int(left_out[1]) >= 60 and shown > 40


class _Layouts:
    """Layouts of the first `keep` dates by count alone, where the first `fit` fit on one page:
    what the search reads of WeasyPrint's (its pages), with every count it laid out. The real
    layouts' bound and search are checked by the crowded test above; this walks every case."""

    def __init__(self, fit: int) -> None:
        self.fit = fit
        self.tried: list[int] = []

    def __call__(self, keep: int) -> SimpleNamespace:
        self.tried.append(keep)
        return SimpleNamespace(keep=keep, pages=[1] if keep <= self.fit else [1, 2])


@pytest.mark.parametrize("total", [1, 2, 3, 7, 20])
def test_the_search_for_the_most_dates_that_fit_finds_what_a_bisection_finds(total: int) -> None:
    # Whatever bound the first page gives, from the exact count to no help at all (`total`).
    for fit in range(total):
        for most in range(fit, total + 1):
            layouts = _Layouts(fit)
            assert most_that_fit(layouts, most, total).keep == fit, (fit, most, layouts.tried)
            assert len(layouts.tried) <= 2 * total.bit_length() + 1, (fit, most, layouts.tried)


def test_the_search_lays_out_once_or_twice_when_the_first_page_is_a_close_bound() -> None:
    # A busy term: 81 dates, the first page of all of them held 66, and 65 fit with the line
    # saying how many are left out. A bisection of 0 to 81 laid out 7 times.
    for most, tried in ((65, [65]), (66, [66, 65])):
        layouts = _Layouts(65)
        assert most_that_fit(layouts, most, 81).keep == 65
        assert layouts.tried == tried
