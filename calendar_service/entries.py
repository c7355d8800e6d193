"""One event in the snapshot with what requests need of it, computed once at compile time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from calendar_service.model import Event
from calendar_service.query import FilterKeys


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One event in the snapshot with everything requests need, computed once."""

    event: Event
    keys: FilterKeys
    vevents: bytes  # its VEVENTs, serialised
    current: bool  # still within the feeds' window (not long past)
    first: date  # the first day any occurrence can start
    until: date | None  # the day after the last occurrence ends; None: endless

    def may_occur(self, start: datetime, end: datetime) -> bool:
        """Whether any occurrence can touch [start, end) (a day's slack for zones)."""
        if self.first > end.date() + timedelta(days=1):
            return False
        return self.until is None or self.until >= start.date() - timedelta(days=1)
