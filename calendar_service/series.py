"""An event's rule as dateutil expands it, asked about any date near that date."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Iterator
from datetime import MAXYEAR, date, datetime, time, timedelta
from typing import Any

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from calendar_service.model import EventData
from calendar_service.rules import WEEKDAYS, Frequency, Rule


def as_naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


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

    __slots__ = ("_filters", "_walk", "all_day", "rule", "start", "until")

    def __init__(self, event: EventData) -> None:
        assert event.recurrence is not None and event.recurrence.rule is not None
        self._walk: rrule | None = None
        rule = self.rule = event.recurrence.rule
        self.all_day = event.all_day
        self.start = as_naive(event.start)
        self.until = None if rule.until is None else datetime.combine(rule.until, time(23, 59, 59))
        # A rule without set positions keeps, of each period it visits, the days that pass
        # its filters (as dateutil's _iter does): those are listed here by date arithmetic,
        # several times faster than dateutil's walk (tested equal). Tuples, not sets: a
        # load holds thousands of these from judging to compiling.
        self._filters: Filters | None = None
        if not rule.by_set_position:
            by_month, by_month_day, by_weekday = self._by()
            # dateutil reads an ordinal weekday as plain in a daily or weekly rule.
            counted = rule.frequency in (Frequency.MONTHLY, Frequency.YEARLY)
            self._filters = (
                tuple(by_month),
                tuple(by_month_day),
                tuple(day.weekday for day in by_weekday if not (counted and day.n)),
                tuple((day.weekday, day.n) for day in by_weekday if counted and day.n),
            )

    def _by(self) -> tuple[list[int], list[int], list[weekday]]:
        """BYMONTH, BYMONTHDAY and BYDAY with dateutil's defaults from DTSTART written out
        (see rrule.__init__)."""
        rule, start = self.rule, self.start
        by_weekday = [_weekday(code) for code in rule.by_weekday]
        by_month, by_month_day = list(rule.by_month), list(rule.by_month_day)
        if not by_month_day and not by_weekday:
            if rule.frequency == Frequency.YEARLY:
                by_month = by_month or [start.month]
                by_month_day = [start.day]
            elif rule.frequency == Frequency.MONTHLY:
                by_month_day = [start.day]
            elif rule.frequency == Frequency.WEEKLY:
                by_weekday = [_weekday(WEEKDAYS[start.weekday()])]
        return by_month, by_month_day, by_weekday

    def _options(self, count: int | None) -> dict[str, Any]:
        """dateutil's rrule arguments but DTSTART (built when dateutil is asked)."""
        by_month, by_month_day, by_weekday = self._by()
        return {
            "freq": _FREQUENCIES[self.rule.frequency],
            "interval": self.rule.interval,
            "count": count,
            "until": self.until,
            "bymonth": by_month or None,
            "bymonthday": by_month_day or None,
            "byweekday": by_weekday or None,
            "bysetpos": list(self.rule.by_set_position) or None,
        }

    @property
    def _from_start(self) -> rrule:
        """dateutil's rule from the start, built when first asked for: most lists need none."""
        if self._walk is None:
            self._walk = rrule(dtstart=self.start, **self._options(self.rule.count))
        return self._walk

    def near(self, value: datetime) -> rrule:
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
        return rrule(dtstart=anchor, **self._options(rule.count))

    def uncounted(self) -> Iterator[date | datetime]:
        """Every date the rule gives from its start, as if it had no count (up to its until):
        for a caller that counts only some of them."""
        for value in rrule(dtstart=self.start, **self._options(None)):
            yield self.kind(value)

    def kind(self, value: datetime) -> date | datetime:
        return value.date() if self.all_day else value

    def gives(self, value: date | datetime) -> bool:
        """Whether the rule gives an occurrence starting at `value`."""
        moment = as_naive(value)
        return moment >= self.start and moment in self.near(moment)

    def after(self, value: date | datetime, *, inclusive: bool = False) -> date | datetime | None:
        """The first occurrence the rule gives after `value` (or at it, if inclusive)."""
        moment = as_naive(value)
        found = self.near(moment).after(moment, inc=inclusive)
        return None if found is None else self.kind(found)

    def between(self, first: date | datetime, last: date | datetime) -> list[date | datetime]:
        """The occurrences the rule gives from `first` to `last`, both included."""
        begin, end = as_naive(first), as_naive(last)
        return [self.kind(value) for value in self.naive_between(begin, end)]

    def naive_between(self, begin: datetime, end: datetime) -> list[datetime]:
        """`between` as dateutil gives it: naive datetimes, all-day ones at midnight."""
        if self._filters is None:
            found: list[datetime] = self.near(begin).between(begin, end, inc=True)
            return found
        return self._filtered(begin, end)

    def _filtered(self, begin: datetime, end: datetime) -> list[datetime]:
        """What dateutil gives from `begin` to `end` (both included) for a rule of plain
        filters: of each period the rule visits (every `interval` days, weeks from Monday,
        months or years from the start's), the days in BYMONTH, BYMONTHDAY (either sign)
        and BYDAY, at the start's time, from the start on, up to the until; the first
        `count` of them."""
        assert self._filters is not None
        rule, start = self.rule, self.start
        stop = end if self.until is None else min(end, self.until)
        # A count runs from the start; otherwise the walk starts at the period of `begin`.
        low = start if rule.count is not None else max(begin, start)
        found: list[datetime] = []
        given, last_day, clock = 0, stop.date(), start.time()
        for period, days in _periods(rule, start.date(), low.date(), self._filters):
            if period > last_day:
                break
            for day in days:
                value = datetime.combine(day, clock)
                if value < start:
                    continue
                if value > stop:
                    return found
                given += 1
                if value >= begin:
                    found.append(value)
                if given == rule.count:
                    return found
        return found


class Expansion:
    """An event's rule expanded once, over a window of local times, and asked any question
    about its dates: from that list inside the window, from its Series outside it.

    Loading checks an event's dates (its start, excluded dates, overrides, the clock
    changes, its provenance) and compiling indexes and ends it: each asked dateutil again
    before. The window is the widest they ask about near today (see window_of), so each
    rule is walked once; an answer is the same whether the list or the Series gives it.
    A rule with a count is listed from its start (the count runs from there).
    """

    __slots__ = ("_listed", "first", "last", "series")

    def __init__(self, series: Series, first: datetime, last: datetime) -> None:
        self.series = series
        if series.rule.count is not None:
            first = series.start
        self.first, self.last = max(first, series.start), last
        listed: list[datetime] = []
        if self.first <= last:
            listed = series.naive_between(self.first, last)
        # Naive, in order, as microseconds: one small block each, not thousands of objects
        # (a load holds every event's from judging to compiling).
        self._listed = array("q", map(_micro, listed))

    @classmethod
    def unlisted(cls, series: Series) -> Expansion:
        """A series listed nowhere: every question is asked near its date."""
        return cls(series, datetime.max, datetime.min)

    def _covers(self, begin: datetime, end: datetime) -> bool:
        return self.first <= begin and end <= self.last

    def between(self, first: date | datetime, last: date | datetime) -> list[date | datetime]:
        """What Series.between gives."""
        begin, end = max(as_naive(first), self.series.start), as_naive(last)
        if begin > end:
            return []
        if not self._covers(begin, end):
            return self.series.between(begin, end)
        listed, kind = self._listed, self.series.kind
        chosen = listed[bisect_left(listed, _micro(begin)) : bisect_right(listed, _micro(end))]
        return [kind(_naive(value)) for value in chosen]

    def after(self, value: date | datetime, *, inclusive: bool = False) -> date | datetime | None:
        """What Series.after gives."""
        moment = as_naive(value)
        if moment < self.series.start:
            moment, inclusive = self.series.start, True
        if not self._covers(moment, moment):
            return self.series.after(moment, inclusive=inclusive)
        listed = self._listed
        position = (bisect_left if inclusive else bisect_right)(listed, _micro(moment))
        if position < len(listed):
            return self.series.kind(_naive(listed[position]))
        return self.series.after(self.last)  # none from there to the window's end

    def gives(self, value: date | datetime) -> bool:
        """What Series.gives gives."""
        moment = as_naive(value)
        if moment < self.series.start:
            return False
        if not self._covers(moment, moment):
            return self.series.gives(moment)
        listed, micro = self._listed, _micro(moment)
        position = bisect_left(listed, micro)
        return position < len(listed) and listed[position] == micro

    def latest(self, limit: date | datetime) -> date | datetime | None:
        """The last date the rule gives from its start up to `limit`, if any."""
        end = as_naive(limit)
        if end <= self.last:
            position = bisect_right(self._listed, _micro(end))
            if position:
                return self.series.kind(_naive(self._listed[position - 1]))
            if self.first == self.series.start:
                return None
        starts = self.series.between(self.series.start, end)
        return starts[-1] if starts else None


_ORIGIN, _MICROSECOND = datetime.min, timedelta(microseconds=1)


def _micro(value: datetime) -> int:
    """A naive time as microseconds from the first one Python has: exact, and ordered."""
    return (value - _ORIGIN) // _MICROSECOND


def _naive(micro: int) -> datetime:
    return _ORIGIN + timedelta(microseconds=micro)


# A plain rule's filters: months, days of the month, weekdays, (weekday, ordinal) pairs.
Filters = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...]]


def _periods(
    rule: Rule, first: date, low: date, filters: Filters
) -> Iterator[tuple[date, list[date]]]:
    """Each period a rule without set positions visits from the one holding `low` (periods
    are counted from `first`'s), with its first day and its days that pass the filters."""
    months, _, _, ordinals = filters
    interval = rule.interval
    if rule.frequency in (Frequency.DAILY, Frequency.WEEKLY):
        length = 1 if rule.frequency == Frequency.DAILY else 7
        origin = first - timedelta(days=first.weekday() if length == 7 else 0)
        step = timedelta(days=length * interval)
        day = origin + (low - origin).days // length // interval * step
        offsets = [timedelta(days=n) for n in range(length)]
        while day.year < MAXYEAR:
            days = [day + offset for offset in offsets]
            yield day, [item for item in days if _passes(item, filters)]
            day += step
        return
    if rule.frequency == Frequency.MONTHLY:
        index = (low.year - first.year) * 12 + low.month - first.month
        index = first.year * 12 + first.month - 1 + index // interval * interval
        while index < MAXYEAR * 12:
            year, month = divmod(index, 12)
            chosen = not months or month + 1 in months
            yield date(year, month + 1, 1), _month_days(year, month + 1, filters) if chosen else []
            index += interval
        return
    year = first.year + (low.year - first.year) // interval * interval
    while year < MAXYEAR:
        if ordinals and not months:  # the n-th weekday of the year
            found = _year_ordinals(year, ordinals)
            yield date(year, 1, 1), [day for day in found if _passes(day, filters)]
        else:
            named = sorted(months or range(1, 13))
            yield date(year, 1, 1), [d for m in named for d in _month_days(year, m, filters)]
        year += interval


def _passes(day: date, filters: Filters, ordinal_days: frozenset[int] = frozenset()) -> bool:
    """Whether the day passes the filters, ordinals apart (given as the days they name)."""
    months, month_days, weekdays, _ = filters
    if months and day.month not in months:
        return False
    if weekdays and day.weekday() not in weekdays:
        return False
    if ordinal_days and day.day not in ordinal_days:
        return False
    if month_days and day.day not in month_days:
        return day.day - monthrange(day.year, day.month)[1] - 1 in month_days
    return True


def _nth(first: date, last: date, weekday: int, n: int) -> date | None:
    """The n-th given weekday from `first` (from `last` when n is negative), if in range."""
    if n > 0:
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    else:
        day = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))
    return day if first <= day <= last else None


def _year_ordinals(year: int, ordinals: tuple[tuple[int, int], ...]) -> list[date]:
    first, last = date(year, 1, 1), date(year, 12, 31)
    found = {_nth(first, last, weekday, n) for weekday, n in ordinals}
    return sorted(day for day in found if day is not None)


def _month_days(year: int, month: int, filters: Filters) -> list[date]:
    """The days of a month that pass the filters, in order (ordinals count in the month)."""
    _, month_days, weekdays, ordinals = filters
    length = monthrange(year, month)[1]
    first, last = date(year, month, 1), date(year, month, length)
    if ordinals:
        named = {_nth(first, last, weekday, n) for weekday, n in ordinals}
        days = sorted(day for day in named if day is not None)
        chosen = frozenset(day.day for day in days)
        return [day for day in days if _passes(day, filters, chosen)]
    if month_days:
        numbers = {n if n > 0 else length + 1 + n for n in month_days}
        days = [date(year, month, n) for n in sorted(numbers) if 1 <= n <= length]
    elif weekdays:
        numbers = {
            n
            for wanted in weekdays
            for n in range(1 + (wanted - first.weekday()) % 7, length + 1, 7)
        }
        days = [date(year, month, n) for n in sorted(numbers)]
    else:
        days = [date(year, month, n) for n in range(1, length + 1)]
    return [day for day in days if _passes(day, filters)]


def _weekday(code: str) -> weekday:
    ordinal = code[:-2]
    return weekday(WEEKDAYS.index(code[-2:]), int(ordinal) if ordinal else None)
