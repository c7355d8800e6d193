"""An event as an editor writes it (`data/events/*.yaml`): its fields, and their checks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from calendar_service.event_times import is_all_day, occurrence_duration
from calendar_service.rules import Rule
from calendar_service.values import (
    MAX_COUNT,
    MAX_LIST,
    MAX_SPAN_DAYS,
    Email,
    FieldProblem,
    Line,
    Slug,
    Strict,
    Summary,
    Text,
    Url,
    When,
)


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


class Override(Strict):
    """A change to one occurrence of a series: moved, cancelled or provisional."""

    occurrence: When = Field(description="The start the rule gives for the occurrence changed.")
    start: When | None = None
    end: When | None = None
    status: Status | None = None
    title: Line | None = None
    note: Text | None = Field(default=None, description="Added to this occurrence's description.")
    source: Url | None = Field(
        default=None,
        description="The organiser's page stating this occurrence's date, if not the event's.",
    )
    checked: date | None = Field(
        default=None, description="The day this occurrence's date was last checked at its source."
    )


class Skip(Strict):
    """Days a recurrence's rule holds no session on (see skipping.py for what follows)."""

    bank_holidays: bool = Field(default=False, description="Skip England and Wales bank holidays.")
    school_holidays: Slug | None = Field(
        default=None,
        description="Skip the school holidays of this term calendar (a file stem in terms/).",
    )

    @model_validator(mode="after")
    def _something(self) -> Skip:
        if not self.bank_holidays and self.school_holidays is None:
            raise ValueError("give bank_holidays: true or school_holidays: <term calendar>")
        return self


class Recurrence(Strict):
    """How an event repeats: a rule, extra dates and excluded dates."""

    rule: Rule | None = None
    extra_dates: list[When] = Field(default=[], max_length=MAX_COUNT)
    excluded_dates: list[When] = Field(default=[], max_length=MAX_COUNT)
    skip: Skip | None = Field(
        default=None,
        description="Days the rule skips: a count then still gives that many sessions.",
    )

    @model_validator(mode="after")
    def _something(self) -> Recurrence:
        if self.rule is None and not self.extra_dates:
            raise ValueError("give a rule or extra_dates")
        if self.skip is not None:
            if self.rule is None:
                raise FieldProblem(("skip",), "skipping days needs a rule")
            # Each skipped date is written out (EXDATE), so the series must end.
            if self.rule.count is None and self.rule.until is None:
                raise FieldProblem(("skip",), "a rule that skips days needs a count or an until")
        return self


class EventData(Strict):
    """One event as an editor writes it in `data/events/*.yaml`."""

    id: Slug = Field(description="Stable identifier: never change or reuse it.")
    title: Line
    summary: Summary = ""
    description: Text = ""
    category: Slug
    audiences: list[Slug] = Field(min_length=1, max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)
    tags: list[Slug] = Field(default=[], max_length=MAX_LIST)
    organiser: Organiser | None = None
    location: Location | None = None
    url: Url | None = Field(default=None, description="Booking or information page.")
    source: Url | None = Field(
        default=None, description="The organiser's page the dates were checked against."
    )
    checked: date | None = Field(
        default=None, description="The day the dates were last checked against the source."
    )
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
