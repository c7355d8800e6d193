"""Routes for RSS and Atom: upcoming dates of any filter or named feed, and what changed."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from calendar_service.compiling import Catalog
from calendar_service.query import EVENT_FIELDS, Filter, QueryError
from calendar_service.search import decode_cursor, encode_cursor, parse_day, parse_limit
from calendar_service.syndication import (
    FEED_TYPES,
    Channel,
    FeedFormat,
    Syndicated,
    change_link,
    changes_between,
    changes_feed,
    changes_of,
    occurrence_feed,
)
from calendar_service.urls import FeedSuffix
from calendar_service.web.feeds import JSON_TYPE, FeedName, feed_named
from calendar_service.web.parameters import (
    change_window_parameters,
    documented,
    feed_filter_parameters,
    page_parameters,
)
from calendar_service.web.responses import (
    Rendered,
    json_bytes,
    read_filter,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.service import Published, service_of, snapshot_of

router = APIRouter()
SYNDICATION_SUMMARY = (
    "Upcoming dates of the whole calendar or any filter as {kind}: entries dated when the "
    "event last changed, the event's own date in the title"
)


def _rendered(feed: Syndicated, kind: FeedFormat) -> Rendered:
    return Rendered.of(feed.body, FEED_TYPES[kind], feed.updated)


def _serve(request: Request, rendered: Rendered) -> Response:
    max_age = service_of(request).settings.feed_max_age
    return rendered_response(request, rendered, max_age=max_age)


def filter_channel(catalog: Catalog, query: Filter, kind: FeedFormat) -> Channel:
    """A filter's feed: named for the filter, following its home page."""
    settings, urls = catalog.settings, catalog.identity.urls
    query = query.event_level()
    title = settings.name
    if not query.is_empty:
        title = f"{settings.name} ({query.describe(settings.vocabularies)})"
    return Channel(
        title=title,
        description=settings.description,
        page=urls.absolute(urls.home(query)),
        url=urls.absolute(urls.syndication(query, kind)),
        ics=urls.absolute(urls.calendar(query)),
    )


def named_channel(catalog: Catalog, name: str, kind: FeedFormat, changes: bool) -> Channel:
    """A named feed's RSS or Atom, or its changes, following its subscribe page."""
    definition = feed_named(catalog, name).definition
    urls = catalog.identity.urls
    title = f"{definition.title}: what changed" if changes else definition.title
    suffix: FeedSuffix = "/changes.atom" if changes else (".rss" if kind == "rss" else ".atom")
    return Channel(
        title=title,
        description=definition.description,
        page=urls.absolute(urls.named_feed(name, "/subscribe")),
        url=urls.absolute(urls.named_feed(name, suffix)),
        ics=urls.absolute(urls.named_feed(name, ".ics")),
    )


def _filter_feed(request: Request, kind: FeedFormat) -> Response:
    snapshot = snapshot_of(request)
    catalog = snapshot.catalog
    query = read_filter(request, catalog, fields=EVENT_FIELDS)
    require_canonical(request, query.items())
    channel = filter_channel(catalog, query, kind)
    rendered = snapshot.rendered(
        ("syndication", kind, query),
        lambda: _rendered(occurrence_feed(catalog, query, channel, kind), kind),
    )
    return _serve(request, rendered)


def _named_feed(request: Request, name: str, kind: FeedFormat) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    catalog = snapshot.catalog
    feed = feed_named(catalog, name)
    channel = named_channel(catalog, name, kind, changes=False)
    rendered = snapshot.rendered(
        ("named-syndication", name, kind),
        lambda: _rendered(occurrence_feed(catalog, feed.filter, channel, kind), kind),
    )
    return _serve(request, rendered)


@router.get(
    "/calendar.rss",
    summary=SYNDICATION_SUMMARY.format(kind="RSS 2.0"),
    openapi_extra=documented(feed_filter_parameters),
    response_class=Response,
    tags=["feeds"],
)
def calendar_rss(request: Request) -> Response:
    return _filter_feed(request, "rss")


@router.get(
    "/calendar.atom",
    summary=SYNDICATION_SUMMARY.format(kind="Atom"),
    openapi_extra=documented(feed_filter_parameters),
    response_class=Response,
    tags=["feeds"],
)
def calendar_atom(request: Request) -> Response:
    return _filter_feed(request, "atom")


@router.get(
    "/feeds/{name}.rss",
    summary="A named feed's upcoming dates as RSS 2.0",
    response_class=Response,
    tags=["feeds"],
)
def named_rss(request: Request, name: FeedName) -> Response:
    return _named_feed(request, name, "rss")


@router.get(
    "/feeds/{name}.atom",
    summary="A named feed's upcoming dates as Atom",
    response_class=Response,
    tags=["feeds"],
)
def named_atom(request: Request, name: FeedName) -> Response:
    return _named_feed(request, name, "atom")


@router.get(
    "/changes.atom",
    summary="What changed in the calendar (dates moved, confirmed, cancelled, withdrawn), as Atom",
    response_class=Response,
    tags=["feeds"],
)
def changes_atom(request: Request) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    catalog = snapshot.catalog
    urls = catalog.identity.urls
    channel = Channel(
        title=f"{catalog.settings.name}: what changed",
        description=catalog.settings.description,
        page=urls.absolute(urls.home()),
        url=urls.absolute(urls.changes()),
        ics=urls.absolute(urls.calendar(Filter())),
    )
    rendered = snapshot.rendered(
        ("changes-atom",),
        lambda: _rendered(changes_feed(catalog, catalog.changes, channel), "atom"),
    )
    return _serve(request, rendered)


@router.get(
    "/feeds/{name}/changes.atom",
    summary="What changed in a named feed's events, as Atom",
    response_class=Response,
    tags=["feeds"],
)
def named_changes_atom(request: Request, name: FeedName) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    catalog = snapshot.catalog
    feed = feed_named(catalog, name)
    channel = named_channel(catalog, name, "atom", changes=True)

    def build() -> Rendered:
        changes = changes_of(catalog, feed.filter)
        return _rendered(changes_feed(catalog, changes, channel), "atom")

    rendered = snapshot.rendered(("named-changes-atom", name), build)
    return _serve(request, rendered)


class ChangeOut(BaseModel):
    at: str
    event: str
    kind: str
    summary: str
    minor: bool
    link: str


class ChangePage(BaseModel):
    total: int
    count: int
    next_cursor: str | None
    changes: list[ChangeOut]


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise QueryError(name, f"give {name} once")
    return values[0] if values else None


@router.get(
    "/api/changes",
    response_model=ChangePage,
    summary="What changed, newest first, from the change log; paginated, by day",
    openapi_extra=documented(change_window_parameters, page_parameters),
    tags=["api"],
)
def api_changes(request: Request) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ("from", "to", "limit", "cursor"))
    given = {name: _single(request, name) for name in ("from", "to", "limit", "cursor")}
    first = parse_day("from", given["from"]) if given["from"] is not None else None
    last = parse_day("to", given["to"]) if given["to"] is not None else None
    if first is not None and last is not None and last < first:
        raise QueryError("to", f"to ({last}) is before from ({first})")
    limit = parse_limit(given["limit"])
    cursor = decode_cursor(given["cursor"], (int,))
    if given["limit"] is not None:
        given["limit"] = str(limit)
    require_canonical(request, [(name, value) for name, value in given.items() if value])
    offset = cursor[0] if cursor is not None else 0
    key = ("api-changes", first, last, limit, offset)
    rendered = snapshot.rendered(key, lambda: _change_page(snapshot, first, last, limit, offset))
    max_age = service_of(request).settings.page_max_age
    return rendered_response(request, rendered, max_age=max_age)


def _change_page(
    snapshot: Published, first: date | None, last: date | None, limit: int, offset: int
) -> Rendered:
    catalog = snapshot.catalog
    chosen = changes_between(catalog.changes, first, last)
    page = chosen[offset : offset + limit]
    following = offset + limit
    body = {
        "total": len(chosen),
        "count": len(page),
        "next_cursor": encode_cursor((following,)) if following < len(chosen) else None,
        "changes": [
            {
                "at": change.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "event": change.event,
                "kind": change.kind.value,
                "summary": change.summary,
                "minor": change.minor,
                "link": change_link(catalog, change),
            }
            for change in page
        ],
    }
    return Rendered.of(json_bytes(body), JSON_TYPE, snapshot.everything.last_modified)
