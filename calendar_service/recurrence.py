"""Checks of recurring events: each series well formed, and the cost of expanding them all."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_service.documents import DataError, field_path
from calendar_service.index import HORIZON_FUTURE
from calendar_service.local_times import Problem, rule_clock_problems
from calendar_service.model import EventData, day_of
from calendar_service.series import Series

# What expanding every event's rule may cost at load, together, in occurrences walked
# (estimated by Rule.expansion_steps, before anything is expanded). The benchmark's 10,000
# events need about 35,000; at the budget, compiling takes about 6 s and 120 MB more.
EXPANSION_BUDGET = 200_000
COSTLIEST_SHOWN = 5  # events named when the budget is exceeded
# A rule with a count cannot be restarted near a date (the count runs from its start), so
# checking the dates an event names walks it from the start; no further than this.
CHECK_STEPS = 5_000


# --- Checks of one event -------------------------------------------------------------------------


class _Given:
    """Which dates the rule gives, for the dates an event names.

    Without a count, each question is answered near its date (Series). With a count, the
    occurrences up to the latest date named are listed once, walking from the start.
    """

    def __init__(self, series: Series, latest: date) -> None:
        self.series = series
        self.listed: list[date | datetime] | None = None
        if series.rule.count is not None:
            self.listed = series.between(series.start, datetime.combine(latest, time.max))
            self.later = series.after(datetime.combine(latest, time.max))
            self.members = set(self.listed)

    def gives(self, value: date | datetime) -> bool:
        if self.listed is None:
            return self.series.gives(value)
        return value in self.members

    def after(self, value: date | datetime) -> date | datetime | None:
        if self.listed is None:
            return self.series.after(value)
        position = bisect_right(self.listed, value)
        return self.listed[position] if position < len(self.listed) else self.later


def check_recurrence(event: EventData) -> list[Problem]:
    """Semantic checks the schema cannot express: the series must be well formed.

    The start must be an occurrence of its rule (RFC 5545 leaves other starts undefined and
    clients disagree), excluded dates and overrides must name real occurrences, and the
    series must keep at least one occurrence. Each date is checked near itself (Series),
    so the check costs little however far from the start the dates are.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return []
    rule = recurrence.rule
    first_day = day_of(event.start)
    named = [
        *recurrence.extra_dates,
        *recurrence.excluded_dates,
        *(override.occurrence for override in event.overrides),
    ]
    latest = max((day_of(value) for value in named), default=first_day)
    given: _Given | None = None
    if rule is not None:
        if rule.until is not None and rule.until < first_day:
            return [(("recurrence", "rule", "until"), "until is before the event's start")]
        if reason := rule.unreachable(first_day):
            return [(("recurrence", "rule"), f"the rule never produces an occurrence: {reason}")]
        if (
            rule.count is not None
            and (steps := rule.expansion_steps(first_day, latest)) > CHECK_STEPS
        ):
            return [
                (
                    ("recurrence", "rule", "count"),
                    f"checking the dates this event names, up to {latest}, would expand its rule "
                    f"{steps:,} steps from its start (a rule with a count is expanded from its "
                    f"start; at most {CHECK_STEPS:,}): give the rule an until instead of a count",
                )
            ]
        series = Series(event)
        following = series.after(event.start, inclusive=True)
        if following != event.start:
            shown = following.isoformat() if following is not None else "none"
            return [
                (
                    ("start",),
                    f"{event.start.isoformat()} is not an occurrence of the rule "
                    f"({rule.describe()}); its first occurrence from there is {shown}",
                )
            ]
        given = _Given(series, latest)
    extras = set(recurrence.extra_dates)
    excluded = set(recurrence.excluded_dates)

    def by_rule(value: date | datetime) -> bool:
        return given is not None and given.gives(value)

    def occurs(value: date | datetime) -> bool:
        return value == event.start or value in extras or by_rule(value)

    problems: list[Problem] = []
    for index, value in enumerate(recurrence.excluded_dates):
        if not occurs(value):
            problems.append(
                (("recurrence", "excluded_dates", index), f"{value} is not an occurrence")
            )
    if _all_excluded(event.start, extras, excluded, given):
        problems.append((("recurrence",), "every occurrence is excluded; the series is empty"))
    for index, value in enumerate(recurrence.extra_dates):
        if by_rule(value):
            problems.append(
                (("recurrence", "extra_dates", index), f"{value} is already given by the rule")
            )
    seen: set[date | datetime] = set()
    for index, override in enumerate(event.overrides):
        if override.occurrence in excluded or not occurs(override.occurrence):
            problems.append(
                (
                    ("overrides", index, "occurrence"),
                    f"{override.occurrence} is not an occurrence of this event",
                )
            )
        if override.occurrence in seen:
            problems.append(
                (("overrides", index, "occurrence"), f"{override.occurrence} is overridden twice")
            )
        seen.add(override.occurrence)
    return problems


def _all_excluded(
    start: date | datetime,
    extras: set[date | datetime],
    excluded: set[date | datetime],
    given: _Given | None,
) -> bool:
    """Whether every occurrence is excluded, without listing them: the rule's occurrences
    all are when the first is and each excluded one's successor is too (or there is none)."""
    if start not in excluded or extras - excluded:
        return False
    if given is None:
        return True
    for value in excluded:
        if given.gives(value):
            following = given.after(value)
            if following is not None and following not in excluded:
                return False
    return True


# --- Checks across the catalog -------------------------------------------------------------------


def expansion_cost(event: EventData, stop: date) -> int:
    """What expanding the event up to `stop` costs, in occurrences walked, estimated from
    the data alone: its rule from its start (dateutil steps through every period from
    there, whatever window is asked for), and each extra date and override."""
    recurrence = event.recurrence
    if recurrence is None:
        return 1
    cost = 1 + len(recurrence.extra_dates) + len(event.overrides)
    if recurrence.rule is not None:
        cost += recurrence.rule.expansion_steps(day_of(event.start), stop)
    return cost


def index_reach(today: date) -> date:
    """The last day compiling expands to: the end of the occurrence index (a day's slack)."""
    return today + HORIZON_FUTURE + timedelta(days=1)


ClockCheck = Callable[[EventData, ZoneInfo, date], Iterable[Problem]]


def check_expansion(
    located: Sequence[tuple[EventData, str, int]],
    zone: ZoneInfo,
    today: date,
    clock_problems: ClockCheck = rule_clock_problems,
) -> list[DataError]:
    """Checks across the catalog that expand rules, once each event is valid on its own.

    First the cost of expanding every event up to the end of the index, estimated without
    expanding: over EXPANSION_BUDGET, the costliest events are named and nothing is
    expanded. Then every occurrence the rules give up to there must keep clear of the
    clock changes (see clock_problem). `located` holds every event of each file, in order,
    with its file and line. `clock_problems` is rule_clock_problems, or a copy of it that
    remembers the events it was asked about (a reload asks again about every event).
    """
    reach = index_reach(today)
    fields, counters = [], dict[str, int]()
    for _, name, _ in located:
        position = counters[name] = counters.get(name, -1) + 1
        fields.append(("events", position))
    costs = [expansion_cost(event, reach) for event, _, _ in located]
    total = sum(costs)
    if total > EXPANSION_BUDGET:
        ranked = sorted(range(len(located)), key=lambda i: (-costs[i], i))[:COSTLIEST_SHOWN]
        return [
            DataError(
                located[i][1],
                located[i][2],
                field_path(fields[i]),
                f"expanding this event to {reach} walks about {costs[i]:,} occurrences "
                f"({_cost_reason(located[i][0], reach)}); the {len(located):,} events need "
                f"{total:,} together, more than the {EXPANSION_BUDGET:,} allowed: end the "
                "costliest series sooner (until or count), start them later, or repeat them "
                "less often",
            )
            for i in ranked
        ]
    errors = []
    for (event, name, line), where in zip(located, fields, strict=True):
        for path, message in clock_problems(event, zone, reach):
            errors.append(DataError(name, line, field_path((*where, *path)), message))
    return errors


def _cost_reason(event: EventData, reach: date) -> str:
    recurrence = event.recurrence
    rule = recurrence.rule if recurrence is not None else None
    if rule is None:
        return "its extra dates and overrides"
    ending = "" if rule.count or rule.until else ", with no end"
    return f"{rule.describe()}{ending}, from {day_of(event.start)}"
