"""RFC 5545 content lines: TEXT and parameter escapes, date values, line folding."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import vText
from icalendar.timezone.tzid import tzid_from_dt

FOLD_AT = 74  # octets of content per physical line; with CRLF and the leading space, 75
_QUOTED_IN_PARAMETERS = re.compile("[,;:\u2019]")  # icalendar's QUOTABLE
_PARAMETER_ESCAPES = re.compile('\\^|\r\n|\r|\n|"')  # RFC 6868
_PARAMETER_ESCAPED = {"^": "^^", "\r\n": "^n", "\r": "^n", "\n": "^n", '"': "^'"}


def text(value: str) -> vText:
    """A TEXT value, escaped as RFC 5545 3.3.11 asks (backslash, `;`, `,`, newline).

    Every TEXT property is added through here. icalendar escapes only the properties it
    knows as TEXT; NAME and the X-WR- properties it does not, and took a plain string
    as already escaped.
    """
    return vText(value)


def escape(value: str) -> str:
    """A TEXT value escaped as icalendar's vText escapes it (RFC 5545 3.3.11; it reads a
    written `\\N` as a newline first, and any line ending as one newline)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def parameter_value(value: str, quote: bool = False) -> str:
    """A parameter value as icalendar writes it: RFC 6868 escapes, quoted where needed."""
    escaped = _PARAMETER_ESCAPES.sub(lambda found: _PARAMETER_ESCAPED[found[0]], value)
    escaped = escaped.replace('"', "'")
    return f'"{escaped}"' if quote or _QUOTED_IN_PARAMETERS.search(escaped) else escaped


@cache
def _tzid(zone: ZoneInfo) -> str | None:
    """The TZID icalendar writes for times in `zone`; None for UTC (written with a Z)."""
    tzid = tzid_from_dt(datetime(2000, 1, 1, tzinfo=zone))
    return None if tzid in (None, "UTC") else parameter_value(tzid)


def date_value(value: date) -> str:
    """A DATE (`20261126`)."""
    return f"{value.year:04}{value.month:02}{value.day:02}"


def date_time_value(value: datetime) -> str:
    """A DATE-TIME as its clock reads, without a zone (`20261126T093000`)."""
    return f"{date_value(value)}T{value.hour:02}{value.minute:02}{value.second:02}"


def utc_value(value: datetime) -> str:
    """A DATE-TIME in UTC (stamps)."""
    return f"{date_time_value(value)}Z"


def dates_line(name: str, values: Sequence[date | datetime], zone: ZoneInfo) -> str:
    """A DATE or DATE-TIME property (one value, or a list of one kind): a local time with the
    calendar's TZID, an all-day date as VALUE=DATE."""
    if isinstance(values[0], datetime):
        written = ",".join(date_time_value(value) for value in values)  # type: ignore[arg-type]
        tzid = _tzid(zone)
        if tzid is None:
            return f"{name}:" + ",".join(f"{item}Z" for item in written.split(","))
        return f"{name};TZID={tzid}:{written}"
    return f"{name};VALUE=DATE:" + ",".join(date_value(value) for value in values)


def fold_line(line: str) -> bytes:
    """One content line folded as icalendar folds it, byte for byte, but in bytes.

    Pieces of at most 74 octets, never inside a UTF-8 sequence and never ending on the
    `\\` or `^` that starts an escape (clients mishandle escapes split across lines).
    icalendar's own fold walks the line a character at a time and was half the cost of
    compiling a large calendar.
    """
    data = line.encode()
    if len(data) <= FOLD_AT:
        return data
    pieces = []
    start = 0
    while len(data) - start > FOLD_AT:
        cut = start + FOLD_AT
        while data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back to its start
            cut -= 1
        if cut - start > 1 and data[cut - 1] in b"\\^":
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


def render_lines(lines: Iterable[str]) -> bytes:
    """Content lines folded and joined with CRLF, as icalendar writes them."""
    return b"\r\n".join(fold_line(line) for line in lines) + b"\r\n"
