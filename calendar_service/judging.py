"""An event judged on its own: vocabularies, local times, recurrence, skipped days, provenance."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from calendar_service.local_times import check_local_times
from calendar_service.model import (
    UNSKIPPED,
    CalendarSettings,
    EventData,
    Schedule,
    content_hash,
)
from calendar_service.provenance import Problem, provenance_problems
from calendar_service.recurrence import Allowance, judge_recurrence
from calendar_service.series import Expansion
from calendar_service.skipping import SkipProblem, TermDays, schedule, skip_problems
from calendar_service.values import FieldPath


@dataclass(frozen=True, slots=True)
class Judged:
    """What an event's own checks found, wherever in its file it is (paths from the event)."""

    data: EventData  # as written
    context: Hashable  # settings, term calendars and day the checks depended on
    sessions: Schedule
    published: EventData
    problems: tuple[Problem, ...]
    provenance: tuple[Problem, ...]  # warnings, told only if it has no problem at all
    content_hash: str


@dataclass(frozen=True, slots=True)
class Listing:
    """The rules one load lists (Expansion), by the id() of each event as published: kept
    for this load's checks across files and its compile, never in the LoadCache."""

    allowance: Allowance = field(default_factory=Allowance)
    listed: dict[int, tuple[EventData, Expansion]] = field(default_factory=dict)

    def of(self, published: EventData) -> Expansion | None:
        """The event's rule as listed by this load, if it was."""
        entry = self.listed.get(id(published))
        return entry[1] if entry is not None and entry[0] is published else None


def judge(
    event: EventData,
    settings: CalendarSettings | None,
    terms: Mapping[str, TermDays],
    today: date,
    context: Hashable,
    listing: Listing | None = None,
) -> Judged:
    """An event's checks across its fields: vocabularies, local times, recurrence and the
    days it skips, then (if it passes them) its provenance on `today`. Unique ids are
    checked across files, by `load`."""
    problems: list[Problem] = []
    if settings is not None:
        problems += _vocabulary_problems(event, settings)
        problems += check_local_times(event, settings.zone)
    try:
        sessions = schedule(event, terms)
    except SkipProblem as problem:
        problems.append((("recurrence", *problem.path), str(problem)))
        sessions = UNSKIPPED
    published = sessions.published(event)
    # Excluded dates and overrides are checked against the rule as published, listed once
    # over the window that the other checks and compiling ask about too.
    allowance = listing.allowance if listing is not None else None
    found, expansion = judge_recurrence(published, today, allowance)
    if listing is not None and expansion is not None:
        listing.listed[id(published)] = (published, expansion)
    problems += found
    problems += skip_problems(event, sessions)
    # A well-formed event's rule is asked about its provenance, one year only.
    told = () if problems else tuple(provenance_problems(published, today, expansion))
    hashed = content_hash(event, sessions)
    return Judged(event, context, sessions, published, tuple(problems), told, hashed)


def _vocabulary_problems(event: EventData, settings: CalendarSettings) -> Iterator[Problem]:
    vocab = settings.vocabularies
    checks: list[tuple[FieldPath, str, Mapping[str, Any]]] = [
        (("category",), event.category, vocab.terms("category"))
    ]
    checks += [
        (("audiences", i), value, vocab.terms("audience"))
        for i, value in enumerate(event.audiences)
    ]
    checks += [(("themes", i), value, vocab.terms("theme")) for i, value in enumerate(event.themes)]
    for path, value, allowed in checks:
        if value not in allowed:
            yield path, f"unknown value {value!r}; expected one of: {', '.join(allowed)}"
