"""Checks and expansion of recurrence rules that need more than the schema: bounded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from calendar_service.model import EventData
from calendar_service.values import FieldPath


def check_local_times(event: EventData, zone: ZoneInfo) -> Iterator[tuple[FieldPath, str]]:
    """Refuse local times that do not exist, skipped when the clocks go forward."""
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
    for path, value in times:
        if not isinstance(value, datetime):
            continue
        round_trip = value.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        if round_trip.replace(tzinfo=None) != value:
            yield (
                path,
                f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks go forward "
                "then; choose a time outside the skipped hour",
            )


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


def _rule(event: EventData) -> rrule | None:
    text = rule_text(event)
    if text is None:
        return None
    return rrulestr(text, dtstart=_as_naive(event.start))  # type: ignore[return-value]


def _kind(event: EventData, value: datetime) -> date | datetime:
    return value.date() if event.all_day else value


def rule_starts(event: EventData, limit: date) -> list[date | datetime]:
    """Starts the rule gives up to `limit` (bounded: rules are checked before expansion)."""
    rule = _rule(event)
    if rule is None:
        return []
    start = _as_naive(event.start)
    starts = rule.between(start, datetime.combine(limit, time.max), inc=True)
    return [_kind(event, value) for value in starts]


def check_recurrence(event: EventData) -> list[tuple[FieldPath, str]]:
    """Semantic checks the schema cannot express: the series must be well formed.

    The start must be an occurrence of its rule (RFC 5545 leaves other starts undefined and
    clients disagree), excluded dates and overrides must name real occurrences, and the
    series must keep at least one occurrence. The rule is expanded only as far as the
    latest date the event names, so the check costs little whatever the rule.
    """
    recurrence = event.recurrence
    if recurrence is None:
        return []
    rule = recurrence.rule
    first_day = _as_naive(event.start).date()
    if rule is not None and rule.until is not None and rule.until < first_day:
        return [(("recurrence", "rule", "until"), "until is before the event's start")]
    if rule is not None and (reason := rule.unreachable(first_day)):
        return [(("recurrence", "rule"), f"the rule never produces an occurrence: {reason}")]
    named = [
        event.start,
        *recurrence.extra_dates,
        *recurrence.excluded_dates,
        *(override.occurrence for override in event.overrides),
    ]
    limit = max(_as_naive(value) for value in named).date()
    starts = rule_starts(event, limit)
    expander = _rule(event)
    if expander is not None and (not starts or starts[0] != event.start):
        following = expander.after(_as_naive(event.start), inc=True)
        shown = _kind(event, following).isoformat() if following else "none"
        assert rule is not None
        return [
            (
                ("start",),
                f"{event.start.isoformat()} is not an occurrence of the rule "
                f"({rule.describe()}); its first occurrence from there is {shown}",
            )
        ]
    problems: list[tuple[FieldPath, str]] = []
    occurrences = set(starts) | set(recurrence.extra_dates) | {event.start}
    for index, value in enumerate(recurrence.excluded_dates):
        if value not in occurrences:
            problems.append(
                (("recurrence", "excluded_dates", index), f"{value} is not an occurrence")
            )
    remaining = occurrences - set(recurrence.excluded_dates)
    later = expander.after(datetime.combine(limit, time.max)) if expander is not None else None
    if not remaining and later is None:
        problems.append((("recurrence",), "every occurrence is excluded; the series is empty"))
    given = set(starts)
    for index, value in enumerate(recurrence.extra_dates):
        if value in given:
            problems.append(
                (("recurrence", "extra_dates", index), f"{value} is already given by the rule")
            )
    seen: set[date | datetime] = set()
    for index, override in enumerate(event.overrides):
        if override.occurrence not in remaining:
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
