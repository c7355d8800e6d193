"""Which days a recurrence skips, and the sessions a counted programme holds instead.

Decided once, here, for every output: the rule's dates that fall on a skipped day are not
held, each with its reason ("February half term", "Easter Monday"); a rule with a count
holds its sessions on the next dates the rule gives until it has `count` of them, and a
rule with an until just loses them. Skips apply to the rule's dates only: extra dates are
the editor's own choice. Excluded dates count as sessions, as RFC 5545 counts them.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType

from dateutil.easter import easter

from calendar_service.model import (
    DateSpan,
    EventData,
    Schedule,
    Skip,
    Skipped,
    TermCalendar,
    day_of,
)
from calendar_service.series import Series
from calendar_service.values import MAX_COUNT, FieldPath

# England and Wales share their bank holidays; the `holidays` package keeps them.
BANK_HOLIDAY_COUNTRY, BANK_HOLIDAY_SUBDIVISION = "GB", "ENG"
MAX_SKIPPED = MAX_COUNT  # skipped dates one series may list (each is written as an EXDATE)


def describe(skip: Skip, term_names: Mapping[str, str]) -> str:
    """The skip in words, after a rule's: "not on bank holidays or in the school holidays
    of County Durham schools"; `term_names` gives each term calendar's name by id."""
    parts = ["on bank holidays"] if skip.bank_holidays else []
    if skip.school_holidays is not None:
        name = term_names.get(skip.school_holidays, skip.school_holidays)
        parts.append(f"in the school holidays of {name}")
    return "not " + " or ".join(parts)


class SkipProblem(ValueError):
    """Why a recurrence's skip cannot be applied, with the field it is about."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path


@lru_cache(maxsize=256)
def bank_holidays(year: int) -> Mapping[date, str]:
    """England and Wales bank holidays of one year, by day, with their names."""
    # Imported on first use: the package costs a server 9 MB, and most calendars have no
    # series that skips bank holidays.
    import holidays

    found = holidays.country_holidays(
        BANK_HOLIDAY_COUNTRY, subdiv=BANK_HOLIDAY_SUBDIVISION, years=year
    )
    return MappingProxyType({day: str(name) for day, name in sorted(found.items())})


def school_year_label(first_year: int) -> str:
    """`2025-26` for the school year starting in 2025."""
    return f"{first_year}-{(first_year + 1) % 100:02d}"


@dataclass(frozen=True, slots=True)
class TermDays:
    """A term calendar's school holidays by day, each with its name, over the years it has."""

    calendar_id: str
    first: date  # the first day of the first term it has
    last: date  # the last day of the last term it has
    holidays: Mapping[date, str]

    @classmethod
    def of(cls, calendar_id: str, calendar: TermCalendar) -> TermDays:
        named: dict[date, str] = {}
        years = calendar.years
        for year in years:
            terms = year.terms
            for before, after in pairwise(terms):
                reason = _break_name(before.end, after.start)
                named.update(_days(before.end + timedelta(days=1), after.start, reason))
        for before_year, after_year in pairwise(years):
            named.update(
                _days(
                    before_year.terms[-1].end + timedelta(days=1),
                    after_year.terms[0].start,
                    "summer holidays",
                )
            )
        for year in years:
            for term in year.terms:
                half = term.half_term
                if half is not None:
                    reason = half_term_name(half)
                    named.update(_days(half.start, half.end + timedelta(days=1), reason))
            named.update({closure.date: closure.name for closure in year.closures})
        return cls(calendar_id, years[0].terms[0].start, years[-1].terms[-1].end, named)

    def missing_year(self, day: date) -> str | None:
        """The school year `day` needs and the calendar lacks, if it lacks one."""
        if day < self.first:
            return school_year_label(self.first.year - 1)
        if day > self.last:
            return school_year_label(self.last.year)
        return None


def half_term_name(half_term: DateSpan) -> str:
    """What people call a half term: by the month it starts in, "February half term"."""
    return f"{_calendar.month_name[half_term.start.month]} half term"


def _days(first: date, stop: date, reason: str) -> dict[date, str]:
    """Each day from `first` up to (not including) `stop`, with `reason`."""
    return {first + timedelta(days=n): reason for n in range((stop - first).days)}


def _break_name(last_of_term: date, first_of_next: date) -> str:
    """What people call the holidays between two terms of one school year."""
    christmas = date(last_of_term.year, 12, 25)
    if last_of_term < christmas < first_of_next:
        return "Christmas holidays"
    sunday = easter(first_of_next.year)
    if last_of_term < sunday < first_of_next:
        return "Easter holidays"
    return f"school holidays ({last_of_term:%-d %B} to {first_of_next:%-d %B})"


@dataclass(frozen=True, slots=True)
class SkipDays:
    """The days one recurrence skips, and why: bank holidays first (the day's own name),
    then the term calendar's closure days, half terms and holidays."""

    bank_holidays: bool
    terms: TermDays | None

    @classmethod
    def of(cls, skip: Skip, calendars: Mapping[str, TermDays]) -> SkipDays:
        """Raises SkipProblem for a term calendar that does not exist."""
        terms = None
        if skip.school_holidays is not None:
            terms = calendars.get(skip.school_holidays)
            if terms is None:
                known = ", ".join(sorted(calendars)) or "none: add terms/<id>.yaml"
                raise SkipProblem(
                    ("skip", "school_holidays"),
                    f"unknown term calendar {skip.school_holidays!r}; known: {known}",
                )
        return cls(skip.bank_holidays, terms)

    def reason(self, day: date) -> str | None:
        """Why no session is held on `day`, or None if one is.

        Raises SkipProblem when the term calendar has no data for the day's school year:
        an unknown year is never guessed to be term time.
        """
        if self.bank_holidays and (name := bank_holidays(day.year).get(day)):
            return name
        if self.terms is None:
            return None
        missing = self.terms.missing_year(day)
        if missing is not None:
            raise SkipProblem(
                ("skip", "school_holidays"),
                f"no term data for {missing} in terms/{self.terms.calendar_id}.yaml: the rule "
                f"reaches {day}; add that school year or end the rule sooner",
            )
        return self.terms.holidays.get(day)


def schedule(event: EventData, calendars: Mapping[str, TermDays]) -> Schedule:
    """The dates an event's rule skips, and the until a counted rule is published with.

    Raises SkipProblem (its path relative to the event's `recurrence`) for an unknown
    term calendar, a date in a school year the calendar lacks, a rule whose every date is
    skipped, or more than MAX_SKIPPED skipped dates.
    """
    recurrence = event.recurrence
    if recurrence is None or recurrence.skip is None or recurrence.rule is None:
        return Schedule()
    rule = recurrence.rule
    days = SkipDays.of(recurrence.skip, calendars)
    skipped: list[Skipped] = []
    held = 0
    last_held: date | None = None
    for value in Series(event).uncounted():
        reason = days.reason(day_of(value))
        if reason is None:
            held += 1
            last_held = day_of(value)
            if held == rule.count:
                break
            continue
        skipped.append(Skipped(value, reason))
        if len(skipped) > MAX_SKIPPED:
            raise SkipProblem(
                ("skip",),
                f"the rule skips more than {MAX_SKIPPED} dates"
                + (f" before its {rule.count} sessions" if rule.count else "")
                + "; end it sooner or skip fewer days",
            )
    if last_held is None:
        reasons = sorted({item.reason for item in skipped})
        raise SkipProblem(
            ("skip",),
            f"every date the rule gives is skipped ({', '.join(reasons[:3])}); "
            "the series would hold no session",
        )
    if rule.count is not None and held < rule.count:
        raise SkipProblem(("skip",), f"the rule gives only {held} of its {rule.count} sessions")
    until = last_held if rule.count is not None and skipped else None
    return Schedule(tuple(skipped), until)


def skip_problems(event: EventData, found: Schedule) -> list[tuple[FieldPath, str]]:
    """Overrides and excluded dates that name a skipped date (no session to change)."""
    reasons = {item.start: item.reason for item in found.skipped}
    problems: list[tuple[FieldPath, str]] = []
    for index, override in enumerate(event.overrides):
        reason = reasons.get(override.occurrence)
        if reason is not None:
            problems.append(
                (
                    ("overrides", index, "occurrence"),
                    f"{override.occurrence} is skipped ({reason}): there is no session to change",
                )
            )
    return problems
