"""The README's table of the national awareness series, generated from the data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from calendar_service.loading import EVENTS_DIR, load
from calendar_service.model import Event, Status
from calendar_service.provenance import occurrences_between

# The national awareness layer, apart from a partnership's own dates (events/local/).
NATIONAL_LAYER = f"{EVENTS_DIR}/national/"
TABLE_YEARS = (2026, 2027)


def national_series_table(data_dir: Path) -> str:
    """The README's table of the national series, generated from the data: each series'
    organiser, usual date in words, its dates in TABLE_YEARS, status and source.

    The README links to nothing outside the repository, so organisers are named and sources
    given by their site's name; the full source URL is in the data file.
    """
    years = " | ".join(str(year) for year in TABLE_YEARS)
    lines = [
        f"| series | organiser | usual date | {years} | status | source |",
        "|---|---|---|" + "---|" * len(TABLE_YEARS) + "---|---|",
    ]
    national = [event for event in load(data_dir).events if event.source.startswith(NATIONAL_LAYER)]
    for event in sorted(national, key=lambda item: item.data.title.casefold()):
        data = event.data
        organiser = data.organiser
        who = _cell(organiser.name) if organiser else ""
        rule = data.recurrence.rule if data.recurrence else None
        usual = rule.describe() if rule else "one date"
        dates = " | ".join(_dates_in(event, year) for year in TABLE_YEARS)
        source = f"`{_host(data.source)}`" if data.source else "(none)"
        title = _cell(data.title)
        lines.append(f"| {title} | {who} | {usual} | {dates} | {data.status.value} | {source} |")
    return "\n".join(lines) + "\n"


def _dates_in(event: Event, year: int) -> str:
    """An event's dates in a year, a provisional or cancelled one marked so."""
    found = occurrences_between(event.data, date(year, 1, 1), date(year, 12, 31))
    marks = {Status.CONFIRMED: "", Status.PROVISIONAL: " (provisional)"}
    return ", ".join(
        f"{item.day.day} {item.day:%b}{marks.get(item.status, ' (cancelled)')}" for item in found
    )


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
