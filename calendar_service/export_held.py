"""The export's keyed files: each one's key (export_keys.py) and how it is rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from calendar_service.compiling import Catalog
from calendar_service.export_keys import (
    context_digest,
    digest_key,
    event_keys,
    feed_json_keys,
    feed_members,
    feed_pages_keys,
    page_key,
    pages_context,
)
from calendar_service.export_urls import digest_months, feed_digests, feed_pages
from calendar_service.web.feeds import JSON_TYPE, feed_occurrences_body
from calendar_service.web.pages import event_page, pages_dated_by
from calendar_service.web.responses import Rendered, etag_of, format_http_date
from calendar_service.web.service import Published
from calendar_service.web.shapes import OccurrenceFragments

__all__ = ["Held", "held_files"]


@dataclass(frozen=True, slots=True)
class Held:
    """A keyed file (export_keys.py): an event's page or .ics, or a named feed's JSON or
    pages. When the previous version holds it made from the same inputs (`key`), it is
    listed again unrendered; else rendered by its route's function, or (`render` None)
    asked of the application."""

    render: Callable[[], Rendered | None] | None
    key: str
    # As the render would date it, without rendering; None: as the previous version is
    # dated (the key holds every input of the date too).
    last_modified: Callable[[], str] | None


def _file_date(catalog: Catalog, event_id: str) -> str:
    """An event's .ics's Last-Modified, as the route dates it."""
    return format_http_date(catalog.event_file_modified(event_id))


def _feed_json(snapshot: Published, name: str, rendered: OccurrenceFragments) -> Rendered:
    """A named feed's JSON as `/feeds/{name}.json` answers it, without the gzip copy the
    service keeps (the export compresses it its own way), with the same ETag.

    `rendered`: the occurrences' JSON, made once for every feed (export._render_feed_occurrences).
    """
    feed = snapshot.catalog.feeds[name]
    body = feed_occurrences_body(snapshot, feed, rendered)
    return Rendered((body,), JSON_TYPE, feed.file.last_modified, etag_of((body,)), b"")


def held_files(snapshot: Published, rendered: OccurrenceFragments) -> dict[str, Held]:
    """Each event's page and .ics and each named feed's JSON by URL, with its key and the
    function its route answers with.

    Half the cost of a large export was the in-process HTTP round trip for these 2 per
    event (1.7 ms against 0.4 ms to render); tests/test_export_nginx.py holds every file
    to the live service's bytes and headers. So are the named feeds' JSON, the largest.
    """
    catalog = snapshot.catalog
    site = catalog.identity.urls
    context, members = context_digest(catalog), feed_members(catalog)
    held: dict[str, Held] = {}
    for name, key in feed_json_keys(catalog, context, members).items():
        dated = format_http_date(catalog.feeds[name].file.last_modified)
        held[site.named_feed(name, ".json")] = Held(
            partial(_feed_json, snapshot, name, rendered), key, partial(str, dated)
        )
    around, months = pages_context(catalog, context), digest_months(catalog.compiled_on)
    for name, key in feed_pages_keys(catalog, around, members).items():
        for url in feed_pages(catalog, name):
            held[url] = Held(None, page_key(key, url), None)
        digests = {month: digest_key(catalog, around, name, month) for month in months}
        for month, url in feed_digests(catalog, name):
            held[url] = Held(None, page_key(digests[month], url), None)
    page_date = pages_dated_by(snapshot).http_date
    for event_id, key in event_keys(catalog, context).items():
        render_page = partial(event_page, snapshot, event_id)
        held[site.event(event_id)] = Held(render_page, key, partial(str, page_date))
        render_file = partial(snapshot.event_file, event_id)
        file_date = partial(_file_date, catalog, event_id)
        held[site.event_ics(event_id)] = Held(render_file, key, file_date)
    return held
