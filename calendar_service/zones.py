"""A time zone's clock changes, found once and shared by validation and the VTIMEZONE."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class ClockChange:
    """One change of a zone's offset from UTC."""

    instant: datetime  # when it happens, naive UTC
    offset_from: timedelta
    offset_to: timedelta
    name: str  # the zone's abbreviation after the change (GMT, BST)
    dst: bool  # whether summer time is in force after it

    @property
    def local(self) -> datetime:
        """Wall-clock time of the change, read in the offset before it (01:00 in March)."""
        return self.instant + self.offset_from

    @property
    def forward(self) -> bool:
        """Clocks go forward: the wall-clock times in `affected` are skipped, not repeated."""
        return self.offset_to > self.offset_from

    @property
    def affected(self) -> tuple[datetime, datetime]:
        """The wall-clock times skipped or repeated, [first, last)."""
        before, after = self.instant + self.offset_from, self.instant + self.offset_to
        return min(before, after), max(before, after)


# Looked at a day apart, then to the second between the two looks that differ. Two
# changes less than a day apart would hide each other; in the tz database (599 zones,
# 1900 on) the nearest two are four days apart (Africa/Freetown, 1939). Looked at hour by
# hour, the seven years a server's first load asks for cost ~85 ms, an eighth of its start.
STEP = timedelta(days=1)


@functools.lru_cache(maxsize=512)
def clock_changes(zone_key: str, year: int) -> tuple[ClockChange, ...]:
    """The zone's changes of offset in `year`, to the second; immutable, so cached."""
    zone = ZoneInfo(zone_key)
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        following = moment + STEP
        changed = following.astimezone(zone).utcoffset()
        if changed != offset:
            assert offset is not None and changed is not None
            low, high = int(moment.timestamp()), int(following.timestamp())
            while high - low > 1:  # the second the offset changes
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            after = datetime.fromtimestamp(high, zone)
            instant = datetime.fromtimestamp(high, UTC).replace(tzinfo=None)
            found.append(
                ClockChange(instant, offset, changed, after.tzname() or "", bool(after.dst()))
            )
            offset = changed
        moment = following
    return tuple(found)
