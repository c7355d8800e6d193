"""Render pages and the embed from a Catalog: templates, display options, structured data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from calendar_service import agenda, colours, links
from calendar_service.compiling import Catalog
from calendar_service.fields import FORM_FIELDS
from calendar_service.model import Occurrence, Vocabularies
from calendar_service.query import MAX_PARAMETER_LENGTH, Filter, QueryError, single_value
from calendar_service.search import Window, matching_occurrences, query_range
from calendar_service.values import MAX_YEAR, MIN_YEAR
from calendar_service.web.shapes import event_json, uncached

# `scheme`, not `theme`: `theme` is a filter (the partnership's priorities).
EMBED_OPTIONS = ("view", "limit", "title", "compact", "accent", "scheme", "month")
MAX_EMBED_ITEMS = 100
DEFAULT_EMBED_ITEMS = 10
HOME_ITEMS = 100
UPCOMING_DAYS = 366
EVENT_PAGE_DATES = 12
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
    environment.filters["clock"] = agenda.clock_text
    environment.globals["weekdays"] = agenda.WEEKDAYS
    # The home page's filter form: one part per field the table gives a legend.
    environment.globals["filter_fields"] = FORM_FIELDS
    environment.globals["max_length"] = MAX_PARAMETER_LENGTH
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
    scheme: Literal["light", "dark"] = "light"
    month: date | None = None

    def items(self) -> list[tuple[str, str]]:
        """Options that differ from the defaults, as canonical query parameters."""
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
        if self.scheme != "light":
            pairs.append(("scheme", self.scheme))
        if self.month is not None:
            pairs.append(("month", f"{self.month:%Y-%m}"))
        return pairs


def _choice(params: Mapping[str, Sequence[str]], name: str, allowed: tuple[str, ...]) -> str:
    value = single_value(params, name) or allowed[0]
    if value not in allowed:
        raise QueryError(name, f"{name} must be {' or '.join(allowed)}", list(allowed))
    return value


def parse_embed_options(params: Mapping[str, Sequence[str]]) -> EmbedOptions:
    """Read and check the display options of the embed."""
    raw_limit = single_value(params, "limit")
    limit = DEFAULT_EMBED_ITEMS
    if raw_limit is not None:
        # ASCII digits only: "²".isdigit() is true, and int() refuses it.
        digits = raw_limit.isascii() and raw_limit.isdigit()
        if not digits or not 1 <= int(raw_limit[:4]) <= MAX_EMBED_ITEMS:
            raise QueryError(
                "limit", f"limit must be 1-{MAX_EMBED_ITEMS}", [f"1-{MAX_EMBED_ITEMS}"]
            )
        limit = int(raw_limit)
    title = " ".join((single_value(params, "title") or "").split())
    if len(title) > 100:
        raise QueryError("title", "title is longer than 100 characters")
    accent = single_value(params, "accent")
    if accent is not None:
        accent = accent.removeprefix("#").lower()
        if not re.fullmatch(r"[0-9a-f]{6}", accent):
            raise QueryError("accent", "accent must be six hex digits, like 1d70b8", ["RRGGBB"])
    month = parse_month(params)
    return EmbedOptions(
        view=_choice(params, "view", ("list", "month")),  # type: ignore[arg-type]
        limit=limit,
        title=title,
        compact=_choice(params, "compact", ("false", "true")) == "true",
        accent=accent,
        scheme=_choice(params, "scheme", ("light", "dark")),  # type: ignore[arg-type]
        month=month,
    )


def parse_month(params: Mapping[str, Sequence[str]]) -> date | None:
    """The `month` parameter (YYYY-MM) as its first day, if given; the embed's and home's."""
    month_text = single_value(params, "month")
    if month_text is None:
        return None
    problem = QueryError("month", "month must be YYYY-MM", ["YYYY-MM"])
    if not re.fullmatch(r"\d{4}-\d{2}", month_text):
        raise problem
    try:
        month = date(int(month_text[:4]), int(month_text[5:]), 1)
    except ValueError:
        raise problem from None
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise QueryError("month", f"month must be between {MIN_YEAR} and {MAX_YEAR}")
    return month


def month_window(month: date) -> Window:
    """The days of a month, as a window whose errors name the `month` parameter."""
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Window(month, last, "month", "month")


def accent_css(accent: str) -> str:
    """CSS custom properties for an accent colour, with a readable text colour on it."""
    return f":root{{--accent:#{accent};--on-accent:#{colours.text_on(accent)}}}\n"


def categories_css(vocabularies: Vocabularies) -> str:
    """A class per category with its colour from calendar.yaml and text that contrasts.

    A stylesheet, not style attributes: the pages' Content-Security-Policy allows neither
    inline style nor style attributes.
    """
    rules = []
    for key, term in vocabularies.categories.items():
        background = colours.hex_digits(term.color) if term.color else None
        if background is not None:
            text = colours.text_on(background)
            rules.append(f".category-{key}{{--category:#{background};--on-category:#{text}}}\n")
    return "".join(rules)


def query_string(query: Filter, extra: Sequence[tuple[str, str]] = ()) -> str:
    """`?…` for a filter and further parameters, or the empty string.

    Only `embed_snippet` still uses it; every other URL comes from `Urls`.
    """
    pairs = [*query.items(), *extra]
    return "?" + urlencode(pairs) if pairs else ""


def upcoming(catalog: Catalog, query: Filter, days: int = UPCOMING_DAYS) -> list[Occurrence]:
    """Occurrences from the snapshot's day on: pages depend on the date only."""
    today = catalog.compiled_on
    return matching_occurrences(catalog, query, Window(today, today + timedelta(days=days)))


def past(catalog: Catalog, query: Filter, count: int) -> list[Occurrence]:
    """The latest `count` occurrences that ended before the snapshot's day, in order.

    Shown where nothing is upcoming, so a series that has finished still shows its dates.
    """
    today = catalog.compiled_on
    window = Window(today - timedelta(days=catalog.settings.past_days), today)
    ended = [
        occurrence
        for occurrence in matching_occurrences(catalog, query, window)
        if agenda.last_day(occurrence) < today
    ]
    return ended[-count:]


def _lower_first(part: str) -> str:
    """ "Schools" as in "for schools"; "DSCP" or "#kindness" stay as written."""
    return part[0].lower() + part[1:] if part[:2].istitle() and len(part) > 1 else part


def embed_title(catalog: Catalog, query: Filter, options: EmbedOptions) -> str:
    """The widget's heading: `title` if given, else the calendar's name for its filter."""
    if options.title:
        return options.title
    name, event_level = catalog.settings.name, query.event_level()
    if event_level.is_empty:
        return name
    described = event_level.describe(catalog.settings.vocabularies)
    return f"{name} for {', '.join(_lower_first(part) for part in described.split(', '))}"


def quiet_audiences(query: Filter) -> frozenset[str]:
    """Audience badges every item would carry (the filter names one audience): left out."""
    return frozenset(query.audience) if len(query.audience) == 1 else frozenset()


def _common(catalog: Catalog) -> dict[str, Any]:
    return {
        "calendar": catalog.settings,
        "vocab": catalog.settings.vocabularies,
        "identity": catalog.identity,
        "today": catalog.compiled_on,
        "events": catalog.events,
    }


def render_home(catalog: Catalog, query: Filter, month: date | None = None) -> str:
    """The home page: filter form, subscribe box, upcoming events by month; or, given a
    month (past or future), the occurrences starting in it, with the months beside linked."""
    urls = catalog.identity.urls
    if month is None:
        chosen = upcoming(catalog, query)
        shown = catalog.compiled_on.replace(day=1)
    else:
        window = month_window(month)
        found = matching_occurrences(catalog, query, window)
        chosen = [item for item in found if agenda.first_day(item) >= month]
        shown = month
    earliest, latest = query_range(catalog.compiled_on)
    previous = (shown - timedelta(days=1)).replace(day=1)
    following = month_window(shown).last + timedelta(days=1)
    feed = urls.absolute(urls.calendar(query))
    # Nothing ahead (not a chosen month): the latest past dates, so a finished series shows.
    nothing_ahead = month is None and not chosen
    past_groups = agenda.by_month(past(catalog, query, HOME_ITEMS)) if nothing_ahead else []
    name = catalog.settings.name
    if not query.event_level().is_empty:
        name = f"{name} ({query.event_level().describe(catalog.settings.vocabularies)})"
    return TEMPLATES.get_template("home.html").render(
        **_common(catalog),
        query=query,
        groups=agenda.by_month(chosen[:HOME_ITEMS]),
        more=max(0, len(chosen) - HOME_ITEMS),
        past_groups=past_groups,
        subscribe_url=urls.subscribe(query),
        subscribe_links=links.SubscribeLinks.of(feed, name),
        feeds=catalog.feeds,
        month=month,
        previous_month=previous if previous >= earliest else None,
        previous_url=urls.home(query, previous) if previous >= earliest else None,
        next_month=following if month is not None and following <= latest else None,
        next_url=urls.home(query, following) if following <= latest else None,
        upcoming_url=urls.home(query),
    )


def render_subscribe(catalog: Catalog, query: Filter, feed_name: str | None = None) -> str:
    """The subscribe page of a filter, or of a named feed (its own, shorter URL)."""
    urls = catalog.identity.urls
    if feed_name is not None:
        feed = catalog.feeds[feed_name]
        url, name = urls.absolute(urls.named_feed(feed_name, ".ics")), feed.definition.title
    else:
        url, name = urls.absolute(urls.calendar(query)), catalog.settings.name
        if not query.is_empty:
            name = f"{name} ({query.describe(catalog.settings.vocabularies)})"
    return TEMPLATES.get_template("subscribe.html").render(
        **_common(catalog),
        query=query,
        home_url=urls.home(query),
        name=name,
        links=links.SubscribeLinks.of(url, name),
        count=sum(1 for entry in catalog.matching(query) if entry.current),
        embed_snippet=embed_snippet(catalog, query),
        refresh_hours=catalog.settings.refresh_hours,
    )


ERROR_HEADINGS = {
    404: "Page not found",
    405: "Not answered here",
    414: "Link too long",
    422: "This link asks for something we cannot show",
}


def render_error(
    catalog: Catalog,
    status: int,
    message: str,
    parameter: str | None = None,
    allowed: Sequence[str] = (),
) -> str:
    """The error page a person sees: what was wrong, what is allowed, a link home."""
    heading = ERROR_HEADINGS.get(status, "Something went wrong" if status >= 500 else "Refused")
    return TEMPLATES.get_template("error.html").render(
        **_common(catalog),
        heading=heading,
        # A sentence starts with a capital, unless it starts with the parameter's own name.
        message=message
        if parameter and message.startswith(parameter)
        else message[:1].upper() + message[1:],
        parameter=parameter,
        allowed=list(allowed)[:50],
    )


def render_event(catalog: Catalog, event_id: str) -> str:
    """An event's page: details, upcoming dates, add-to-calendar links, JSON-LD."""
    entry = catalog.events[event_id]
    data = entry.event.data
    today = datetime.combine(catalog.compiled_on, time(), catalog.settings.zone)
    index = catalog.index
    chosen = index.of_event(event_id, today)[:EVENT_PAGE_DATES]
    following = chosen[0] if chosen else None
    # A finished series shows the dates it had (those the index still holds), latest last.
    ended = [] if chosen else index.of_event(event_id, index.start)[-EVENT_PAGE_DATES:]
    add = links.AddLinks.of(data, catalog.identity, catalog.settings.timezone)
    return TEMPLATES.get_template("event.html").render(
        **_common(catalog),
        entry=entry,
        data=data,
        occurrences=chosen,
        ended=ended,
        rule=data.recurrence.rule.describe() if data.recurrence and data.recurrence.rule else None,
        google=add.google(following) if following else None,
        outlook_personal=add.outlook(following, "personal") if following else None,
        outlook_work=add.outlook(following, "work") if following else None,
        json_ld=json_ld(catalog, event_id, following),
    )


def render_embed(catalog: Catalog, query: Filter, options: EmbedOptions) -> str:
    """The widget: an agenda by month, or a month grid with links to the months beside.

    Month paging stays on /embed with the filter spelt out, named feed or not.
    """
    urls = catalog.identity.urls
    context: dict[str, Any] = {
        **_common(catalog),
        "query": query,
        "options": options,
        "title": embed_title(catalog, query, options),
        "quiet": quiet_audiences(query),
        "subscribe_url": urls.absolute(urls.subscribe(query)),
        "home_url": urls.absolute(urls.home(query)),
    }
    if options.accent:
        context["accent_css"] = urls.theme_css(options.accent)
    if options.view == "month":
        month = options.month or catalog.compiled_on.replace(day=1)
        first, last = agenda.month_bounds(month.year, month.month)
        # An error about this window names the parameter the embed was given: month.
        window = Window(first, last, "month", "month")
        grid = agenda.month_grid(
            month.year, month.month, matching_occurrences(catalog, query, window)
        )
        others = [(key, value) for key, value in options.items() if key != "month"]
        context["grid"] = grid
        context["previous_url"] = urls.embed(query, [*others, ("month", f"{grid.previous:%Y-%m}")])
        context["next_url"] = urls.embed(query, [*others, ("month", f"{grid.next:%Y-%m}")])
    else:
        chosen = upcoming(catalog, query)[: options.limit]
        context["groups"] = agenda.by_month(chosen)
        if not chosen:
            context["past_groups"] = agenda.by_month(past(catalog, query, options.limit))
    return TEMPLATES.get_template("embed.html").render(**context)


def embed_snippet(catalog: Catalog, query: Filter) -> str:
    """The one line of HTML a site pastes to show this filter, with a no-script link."""
    base = catalog.identity.base_url
    event_level = query.event_level()
    attributes = "".join(
        f' {name}="{escape(value)}"' for name, value in event_level.data_attributes()
    )
    fallback = f"{base}/{query_string(event_level)}"
    return (
        f'<script src="{base}/embed.js"{attributes} data-view="list" async></script>'
        f'<noscript><a href="{escape(fallback)}">{escape(catalog.settings.name)}</a></noscript>'
    )


_SCHEMA_STATUS = {
    "confirmed": "https://schema.org/EventScheduled",
    "provisional": "https://schema.org/EventScheduled",
    "cancelled": "https://schema.org/EventCancelled",
}


def json_ld(catalog: Catalog, event_id: str, following: Occurrence | None) -> Markup:
    """schema.org Event data for search engines, safe inside a script element."""
    entry = catalog.events[event_id]
    data = entry.event.data
    fields = event_json(entry, catalog, catalog.compiled_on, uncached)
    body: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": data.title,
        "description": data.summary or data.description[:500],
        "startDate": following.start.isoformat() if following else fields["start"],
        "endDate": following.end.isoformat() if following else fields["end"],
        "eventStatus": _SCHEMA_STATUS[(following.status if following else data.status).value],
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
            online_url = location.online_url or fields["event_page"]
            places.append({"@type": "VirtualLocation", "url": online_url})
        body["location"] = places[0] if len(places) == 1 else places
        mode = "Mixed" if len(places) > 1 else "Online" if location.online else "Offline"
        body["eventAttendanceMode"] = f"https://schema.org/{mode}EventAttendanceMode"
    if data.organiser is not None:
        body["organizer"] = {"@type": "Organization", "name": data.organiser.name}
        if data.organiser.url:
            body["organizer"]["url"] = data.organiser.url
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    # "</script>" in a string would end the element; \u003c is the same character in JSON.
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
