"""Routes that serve ICS feeds and the health report."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from calendar_service import __version__
from calendar_service.compiling import Catalog
from calendar_service.feed_files import Feed
from calendar_service.model import Occurrence
from calendar_service.query import EVENT_FIELDS, QueryError
from calendar_service.search import Window, matching_occurrences
from calendar_service.web.parameters import documented, feed_filter_parameters
from calendar_service.web.responses import (
    ApiError,
    Rendered,
    json_bytes,
    read_filter,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.service import Published, service_of, snapshot_of
from calendar_service.web.shapes import Memo, OccurrenceFragments, occurrence_json

JSON_TYPE = "application/json"
FeedName = Annotated[str, Path(description="A named feed from the settings.", examples=["schools"])]
TermCalendarId = Annotated[
    str, Path(description="A term calendar: its file's name in terms/.", examples=["durham"])
]
EventId = Annotated[str, Path(description="The event's stable id.", examples=["time-to-talk-day"])]
FEED_JSON_SUMMARY = "A named feed's occurrences as JSON, over the index horizon"
CALENDAR_SUMMARY = (
    "The whole calendar, or any filter of it (category, audience, theme, tag, q, online; "
    "repeat a parameter for OR), as a subscribable ICS feed"
)
router = APIRouter()
VERSION_MAX_AGE = 0  # version.json says which snapshot is served now: always revalidated


def _max_age(request: Request) -> int:
    return service_of(request).settings.feed_max_age


@router.get(
    "/calendar.ics",
    summary=CALENDAR_SUMMARY,
    openapi_extra=documented(feed_filter_parameters),
    response_class=Response,
    tags=["feeds"],
)
async def calendar_feed(request: Request) -> Response:
    # Async: a feed already built is answered on the event loop, without a hop to a worker
    # thread (most of the cost of a request for bytes at hand); building one is not.
    snapshot = snapshot_of(request)
    query = read_filter(request, snapshot.catalog, fields=EVENT_FIELDS)
    require_canonical(request, query.items())
    rendered = snapshot.feed_ready(query)
    if rendered is None:
        rendered = await run_in_threadpool(snapshot.feed, query)
    return rendered_response(request, rendered, max_age=_max_age(request), filename="calendar.ics")


@router.get(
    "/feeds/{name}.ics",
    summary="A named feed from the calendar's settings",
    response_class=Response,
    tags=["feeds"],
)
async def named_feed(request: Request, name: FeedName) -> Response:
    snapshot = snapshot_of(request)  # async: its bytes were made with the snapshot
    refuse_unknown(request, ())
    feed_named(snapshot.catalog, name)
    rendered = snapshot.named_feed(name)
    assert rendered is not None
    return rendered_response(request, rendered, max_age=_max_age(request), filename=f"{name}.ics")


@router.get(
    "/feeds/terms/{calendar_id}.ics",
    summary="A term calendar's school years: terms, half terms and closure days, all day",
    response_class=Response,
    tags=["feeds"],
)
async def term_feed(request: Request, calendar_id: TermCalendarId) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    rendered = snapshot.term_feed(calendar_id)
    if rendered is None:
        allowed = list(snapshot.catalog.term_feeds)
        message = f"no term calendar {calendar_id[:60]!r}"
        raise ApiError(404, message, parameter="calendar_id", allowed=allowed)
    max_age = _max_age(request)
    return rendered_response(request, rendered, max_age=max_age, filename=f"{calendar_id}.ics")


@router.get(
    "/events/{event_id}.ics",
    summary="One event with its recurrence, to add",
    response_class=Response,
    tags=["feeds"],
)
async def event_feed(request: Request, event_id: EventId) -> Response:
    snapshot = snapshot_of(request)  # async for the reason `calendar_feed` is
    refuse_unknown(request, ())
    rendered = snapshot.event_file_ready(event_id)
    if rendered is None:
        rendered = await run_in_threadpool(snapshot.event_file, event_id)
    if rendered is None:
        raise unknown_event(event_id)
    max_age = _max_age(request)
    return rendered_response(request, rendered, max_age=max_age, filename=f"{event_id}.ics")


@router.get(
    "/feeds/{name}.json", summary=FEED_JSON_SUMMARY, response_class=Response, tags=["feeds"]
)
def feed_json(request: Request, name: FeedName) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    feed = feed_named(snapshot.catalog, name)
    rendered = snapshot.rendered(("feed-json", name), lambda: feed_occurrences(snapshot, feed))
    return rendered_response(request, rendered, max_age=_max_age(request))


@router.get(
    "/healthz", summary="Which snapshot is served, and the last reload error", tags=["service"]
)
def health(request: Request) -> JSONResponse:
    service = service_of(request)
    live, catalog = service.live, service.snapshot.catalog
    error, watcher, held = live.last_error, live.watch_status(), live.held
    body: dict[str, Any] = {
        "status": "ok" if error is None and not watcher.in_trouble else "degraded",
        "version": catalog.version,
        "loaded_at": catalog.loaded_at.isoformat(),
        "compiled_on": catalog.compiled_on.isoformat(),
        "events": len(catalog.events),
        "feeds": list(catalog.feeds),
        "reloads": live.reloads,
        "last_reload_error": None
        if error is None
        else {"at": error.at.isoformat(), "message": error.message},
        "warnings": list(catalog.warnings),
        "watcher": watcher.as_json(),
        "reload_held": None if held is None else held.as_json(),
        "sources": [
            {"name": name, "ok": status.ok, **status.as_json()}
            for name, status in live.source_statuses()
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(
    "/version.json",
    summary="The snapshot's version, day and counts; the same in a static export",
    tags=["service"],
)
def version(request: Request) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    return rendered_response(request, version_of(snapshot), max_age=VERSION_MAX_AGE)


def version_of(snapshot: Published) -> Rendered:
    """`/version.json`'s bytes for a snapshot, rendered once (web/precomputed.py's too)."""
    return snapshot.rendered(("version",), lambda: version_file(snapshot))


def unknown_event(event_id: str) -> ApiError:
    """The one 404 for an event id that is not in the snapshot (every route says event_id)."""
    return ApiError(404, f"no event with id {event_id[:80]!r}", parameter="event_id")


def feed_named(catalog: Catalog, name: str) -> Feed:
    """A named feed, or a 404 that lists the feeds there are."""
    feed = catalog.feeds.get(name)
    if feed is None:
        raise ApiError(
            404, f"no feed named {name[:60]!r}", parameter="name", allowed=list(catalog.feeds)
        )
    return feed


def feed_occurrences(snapshot: Published, feed: Feed) -> Rendered:
    """A named feed's occurrences as JSON, from the feeds' past window to the horizon."""
    return Rendered.of(feed_occurrences_body(snapshot, feed), JSON_TYPE, feed.file.last_modified)


def feed_window(catalog: Catalog) -> Window:
    """The days a named feed's JSON covers: from the feeds' past window to the horizon."""
    first = catalog.compiled_on - timedelta(days=catalog.settings.past_days)
    return Window(first, catalog.index.end.date() - timedelta(days=1))


def feed_chosen(catalog: Catalog, feed: Feed) -> list[Occurrence]:
    """The occurrences a named feed's JSON lists, in order."""
    return matching_occurrences(catalog, feed.filter, feed_window(catalog))


def feed_occurrences_body(
    snapshot: Published, feed: Feed, rendered: OccurrenceFragments | None = None
) -> bytes:
    """`feed_occurrences`' bytes alone: the export compresses them its own way (at 10,000
    events the largest is 64 MB, whose gzip for the live service would be 0.8 s wasted).

    `rendered`: occurrences' JSON already made, for a caller rendering several feeds (the
    export); without it each occurrence is rendered here and nothing is kept.
    """
    catalog = snapshot.catalog
    memo: Memo = snapshot.derived
    window = feed_window(catalog)
    chosen = feed_chosen(catalog, feed)
    occurrences: list[Any]
    if rendered is None:
        occurrences = [occurrence_json(item, catalog, memo) for item in chosen]
    else:
        occurrences = [rendered(item) for item in chosen]
    body = {
        "feed": feed.definition.name,
        "title": feed.definition.title,
        "from": window.first.isoformat(),
        "to": window.last.isoformat(),
        "total": len(chosen),
        "count": len(chosen),
        "next_cursor": None,
        "occurrences": occurrences,
    }
    return json_bytes(body)


def version_file(snapshot: Published) -> Rendered:
    """What `/healthz` says of the snapshot, without the process-specific parts."""
    catalog = snapshot.catalog
    body = {
        "version": catalog.version,
        "compiled_on": catalog.compiled_on.isoformat(),
        "events": len(catalog.events),
        "feeds": list(catalog.feeds),
        "generator": f"calendar-service {__version__}",
    }
    return Rendered.of(json_bytes(body), JSON_TYPE, catalog.everything.last_modified)


__all__ = ["QueryError", "router"]
