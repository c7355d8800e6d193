"""HTML routes: home, subscribe and event pages, the embed widget, its loader and assets."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import compile_path

from calendar_service import __released__, agenda, fields
from calendar_service.search import Window, check_range
from calendar_service.web import display_options, views
from calendar_service.web.feeds import feed_named, unknown_event
from calendar_service.web.responses import (
    ApiError,
    Rendered,
    query_params,
    read_filter,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.service import Published, service_of, snapshot_of

HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"
STATIC = Path(__file__).parent / "static"
# Assets change only with a release; their Last-Modified is the release's, not the data's.
ASSETS_MODIFIED = datetime.fromisoformat(__released__).replace(tzinfo=UTC)
ASSETS = (
    ("/embed.js", "embed.js", JAVASCRIPT),
    ("/static/embed-frame.js", "embed-frame.js", JAVASCRIPT),
    ("/static/calendar.css", "calendar.css", CSS),
    ("/static/copy.js", "copy.js", JAVASCRIPT),
)
# Each category's colour from calendar.yaml: data, so per snapshot rather than an asset.
CATEGORIES_CSS = "/categories.css"
router = APIRouter(include_in_schema=False)
# The paths of pages a person reads: a refusal there is an HTML page (web/refusals.py).
PAGE_PATHS: list[re.Pattern[str]] = []


def read_by_people(path: str) -> None:
    """Mark a route's path as a page people read: its refusals come as HTML too."""
    PAGE_PATHS.append(compile_path(path)[0])


def page_route(path: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """`router.get` for a page people read, so that its refusals come as HTML too."""
    read_by_people(path)
    return router.get(path)


def security_headers(frame_ancestors: str, style_src: str = "'self'") -> dict[str, str]:
    """Headers of every HTML response: no inline script, no framing unless configured.

    `style_src`: the email digest's styles are inline (mail clients read nothing else).
    """
    policy = (
        f"default-src 'none'; script-src 'self'; style-src {style_src}; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def pages_dated_by(snapshot: Published) -> Rendered:
    """What every page takes its Last-Modified from: the whole calendar (a page may show
    any event; the export dates the pages it does not render again by it too)."""
    return snapshot.everything


def page_rendered(
    snapshot: Published,
    path: str,
    key: Hashable,
    render: Callable[[], str],
    content_type: str = HTML,
) -> Rendered:
    """A page's bytes, rendered once per snapshot, path and key (the export asks here too)."""
    last_modified = pages_dated_by(snapshot).last_modified
    return snapshot.rendered(
        ("page", path, key), lambda: Rendered.of(render().encode(), content_type, last_modified)
    )


def event_page(snapshot: Published, event_id: str) -> Rendered:
    """An event's page as `/events/{id}` serves it (the export writes it without HTTP)."""
    path = snapshot.catalog.identity.urls.event(event_id)
    return page_rendered(
        snapshot, path, None, lambda: views.render_event(snapshot.catalog, event_id)
    )


def asset_bytes(name: str) -> bytes:
    """A static asset as served: embed.js with its list of filters written from the table."""
    body = (STATIC / name).read_bytes()
    if name == "embed.js":
        body = fields.embed_script(body.decode()).encode()
    return body


def page(
    request: Request,
    snapshot: Published,
    key: Hashable,
    render: Callable[[], str],
    frame_ancestors: str | None,
    content_type: str = HTML,
) -> Response:
    """Render once per snapshot and key; answer with ETag, 304 and gzip like feeds.

    HTML carries the security headers, framed only by `frame_ancestors`; None: no headers.
    """
    rendered = page_rendered(snapshot, request.url.path, key, render, content_type)
    settings = service_of(request).settings
    headers = {} if frame_ancestors is None else security_headers(frame_ancestors)
    return rendered_response(
        request, rendered, max_age=settings.page_max_age, extra_headers=headers
    )


def _site(request: Request) -> str:
    return service_of(request).settings.frame_ancestors


def _embedding(request: Request) -> str:
    return service_of(request).settings.embed_frame_ancestors


@page_route("/")
def home(request: Request) -> Response:
    snapshot = snapshot_of(request)
    query = read_filter(request, snapshot.catalog, "month")
    month = display_options.parse_month(query_params(request))  # a month's archive, past or future
    if month is not None:
        check_range(display_options.month_window(month), snapshot.catalog.compiled_on, "month")
    require_canonical(request, [*query.items(), *([("month", f"{month:%Y-%m}")] if month else [])])
    render = lambda: views.render_home(snapshot.catalog, query, month)  # noqa: E731
    return page(request, snapshot, (query, month), render, _site(request))


@page_route("/subscribe")
def subscribe(request: Request) -> Response:
    snapshot = snapshot_of(request)
    query = read_filter(request, snapshot.catalog)
    if query.status:
        raise ApiError(422, "feeds carry every status; remove status", parameter="status")
    require_canonical(request, query.items())
    render = lambda: views.render_subscribe(snapshot.catalog, query)  # noqa: E731
    return page(request, snapshot, query, render, _site(request))


@page_route("/feeds/{name}/subscribe")
def feed_subscribe(request: Request, name: str) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    feed = feed_named(snapshot.catalog, name)
    render = lambda: views.render_subscribe(snapshot.catalog, feed.filter, feed_name=name)  # noqa: E731
    return page(request, snapshot, None, render, _site(request))


@page_route("/events/{event_id}")
def event_route(request: Request, event_id: str) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    if event_id not in snapshot.catalog.events:
        raise unknown_event(event_id)
    render = lambda: views.render_event(snapshot.catalog, event_id)  # noqa: E731
    return page(request, snapshot, None, render, _site(request))


@page_route("/embed")
def embed(request: Request) -> Response:
    snapshot = snapshot_of(request)
    catalog = snapshot.catalog
    query = read_filter(request, catalog, *display_options.EMBED_OPTIONS)
    options = display_options.parse_embed_options(query_params(request))
    if options.month is not None:
        first, last = agenda.month_bounds(options.month.year, options.month.month)
        check_range(Window(first, last), catalog.compiled_on, "month")
    require_canonical(request, [*query.items(), *options.items()])
    render = lambda: views.render_embed(catalog, query, options)  # noqa: E731
    return page(request, snapshot, (query, options), render, _embedding(request))


@page_route("/feeds/{name}/embed")
def feed_embed(request: Request, name: str) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    feed = feed_named(snapshot.catalog, name)
    options = display_options.EmbedOptions(title=feed.definition.title)
    render = lambda: views.render_embed(snapshot.catalog, feed.filter, options)  # noqa: E731
    return page(request, snapshot, None, render, _embedding(request))


@router.get("/theme.css")
def theme_css(request: Request) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ("accent",))
    options = display_options.parse_embed_options(query_params(request))
    if options.accent is None:
        raise ApiError(422, "give accent as six hex digits", parameter="accent")
    css = display_options.accent_css(options.accent)
    return page(request, snapshot, options.accent, lambda: css, None, CSS)


@router.get(CATEGORIES_CSS)
def categories_css(request: Request) -> Response:
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    css = views.categories_css(snapshot.catalog.settings.vocabularies)
    return page(request, snapshot, None, lambda: css, None, CSS)


def _asset_route(rendered: Rendered) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        # Async: the bytes are at hand, and a hop to a worker thread would cost more.
        refuse_unknown(request, ())
        max_age = service_of(request).settings.page_max_age
        return rendered_response(request, rendered, max_age=max_age)

    return serve


# Each asset as served, by path (web/precomputed.py answers them in front of the app too).
ASSET_FILES = {
    path: Rendered.of(asset_bytes(name), kind, ASSETS_MODIFIED) for path, name, kind in ASSETS
}
for _path, _rendered in ASSET_FILES.items():
    router.add_api_route(_path, _asset_route(_rendered), methods=["GET"])
