"""RSS and Atom (feedgen): upcoming occurrences of a filter, and the change log."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from calendar_service.agenda import dates_in_words
from calendar_service.compiling import Catalog
from calendar_service.feed_files import EPOCH
from calendar_service.model import Change, Occurrence, Status
from calendar_service.query import Filter
from calendar_service.search import Window, matching_occurrences

MAX_FEED_ENTRIES = 50  # upcoming occurrences in an RSS or Atom feed
MAX_CHANGE_ENTRIES = 100  # newest changes in a changes feed
FeedFormat = Literal["rss", "atom"]
RSS_TYPE, ATOM_TYPE = "application/rss+xml", "application/atom+xml"
FEED_TYPES: dict[FeedFormat, str] = {
    "rss": f"{RSS_TYPE}; charset=utf-8",
    "atom": f"{ATOM_TYPE}; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Channel:
    """What a feed says of itself: its title, its description and its three addresses."""

    title: str
    description: str
    page: str  # absolute: the page it follows (home, subscribe page)
    url: str  # absolute: the feed itself
    ics: str  # absolute: the same events as a calendar, for readers that want them


@dataclass(frozen=True, slots=True)
class Syndicated:
    """A feed's bytes and its date: the newest entry's, never before the snapshot's day."""

    body: bytes
    updated: datetime


def occurrence_guid(catalog: Catalog, occurrence: Occurrence) -> str:
    """Stable per occurrence: the event id, the start the rule gave it, the UID domain."""
    return f"{occurrence.event_id}/{occurrence.key}@{catalog.identity.uid_domain}"


def _urn(text: str) -> str:
    """An Atom id (a URI) made from a GUID, so both name the same thing."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, text)}"


def upcoming(catalog: Catalog, query: Filter) -> list[Occurrence]:
    """The next MAX_FEED_ENTRIES occurrences of a filter, from the snapshot's day on."""
    today = catalog.compiled_on
    last = catalog.index.end.date() - timedelta(days=1)
    return matching_occurrences(catalog, query, Window(today, last))[:MAX_FEED_ENTRIES]


def latest_changes(changes: Iterable[Change]) -> dict[str, Change]:
    """Each event's latest change that is not minor (what a reader wants to be told)."""
    latest: dict[str, Change] = {}
    for change in changes:
        if not change.minor:
            latest[change.event] = change
    return latest


def _generator(catalog: Catalog, channel: Channel, updated: datetime) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(_urn(channel.url))
    feed.title(channel.title)
    feed.description(channel.description or channel.title)
    # feedgen makes the last link RSS's <link>: the page, so it comes after the feed itself.
    feed.link(href=channel.url, rel="self")
    feed.link(href=channel.page, rel="alternate")
    feed.language(catalog.settings.language)
    feed.author({"name": catalog.settings.organisation})
    feed.generator("calendar-service")
    # Given, not "now": the same snapshot renders the same bytes (ETags, the export).
    feed.updated(updated)
    feed.lastBuildDate(updated)
    return feed


def _identify(entry: FeedEntry, guid: str, kind: FeedFormat) -> None:
    """RSS's GUID as it is; an Atom id must be a URI, so one made from it. (feedgen's
    guid() and id() each set both: only the one for the format is called.)"""
    if kind == "rss":
        entry.guid(guid, permalink=False)
    else:
        entry.id(_urn(guid))


def _serialise(feed: FeedGenerator, kind: FeedFormat) -> bytes:
    body: bytes = feed.rss_str(pretty=True) if kind == "rss" else feed.atom_str(pretty=True)
    return body


def _feed_date(catalog: Catalog, moments: Sequence[datetime]) -> datetime:
    """The newest entry's date, not later than now nor earlier than the snapshot's day
    (a feed of upcoming dates changes with the day), as feed_files.render_feed reasons."""
    now = datetime.now(UTC).replace(microsecond=0)
    return max(min(max(moments, default=EPOCH), now), catalog.day_began)


def occurrence_feed(
    catalog: Catalog, query: Filter, channel: Channel, kind: FeedFormat
) -> Syndicated:
    """Upcoming occurrences of a filter as RSS or Atom.

    Readers sort by an entry's date, so it is when the event last changed (its revision
    stamp); when it happens is in the title and the content.
    """
    chosen = upcoming(catalog, query)
    updated = _feed_date(catalog, [catalog.events[o.event_id].event.modified for o in chosen])
    feed = _generator(catalog, channel, updated)
    changes = latest_changes(catalog.changes)
    for occurrence in chosen:
        _add_occurrence(feed, catalog, occurrence, changes.get(occurrence.event_id), kind)
    return Syndicated(_serialise(feed, kind), updated)


def _add_occurrence(
    feed: FeedGenerator,
    catalog: Catalog,
    occurrence: Occurrence,
    change: Change | None,
    kind: FeedFormat,
) -> None:
    event = catalog.events[occurrence.event_id].event
    data = event.data
    urls = catalog.identity.urls
    page = urls.absolute(urls.event(data.id))
    when = dates_in_words(occurrence)
    marker = {Status.PROVISIONAL: " (provisional)", Status.CANCELLED: " (cancelled)"}
    status = marker.get(occurrence.status, "")
    category = catalog.settings.vocabularies.categories[data.category].label
    guid = occurrence_guid(catalog, occurrence)
    entry = feed.add_entry(order="append")
    _identify(entry, guid, kind)
    entry.title(f"{occurrence.title}: {when}{status}")
    entry.link(href=page, rel="alternate")
    entry.updated(event.modified)
    entry.published(event.modified)
    entry.category(term=data.category, label=category)
    paragraphs = [f"<p><strong>{html.escape(when)}</strong>{html.escape(status)}</p>"]
    paragraphs += [
        f"<p>{html.escape(text)}</p>" for text in (data.summary, occurrence.note) if text
    ]
    if change is not None:
        paragraphs.append(f"<p>Changed {change.at:%d %B %Y}: {html.escape(change.summary)}</p>")
    ics_url = urls.absolute(urls.event_ics(data.id))
    paragraphs.append(
        f'<p><a href="{html.escape(page)}">Details</a> · '
        f'<a href="{html.escape(ics_url)}">Add to calendar</a></p>'
    )
    content = "\n".join(paragraphs)
    entry.description(content)
    entry.content(content, type="html")


def changes_feed(
    catalog: Catalog, changes: Sequence[Change], channel: Channel, kind: FeedFormat = "atom"
) -> Syndicated:
    """The newest changes (MAX_CHANGE_ENTRIES), each titled with its one-line summary."""
    newest = list(reversed(changes[-MAX_CHANGE_ENTRIES:]))
    updated = _feed_date(catalog, [change.at for change in newest])
    feed = _generator(catalog, channel, updated)
    for change in newest:
        _add_change(feed, catalog, change, change_guid(catalog, change, changes), kind)
    return Syndicated(_serialise(feed, kind), updated)


def change_guid(catalog: Catalog, change: Change, log: Sequence[Change]) -> str:
    """Stable per change: the event, the moment, the kind, and which of that kind it is
    then (one stamp may move several dates); a summary reworded by hand keeps its GUID."""
    same = [
        item
        for item in log
        if (item.event, item.at, item.kind) == (change.event, change.at, change.kind)
    ]
    at = change.at.strftime("%Y%m%dT%H%M%SZ")
    place = next(index for index, item in enumerate(same) if item is change)
    domain = catalog.identity.uid_domain
    return f"change/{change.event}/{at}/{change.kind.value}/{place}@{domain}"


def change_link(catalog: Catalog, change: Change) -> str:
    """The event's page while it is in the data; the home page once it is not."""
    urls = catalog.identity.urls
    if change.event in catalog.events:
        return urls.absolute(urls.event(change.event))
    return urls.absolute(urls.home())


def _add_change(
    feed: FeedGenerator, catalog: Catalog, change: Change, guid: str, kind: FeedFormat
) -> None:
    entry = feed.add_entry(order="append")
    _identify(entry, guid, kind)
    entry.title(change.summary + (" (minor)" if change.minor else ""))
    entry.link(href=change_link(catalog, change), rel="alternate")
    entry.updated(change.at)
    entry.published(change.at)
    entry.category(term=change.kind.value, label=change.kind.value)
    text = f"<p>{html.escape(change.summary)}</p>"
    entry.description(text)
    entry.content(text, type="html")


def changes_of(catalog: Catalog, query: Filter) -> list[Change]:
    """The changes of the events a filter's feed carries (current or withdrawn), in order."""
    query = query.event_level()
    if query.is_empty:
        return list(catalog.changes)
    # Every event of the filter, however long past, and the withdrawn ones still kept.
    chosen = {entry.event.id for entry in catalog.matching(query)}
    chosen |= {entry.event.id for entry in catalog.withdrawn if query.matches(entry.keys)}
    return [change for change in catalog.changes if change.event in chosen]


def changes_between(
    changes: Sequence[Change], first: date | None, last: date | None
) -> list[Change]:
    """Changes made from `first` to `last` (days in UTC, both inclusive), newest first."""
    chosen = [
        change
        for change in changes
        if (first is None or change.at.date() >= first)
        and (last is None or change.at.date() <= last)
    ]
    return list(reversed(chosen))
