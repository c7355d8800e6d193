"""Routes that serve ICS feeds and the health report."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from calendar_service import __version__
from calendar_service.compiling import Catalog, Feed, Rendered
from calendar_service.query import EVENT_FIELDS, QueryError, parse_filter
from calendar_service.reloading import LiveCatalog
from calendar_service.search import Window, matching_occurrences
from calendar_service.web.parameters import documented, feed_filter_parameters
from calendar_service.web.responses import (
    ApiError,
    json_bytes,
    query_params,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.shapes import occurrence_json

JSON_TYPE = "application/json"
FeedName = Annotated[str, Path(description="A named feed from the settings.", examples=["schools"])]
EventId = Annotated[str, Path(description="The event's stable id.", examples=["time-to-talk-day"])]
FEED_JSON_SUMMARY = "A named feed's occurrences as JSON, over the index horizon"
CALENDAR_SUMMARY = (
    "The whole calendar, or any filter of it (category, audience, theme, tag, q, online; "
    "repeat a parameter for OR), as a subscribable ICS feed"
)


def router(live: LiveCatalog) -> APIRouter:
    """Feed routes bound to the live catalog."""
    routes = APIRouter()
    max_age = live.settings.feed_max_age

    def calendar_feed(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, EVENT_FIELDS)
        query = parse_filter(
            query_params(request), catalog.settings.vocabularies, fields=EVENT_FIELDS
        )
        require_canonical(request, query.items())
        return rendered_response(
            request, catalog.feed_for(query), max_age=max_age, filename="calendar.ics"
        )

    def named_feed(request: Request, name: FeedName) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        feed = feed_named(catalog, name)
        return rendered_response(request, feed.file, max_age=max_age, filename=f"{name}.ics")

    def event_feed(request: Request, event_id: EventId) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        rendered = catalog.event_file(event_id)
        if rendered is None:
            raise ApiError(404, f"no event with id {event_id[:80]!r}", parameter="id")
        return rendered_response(request, rendered, max_age=max_age, filename=f"{event_id}.ics")

    def feed_json(request: Request, name: FeedName) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        feed = feed_named(catalog, name)
        rendered = catalog.memo(("feed-json", name), lambda: feed_occurrences(catalog, feed))
        return rendered_response(request, rendered, max_age=max_age)

    for path, endpoint, summary in (
        ("/calendar.ics", calendar_feed, CALENDAR_SUMMARY),
        ("/feeds/{name}.ics", named_feed, "A named feed from the calendar's settings"),
        ("/events/{event_id}.ics", event_feed, "One event with its recurrence, to add"),
        ("/feeds/{name}.json", feed_json, FEED_JSON_SUMMARY),
    ):
        extra = documented(feed_filter_parameters) if path == "/calendar.ics" else None
        routes.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            summary=summary,
            openapi_extra=extra,
            response_class=Response,
            tags=["feeds"],
        )

    @routes.get(
        "/healthz", summary="Which snapshot is served, and the last reload error", tags=["service"]
    )
    def health() -> JSONResponse:
        catalog = live.current
        error = live.last_error
        watcher = live.watch_status()
        held = live.held
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
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @routes.get(
        "/version.json",
        summary="The snapshot's version, day and counts; the same in a static export",
        tags=["service"],
    )
    def version(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        rendered = catalog.memo(("version",), lambda: version_file(catalog))
        return rendered_response(request, rendered, max_age=0)

    return routes


def feed_named(catalog: Catalog, name: str) -> Feed:
    """A named feed, or a 404 that lists the feeds there are."""
    feed = catalog.feeds.get(name)
    if feed is None:
        raise ApiError(
            404, f"no feed named {name[:60]!r}", parameter="name", allowed=list(catalog.feeds)
        )
    return feed


def feed_occurrences(catalog: Catalog, feed: Feed) -> Rendered:
    """A named feed's occurrences as JSON, from the feeds' past window to the horizon."""
    first = catalog.compiled_on - timedelta(days=catalog.settings.past_days)
    last = catalog.index.end.date() - timedelta(days=1)
    window = Window(first, last)
    chosen = matching_occurrences(catalog, feed.filter, window)
    body = {
        "feed": feed.definition.name,
        "title": feed.definition.title,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "total": len(chosen),
        "count": len(chosen),
        "next_cursor": None,
        "occurrences": [occurrence_json(item, catalog) for item in chosen],
    }
    return Rendered.of(json_bytes(body), JSON_TYPE, feed.file.last_modified)


def version_file(catalog: Catalog) -> Rendered:
    """What `/healthz` says of the snapshot, without the process-specific parts."""
    body = {
        "version": catalog.version,
        "compiled_on": catalog.compiled_on.isoformat(),
        "events": len(catalog.events),
        "feeds": list(catalog.feeds),
        "generator": f"calendar-service {__version__}",
    }
    return Rendered.of(json_bytes(body), JSON_TYPE, catalog.everything.last_modified)


__all__ = ["QueryError", "router"]
