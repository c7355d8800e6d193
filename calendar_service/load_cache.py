"""What each data file gave at the last load, kept to be reused while it is the same."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from datetime import date
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from calendar_service.documents import DataError
from calendar_service.judging import Judged
from calendar_service.local_times import rule_clock_problems
from calendar_service.model import EventData
from calendar_service.provenance import Problem
from calendar_service.recurrence import ClockCheck
from calendar_service.series import Expansion
from calendar_service.sources import DataFile

R = TypeVar("R")


class LoadCache:
    """What each data file gave at the last load, reused while it and its context are the same.

    An entry is keyed by the file's name, size, modification time (ns) and content hash,
    and by what its checks depended on besides (settings, term calendars, the day), so a
    reload after one edit reads and checks that file only. Results are kept with the
    errors they recorded: the errors listed are the same with the cache as without it.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Hashable, tuple[Any, tuple[DataError, ...]]]] = {}
        # Each event's judgement at the last load, by id: a changed file's other events
        # are not checked again.
        self.judged: dict[str, Judged] = {}
        # The clock changes each event's rule meets, by the id() of the event as published.
        self._clocks: dict[int, tuple[EventData, ZoneInfo, date, tuple[Problem, ...]]] = {}

    def clock_problems(self) -> ClockCheck:
        """rule_clock_problems, remembering its answers until the next load asks again."""
        known, self._clocks = self._clocks, {}

        def clock_problems(
            event: EventData, zone: ZoneInfo, reach: date, expansion: Expansion | None
        ) -> tuple[Problem, ...]:
            entry = known.get(id(event))
            if entry is None or entry[0] is not event or (entry[1], entry[2]) != (zone, reach):
                found = tuple(rule_clock_problems(event, zone, reach, expansion))
                entry = (event, zone, reach, found)
            self._clocks[id(event)] = entry
            return entry[3]

        return clock_problems

    def reuse(
        self,
        name: str,
        file: DataFile,
        context: Hashable,
        errors: list[DataError],
        compute: Callable[[list[DataError]], R],
    ) -> R:
        """`compute(errors)`'s result for this file, from the cache if it is still valid."""
        key = self._key(file, context)
        entry = self._entries.get(name)
        if entry is None or entry[0] != key:
            found: list[DataError] = []
            entry = key, (compute(found), tuple(found))
            self._entries[name] = entry
        result, recorded = entry[1]
        errors.extend(recorded)
        return cast(R, result)

    @staticmethod
    def _key(file: DataFile, context: Hashable) -> Hashable:
        return (file.size, file.mtime_ns, hashlib.sha256(file.raw).digest(), context)

    def stale(self, name: str, file: DataFile, context: Hashable) -> bool:
        """Whether `reuse` would compute this file's result again."""
        entry = self._entries.get(name)
        return entry is None or entry[0] != self._key(file, context)

    def store(
        self,
        name: str,
        file: DataFile,
        context: Hashable,
        result: object,
        recorded: tuple[DataError, ...],
    ) -> None:
        """Keep a result computed elsewhere (another process) as `reuse` would have."""
        self._entries[name] = (self._key(file, context), (result, recorded))

    def keep_only(self, names: Iterable[str]) -> None:
        """Forget the files no longer in the data directory."""
        kept = set(names)
        for name in [name for name in self._entries if name not in kept]:
            del self._entries[name]
