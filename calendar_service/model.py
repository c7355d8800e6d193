"""Domain types: calendar settings, events, recurrence and occurrences; no I/O."""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# Limits that keep loading and expansion bounded. One place, imported everywhere else.
MIN_YEAR = 1970
MAX_YEAR = 2200
MAX_COUNT = 520  # ten years of a weekly series
MAX_INTERVAL = 100
MAX_SPAN_DAYS = 400  # an all-day span longer than this is almost certainly a typing error
MAX_TEXT = 20_000
MAX_TITLE = 200
MAX_LIST = 50

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)
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


class Status(StrEnum):
    """Whether an event or one occurrence is going ahead."""

    CONFIRMED = "confirmed"
    PROVISIONAL = "provisional"
    CANCELLED = "cancelled"

    @property
    def ics(self) -> str:
        return {"confirmed": "CONFIRMED", "provisional": "TENTATIVE", "cancelled": "CANCELLED"}[
            self.value
        ]


class Frequency(StrEnum):
    """Recurrence frequencies we accept; sub-daily ones are refused as unbounded in cost."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class Strict(BaseModel):
    """Base for data-file models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Term(Strict):
    """One value of a controlled vocabulary."""

    label: Line
    description: Text = ""
    transparent: bool = Field(
        default=False, description="Events of this kind do not block free/busy time."
    )
    color: str | None = Field(default=None, pattern=r"^[a-z]+$|^#[0-9a-fA-F]{6}$")


class Vocabularies(Strict):
    """The controlled vocabularies events are checked against."""

    categories: dict[Slug, Term]
    audiences: dict[Slug, Term]
    themes: dict[Slug, Term]


class FeedFilter(Strict):
    """The filter a named feed applies: OR within a field, AND across fields."""

    category: list[Slug] = []
    audience: list[Slug] = []
    theme: list[Slug] = []
    tag: list[Slug] = []


class FeedDefinition(Strict):
    """A named, subscribable feed."""

    name: Slug
    title: Line
    description: Text = ""
    filter: FeedFilter = FeedFilter()


class CalendarSettings(Strict):
    """Calendar-level settings from `calendar.yaml`."""

    name: Line
    description: Text = ""
    organisation: Line
    timezone: str = "Europe/London"
    language: str = Field(default="en-GB", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    base_url: Url
    uid_domain: str = Field(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
    refresh_hours: int = Field(default=6, ge=1, le=168)
    past_days: int = Field(
        default=366, ge=0, le=3660, description="How far back feeds keep past occurrences."
    )
    vocabularies: Vocabularies
    feeds: list[FeedDefinition]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: list[FeedDefinition]) -> list[FeedDefinition]:
        names = [feed.name for feed in feeds]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"feed names must be unique; repeated: {', '.join(duplicated)}")
        return feeds

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Organiser(Strict):
    """Who runs an event."""

    name: Line
    url: Url | None = None
    email: Email | None = None


class Location(Strict):
    """Where an event happens: a venue, online, or both."""

    venue: Line | None = None
    address: Line | None = None
    online: bool = False
    online_url: Url | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Location:
        if not (self.venue or self.address or self.online):
            raise ValueError("give a venue, an address or online: true")
        if self.online_url and not self.online:
            raise ValueError("online_url is given but online is not true")
        return self

    @property
    def text(self) -> str:
        """The location as one line, as calendars show it."""
        parts = [part for part in (self.venue, self.address) if part]
        if self.online:
            parts.append("Online")
        return ", ".join(parts)


WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_PATTERN = r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$"


class Rule(Strict):
    """A recurrence rule, a bounded subset of RFC 5545 RRULE."""

    frequency: Frequency
    interval: int = Field(default=1, ge=1, le=MAX_INTERVAL)
    count: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    until: Day | None = Field(
        default=None, description="Last day the rule may produce an occurrence (inclusive)."
    )
    by_month: list[Annotated[int, Field(ge=1, le=12)]] = Field(default=[], max_length=12)
    by_month_day: list[Annotated[int, Field(ge=-31, le=31)]] = Field(default=[], max_length=31)
    by_weekday: list[Annotated[str, Field(pattern=WEEKDAY_PATTERN)]] = Field(
        default=[], max_length=7, description="MO..SU, optionally with an ordinal: 1TH, -1MO."
    )
    by_set_position: list[Annotated[int, Field(ge=-366, le=366)]] = Field(default=[], max_length=10)

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.count is not None and self.until is not None:
            raise ValueError("give count or until, not both")
        if 0 in self.by_month_day:
            raise ValueError("by_month_day: 0 is not a day of the month")
        if 0 in self.by_set_position:
            raise ValueError("by_set_position: 0 is not a position")
        ordinals = [day for day in self.by_weekday if len(day) > 2]
        if ordinals and self.frequency not in (Frequency.MONTHLY, Frequency.YEARLY):
            raise ValueError("weekday ordinals such as 1TH need a monthly or yearly frequency")
        # The expander (dateutil) searches until the year 9999 for a rule that never
        # matches, so combinations that can never or only rarely match are refused here.
        if ordinals and self.by_month_day:
            raise ValueError("give weekday ordinals (1TH) or by_month_day, not both")
        if self.by_set_position:
            plain = [day for day in self.by_weekday if len(day) == 2]
            if self.frequency != Frequency.MONTHLY or not plain or ordinals or self.by_month_day:
                raise ValueError(
                    "by_set_position is only supported with a monthly rule over plain weekdays"
                )
            if any(abs(position) > 4 * len(plain) for position in self.by_set_position):
                raise ValueError(
                    f"by_set_position must be within ±{4 * len(plain)} for {len(plain)} weekday(s)"
                )
        if self.by_month_day:
            months = self.by_month or list(range(1, 13))
            longest = max(_calendar.monthrange(2024, month)[1] for month in months)
            if all(abs(day) > longest for day in self.by_month_day):
                raise ValueError(
                    f"by_month_day {self.by_month_day} never occurs in months {months}"
                )
        return self

    def unreachable(self, start: date) -> str | None:
        """Why the rule can never produce an occurrence from `start`, if it cannot.

        Checked before any expansion: an interval can step over every matching period.
        """
        if self.frequency == Frequency.DAILY and self.by_weekday and self.interval % 7 == 0:
            weekday = WEEKDAYS[start.weekday()]
            if weekday not in self.by_weekday:
                return (
                    f"every {self.interval} days from a {weekday} never reaches {self.by_weekday}"
                )
        if self.frequency == Frequency.MONTHLY and self.by_month_day and self.interval > 1:
            visited = {(start.month - 1 + k * self.interval) % 12 + 1 for k in range(12)}
            if self.by_month:
                visited &= set(self.by_month)
            if not visited:
                return f"every {self.interval} months from {start:%B} never reaches {self.by_month}"
            longest = max(_calendar.monthrange(2024, month)[1] for month in visited)
            if all(abs(day) > longest for day in self.by_month_day):
                return f"by_month_day {self.by_month_day} never occurs in the months visited"
        leap_day_only = bool(self.by_month_day) and all(abs(d) == 29 for d in self.by_month_day)
        if self.frequency == Frequency.YEARLY and self.by_month == [2] and leap_day_only:
            years = (start.year + k * self.interval for k in range(100))
            if not any(_calendar.isleap(year) for year in years):
                return f"every {self.interval} years from {start.year} never has 29 February"
        if self.frequency == Frequency.MONTHLY and self.by_month and self.interval > 1:
            visited = {(start.month - 1 + k * self.interval) % 12 + 1 for k in range(12)}
            if not visited & set(self.by_month):
                return f"every {self.interval} months from {start:%B} never reaches {self.by_month}"
        return None

    def ical(self) -> dict[str, Any]:
        """The rule as an icalendar vRecur mapping (UNTIL is added by the renderer)."""
        rule: dict[str, Any] = {"FREQ": self.frequency.value.upper()}
        if self.interval != 1:
            rule["INTERVAL"] = self.interval
        if self.count is not None:
            rule["COUNT"] = self.count
        if self.by_month:
            rule["BYMONTH"] = list(self.by_month)
        if self.by_month_day:
            rule["BYMONTHDAY"] = list(self.by_month_day)
        if self.by_weekday:
            rule["BYDAY"] = list(self.by_weekday)
        if self.by_set_position:
            rule["BYSETPOS"] = list(self.by_set_position)
        return rule

    def describe(self) -> str:
        """A plain-English reading of the rule, for people."""
        unit = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}[
            self.frequency.value
        ]
        text = f"every {unit}" if self.interval == 1 else f"every {self.interval} {unit}s"
        if self.by_weekday:
            text += " on " + ", ".join(_describe_weekday(day) for day in self.by_weekday)
        if self.by_month_day:
            text += " on day " + ", ".join(str(day) for day in self.by_month_day)
        if self.by_month:
            text += " in " + ", ".join(_calendar.month_name[month] for month in self.by_month)
        if self.count is not None:
            text += f", {self.count} times"
        if self.until is not None:
            text += f", until {self.until.isoformat()}"
        return text


def _describe_weekday(code: str) -> str:
    names = dict(zip(WEEKDAYS, _calendar.day_name, strict=True))
    ordinal, day = code[:-2], code[-2:]
    if not ordinal:
        return names[day]
    number = int(ordinal)
    words = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
    return f"the {words.get(number, str(number))} {names[day]}"


class Override(Strict):
    """A change to one occurrence of a series: moved, cancelled or provisional."""

    occurrence: When = Field(description="The start the rule gives for the occurrence changed.")
    start: When | None = None
    end: When | None = None
    status: Status | None = None
    title: Line | None = None
    note: Text | None = Field(default=None, description="Added to this occurrence's description.")


class Recurrence(Strict):
    """How an event repeats: a rule, extra dates and excluded dates."""

    rule: Rule | None = None
    extra_dates: list[When] = Field(default=[], max_length=MAX_COUNT)
    excluded_dates: list[When] = Field(default=[], max_length=MAX_COUNT)

    @model_validator(mode="after")
    def _something(self) -> Recurrence:
        if self.rule is None and not self.extra_dates:
            raise ValueError("give a rule or extra_dates")
        return self


class EventData(Strict):
    """One event as an editor writes it in `data/events/*.yaml`."""

    id: Slug = Field(description="Stable identifier: never change or reuse it.")
    title: Line
    summary: Annotated[str, Field(max_length=500), AfterValidator(_single_line)] = ""
    description: Text = ""
    category: Slug
    audiences: list[Slug] = Field(min_length=1, max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)
    tags: list[Slug] = Field(default=[], max_length=MAX_LIST)
    organiser: Organiser | None = None
    location: Location | None = None
    url: Url | None = Field(default=None, description="Booking or information page.")
    cost: Line | None = None
    status: Status = Status.CONFIRMED
    start: When = Field(description="YYYY-MM-DD for all day, YYYY-MM-DDTHH:MM for a timed event.")
    end: When | None = Field(
        default=None,
        description="All day: the last day, inclusive. Timed: the end time. Omit for one day.",
    )
    recurrence: Recurrence | None = None
    overrides: list[Override] = Field(default=[], max_length=MAX_COUNT)

    @model_validator(mode="after")
    def _times(self) -> EventData:
        kind = "a date" if self.all_day else "a local time"
        check_span(self.start, self.end, ("end",))
        for index, override in enumerate(self.overrides):
            for name in ("occurrence", "start"):
                value = getattr(override, name)
                if value is not None and type(value) is not type(self.start):
                    raise FieldProblem(("overrides", index, name), f"must be {kind}, like start")
            start = override.start if override.start is not None else override.occurrence
            check_span(start, override.end, ("overrides", index, "end"))
        if self.recurrence is not None:
            for name in ("extra_dates", "excluded_dates"):
                for index, value in enumerate(getattr(self.recurrence, name)):
                    if type(value) is not type(self.start):
                        raise FieldProblem(
                            ("recurrence", name, index), f"must be {kind}, like start"
                        )
        if self.overrides and self.recurrence is None:
            raise FieldProblem(("overrides",), "overrides need a recurrence")
        return self

    @property
    def all_day(self) -> bool:
        return is_all_day(self.start)

    @property
    def duration(self) -> timedelta:
        """Length of each occurrence (all day: whole days, the end exclusive)."""
        return occurrence_duration(self.start, self.end)


def is_all_day(value: date | datetime) -> bool:
    return not isinstance(value, datetime)


def occurrence_duration(start: date | datetime, end: date | datetime | None) -> timedelta:
    """Length from start to the exclusive end; an all-day `end` is the inclusive last day."""
    if is_all_day(start):
        last = end if end is not None else start
        return last - start + timedelta(days=1)
    if end is None:
        return timedelta(hours=1)
    return end - start


def check_span(
    start: date | datetime, end: date | datetime | None, path: tuple[str | int, ...]
) -> None:
    """Refuse an end of the wrong kind, before the start, or implausibly far after it."""
    if end is None:
        return
    if type(end) is not type(start):
        kind = "a date (the last day)" if is_all_day(start) else "a local time"
        raise FieldProblem(path, f"must be {kind}, like start")
    if end < start if is_all_day(start) else end <= start:
        raise FieldProblem(
            path, f"{end.isoformat()} is before start {start.isoformat()}; the end must be later"
        )
    if occurrence_duration(start, end) > timedelta(days=MAX_SPAN_DAYS):
        raise FieldProblem(path, f"is more than {MAX_SPAN_DAYS} days after start")


class EventFile(Strict):
    """The top level of an events file."""

    events: list[EventData] = Field(max_length=20_000)


@dataclass(frozen=True, slots=True)
class Event:
    """A validated event with its revision stamp, as the compiler uses it."""

    data: EventData
    source: str  # file path relative to the data directory
    line: int
    sequence: int
    modified: datetime  # UTC
    content_hash: str

    @property
    def id(self) -> str:
        return self.data.id


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One expanded instance of an event."""

    event_id: str
    start: date | datetime  # datetime values are aware, in the calendar's zone
    end: date | datetime  # exclusive
    all_day: bool
    status: Status
    title: str
    note: str | None = None
    original_start: date | datetime | None = None  # the rule's start, when overridden

    @property
    def key(self) -> str:
        """Stable identity within the event: the start the rule gave it."""
        original = self.original_start if self.original_start is not None else self.start
        if isinstance(original, datetime):
            return original.strftime("%Y%m%dT%H%M%S")
        return original.strftime("%Y%m%d")


def start_instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """An aware datetime for ordering; an all-day date counts from local midnight."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time(), zone)
