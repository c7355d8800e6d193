"""Routes that serve ICS feeds and the health report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from calendar_service.query import EVENT_FIELDS, QueryError, parse_filter
from calendar_service.reloading import LiveCatalog
from calendar_service.web.responses import ApiError, refuse_unknown, rendered_response

ICS_FILTER_FIELDS = ("category", "audience", "theme", "tag", "q", "online")
CALENDAR_SUMMARY = (
    "The whole calendar, or any filter of it (category, audience, theme, tag, q, online; "
    "repeat a parameter for OR), as a subscribable ICS feed"
)
assert set(ICS_FILTER_FIELDS) == set(EVENT_FIELDS)


def router(live: LiveCatalog) -> APIRouter:
    """Feed routes bound to the live catalog."""
    routes = APIRouter()
    max_age = live.settings.feed_max_age

    def calendar_feed(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, ICS_FILTER_FIELDS)
        query = parse_filter(
            _multi(request), catalog.settings.vocabularies, fields=ICS_FILTER_FIELDS
        )
        return rendered_response(
            request, catalog.feed_for(query), max_age=max_age, filename="calendar.ics"
        )

    def named_feed(request: Request, name: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        feed = catalog.feeds.get(name)
        if feed is None:
            raise ApiError(
                404, f"no feed named {name[:60]!r}", parameter="name", allowed=list(catalog.feeds)
            )
        return rendered_response(request, feed.file, max_age=max_age, filename=f"{name}.ics")

    def event_feed(request: Request, event_id: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        rendered = catalog.event_file(event_id)
        if rendered is None:
            raise ApiError(404, f"no event with id {event_id[:80]!r}", parameter="id")
        return rendered_response(request, rendered, max_age=max_age, filename=f"{event_id}.ics")

    for path, endpoint, summary in (
        ("/calendar.ics", calendar_feed, CALENDAR_SUMMARY),
        ("/feeds/{name}.ics", named_feed, "A named feed from the calendar's settings"),
        ("/events/{event_id}.ics", event_feed, "One event with its recurrence, to add"),
    ):
        common: dict[str, Any] = {"response_class": Response, "tags": ["feeds"]}
        routes.add_api_route(path, endpoint, methods=["GET"], summary=summary, **common)
        # HEAD answers like GET without a body; one operation in the OpenAPI document.
        routes.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False, **common)

    @routes.get(
        "/healthz", summary="Which snapshot is served, and the last reload error", tags=["service"]
    )
    def health() -> JSONResponse:
        catalog = live.current
        error = live.last_error
        body: dict[str, Any] = {
            "status": "ok" if error is None else "degraded",
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
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return routes


def _multi(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


__all__ = ["QueryError", "router"]
