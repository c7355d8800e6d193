"""The newsletter's dates section ("dates for your diary"), from the data.

One `Digest` is built from (catalog, filter, period): the occurrences starting in the period,
grouped by the week they start in, and within a week in the order of the categories in
`calendar.yaml` (awareness days and weeks first, then programmes, training, deadlines,
changes in law, ...), each with its dates in words, a one-line summary, its status and
note, and absolute links. It ends with the subscribe links of the same filter. This module
writes it as plain text and Markdown; `web/digests.py` writes the same model as email HTML
and an A4 PDF.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from calendar_service import agenda
from calendar_service.compiling import Catalog
from calendar_service.model import Occurrence, Status
from calendar_service.query import Filter
from calendar_service.search import Window, matching_occurrences

MAX_DIGEST_DAYS = 124  # a school term: a digest is read through, not searched
TEXT_WIDTH = 72  # plain-text mail: RFC 5322 asks for lines of at most 78 characters
SUMMARY_LENGTH = 200  # characters of the one-line summary


class DigestFormat(StrEnum):
    """The forms a digest is written in; each has its URL suffix and content type."""

    HTML = "html"
    TEXT = "text"
    MARKDOWN = "markdown"
    PDF = "pdf"

    @property
    def suffix(self) -> str:
        """What the digest's URL ends with: email HTML has no suffix, like the other pages."""
        return {"html": "", "text": ".txt", "markdown": ".md", "pdf": ".pdf"}[self.value]

    @property
    def content_type(self) -> str:
        return {
            "html": "text/html; charset=utf-8",
            "text": "text/plain; charset=utf-8",
            "markdown": "text/markdown; charset=utf-8",
            "pdf": "application/pdf",
        }[self.value]


@dataclass(frozen=True, slots=True)
class Period:
    """The days a digest covers, both inclusive, and how it is named."""

    first: date
    last: date

    @classmethod
    def month(cls, first: date) -> Period:
        """The calendar month starting on `first`."""
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(first, following - timedelta(days=1))

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self == Period.month(self.first)

    @property
    def title(self) -> str:
        """ "February 2027", or "Monday 4 January to Wednesday 31 March 2027"."""
        if self.is_month:
            return f"{self.first:%B} {self.first.year}"
        return f"{span_words(self.first, self.last)} {self.last.year}"


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One date in the digest, ready to print."""

    title: str
    when: str  # "Thursday 4 February"
    summary: str  # one line
    category: str  # the category's label
    colour: str | None  # the category's colour in calendar.yaml
    status: Status
    note: str  # the occurrence's own note (a provisional date's reason), or ""
    page: str  # absolute: the event's page
    add: str  # absolute: the event's ICS file, to add to a calendar

    @property
    def mark(self) -> str:
        """ "Provisional" or "Cancelled"; empty for a confirmed date."""
        return "" if self.status is Status.CONFIRMED else self.status.value.capitalize()


@dataclass(frozen=True, slots=True)
class DigestWeek:
    """The items starting in one Monday-to-Sunday week."""

    monday: date
    items: tuple[DigestItem, ...]

    @property
    def heading(self) -> str:
        return f"Week beginning {agenda.day_words(self.monday, year=False)}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where to follow the same dates: the subscribe page and the feed itself (absolute)."""

    page: str
    feed: str


@dataclass(frozen=True, slots=True)
class Digest:
    """The dates section of a newsletter for one filter and period."""

    title: str  # "Dates for your diary: February 2027"
    audience: str  # whose dates: the calendar's or the named feed's name
    period: Period
    weeks: tuple[DigestWeek, ...]
    subscription: Subscription
    more: str  # absolute: the site's page of the same dates

    @property
    def items(self) -> tuple[DigestItem, ...]:
        return tuple(item for week in self.weeks for item in week.items)


def span_words(first: date, last: date) -> str:
    """ "Monday 9 to Sunday 15 February"; the month and year are said only where they change."""
    ending = agenda.day_words(last, year=False)
    if first == last:
        return ending
    if first.year != last.year:
        return f"{agenda.day_words(first)} to {ending}"
    if first.month != last.month:
        return f"{agenda.day_words(first, year=False)} to {ending}"
    return f"{first:%A} {first.day} to {ending}"


def when_words(occurrence: Occurrence) -> str:
    """An occurrence's dates in words; timed ones with local times and the zone named."""
    first, last = agenda.first_day(occurrence), agenda.last_day(occurrence)
    start, end = occurrence.start, occurrence.end
    if not (isinstance(start, datetime) and isinstance(end, datetime)):
        return span_words(first, last)
    zone, end_zone = start.tzname() or "", end.tzname() or ""
    day = agenda.day_words(first, year=False)
    if first == last:
        if zone != end_zone:  # the clocks change in between: both zones are named
            return f"{day}, {start:%H:%M} {zone} to {end:%H:%M} {end_zone}"
        return f"{day}, {start:%H:%M} to {end:%H:%M} {zone}".rstrip()
    until = agenda.day_words(end.date(), year=False)
    return f"{day} {start:%H:%M} to {until} {end:%H:%M} {end_zone}"


def one_line(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """Text as one line of at most `limit` characters, cut at a word."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def build_digest(
    catalog: Catalog,
    query: Filter,
    period: Period,
    *,
    audience: str,
    subscription: Subscription,
    more: str,
) -> Digest:
    """The digest of the occurrences passing `query` that start in `period`."""
    chosen = digest_occurrences(catalog, query, period)
    categories = catalog.settings.vocabularies.categories
    rank = {key: position for position, key in enumerate(categories)}
    weeks: dict[date, list[tuple[tuple[int, date, str], DigestItem]]] = {}
    for occurrence in chosen:
        data = catalog.events[occurrence.event_id].event.data
        first = agenda.first_day(occurrence)
        urls = catalog.identity.urls
        item = DigestItem(
            title=occurrence.title,
            when=when_words(occurrence),
            summary=one_line(data.summary or data.description),
            category=categories[data.category].label,
            colour=categories[data.category].color,
            status=occurrence.status,
            note=one_line(occurrence.note or ""),
            page=urls.absolute(urls.event(data.id)),
            add=urls.absolute(urls.event_ics(data.id)),
        )
        monday = first - timedelta(days=first.weekday())
        order = (rank[data.category], first, occurrence.title.casefold())
        weeks.setdefault(monday, []).append((order, item))
    return Digest(
        title=f"Dates for your diary: {period.title}",
        audience=audience,
        period=period,
        weeks=tuple(
            DigestWeek(monday, tuple(item for _order, item in sorted(found, key=_first)))
            for monday, found in sorted(weeks.items())
        ),
        subscription=subscription,
        more=more,
    )


def digest_occurrences(catalog: Catalog, query: Filter, period: Period) -> list[Occurrence]:
    """What a digest lists: the occurrences passing `query` that start in `period`, in
    order. Of each, the digest reads its event's data, and of the catalog its settings and
    URLs, nothing else (the export keys a digest by their events: export_keys.py)."""
    window = Window(period.first, period.last)
    return [
        occurrence
        for occurrence in matching_occurrences(catalog, query, window)
        if agenda.first_day(occurrence) >= period.first
    ]


def _first(pair: tuple[tuple[int, date, str], DigestItem]) -> tuple[int, date, str]:
    return pair[0]


# --- plain text ----------------------------------------------------------------------------


def _wrapped(text: str, indent: str = "", first: str | None = None) -> list[str]:
    """Text wrapped at TEXT_WIDTH, each line indented (the first by `first` if given)."""
    return textwrap.wrap(
        text,
        TEXT_WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,  # a long URL stays whole: broken, it would not work
        break_on_hyphens=False,
    )


def _link(label: str, url: str, indent: str) -> list[str]:
    """`label: url` on one line, or the URL on its own line when that is too wide."""
    line = f"{indent}{label}: {url}"
    return [line] if len(line) <= TEXT_WIDTH else [f"{indent}{label}:", f"{indent}{url}"]


def render_text(digest: Digest) -> str:
    """The digest as plain text for mail without HTML, wrapped at TEXT_WIDTH columns."""
    lines = [*_wrapped(digest.title.upper()), *_wrapped(digest.audience), ""]
    if not digest.weeks:
        lines += [*_wrapped("No dates in this period."), ""]
    for week in digest.weeks:
        lines += [week.heading, "-" * len(week.heading), ""]
        for item in week.items:
            lines += _wrapped(f"{item.title} ({item.category})", "  ", first="* ")
            lines += _wrapped(item.when, "  ")
            if item.mark:
                lines += _wrapped(f"{item.mark.upper()}: {item.note or 'date not confirmed'}", "  ")
            if item.summary:
                lines += _wrapped(item.summary, "  ")
            lines += [*_link("Details", item.page, "  "), *_link("Add to calendar", item.add, "  ")]
            lines.append("")
    lines += ["Subscribe", "---------", ""]
    lines += _wrapped("Follow these dates in your calendar app; it keeps them up to date:")
    lines += [
        *_link("Subscribe", digest.subscription.page, ""),
        *_link("Feed", digest.subscription.feed, ""),
    ]
    lines += _link("Every date", digest.more, "")
    return "\n".join(lines) + "\n"


# --- Markdown ------------------------------------------------------------------------------

# Parentheses, `!` and the rest matter only after a `[`, which is escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def markdown_text(text: str) -> str:
    """Text with Markdown's punctuation escaped, so it shows as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def render_markdown(digest: Digest) -> str:
    """The digest as Markdown, for a website or a document."""
    lines = [f"# {markdown_text(digest.title)}", "", markdown_text(digest.audience), ""]
    if not digest.weeks:
        lines += ["No dates in this period.", ""]
    for week in digest.weeks:
        lines += [f"## {week.heading}", ""]
        for item in week.items:
            parts = [f"- **[{markdown_text(item.title)}]({item.page})**,"]
            parts.append(f"{markdown_text(item.when)} ({markdown_text(item.category)}).")
            if item.mark:
                parts.append(f"*{item.mark}: {markdown_text(item.note or 'date not confirmed')}*")
            if item.summary:
                parts.append(markdown_text(item.summary))
            parts.append(f"[Add to calendar]({item.add})")
            lines.append(" ".join(parts))
        lines.append("")
    lines += ["## Subscribe", ""]
    lines.append(
        f"[Subscribe to these dates]({digest.subscription.page}) in your calendar app, or add "
        f"the feed <{digest.subscription.feed}>. [Every date]({digest.more})."
    )
    return "\n".join(lines) + "\n"
