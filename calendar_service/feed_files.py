"""Calendar files assembled from each event's pre-rendered VEVENTs: the whole feed, the
named feeds and the term calendars' feeds, with their bytes and Last-Modified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from calendar_service import ics
from calendar_service.entries import EventEntry
from calendar_service.loading import LoadedData
from calendar_service.model import CalendarSettings, FeedDefinition, TermCalendar
from calendar_service.query import Filter

ICS_TYPE = "text/calendar; charset=utf-8"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def joined(parts: tuple[bytes, ...]) -> bytes:
    """Bytes held in parts, in one piece: the one part itself, else a copy of them all."""
    return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass(frozen=True, slots=True)
class FeedFile:
    """A calendar file's bytes and its Last-Modified: domain output, no HTTP in it.

    The bytes are held in parts, in order. The whole feed is its header and the rest; a
    named feed of every event holds its own header and shares the rest (10 MB at 10,000
    events). Every other file is one part.
    """

    parts: tuple[bytes, ...]
    last_modified: datetime

    @property
    def body(self) -> bytes:
        """The file's bytes in one piece: a copy, where they are held in parts."""
        return joined(self.parts)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Feed:
    """A named feed and its pre-rendered body."""

    definition: FeedDefinition
    filter: Filter
    file: FeedFile


@dataclass(frozen=True, slots=True)
class TermFeed:
    """A term calendar's school year as a subscribable feed: terms, half terms, closures."""

    calendar_id: str
    calendar: TermCalendar
    file: FeedFile

    @property
    def title(self) -> str:
        return term_feed_title(self.calendar)


def term_feed_title(calendar: TermCalendar) -> str:
    """A term calendar's feed name, as calendars list it."""
    return f"School terms: {calendar.name}"


def render_feed(
    header: ics.FeedHeader, timezone: bytes, entries: list[EventEntry], since: datetime = EPOCH
) -> FeedFile:
    """Assemble a feed from pre-rendered parts, dated by `feed_modified`."""
    body = ics.assemble(header, timezone, (entry.vevents for entry in entries))
    return FeedFile((body,), feed_modified(entries, since))


def feed_modified(entries: list[EventEntry], since: datetime = EPOCH) -> datetime:
    """A feed's Last-Modified: the newest event's, but never before `since`.

    A feed that depends on the day (events drop out of its past window) must not answer
    If-Modified-Since with a 304 on a later day. No stamp counts as later than now (RFC 9110
    8.8.2.1): one from a clock running ahead would otherwise answer 304 to every change
    until its time.
    """
    modified = max((entry.event.modified for entry in entries), default=EPOCH)
    now = datetime.now(UTC).replace(microsecond=0)
    return max(min(modified, now), since)


def whole_feed(
    header: ics.FeedHeader, timezone: bytes, entries: list[EventEntry], since: datetime
) -> FeedFile:
    """`render_feed`'s file, held as its header and the rest, which `retitled` shares."""
    rest = render_feed(ics.FeedHeader(b"", header.closing), timezone, entries, since)
    return FeedFile((header.opening, rest.body), rest.last_modified)


def retitled(whole: FeedFile, header: ics.FeedHeader) -> FeedFile:
    """The whole feed under another header: what `render_feed` gives for the same events,
    sharing the whole feed's bytes after its header."""
    return FeedFile((header.opening, *whole.parts[1:]), whole.last_modified)


def named_feeds(
    settings: CalendarSettings,
    timezone: bytes,
    current: list[EventEntry],
    day_began: datetime,
    whole: FeedFile,
) -> dict[str, Feed]:
    """Each named feed of the settings with its bytes, from the current events (`whole`:
    the whole feed of them, whose bytes a feed of every one of them shares)."""
    feeds: dict[str, Feed] = {}
    for definition in settings.feeds:
        query = Filter.of_feed(definition.filter)
        header = ics.feed_header(settings, definition.title, definition.description)
        chosen = [entry for entry in current if query.matches(entry.keys)]
        if len(chosen) == len(current):  # every event, in the same order
            file = retitled(whole, header)
        else:
            file = render_feed(header, timezone, chosen, day_began)
        feeds[definition.name] = Feed(definition, query, file)
    return feeds


def term_feeds(
    loaded: LoadedData, settings: CalendarSettings, identity: ics.Identity
) -> dict[str, TermFeed]:
    """Each term calendar's feed: all-day events only, so no VTIMEZONE."""
    feeds = {}
    for calendar_id, calendar in sorted(loaded.terms.items()):
        title = term_feed_title(calendar)
        description = (
            f"Terms, half terms and closure days of {calendar.authority}'s schools, from "
            f"{calendar.source}. Inset days are set by each school and are not included."
        )
        header = ics.feed_header(settings, title, description)
        body = ics.render_components(ics.term_components(calendar_id, calendar, identity))
        modified = datetime.combine(calendar.checked, time(), UTC)
        file = FeedFile((ics.assemble(header, b"", [body]),), modified)
        feeds[calendar_id] = TermFeed(calendar_id, calendar, file)
    return feeds
