"""Named feeds too large for the calendar programs that subscribe to them."""

from __future__ import annotations

from collections.abc import Iterator

from calendar_service.compiling import Catalog
from calendar_service.loading import SETTINGS_FILE

# Google Calendar documents a 1 MB limit for calendars added by URL and drops or truncates
# events beyond it (roed314/seminars#777, JM-Lemmi/ical-relay#212). Judged in bytes as sent
# without compression: what Google counts is the calendar, not the transfer.
SUBSCRIBED_FEED_LIMIT = 1_000_000  # bytes


def feed_sizes(catalog: Catalog) -> dict[str, int]:
    """Each named feed's size in bytes, as served without compression."""
    return {name: feed.file.size for name, feed in catalog.feeds.items()}


def oversized_feeds(catalog: Catalog, limit: int = SUBSCRIBED_FEED_LIMIT) -> Iterator[str]:
    """A warning for each named feed over `limit` bytes, saying how to cut it."""
    past_days = catalog.settings.past_days
    for name, size in feed_sizes(catalog).items():
        if size > limit:
            yield (
                f"{SETTINGS_FILE}: feed {name!r} is {size / 1_000_000:.1f} MB ({size:,} bytes); "
                f"Google Calendar stops reading subscribed feeds over {limit / 1_000_000:g} MB: "
                f"give it a narrower filter, or keep fewer past days (past_days: {past_days})"
            )
