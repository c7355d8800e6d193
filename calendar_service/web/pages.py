"""HTML routes: home, subscribe and event pages, the embed widget, its loader and assets."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from calendar_service import agenda
from calendar_service.compiling import Catalog, Rendered
from calendar_service.query import FILTER_FIELDS, Filter, parse_filter
from calendar_service.reloading import LiveCatalog
from calendar_service.search import Window, check_range
from calendar_service.web import views
from calendar_service.web.feeds import feed_named
from calendar_service.web.responses import (
    ApiError,
    query_params,
    refuse_unknown,
    rendered_response,
    require_canonical,
)

HTML = "text/html; charset=utf-8"
STATIC = Path(__file__).parent / "static"
# Assets change only with a release; their Last-Modified is the release's, not the data's.
ASSETS_MODIFIED = datetime(2026, 11, 1, tzinfo=UTC)
ASSETS = (
    ("/embed.js", "embed.js", "text/javascript; charset=utf-8"),
    ("/static/embed-frame.js", "embed-frame.js", "text/javascript; charset=utf-8"),
    ("/static/calendar.css", "calendar.css", "text/css; charset=utf-8"),
)


def security_headers(frame_ancestors: str) -> dict[str, str]:
    """Headers of every HTML response: no inline script, no framing unless configured."""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def router(live: LiveCatalog) -> APIRouter:
    """Page routes bound to the live catalog."""
    routes = APIRouter(include_in_schema=False)
    settings = live.settings
    page_headers = security_headers(settings.frame_ancestors)
    embed_headers = security_headers(settings.embed_frame_ancestors)

    def page(
        request: Request,
        catalog: Catalog,
        key: Hashable,
        render: Callable[[], str],
        headers: dict[str, str],
        content_type: str = HTML,
    ) -> Response:
        """Render once per snapshot and key; answer with ETag, 304 and gzip like feeds."""
        rendered = catalog.memo(
            ("page", request.url.path, key),
            lambda: Rendered.of(render().encode(), content_type, catalog.everything.last_modified),
        )
        return rendered_response(
            request, rendered, max_age=settings.page_max_age, extra_headers=headers
        )

    def read_filter(request: Request, catalog: Catalog, *extra: str) -> Filter:
        refuse_unknown(request, (*FILTER_FIELDS, *extra))
        return parse_filter(query_params(request), catalog.settings.vocabularies)

    @routes.get("/")
    def home(request: Request) -> Response:
        catalog = live.current
        query = read_filter(request, catalog)
        require_canonical(request, query.items())
        return page(
            request, catalog, query, lambda: views.render_home(catalog, query), page_headers
        )

    @routes.get("/subscribe")
    def subscribe(request: Request) -> Response:
        catalog = live.current
        query = read_filter(request, catalog)
        if query.status:
            raise ApiError(422, "feeds carry every status; remove status", parameter="status")
        require_canonical(request, query.items())
        return page(
            request, catalog, query, lambda: views.render_subscribe(catalog, query), page_headers
        )

    @routes.get("/feeds/{name}/subscribe")
    def feed_subscribe(request: Request, name: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        feed = feed_named(catalog, name)
        return page(
            request,
            catalog,
            None,
            lambda: views.render_subscribe(catalog, feed.filter, feed_name=name),
            page_headers,
        )

    @routes.get("/events/{event_id}")
    def event_page(request: Request, event_id: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        if event_id not in catalog.events:
            raise ApiError(404, f"no event with id {event_id[:80]!r}", parameter="event_id")
        return page(
            request, catalog, None, lambda: views.render_event(catalog, event_id), page_headers
        )

    @routes.get("/embed")
    def embed(request: Request) -> Response:
        catalog = live.current
        query = read_filter(request, catalog, *views.EMBED_OPTIONS)
        options = views.parse_embed_options(query_params(request))
        if options.month is not None:
            first, last = agenda.month_bounds(options.month.year, options.month.month)
            check_range(Window(first, last), catalog.compiled_on, "month")
        require_canonical(request, [*query.items(), *options.items()])
        return page(
            request,
            catalog,
            (query, options),
            lambda: views.render_embed(catalog, query, options),
            embed_headers,
        )

    @routes.get("/feeds/{name}/embed")
    def feed_embed(request: Request, name: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        feed = feed_named(catalog, name)
        options = views.EmbedOptions(title=feed.definition.title)
        return page(
            request,
            catalog,
            None,
            lambda: views.render_embed(catalog, feed.filter, options),
            embed_headers,
        )

    @routes.get("/theme.css")
    def theme_css(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, ("accent",))
        options = views.parse_embed_options(query_params(request))
        if options.accent is None:
            raise ApiError(422, "give accent as six hex digits", parameter="accent")
        css = views.accent_css(options.accent)
        return page(request, catalog, options.accent, lambda: css, {}, "text/css; charset=utf-8")

    def asset(rendered: Rendered) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            refuse_unknown(request, ())
            return rendered_response(request, rendered, max_age=settings.page_max_age)

        return serve

    for path, name, kind in ASSETS:
        rendered = Rendered.of((STATIC / name).read_bytes(), kind, ASSETS_MODIFIED)
        routes.add_api_route(path, asset(rendered), methods=["GET"])

    return routes
