"""Value types every data file shares: text, URLs, slugs, dates, and their limits."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# Limits that keep loading and expansion bounded. One place, imported everywhere else.
MIN_YEAR = 1970
MAX_YEAR = 2200
MAX_COUNT = 520  # ten years of a weekly series
MAX_INTERVAL = 100
MAX_SPAN_DAYS = 400  # an all-day span longer than this is almost certainly a typing error
MAX_TEXT = 20_000
MAX_TITLE = 200
MAX_LIST = 50
MAX_SEQUENCE = 2**31 - 1  # RFC 5545: a non-negative integer; clients store 32 bits

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)


def is_slug(value: str) -> bool:
    """Whether a value is a slug: lower-case words joined by hyphens."""
    return _SLUG.fullmatch(value) is not None


# Characters that must never reach a feed or a page: NUL and other C0 controls except
# tab and newline (a bare CR could start a new ICS line in a careless client), C1 controls
# and the Unicode line and paragraph separators (line breaks to Unicode-aware readers).
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


FieldPath = tuple[str | int, ...]  # ("events", 0, "recurrence"): where a value sits in a file


class FieldProblem(ValueError):
    """A problem with a named sub-field, so that errors point at the right line."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path


def _clean_text(value: str) -> str:
    if _FORBIDDEN_CONTROL.search(value):
        raise ValueError("control characters (NUL, bare CR and the like) are not allowed")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return _clean_text(value).strip()


def _safe_url(value: str) -> str:
    value = _single_line(value)
    if not re.match(r"^(https?://[^\s/]+|mailto:)[^\s<>\"]*$", value, re.IGNORECASE):
        raise ValueError("must be an http://, https:// or mailto: URL without spaces")
    return value


def _year_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_clean_text)]
Line = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(_single_line)]
Summary = Annotated[str, Field(max_length=500), AfterValidator(_single_line)]
Url = Annotated[str, Field(max_length=2000), AfterValidator(_safe_url)]
Slug = Annotated[str, Field(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")]
Day = Annotated[date, AfterValidator(_year_in_range)]


def parse_when(value: Any) -> date | datetime:
    """Read a start or end: `YYYY-MM-DD` is an all-day date, `YYYY-MM-DDTHH:MM` local time."""
    if isinstance(value, datetime):
        result: date | datetime = value
    elif isinstance(value, date):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            result = date.fromisoformat(text)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?", text):
            result = datetime.fromisoformat(text.replace(" ", "T"))
        else:
            raise ValueError(
                "expected a date YYYY-MM-DD (all day) or a local time YYYY-MM-DDTHH:MM"
                " in the calendar's time zone, without an offset"
            )
    else:
        raise ValueError("expected a date YYYY-MM-DD or a local time YYYY-MM-DDTHH:MM")
    if isinstance(result, datetime) and result.tzinfo is not None:
        raise ValueError("give the local time in the calendar's time zone, without an offset")
    _year_in_range(result if not isinstance(result, datetime) else result.date())
    return result


When = Annotated[date | datetime, BeforeValidator(parse_when)]

_UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|\+00:00)")


def parse_utc(value: Any) -> datetime:
    """Read a recorded moment, written in UTC as `calendar-service stamp` writes it."""
    if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
        moment = value
    elif not isinstance(value, str) or not _UTC_TEXT.fullmatch(value):
        raise ValueError(
            "expected a UTC time YYYY-MM-DDTHH:MM:SSZ, as `calendar-service stamp` writes it"
        )
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a real time: {exc}") from None
    if moment.year < MIN_YEAR:
        raise ValueError(f"{moment:%Y-%m-%d} is before {MIN_YEAR}")
    return moment


def _sequence_in_range(value: int) -> int:
    if not 0 <= value <= MAX_SEQUENCE:
        raise ValueError(f"must be a whole number from 0 to {MAX_SEQUENCE:,}")
    return value


UtcMoment = Annotated[datetime, BeforeValidator(parse_utc)]
SequenceNumber = Annotated[int, Field(strict=True), AfterValidator(_sequence_in_range)]


class Strict(BaseModel):
    """Base for data-file models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
