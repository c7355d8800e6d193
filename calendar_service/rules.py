"""Recurrence rules: the bounded subset of RFC 5545 RRULE we accept, in words and in iCalendar."""

from __future__ import annotations

import calendar as _calendar
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from calendar_service.values import MAX_COUNT, MAX_INTERVAL, Day, Strict


class Frequency(StrEnum):
    """Recurrence frequencies we accept; sub-daily ones are refused as unbounded in cost."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


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

    # --- Cost, estimated without expanding -------------------------------------------------

    def periods(self, start: date, stop: date) -> int:
        """Periods (days, weeks, months or years, by the interval) from `start` to `stop`:
        what an expander steps through to get there, whether or not they give an occurrence."""
        if stop < start:
            return 1
        if self.frequency == Frequency.DAILY:
            units = (stop - start).days
        elif self.frequency == Frequency.WEEKLY:  # weeks begin on Monday (WKST=MO)
            units = (stop - start).days // 7 + (stop.weekday() < start.weekday())
        elif self.frequency == Frequency.MONTHLY:
            units = (stop.year - start.year) * 12 + stop.month - start.month
        else:
            units = stop.year - start.year
        return units // self.interval + 1

    def most_per_period(self) -> int:
        """The most occurrences one period can give (an upper bound)."""
        ordinals = [day for day in self.by_weekday if len(day) > 2]
        plain = len(self.by_weekday) - len(ordinals)
        months = len(self.by_month) or 12
        if self.frequency == Frequency.DAILY:
            return 1
        if self.frequency == Frequency.WEEKLY:
            return max(1, len(self.by_weekday))
        if self.frequency == Frequency.MONTHLY:
            if self.by_set_position:
                return len(self.by_set_position)
            if self.by_month_day:
                return len(self.by_month_day)
            return max(1, len(ordinals) + 5 * plain)
        if self.by_month_day:
            return months * len(self.by_month_day)
        if self.by_weekday:
            per_month = len(ordinals) + 5 * plain
            return months * per_month if self.by_month else len(ordinals) + 53 * plain
        return max(1, len(self.by_month))

    def longest_gap(self, start: date) -> int | None:
        """The most periods between two occurrences when every period, or nearly, gives one;
        None when a rule can skip many (a day of the month that some months lack)."""
        ordinals = [int(day[:-2]) for day in self.by_weekday if len(day) > 2]
        short_days = all(abs(day) <= 28 for day in self.by_month_day)
        if self.frequency == Frequency.DAILY:
            if self.by_month or self.by_month_day:
                return None
            return 8 - len(set(self.by_weekday)) if self.by_weekday else 1
        if self.by_month and self.frequency != Frequency.YEARLY:
            return None
        if self.frequency == Frequency.WEEKLY:
            return 1
        if self.by_month_day and self.by_weekday:
            return None
        if self.by_month_day:
            return 1 if short_days else None
        if self.by_weekday:
            widest = 4 if self.frequency == Frequency.MONTHLY or self.by_month else 52
            return 1 if all(abs(number) <= widest for number in ordinals) else None
        return 1 if start.day <= 28 else None  # the start's day of the month, each period

    def expansion_steps(self, start: date, stop: date) -> int:
        """What expanding from `start` to `stop` costs, in occurrences: the periods stepped
        through times the most each gives, or, with a count, at most `count` occurrences
        spread over their widest gaps. An estimate from the rule alone: nothing is expanded."""
        if self.until is not None:
            stop = min(stop, self.until)
        steps = self.periods(start, stop) * self.most_per_period()
        gap = self.longest_gap(start)
        if self.count is not None and gap is not None:
            steps = min(steps, self.count * gap)
        return steps

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
