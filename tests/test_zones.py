"""zones.clock_changes looks a day apart: it finds what an hour-by-hour look finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_service.zones import clock_changes

# London (our calendars), and zones whose rules are unusual: Ramadan pauses (Casablanca,
# Gaza), a half-hour change (Lord Howe), a two-hour one (Troll), the southern hemisphere.
ZONES = (
    "Europe/London",
    "Africa/Casablanca",
    "Asia/Gaza",
    "Australia/Lord_Howe",
    "Antarctica/Troll",
    "America/Sao_Paulo",
)
YEARS = (1939, 1945, 2000, 2024, 2025, 2026, 2027)


def hourly(zone_key: str, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """Each change of offset in `year` seen by looking every hour, to the second."""
    zone = ZoneInfo(zone_key)
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        later = moment + timedelta(hours=1)
        changed = later.astimezone(zone).utcoffset()
        if changed != offset:
            assert offset is not None and changed is not None
            last = moment  # the last minute, then second, of the old offset
            for step in (timedelta(minutes=1), timedelta(seconds=1)):
                while (last + step).astimezone(zone).utcoffset() == offset:
                    last += step
            instant = (last + timedelta(seconds=1)).replace(tzinfo=None)
            found.append((instant, offset, changed))
            offset = changed
        moment = later
    return found


@pytest.mark.parametrize("zone_key", ZONES)
def test_the_changes_of_a_zones_year_are_those_an_hourly_look_finds(zone_key: str) -> None:
    for year in YEARS:
        seen = [(c.instant, c.offset_from, c.offset_to) for c in clock_changes(zone_key, year)]
        assert seen == hourly(zone_key, year), (zone_key, year)
