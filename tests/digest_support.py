"""Shared by the digest tests: the URLs they read, and independent readers of each form."""

from __future__ import annotations

import io
from html.parser import HTMLParser

from pypdf import PdfReader

# February 2025 in the frozen data has every kind of date: awareness days and weeks, a
# weekly programme, a change in law; January to March 2025 is a term with training too.
MONTH = "/digest?month=2025-02"
TERM = "from=2025-01-01&to=2025-03-31"
# Children's Mental Health Week 2027 is provisional, with its note.
PROVISIONAL_MONTH = "month=2027-02"
PROVISIONAL_NOTE = "Dates for 2027 not yet confirmed by Place2Be."


class Links(HTMLParser):
    """Every href, src and <script> of an HTML document, read with the standard library."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0
        self.images: list[dict[str, str | None]] = []
        self.stylesheets = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]
        self.scripts += tag == "script"
        if tag == "img":
            self.images.append(values)
        if tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets += 1


def links_of(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser


def pdf_pages(body: bytes) -> list[str]:
    """The text of each page of a PDF, as pypdf extracts it (lines joined by spaces)."""
    reader = PdfReader(io.BytesIO(body))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def pdf_page_sizes_mm(body: bytes) -> list[tuple[int, int]]:
    """Each page's width and height in whole millimetres (A4 is 210 by 297)."""
    reader = PdfReader(io.BytesIO(body))
    return [
        (
            round(float(page.mediabox.width) / 72 * 25.4),
            round(float(page.mediabox.height) / 72 * 25.4),
        )
        for page in reader.pages
    ]
