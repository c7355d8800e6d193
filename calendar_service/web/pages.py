"""HTML routes: home, subscribe and event pages, the embed widget and its loader."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from calendar_service import agenda, links
from calendar_service.compiling import Catalog, Rendered, describe
from calendar_service.model import Occurrence
from calendar_service.query import FILTER_FIELDS, Filter, QueryError, parse_filter
from calendar_service.reloading import LiveCatalog
from calendar_service.search import Window, event_json, matching_occurrences
from calendar_service.web.responses import ApiError, refuse_unknown, rendered_response

HTML = "text/html; charset=utf-8"
STATIC = Path(__file__).parent / "static"
EMBED_OPTIONS = ("view", "limit", "title", "compact", "accent", "theme", "month")
MAX_EMBED_ITEMS = 100
DEFAULT_EMBED_ITEMS = 10
HOME_ITEMS = 100
UPCOMING_DAYS = 366
_URL = re.compile(r"(https?://[^\s<>\"']+[^\s<>\"'.,;:!?)])")


def linkify(text: str) -> Markup:
    """Escape plain text, turning http(s) URLs into links and newlines into breaks."""
    pieces = []
    for index, part in enumerate(_URL.split(text)):
        if index % 2:
            pieces.append(Markup('<a href="{0}" rel="noopener">{0}</a>').format(part))
        else:
            pieces.append(escape(part))
    return Markup("").join(pieces).replace("\n", Markup("<br>\n"))


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("calendar_service.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["linkify"] = linkify
    environment.filters["when"] = agenda.when_text
    environment.filters["first_day"] = agenda.first_day
    environment.globals["status_label"] = {
        "confirmed": "",
        "provisional": "Provisional",
        "cancelled": "Cancelled",
    }
    return environment


TEMPLATES = _environment()


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """How the embed looks; all parsed from the query string."""

    view: Literal["list", "month"] = "list"
    limit: int = DEFAULT_EMBED_ITEMS
    title: str = ""
    compact: bool = False
    accent: str | None = None  # six hex digits
    theme: Literal["light", "dark"] = "light"
    month: date | None = None

    def items(self) -> list[tuple[str, str]]:
        """Non-default options as canonical query parameters."""
        pairs: list[tuple[str, str]] = []
        if self.view != "list":
            pairs.append(("view", self.view))
        if self.limit != DEFAULT_EMBED_ITEMS:
            pairs.append(("limit", str(self.limit)))
        if self.title:
            pairs.append(("title", self.title))
        if self.compact:
            pairs.append(("compact", "true"))
        if self.accent:
            pairs.append(("accent", self.accent))
        if self.theme != "light":
            pairs.append(("theme", self.theme))
        if self.month is not None:
            pairs.append(("month", f"{self.month:%Y-%m}"))
        return pairs


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise QueryError(name, f"give {name} once")
    return values[0] if values else None


def parse_embed_options(request: Request) -> EmbedOptions:
    """Read and check the display options of /embed."""
    view = _one(request, "view") or "list"
    if view not in ("list", "month"):
        raise QueryError("view", "view must be list or month", ["list", "month"])
    raw_limit = _one(request, "limit")
    limit = DEFAULT_EMBED_ITEMS
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit[:4]) <= MAX_EMBED_ITEMS:
            raise QueryError(
                "limit", f"limit must be 1-{MAX_EMBED_ITEMS}", [f"1-{MAX_EMBED_ITEMS}"]
            )
        limit = int(raw_limit)
    title = " ".join((_one(request, "title") or "").split())
    if len(title) > 100:
        raise QueryError("title", "title is longer than 100 characters")
    compact_text = _one(request, "compact") or "false"
    if compact_text not in ("true", "false"):
        raise QueryError("compact", "compact must be true or false", ["true", "false"])
    accent = _one(request, "accent")
    if accent is not None:
        accent = accent.removeprefix("#").lower()
        if not re.fullmatch(r"[0-9a-f]{6}", accent):
            raise QueryError("accent", "accent must be six hex digits, like 1d70b8", ["RRGGBB"])
    theme = _one(request, "theme") or "light"
    if theme not in ("light", "dark"):
        raise QueryError("theme", "theme must be light or dark", ["light", "dark"])
    month_text = _one(request, "month")
    month = None
    if month_text is not None:
        if not re.fullmatch(r"\d{4}-\d{2}", month_text):
            raise QueryError("month", "month must be YYYY-MM", ["YYYY-MM"])
        try:
            month = date(int(month_text[:4]), int(month_text[5:]), 1)
        except ValueError:
            raise QueryError("month", "month must be YYYY-MM", ["YYYY-MM"]) from None
        if not 1970 <= month.year <= 2200:
            raise QueryError("month", "month must be between 1970 and 2200")
    return EmbedOptions(
        view=view,  # type: ignore[arg-type]
        limit=limit,
        title=title,
        compact=compact_text == "true",
        accent=accent,
        theme=theme,  # type: ignore[arg-type]
        month=month,
    )


def accent_css(accent: str) -> str:
    """CSS custom properties for an accent colour, with a readable text colour on it."""
    red, green, blue = (int(accent[i : i + 2], 16) / 255 for i in (0, 2, 4))

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    # Pick whichever of black or white contrasts more with the accent (WCAG formula).
    on_accent = (
        "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#0b0c0c"
    )
    return f":root{{--accent:#{accent};--on-accent:{on_accent}}}\n"


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


def _filter_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def upcoming(catalog: Catalog, query: Filter, days: int = UPCOMING_DAYS) -> list[Occurrence]:
    """Occurrences from the snapshot's day onwards (pages depend on the date only)."""
    today = catalog.compiled_on
    return matching_occurrences(catalog, query, Window(today, today + timedelta(days=days)))


def router(live: LiveCatalog) -> APIRouter:
    """Page routes bound to the live catalog."""
    routes = APIRouter(include_in_schema=False)
    settings = live.settings
    page_headers = security_headers(settings.frame_ancestors)
    embed_headers = security_headers(settings.embed_frame_ancestors)

    def page(
        request: Request,
        catalog: Catalog,
        key: tuple[Any, ...],
        render: Callable[[], str],
        headers: dict[str, str],
        content_type: str = HTML,
    ) -> Response:
        rendered = catalog.memo(
            ("page", request.url.path, *key),
            lambda: Rendered.of(render().encode(), content_type, catalog.everything.last_modified),
        )
        return rendered_response(
            request, rendered, max_age=settings.page_max_age, extra_headers=headers
        )

    def common(catalog: Catalog) -> dict[str, Any]:
        return {
            "calendar": catalog.settings,
            "vocab": catalog.settings.vocabularies,
            "identity": catalog.identity,
            "today": catalog.compiled_on,
            "events": catalog.events,
        }

    @routes.get("/")
    def home(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, FILTER_FIELDS)
        query = parse_filter(_filter_params(request), catalog.settings.vocabularies)

        def render() -> str:
            chosen = upcoming(catalog, query)
            return TEMPLATES.get_template("home.html").render(
                **common(catalog),
                query=query,
                groups=agenda.by_month(chosen[:HOME_ITEMS]),
                more=max(0, len(chosen) - HOME_ITEMS),
                subscribe_url="/subscribe" + _qs(query.event_level()),
                feeds=catalog.feeds,
            )

        return page(request, catalog, (query,), render, page_headers)

    @routes.get("/subscribe")
    def subscribe(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, FILTER_FIELDS)
        query = parse_filter(_filter_params(request), catalog.settings.vocabularies)
        if query.status:
            raise ApiError(422, "feeds carry every status; remove status", parameter="status")

        def render() -> str:
            url = links.feed_url(catalog.identity, query)
            name = catalog.settings.name
            if not query.is_empty:
                name = f"{name} ({describe(query, catalog.settings)})"
            return TEMPLATES.get_template("subscribe.html").render(
                **common(catalog),
                query=query,
                name=name,
                feed=url,
                webcal=links.webcal(url),
                google=links.google_subscribe(url),
                outlook=links.outlook_subscribe(url, name),
                count=len([e for e in catalog.matching(query) if e.current]),
                embed_snippet=embed_snippet(catalog, query),
                refresh_hours=catalog.settings.refresh_hours,
            )

        return page(request, catalog, (query,), render, page_headers)

    @routes.get("/events/{event_id}")
    def event_page(request: Request, event_id: str) -> Response:
        catalog = live.current
        refuse_unknown(request, ())
        entry = catalog.events.get(event_id)
        if entry is None or not re.fullmatch(r"[a-z0-9-]+", event_id):
            raise ApiError(404, "no such event", parameter="event_id")

        def render() -> str:
            data = entry.event.data
            chosen = [
                o for o in upcoming(catalog, Filter(), days=5 * 366) if o.event_id == event_id
            ][:12]
            following = chosen[0] if chosen else None
            return TEMPLATES.get_template("event.html").render(
                **common(catalog),
                entry=entry,
                data=data,
                occurrences=chosen,
                rule=data.recurrence.rule.describe()
                if data.recurrence and data.recurrence.rule
                else None,
                google=links.google_add(
                    following, data, catalog.identity, catalog.settings.timezone
                )
                if following
                else None,
                outlook=links.outlook_add(following, data, catalog.identity) if following else None,
                json_ld=json_ld(catalog, entry.event.data.id, following),
            )

        return page(request, catalog, (), render, page_headers)

    @routes.get("/embed")
    def embed(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, (*FILTER_FIELDS, *EMBED_OPTIONS))
        query = parse_filter(_filter_params(request), catalog.settings.vocabularies)
        options = parse_embed_options(request)

        def render() -> str:
            context: dict[str, Any] = {
                **common(catalog),
                "query": query,
                "options": options,
                "title": options.title or catalog.settings.name,
                "subscribe_url": f"{catalog.identity.base_url}/subscribe{_qs(query.event_level())}",
                "home_url": f"{catalog.identity.base_url}/{_qs(query)}",
            }
            if options.accent:
                context["accent_css"] = f"/theme.css?accent={options.accent}"
            if options.view == "month":
                month = options.month or catalog.compiled_on.replace(day=1)
                first, last = agenda.month_bounds(month.year, month.month)
                chosen = matching_occurrences(catalog, query, Window(first, last))
                grid = agenda.month_grid(month.year, month.month, chosen)
                context["grid"] = grid
                context["previous_url"] = "/embed" + _qs(
                    query, [*_without(options, "month"), ("month", f"{grid.previous:%Y-%m}")]
                )
                context["next_url"] = "/embed" + _qs(
                    query, [*_without(options, "month"), ("month", f"{grid.next:%Y-%m}")]
                )
            else:
                chosen = upcoming(catalog, query)[: options.limit]
                context["groups"] = agenda.by_month(chosen)
            return TEMPLATES.get_template("embed.html").render(**context)

        return page(request, catalog, (query, options), render, embed_headers)

    @routes.get("/theme.css")
    def theme(request: Request) -> Response:
        catalog = live.current
        refuse_unknown(request, ("accent",))
        options = parse_embed_options(request)
        if options.accent is None:
            raise ApiError(422, "give accent as six hex digits", parameter="accent")
        css = accent_css(options.accent)
        return page(request, catalog, (options.accent,), lambda: css, {}, "text/css; charset=utf-8")

    def static_file(name: str, content_type: str) -> Callable[[Request], Response]:
        body = (STATIC / name).read_bytes()
        rendered = Rendered.of(body, content_type, datetime(2026, 1, 1, tzinfo=UTC))

        def serve(request: Request) -> Response:
            refuse_unknown(request, ())
            return rendered_response(request, rendered, max_age=settings.page_max_age)

        return serve

    for path, name, kind in (
        ("/embed.js", "embed.js", "text/javascript; charset=utf-8"),
        ("/static/embed-frame.js", "embed-frame.js", "text/javascript; charset=utf-8"),
        ("/static/calendar.css", "calendar.css", "text/css; charset=utf-8"),
    ):
        routes.add_api_route(path, static_file(name, kind), methods=["GET", "HEAD"])

    return routes


def _without(options: EmbedOptions, name: str) -> list[tuple[str, str]]:
    return [(key, value) for key, value in options.items() if key != name]


def _qs(query: Filter, extra: list[tuple[str, str]] | None = None) -> str:
    pairs = [*query.items(), *(extra or [])]
    return "?" + urlencode(pairs) if pairs else ""


def embed_snippet(catalog: Catalog, query: Filter) -> str:
    """The one-line HTML a site pastes to show this filter, with a no-script fallback."""
    base = catalog.identity.base_url
    attributes = "".join(
        f' data-{name}="{escape(",".join(getattr(query, name)))}"'
        for name in ("category", "audience", "theme", "tag")
        if getattr(query, name)
    )
    fallback = f"{base}/{_qs(query.event_level())}"
    return (
        f'<script src="{base}/embed.js"{attributes} data-view="list" async></script>'
        f'<noscript><a href="{escape(fallback)}">{escape(catalog.settings.name)}</a></noscript>'
    )


def json_ld(catalog: Catalog, event_id: str, following: Occurrence | None) -> Markup:
    """schema.org Event data for search engines, safe inside a script element."""
    entry = catalog.events[event_id]
    data = entry.event.data
    fields = event_json(entry, catalog, catalog.compiled_on)
    start = following.start if following else data.start
    end = following.end if following else data.start + data.duration
    body: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": data.title,
        "description": data.summary or data.description[:500],
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "eventStatus": {
            "confirmed": "https://schema.org/EventScheduled",
            "provisional": "https://schema.org/EventScheduled",
            "cancelled": "https://schema.org/EventCancelled",
        }[(following.status if following else data.status).value],
        "url": fields["event_page"],
    }
    location = data.location
    if location is not None:
        places: list[dict[str, Any]] = []
        if location.venue or location.address:
            places.append(
                {"@type": "Place", "name": location.venue or "", "address": location.address or ""}
            )
        if location.online:
            places.append(
                {"@type": "VirtualLocation", "url": location.online_url or fields["event_page"]}
            )
        body["location"] = places[0] if len(places) == 1 else places
        body["eventAttendanceMode"] = (
            "https://schema.org/MixedEventAttendanceMode"
            if len(places) > 1
            else "https://schema.org/OnlineEventAttendanceMode"
            if location.online
            else "https://schema.org/OfflineEventAttendanceMode"
        )
    if data.organiser is not None:
        body["organizer"] = {"@type": "Organization", "name": data.organiser.name}
        if data.organiser.url:
            body["organizer"]["url"] = data.organiser.url
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    # "</script>" inside a string would end the element; \u003c is the same character in JSON.
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
