"""Checks of recurring events: each series well formed, and the cost of expanding them all."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_service.documents import DataError, field_path
from calendar_service.index import HORIZON_FUTURE, HORIZON_PAST
from calendar_service.local_times import Problem, rule_clock_problems
from calendar_service.model import EventData, day_of
from calendar_service.series import Expansion, Series

# What expanding every event's rule may cost at load, together, in occurrences walked
# (estimated by Rule.expansion_steps, before anything is expanded). The benchmark's 10,000
# events need about 35,000; at the budget, compiling takes about 6 s and 120 MB more.
EXPANSION_BUDGET = 200_000
COSTLIEST_SHOWN = 5  # events named when the budget is exceeded
# A rule with a count cannot be restarted near a date (the count runs from its start), so
# checking the dates an event names walks it from the start; no further than this.
CHECK_STEPS = 5_000


# --- Checks of one event -------------------------------------------------------------------------


class Allowance:
    """What one load may spend listing rules over their windows (Expansion), in the steps
    Rule.expansion_steps estimates: what expanding costs is only checked across the
    catalog after every event is judged (check_expansion), so data over the budget is
    refused at the cost of the budget, not of expanding all of it. An event refused a
    listing is asked near each date instead: the answers are the same."""

    def __init__(self, steps: int = EXPANSION_BUDGET) -> None:
        self.left = steps

    def take(self, steps: int) -> bool:
        if steps > self.left:
            return False
        self.left -= steps
        return True


WINDOW_SLACK = timedelta(days=3)  # each side: compiling may be for a day either side


def expansion_window(event: EventData, today: date) -> tuple[datetime, datetime]:
    """The local times from which to which loading lists a rule's dates (Expansion): the
    occurrence index's horizon as compiling asks for it on `today`, which holds the year of
    provenance checks and every clock change up to index_reach. A day or more of slack
    each side lets a compile a day apart use the list too."""
    first = datetime.combine(today - HORIZON_PAST - WINDOW_SLACK, time()) - event.duration
    return first, datetime.combine(today + HORIZON_FUTURE + WINDOW_SLACK, time.max)


def _expanded(
    event: EventData, latest: date, today: date | None, allowance: Allowance | None
) -> Expansion:
    """The event's rule listed over its window on `today` if the allowance has the steps
    (a rule with a count: from its start, and never more than CHECK_STEPS), else up to the
    latest date the event names (with a count) or nothing (without: asked near each date)."""
    series = Series(event)
    rule, first_day = series.rule, day_of(event.start)
    if today is not None and allowance is not None:
        first, last = expansion_window(event, today)
        begin = first_day if rule.count is not None else max(first_day, first.date())
        steps = rule.expansion_steps(begin, last.date())
        if (rule.count is None or steps <= CHECK_STEPS) and allowance.take(steps):
            return Expansion(series, first, last)
    if rule.count is not None:  # the dates named are checked from one walk
        return Expansion(series, series.start, datetime.combine(latest, time.max))
    return Expansion.unlisted(series)


def check_recurrence(event: EventData) -> list[Problem]:
    """judge_recurrence's problems."""
    return judge_recurrence(event)[0]


def judge_recurrence(
    event: EventData, today: date | None = None, allowance: Allowance | None = None
) -> tuple[list[Problem], Expansion | None]:
    """Semantic checks the schema cannot express: the series must be well formed.

    The start must be an occurrence of its rule (RFC 5545 leaves other starts undefined and
    clients disagree), excluded dates and overrides must name real occurrences, and the
    series must keep at least one occurrence. Each date is checked near itself (Series),
    so the check costs little however far from the start the dates are.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return [], None
    rule = recurrence.rule
    first_day = day_of(event.start)
    named = [
        *recurrence.extra_dates,
        *recurrence.excluded_dates,
        *(override.occurrence for override in event.overrides),
    ]
    latest = max((day_of(value) for value in named), default=first_day)
    given: Expansion | None = None
    if rule is not None:
        if rule.until is not None and rule.until < first_day:
            return [(("recurrence", "rule", "until"), "until is before the event's start")], None
        if reason := rule.unreachable(first_day):
            problem = f"the rule never produces an occurrence: {reason}"
            return [(("recurrence", "rule"), problem)], None
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
            ], None
        given = _expanded(event, latest, today, allowance)
        following = given.after(event.start, inclusive=True)
        if following != event.start:
            shown = following.isoformat() if following is not None else "none"
            return [
                (
                    ("start",),
                    f"{event.start.isoformat()} is not an occurrence of the rule "
                    f"({rule.describe()}); its first occurrence from there is {shown}",
                )
            ], given
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
    return problems, given


def _all_excluded(
    start: date | datetime,
    extras: set[date | datetime],
    excluded: set[date | datetime],
    given: Expansion | None,
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


ClockCheck = Callable[[EventData, ZoneInfo, date, Expansion | None], Iterable[Problem]]
CostEstimate = Callable[[EventData, date], int]
Located = tuple[EventData, str, int, Expansion | None]  # event, file, line, its rule listed


def check_expansion(
    located: Sequence[Located],
    zone: ZoneInfo,
    today: date,
    clock_problems: ClockCheck = rule_clock_problems,
    cost_of: CostEstimate = expansion_cost,
    budget: int = EXPANSION_BUDGET,
) -> list[DataError]:
    """Checks across the catalog that expand rules, once each event is valid on its own.

    First the cost of expanding every event up to the end of the index, estimated without
    expanding: over `budget`, the costliest events are named and nothing is
    expanded. Then every occurrence the rules give up to there must keep clear of the
    clock changes (see clock_problem). `located` holds every event of each file, in order,
    with its file, line and rule's Expansion (if listed). `clock_problems` is
    rule_clock_problems, or a copy of it that remembers the events it was asked about (a
    reload asks again about every event); `cost_of`, expansion_cost or such a copy of it;
    `budget`, EXPANSION_BUDGET (a test sets it small to reach it with a few events).
    """
    reach = index_reach(today)
    fields, counters = [], dict[str, int]()
    for _, name, _, _ in located:
        position = counters[name] = counters.get(name, -1) + 1
        fields.append(("events", position))
    costs = [cost_of(event, reach) for event, _, _, _ in located]
    total = sum(costs)
    if total > budget:
        ranked = sorted(range(len(located)), key=lambda i: (-costs[i], i))[:COSTLIEST_SHOWN]
        return [
            DataError(
                located[i][1],
                located[i][2],
                field_path(fields[i]),
                f"expanding this event to {reach} walks about {costs[i]:,} occurrences "
                f"({_cost_reason(located[i][0], reach)}); the {len(located):,} events need "
                f"{total:,} together, more than the {budget:,} allowed: end the "
                "costliest series sooner (until or count), start them later, or repeat them "
                "less often",
            )
            for i in ranked
        ]
    errors = []
    for (event, name, line, expansion), where in zip(located, fields, strict=True):
        for path, message in clock_problems(event, zone, reach, expansion):
            errors.append(DataError(name, line, field_path((*where, *path)), message))
    return errors


def _cost_reason(event: EventData, reach: date) -> str:
    recurrence = event.recurrence
    rule = recurrence.rule if recurrence is not None else None
    if rule is None:
        return "its extra dates and overrides"
    ending = "" if rule.count or rule.until else ", with no end"
    return f"{rule.describe()}{ending}, from {day_of(event.start)}"
