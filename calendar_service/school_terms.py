"""Term calendars (`data/terms/<id>.yaml`): a local authority's school terms, year by year."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from calendar_service.values import MAX_LIST, Day, FieldProblem, Line, Strict, Text, Url

SCHOOL_YEAR_PATTERN = r"^\d{4}-\d{2}$"


class DateSpan(Strict):
    """Days from `start` to `end`, both included."""

    start: Day
    end: Day

    @model_validator(mode="after")
    def _ordered(self) -> DateSpan:
        if self.end < self.start:
            raise FieldProblem(("end",), f"{self.end} is before start {self.start}")
        return self

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


class SchoolTerm(DateSpan):
    """One term: its first and last day, and its half term if it has one."""

    name: Line
    half_term: DateSpan | None = None

    @model_validator(mode="after")
    def _half_term_inside(self) -> SchoolTerm:
        half = self.half_term
        if half is not None and not (self.start < half.start and half.end < self.end):
            raise FieldProblem(
                ("half_term",), f"must lie inside the term ({self.start} to {self.end})"
            )
        return self


class Closure(Strict):
    """A day the authority closes all its schools."""

    date: Day
    name: Line


class SchoolYear(Strict):
    """One school year of a term calendar."""

    year: str = Field(pattern=SCHOOL_YEAR_PATTERN, description="The school year, YYYY-YY.")
    status: Literal["confirmed", "provisional"] = Field(
        description="provisional while the authority has not yet published the dates."
    )
    source: Url | None = Field(default=None, description="This year's page, if not the calendar's.")
    note: Text = ""
    terms: list[SchoolTerm] = Field(min_length=1, max_length=6)
    closures: list[Closure] = Field(default=[], max_length=MAX_LIST)

    @model_validator(mode="after")
    def _coherent(self) -> SchoolYear:
        first = int(self.year[:4])
        if self.year[5:] != f"{(first + 1) % 100:02d}":
            raise FieldProblem(("year",), f"must be {first}-{(first + 1) % 100:02d}, one year on")
        if self.terms[0].start.year != first:
            raise FieldProblem(
                ("terms", 0, "start"), f"the school year {self.year} starts in {first}"
            )
        if self.terms[-1].end.year != first + 1:
            last = len(self.terms) - 1
            raise FieldProblem(
                ("terms", last, "end"), f"the school year {self.year} ends in {first + 1}"
            )
        for index in range(1, len(self.terms)):
            if self.terms[index].start <= self.terms[index - 1].end:
                raise FieldProblem(
                    ("terms", index, "start"), "terms must follow one another, in order"
                )
        for index, closure in enumerate(self.closures):
            if not self.terms[0].start <= closure.date <= self.terms[-1].end:
                raise FieldProblem(
                    ("closures", index, "date"), f"is outside the school year {self.year}"
                )
        return self

    @property
    def span(self) -> DateSpan:
        """From the first term's first day to the last term's last day."""
        return DateSpan(start=self.terms[0].start, end=self.terms[-1].end)


class TermCalendar(Strict):
    """A local authority's school terms, half terms and closure days, year by year."""

    name: Line = Field(description="Shown in feeds and pages, e.g. County Durham schools.")
    authority: Line
    source: Url = Field(description="The authority's own page for term dates.")
    checked: Day = Field(description="The day the dates were last checked at the source.")
    years: list[SchoolYear] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _consecutive(self) -> TermCalendar:
        for index in range(1, len(self.years)):
            before, year = self.years[index - 1].year, self.years[index].year
            if int(year[:4]) != int(before[:4]) + 1:
                raise FieldProblem(
                    ("years", index, "year"), f"must follow {before}: years in order, none missing"
                )
        return self
