"""Recurrence rules against their start: checks, bounded expansion and its estimated cost."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from calendar_service.documents import DataError, field_path
from calendar_service.index import HORIZON_FUTURE
from calendar_service.model import EventData
from calendar_service.rules import WEEKDAYS, Frequency
from calendar_service.values import FieldPath
from calendar_service.zones import clock_changes

# What expanding every event's rule may cost at load, together, in occurrences walked
# (estimated by Rule.expansion_steps, before anything is expanded). The benchmark's 10,000
# events need about 35,000; at the budget, compiling takes about 6 s and 120 MB more.
EXPANSION_BUDGET = 200_000
COSTLIEST_SHOWN = 5  # events named when the budget is exceeded
# A rule with a count cannot be restarted near a date (the count runs from its start), so
# checking the dates an event names walks it from the start; no further than this.
CHECK_STEPS = 5_000

Problem = tuple[FieldPath, str]


# --- Local times and the clock changes --------------------------------------------------------


def _changes_between(
    zone: ZoneInfo, first: int, last: int
) -> list[tuple[datetime, datetime, bool]]:
    return [
        (*change.affected, change.forward)
        for year in range(first, last + 1)
        for change in clock_changes(zone.key, year)
    ]


def clock_problem(
    start: datetime, end: datetime, zone: ZoneInfo, *, derived: bool = True
) -> str | None:
    """Why an occurrence from `start` to `end` (local wall-clock times) is ill defined, if it is.

    A start the clocks skip does not exist, one they repeat happens twice. An occurrence
    whose end is `derived` from the series' length and which runs across a change lasts
    one length by the clock and another in fact: RFC 5545 keeps the real length (every
    instance as long as the first), recurring-ical-events, the `ical` package and many
    calendars keep the clock times. Ending inside the changed hour is read alike by both.
    """
    for first, last, skipped in _changes_between(zone, start.year, end.year):
        what = (
            "skipped when the clocks go forward" if skipped else "repeated when the clocks go back"
        )
        hour = f"{first:%H:%M}–{last:%H:%M} on {first:%Y-%m-%d}"
        if first <= start < last:
            return f"starts in the hour {what} ({hour})"
        if derived and start < first and end >= last:
            return (
                f"runs across the hour {what} ({hour}), so that its length by the clock "
                "is not its real length"
            )
    return None


def _exists_once(value: datetime, zone: ZoneInfo) -> str | None:
    for first, last, skipped in _changes_between(zone, value.year, value.year):
        if first <= value < last:
            if skipped:
                return (
                    f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
                    "then; choose a time outside the skipped hour"
                )
            return (
                f"{value:%Y-%m-%d %H:%M} happens twice in {zone.key}: the clocks go back then; "
                "choose a time outside the repeated hour"
            )
    return None


def check_local_times(event: EventData, zone: ZoneInfo) -> Iterator[Problem]:
    """Refuse local times that do not exist or happen twice, and, in a series, occurrences
    the event writes out that contain a clock change (their length would be ambiguous)."""
    if event.all_day:
        return
    times: list[tuple[FieldPath, date | datetime | None]] = [
        (("start",), event.start),
        (("end",), event.end),
    ]
    # Excluded dates and overridden occurrences name what the rule gives, which may fall
    # in the gap; only times an editor chooses must exist.
    if event.recurrence is not None:
        times += [
            (("recurrence", "extra_dates", index), value)
            for index, value in enumerate(event.recurrence.extra_dates)
        ]
    for index, override in enumerate(event.overrides):
        times += [
            (("overrides", index, name), getattr(override, name)) for name in ("start", "end")
        ]
    wrong: set[FieldPath] = set()
    for path, value in times:
        if isinstance(value, datetime) and (message := _exists_once(value, zone)):
            wrong.add(path)
            yield path, message
    if event.recurrence is None or ("start",) in wrong:
        return  # one occurrence: its start and end are both written, nothing is derived
    assert isinstance(event.start, datetime)
    # Occurrences whose end is derived from the series' length (the first sets it).
    length = event.duration
    spans: list[tuple[FieldPath, datetime]] = [(("end",), event.start)]
    spans += [
        (("recurrence", "extra_dates", index), value)
        for index, value in enumerate(event.recurrence.extra_dates)
        if isinstance(value, datetime)
    ]
    spans += [
        (("overrides", index, "start"), override.start)
        for index, override in enumerate(event.overrides)
        if override.end is None and isinstance(override.start, datetime)
    ]
    for path, start in spans:
        if path not in wrong and (problem := clock_problem(start, start + length, zone)):
            yield path, f"this occurrence {problem}; {_CLOCK_ADVICE}"


_CLOCK_ADVICE = (
    "calendars disagree about such occurrences of a series: choose times clear of the hour "
    "the clocks change, or give the occurrence's end (an override with start and end)"
)


# --- The rule, expanded as recurring-ical-events expands it --------------------------------------


def rule_text(event: EventData) -> str | None:
    """The event's RRULE as text; an all-day UNTIL is a DATE, a timed one local end of day."""
    recurrence = event.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    parts = []
    for key, value in recurrence.rule.ical().items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key}={text}")
    until = recurrence.rule.until
    if until is not None:
        parts.append(f"UNTIL={until:%Y%m%d}" if event.all_day else f"UNTIL={until:%Y%m%d}T235959")
    return ";".join(parts)


def _as_naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


_FREQUENCIES = {
    Frequency.DAILY: DAILY,
    Frequency.WEEKLY: WEEKLY,
    Frequency.MONTHLY: MONTHLY,
    Frequency.YEARLY: YEARLY,
}


class Series:
    """An event's rule as dateutil expands it (recurring-ical-events uses dateutil), asked
    about any date at the cost of a period or two.

    dateutil walks every period from DTSTART, so asking whether 2200-12-31 is an occurrence
    of a daily rule from 1970 walked 84,000 days. A rule means the same started again at the
    beginning of any period its walk visits, once the defaults it takes from DTSTART (the
    weekday, the day of the month, the month) are written out; so a question is answered
    from the period it is about. A rule with a count is walked from its start: the count
    runs from there.
    """

    def __init__(self, event: EventData) -> None:
        assert event.recurrence is not None and event.recurrence.rule is not None
        rule = self.rule = event.recurrence.rule
        self.all_day = event.all_day
        self.start = start = _as_naive(event.start)
        by_weekday = [_weekday(code) for code in rule.by_weekday]
        by_month, by_month_day = list(rule.by_month), list(rule.by_month_day)
        # dateutil's defaults from DTSTART, written out (see rrule.__init__).
        if not by_month_day and not by_weekday:
            if rule.frequency == Frequency.YEARLY:
                by_month = by_month or [start.month]
                by_month_day = [start.day]
            elif rule.frequency == Frequency.MONTHLY:
                by_month_day = [start.day]
            elif rule.frequency == Frequency.WEEKLY:
                by_weekday = [_weekday(WEEKDAYS[start.weekday()])]
        self._options = {
            "freq": _FREQUENCIES[rule.frequency],
            "interval": rule.interval,
            "count": rule.count,
            "until": None if rule.until is None else datetime.combine(rule.until, time(23, 59, 59)),
            "bymonth": by_month or None,
            "bymonthday": by_month_day or None,
            "byweekday": by_weekday or None,
            "bysetpos": list(rule.by_set_position) or None,
        }
        self._from_start = rrule(dtstart=start, **self._options)  # type: ignore[arg-type]

    def _near(self, value: datetime) -> rrule:
        """The rule started at the last period beginning, at or before `value`, that the
        walk from the start visits."""
        rule, start = self.rule, self.start
        if rule.count is not None or value <= start:
            return self._from_start
        if rule.frequency == Frequency.DAILY:
            days = (value.date() - start.date()).days
            anchor = start + timedelta(days=days // rule.interval * rule.interval)
        elif rule.frequency == Frequency.WEEKLY:
            first_week = start.date() - timedelta(days=start.weekday())
            weeks = (value.date() - first_week).days // 7
            day = first_week + timedelta(weeks=weeks // rule.interval * rule.interval)
            anchor = datetime.combine(day, start.time())
        elif rule.frequency == Frequency.MONTHLY:
            months = (value.year - start.year) * 12 + value.month - start.month
            index = start.month - 1 + months // rule.interval * rule.interval
            anchor = datetime.combine(
                date(start.year + index // 12, index % 12 + 1, 1), start.time()
            )
        else:
            years = (value.year - start.year) // rule.interval * rule.interval
            anchor = datetime.combine(date(start.year + years, 1, 1), start.time())
        if anchor <= start:
            return self._from_start
        return rrule(dtstart=anchor, **self._options)  # type: ignore[arg-type]

    def _kind(self, value: datetime) -> date | datetime:
        return value.date() if self.all_day else value

    def gives(self, value: date | datetime) -> bool:
        """Whether the rule gives an occurrence starting at `value`."""
        moment = _as_naive(value)
        return moment >= self.start and moment in self._near(moment)

    def after(self, value: date | datetime, *, inclusive: bool = False) -> date | datetime | None:
        """The first occurrence the rule gives after `value` (or at it, if inclusive)."""
        moment = _as_naive(value)
        found = self._near(moment).after(moment, inc=inclusive)
        return None if found is None else self._kind(found)

    def between(self, first: date | datetime, last: date | datetime) -> list[date | datetime]:
        """The occurrences the rule gives from `first` to `last`, both included."""
        begin, end = _as_naive(first), _as_naive(last)
        return [self._kind(value) for value in self._near(begin).between(begin, end, inc=True)]


def _weekday(code: str) -> weekday:
    ordinal = code[:-2]
    return weekday(WEEKDAYS.index(code[-2:]), int(ordinal) if ordinal else None)


def rule_starts(event: EventData, limit: date) -> list[date | datetime]:
    """Starts the rule gives up to `limit` (a walk from the start: callers bound `limit`)."""
    recurrence = event.recurrence
    if recurrence is None or recurrence.rule is None:
        return []
    return Series(event).between(event.start, datetime.combine(limit, time.max))


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
    first_day = _day(event.start)
    named = [
        *recurrence.extra_dates,
        *recurrence.excluded_dates,
        *(override.occurrence for override in event.overrides),
    ]
    latest = max((_day(value) for value in named), default=first_day)
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
        cost += recurrence.rule.expansion_steps(_day(event.start), stop)
    return cost


def index_reach(today: date) -> date:
    """The last day compiling expands to: the end of the occurrence index (a day's slack)."""
    return today + HORIZON_FUTURE + timedelta(days=1)


def check_expansion(
    located: Sequence[tuple[EventData, str, int]], zone: ZoneInfo, today: date
) -> list[DataError]:
    """Checks across the catalog that expand rules, once each event is valid on its own.

    First the cost of expanding every event up to the end of the index, estimated without
    expanding: over EXPANSION_BUDGET, the costliest events are named and nothing is
    expanded. Then every occurrence the rules give up to there must keep clear of the
    clock changes (see clock_problem). `located` holds every event of each file, in order,
    with its file and line.
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
        for path, message in _rule_clock_problems(event, zone, reach):
            errors.append(DataError(name, line, field_path((*where, *path)), message))
    return errors


def _cost_reason(event: EventData, reach: date) -> str:
    recurrence = event.recurrence
    rule = recurrence.rule if recurrence is not None else None
    if rule is None:
        return "its extra dates and overrides"
    ending = "" if rule.count or rule.until else ", with no end"
    return f"{rule.describe()}{ending}, from {_day(event.start)}"


def _rule_clock_problems(event: EventData, zone: ZoneInfo, reach: date) -> Iterator[Problem]:
    """Occurrences of a timed rule, up to `reach`, that meet a clock change; those excluded
    or moved by an override are the editor's choice and checked where they are written."""
    recurrence = event.recurrence
    if event.all_day or recurrence is None or recurrence.rule is None:
        return
    length = event.duration
    assert isinstance(event.start, datetime)
    if not _may_meet_clock_change(event.start, length, zone, reach):
        return
    # Excluded and moved occurrences are the editor's; moved ones are checked where written.
    moved = {item.occurrence for item in event.overrides if item.start is not None}
    ends = {item.occurrence: item.end for item in event.overrides if isinstance(item.end, datetime)}
    skipped = set(recurrence.excluded_dates) | moved
    found = []
    for start in _near_clock_changes(Series(event), length, zone, reach):
        if start in skipped:
            continue
        end = ends.get(start)
        problem = clock_problem(start, end or start + length, zone, derived=end is None)
        if problem is not None:
            found.append((start, problem))
    if found:
        start, problem = found[0]
        more = f" ({len(found) - 1} more up to {reach})" if len(found) > 1 else ""
        yield (
            ("recurrence", "rule"),
            f"the occurrence of {start:%Y-%m-%d %H:%M} {problem}{more}; calendars disagree "
            "about such occurrences: choose times clear of the hour the clocks change, exclude "
            "the dates (excluded_dates), or move them with overrides giving start and end",
        )


def _near_clock_changes(
    series: Series, length: timedelta, zone: ZoneInfo, reach: date
) -> list[datetime]:
    """The series' occurrences up to `reach` that could meet a clock change: those starting
    less than `length` before one, or during it. Each change is asked about near itself;
    a rule with a count (at most MAX_COUNT occurrences) is listed once instead."""
    last = datetime.combine(reach, time.max)
    if series.rule.count is not None:
        starts = series.between(series.start, last)
    else:
        second = timedelta(seconds=1)
        starts = []
        for first, final, _ in _changes_between(zone, series.start.year, reach.year):
            if final > series.start and first - length < last:
                starts += series.between(max(first - length + second, series.start), final - second)
    return sorted({value for value in starts if isinstance(value, datetime)})


def _may_meet_clock_change(start: datetime, length: timedelta, zone: ZoneInfo, last: date) -> bool:
    """Whether a daily time slot can meet a clock change from `start` to `last`: most never
    do, and are not expanded to be checked."""
    if length >= timedelta(days=1):
        return True
    begin = start.hour * 60 + start.minute
    end = begin + length // timedelta(minutes=1) + 1
    for first, final, _ in _changes_between(zone, start.year, last.year):
        low = first.hour * 60 + first.minute
        high = low + (final - first) // timedelta(minutes=1)
        for shift in (-1440, 0, 1440):  # slots and changes around midnight
            if begin + shift < high and end + shift > low:
                return True
    return False
