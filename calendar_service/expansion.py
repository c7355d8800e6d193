"""Expansion outside the occurrence index: what it costs, and the job a worker process runs."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from icalendar import Calendar

from calendar_service.index import SeriesFacts, expand
from calendar_service.model import Occurrence, start_instant
from calendar_service.reloading import release_free_memory
from calendar_service.rules import Frequency, Rule

if TYPE_CHECKING:
    from calendar_service.entries import EventEntry

A = TypeVar("A")
R = TypeVar("R")

# The expander steps through every occurrence from a series' start to the window's end, so
# cost is counted in those steps. Measured at 10,000 events on this project's machine: a
# step takes about 1.5 µs, a series' own set-up (parsing it, building its rule) as long as
# about 500 steps, and each occurrence kept about 10.
SERIES_STEPS = 500
MAX_EXPANSION_STEPS = 2_000_000  # one request: about 3 s of one core
MAX_EXPANDED_OCCURRENCES = 50_000  # one request: what its answer holds in memory, ~30 MB
SERVER_CHECK_S = 1.0  # how often a worker checks that the server that started it still runs
CHUNK = 1_000  # occurrences a pickle: unpickling one holds the interpreter for ~3 ms
PERIOD_DAYS = {
    Frequency.DAILY: 1,
    Frequency.WEEKLY: 7,
    Frequency.MONTHLY: 28,
    Frequency.YEARLY: 365,
}
WEEKS_A_MONTH = 5  # at most: a plain weekday in a monthly or yearly rule
TIMING_PROPERTIES = (  # what recurring-ical-events reads of an event, and BEGIN/END
    b"BEGIN:", b"END:", b"UID", b"DTSTART", b"DTEND", b"DURATION", b"RRULE", b"RDATE",
    b"EXDATE", b"RECURRENCE-ID", b"SEQUENCE",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cost:
    """An upper estimate of what expanding some series over some days takes."""

    series: int
    steps: int  # occurrences the expander steps through, plus each series' set-up
    occurrences: int  # occurrences it may produce in the days asked for


def per_day(rule: Rule) -> float:
    """At most how many occurrences a rule gives a day, on average over its periods."""
    plain = sum(1 for day in rule.by_weekday if len(day) == 2)
    ordinal = len(rule.by_weekday) - plain
    if rule.frequency is Frequency.DAILY:
        each = 1
    elif rule.frequency is Frequency.WEEKLY:
        each = max(1, plain)
    elif rule.by_set_position:
        each = len(rule.by_set_position)
    else:
        in_month = len(rule.by_month_day) + WEEKS_A_MONTH * plain + ordinal
        if rule.frequency is Frequency.MONTHLY:
            each = max(1, in_month)
        else:  # yearly: in each month named, or in every month when days are named alone
            months = len(rule.by_month) or (12 if in_month else 1)
            each = months * max(1, in_month)
    return each / (PERIOD_DAYS[rule.frequency] * rule.interval)


def occurrences_between(entry: EventEntry, first: date, last: date) -> int:
    """At most how many occurrences the series has from `first` to `last` (inclusive)."""
    data = entry.event.timing
    recurrence = data.recurrence
    if recurrence is None:
        return 1
    extra = len(recurrence.extra_dates) + len(data.overrides)
    rule = recurrence.rule
    if rule is None:
        return extra + 1
    begin = max(first, entry.first)
    end = min(last, entry.until) if entry.until is not None else last
    if end < begin:
        return extra
    found = int((end - begin).days * per_day(rule)) + 1 + extra
    return min(found, rule.count + extra) if rule.count is not None else found


def estimate(entries: Iterable[EventEntry], first: date, last: date) -> Cost:
    """The cost of expanding these series over the days `first` to `last`."""
    series = steps = occurrences = 0
    for entry in entries:
        series += 1
        steps += SERIES_STEPS + occurrences_between(entry, entry.first, last)
        occurrences += occurrences_between(entry, first, last)
    return Cost(series, steps, occurrences)


@dataclass(frozen=True, slots=True)
class Part:
    """A stretch of a window outside the index: expanded over [start, end), and of what is
    found, only the occurrences starting in [starts_from, starts_before) are kept (those
    starting inside the index come from the index)."""

    start: datetime
    end: datetime
    starts_from: datetime | None = None
    starts_before: datetime | None = None

    def keeps(self, occurrence: Occurrence, zone: ZoneInfo) -> bool:
        begins = start_instant(occurrence.start, zone)
        if self.starts_from is not None and begins < self.starts_from:
            return False
        return self.starts_before is None or begins < self.starts_before


@dataclass(frozen=True, slots=True)
class Job:
    """What a worker process needs to expand some series: nothing of the snapshot but this."""

    calendar: bytes  # a feed of the series, exactly as subscribers get it
    parts: tuple[Part, ...]
    zone: ZoneInfo
    uid_suffix: str
    facts: Mapping[str, SeriesFacts]


def timing_only(feed: bytes) -> bytes:
    """A feed with only what expansion reads: its time zones whole, of each event the lines
    that place it in time. Descriptions and the like were four fifths of the parsing."""
    kept = []
    keep = in_zone = False
    for line in feed.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):  # a folded line continues the one before
            if keep:
                kept.append(line)
            continue
        if line == b"BEGIN:VTIMEZONE":
            in_zone = True
        keep = in_zone or line.startswith(TIMING_PROPERTIES)
        if line == b"END:VTIMEZONE":
            in_zone = False
        if keep:
            kept.append(line)
    return b"\r\n".join(kept)


def run(job: Job) -> list[list[bytes]]:
    """In a worker process: each part's occurrences, in order, as pickles of CHUNK each.

    Pickles, not objects: the server unpickles one chunk at a time, so that no single step
    holds its interpreter long enough to delay the requests it is answering meanwhile.
    """
    calendar = Calendar.from_ical(timing_only(job.calendar))
    found = []
    for part in job.parts:
        expanded = expand(calendar, part.start, part.end, job.zone, job.uid_suffix, job.facts)
        kept = [occurrence for occurrence in expanded if part.keeps(occurrence, job.zone)]
        found.append(
            [pickle.dumps(kept[i : i + CHUNK], protocol=5) for i in range(0, len(kept), CHUNK)]
        )
    del calendar
    release_free_memory()
    return found


def unpickled(chunks: Sequence[bytes]) -> list[Occurrence]:
    """A part's occurrences back from a worker's pickles, a chunk at a time."""
    occurrences: list[Occurrence] = []
    for chunk in chunks:
        occurrences += pickle.loads(chunk)
    return occurrences


def start_worker(niceness: int, server: int) -> None:
    """In a new worker process: below the server in CPU priority, and gone when it is.

    A uvicorn worker ends with os._exit, which skips the shutdown of its pool: without the
    watch, its expansion worker outlived it, one more with every restart of the workers.
    """
    os.nice(niceness)
    threading.Thread(
        target=_exit_with, args=(server,), name="exit-with-server", daemon=True
    ).start()


def _exit_with(server: int) -> None:
    while os.getppid() == server:
        time.sleep(SERVER_CHECK_S)
    os._exit(0)


def timed(function: Callable[[A], R], argument: A) -> tuple[float, R]:
    """In a worker process: `function(argument)` and the seconds it took."""
    began = time.perf_counter()
    result = function(argument)
    return time.perf_counter() - began, result
