"""Where an event's dates come from: warnings for dates near today not yet sourced or confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from calendar_service.model import EventData, Status, day_of
from calendar_service.series import Expansion, Series
from calendar_service.values import FieldPath

# A confirmed date this close needs a source: readers act on it (book, plan a lesson).
SOURCE_AHEAD = timedelta(days=365)
# A provisional date this close should have been confirmed: organisers announce sooner.
CONFIRM_AHEAD = timedelta(days=60)

Problem = tuple[FieldPath, str]


@dataclass(frozen=True, slots=True)
class Dated:
    """One occurrence as the data gives it: its first day, status and override (if any)."""

    day: date
    status: Status
    override: int | None  # position in `overrides`


def occurrences_between(
    event: EventData, first: date, last: date, expansion: Expansion | None = None
) -> list[Dated]:
    """The event's occurrences starting from `first` to `last` (inclusive), overrides applied
    (`expansion` is the event's rule, if loading listed it).

    A moved occurrence counts where it was moved to; the rule is asked about a span wider
    by the longest move an override may make, so that moves into the window are found.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return (
            [Dated(day_of(event.start), event.status, None)]
            if first <= day_of(event.start) <= last
            else []
        )
    reach = max(
        (abs(day_of(o.start) - day_of(o.occurrence)) for o in event.overrides if o.start),
        default=timedelta(),
    )
    starts: set[date | datetime] = set(recurrence.extra_dates)
    if recurrence.rule is not None:
        begin = datetime.combine(first - reach, time())
        dates = expansion if expansion is not None else Series(event)
        starts.update(dates.between(begin, datetime.combine(last + reach, time.max)))
    starts.difference_update(recurrence.excluded_dates)
    positions = {override.occurrence: index for index, override in enumerate(event.overrides)}
    found = []
    for start in sorted(starts, key=day_of):
        index = positions.get(start)
        override = event.overrides[index] if index is not None else None
        moved = override.start if override is not None and override.start is not None else start
        status = override.status if override is not None and override.status else event.status
        if first <= day_of(moved) <= last:
            found.append(Dated(day_of(moved), status, index))
    return found


def provenance_problems(
    event: EventData, today: date, expansion: Expansion | None = None
) -> Iterator[Problem]:
    """Warnings about an event's provenance on `today` (the calendar's local date), its
    rule's dates from `expansion` if loading listed them.

    A confirmed occurrence within SOURCE_AHEAD with no source (the override's or the
    event's); a provisional one less than CONFIRM_AHEAD away; a `checked` day in the future.
    Occurrences of one kind are reported once per event, the first named, with how many more.
    """
    if event.checked is not None and event.checked > today:
        yield ("checked",), _future_check(event.checked, today)
    for index, override in enumerate(event.overrides):
        if override.checked is not None and override.checked > today:
            yield ("overrides", index, "checked"), _future_check(override.checked, today)
    provisional = event.status == Status.PROVISIONAL or any(
        override.status == Status.PROVISIONAL for override in event.overrides
    )
    if event.source is not None and not provisional:
        return  # every date is sourced and none provisional: no need to expand the rule
    ahead = occurrences_between(event, today, today + SOURCE_AHEAD, expansion)

    def sourced(item: Dated) -> bool:
        override = event.overrides[item.override] if item.override is not None else None
        return event.source is not None or (override is not None and override.source is not None)

    unsourced = [o for o in ahead if o.status == Status.CONFIRMED and not sourced(o)]
    if unsourced:
        item, more = unsourced[0], _more(len(unsourced) - 1, SOURCE_AHEAD)
        path: FieldPath = ("source",)
        if item.override is not None:
            path = ("overrides", item.override, "source")
        yield (
            path,
            f"the confirmed occurrence of {item.day} ({(item.day - today).days} days away) has "
            f"no source{more}: give `source`, the organiser's page stating the date, and "
            "`checked`, the day you looked (on the event, or on the occurrence's override)",
        )
    near = [o for o in ahead if o.status == Status.PROVISIONAL and o.day - today < CONFIRM_AHEAD]
    if near:
        item, more = near[0], _more(len(near) - 1, CONFIRM_AHEAD)
        where: FieldPath = ("status",)
        if item.override is not None and event.overrides[item.override].status:
            where = ("overrides", item.override, "status")
        yield (
            where,
            f"the occurrence of {item.day} is still provisional and {(item.day - today).days} "
            f"days away (less than {CONFIRM_AHEAD.days}){more}: confirm it at its source "
            "(an override with status: confirmed, source and checked) or cancel it",
        )


def _more(count: int, span: timedelta) -> str:
    return f" (and {count} more in the next {span.days} days)" if count else ""


def _future_check(checked: date, today: date) -> str:
    return f"{checked} is in the future (today is {today}); give the day the date was checked"
