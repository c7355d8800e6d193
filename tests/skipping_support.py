"""Shared by the skipping tests: the term-time dataset and its hand-derived sessions."""

from __future__ import annotations

from datetime import date, datetime

from conftest import DATASETS

TERM_TIME = DATASETS / "term-time-programmes"
# The day the pages are asked on: before every programme starts, so all are upcoming.
BEFORE = date(2026, 1, 5)

# Derived by hand from terms/testshire.yaml and the England bank holidays of 2026 (Good
# Friday 3 April, Easter Monday 6 April), as the comments in events/programmes.yaml say.
MONDAY_SESSIONS = [
    date(2026, 1, 12), date(2026, 1, 19), date(2026, 1, 26), date(2026, 2, 2),
    date(2026, 2, 9), date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9),
    date(2026, 3, 16), date(2026, 3, 23), date(2026, 4, 13), date(2026, 4, 20),
]  # fmt: skip
MONDAY_SKIPPED = {
    date(2026, 2, 16): "February half term",
    date(2026, 3, 30): "Easter holidays",
    date(2026, 4, 6): "Easter Monday",
}
FRIDAY_SESSIONS = [
    date(2026, 3, 13), date(2026, 3, 20), date(2026, 3, 27),
    date(2026, 4, 10), date(2026, 4, 17), date(2026, 4, 24),
]  # fmt: skip
FRIDAY_SKIPPED = {date(2026, 4, 3): "Good Friday"}
TUESDAY_SESSIONS = [
    date(2026, 4, 14), date(2026, 4, 21), date(2026, 4, 28), date(2026, 5, 5),
    date(2026, 5, 12), date(2026, 5, 19), date(2026, 6, 2),
]  # fmt: skip
TUESDAY_SKIPPED = {date(2026, 5, 26): "May half term"}

SESSIONS = {
    "monday-parents-group": MONDAY_SESSIONS,
    "friday-play-day": FRIDAY_SESSIONS,
    "tuesday-rhyme-time": TUESDAY_SESSIONS,
}
SKIPPED = {
    "monday-parents-group": MONDAY_SKIPPED,
    "friday-play-day": FRIDAY_SKIPPED,
    "tuesday-rhyme-time": TUESDAY_SKIPPED,
}


def day(value: date | datetime | str) -> date:
    """The day of a start, whichever way an output writes it."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value
