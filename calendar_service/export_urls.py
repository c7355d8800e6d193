"""Which URLs the static export holds, and the file each is written to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from calendar_service.compiling import Catalog
from calendar_service.digest import DigestFormat
from calendar_service.query import Filter
from calendar_service.urls import FeedSuffix
from calendar_service.web.pages import ASSETS, CATEGORIES_CSS

DIGEST_MONTHS = 3  # this month's digest and the next two: a newsletter's reach
# The PDF is left to the live service: rendering it is slow, and it does not compress.
EXPORTED_DIGESTS = (DigestFormat.HTML, DigestFormat.TEXT, DigestFormat.MARKDOWN)


def urls(catalog: Catalog) -> Iterator[str]:
    """Every URL whose response depends only on the data, the settings and the day."""
    yield from shared_urls(catalog)
    yield from event_urls(catalog)


def shared_urls(catalog: Catalog) -> Iterator[str]:
    """The URLs of pages, feeds and assets: a few dozen, some of them large."""
    site, everything = catalog.identity.urls, Filter()
    yield from (site.home(), site.calendar(everything), site.subscribe(everything))
    yield from (site.embed(everything), "/version.json")
    yield from (path for path, _name, _kind in ASSETS)
    yield CATEGORIES_CSS
    yield from (site.syndication(everything, "rss"), site.syndication(everything, "atom"))
    yield from (site.changes(), site.api_changes())
    for name in catalog.feeds:
        yield from (site.named_feed(name, ".ics"), site.named_feed(name, ".json"))
        yield from feed_pages(catalog, name)
        yield from (url for _month, url in feed_digests(catalog, name))
    yield from (site.term_feed(calendar_id) for calendar_id in catalog.term_feeds)


# A named feed's pages besides its .ics, .json and digests (each keyed: export_keys.py).
FEED_PAGES: tuple[FeedSuffix, ...] = (".rss", ".atom", "/changes.atom", "/embed", "/subscribe")


def feed_pages(catalog: Catalog, name: str) -> Iterator[str]:
    """A named feed's RSS, Atom, changes, embed and subscribe pages."""
    site = catalog.identity.urls
    yield from (site.named_feed(name, suffix) for suffix in FEED_PAGES)


def feed_digests(catalog: Catalog, name: str) -> Iterator[tuple[date, str]]:
    """A named feed's digests, each form of each month's, with the month's first day."""
    site = catalog.identity.urls
    for month in digest_months(catalog.compiled_on):
        for form in EXPORTED_DIGESTS:
            yield month, site.feed_digest(name, month, form.suffix)


def event_urls(catalog: Catalog) -> Iterator[str]:
    """Each event's page and .ics: two small files an event."""
    site = catalog.identity.urls
    for event_id in catalog.events:
        yield from (site.event(event_id), site.event_ics(event_id))


def digest_months(today: date) -> list[date]:
    """The first days of this month and the next DIGEST_MONTHS - 1."""
    months = [today.replace(day=1)]
    while len(months) < DIGEST_MONTHS:
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    return months


def file_path(url: str) -> str:
    """A URL's file under the export: the path itself, `index.html` for a trailing slash,
    `.json` after an API path (deploy/nginx.conf maps them back)."""
    if url.endswith("/"):
        return url.lstrip("/") + "index.html"
    if url.startswith("/api/"):
        return url.lstrip("/") + ".json"
    return url.lstrip("/")
