"""VTIMEZONE components: a zone's DST rules in a year written as RRULEs."""

from __future__ import annotations

from calendar import monthrange
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import YEARLY, weekday
from dateutil.rrule import rrule as dateutil_rrule
from icalendar import Component, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from calendar_service.content_lines import text
from calendar_service.zones import clock_changes

_DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def vtimezone(zone_name: str, year: int) -> Timezone:
    """A VTIMEZONE whose DST rules are RRULEs derived from the zone's rules in `year`.

    icalendar's own generator writes RDATE lists, which Thunderbird (ical.js) reads an hour
    off and Outlook is reported to ignore; RRULE blocks are what every client handles.
    Each call builds a fresh component (icalendar components are mutable), from the cached
    transitions.
    """
    zone = ZoneInfo(zone_name)
    timezone = Timezone()
    timezone.add("TZID", zone_name)
    changes = clock_changes(zone_name, year)
    if not changes:
        noon = datetime(year, 1, 1, 12, tzinfo=zone)
        standard = TimezoneStandard()
        standard.add("DTSTART", datetime(1970, 1, 1))
        standard.add("TZNAME", text(noon.tzname() or zone_name))
        standard.add("TZOFFSETFROM", noon.utcoffset())
        standard.add("TZOFFSETTO", noon.utcoffset())
        timezone.add_component(standard)
        return timezone
    for change in changes:
        day = change.local.day
        month_days = monthrange(change.local.year, change.local.month)[1]
        ordinal = -1 if day + 7 > month_days else (day - 1) // 7 + 1
        day_index = change.local.weekday()
        first = dateutil_rrule(
            YEARLY,
            dtstart=datetime(1970, 1, 1, change.local.hour, change.local.minute),
            bymonth=change.local.month,
            byweekday=weekday(day_index, ordinal),
            count=1,
        )[0]
        block: Component = TimezoneDaylight() if change.dst else TimezoneStandard()
        block.add("DTSTART", first)
        block.add(
            "RRULE",
            vRecur(
                {
                    "FREQ": "YEARLY",
                    "BYMONTH": change.local.month,
                    "BYDAY": f"{ordinal}{_DAY_CODES[day_index]}",
                }
            ),
        )
        block.add("TZNAME", text(change.name))
        block.add("TZOFFSETFROM", change.offset_from)
        block.add("TZOFFSETTO", change.offset_to)
        timezone.add_component(block)
    return timezone
