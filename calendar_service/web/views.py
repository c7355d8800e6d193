"""Render pages and the embed from a Catalog: the templates and what each page shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from calendar_service import agenda, colours, links, skipping
from calendar_service.agenda import NoSession
from calendar_service.compiling import Catalog
from calendar_service.fields import FORM_FIELDS
from calendar_service.model import EventData, Occurrence, Vocabularies
from calendar_service.query import MAX_PARAMETER_LENGTH, Filter
from calendar_service.search import Window, matching_occurrences, query_range
from calendar_service.syndication import ATOM_TYPE, RSS_TYPE
from calendar_service.web import structured_data
from calendar_service.web.display_options import EmbedOptions, month_window

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


@dataclass(frozen=True, slots=True)
class Alternate:
    """A `<link rel="alternate">` in a page's head: a feed a reader can follow."""

    type: str
    title: str
    href: str  # absolute


def alternates(catalog: Catalog, query: Filter, feed_name: str | None = None) -> list[Alternate]:
    """The RSS and Atom of a filter or named feed, and what changed in it."""
    urls = catalog.identity.urls
    query = query.event_level()
    if feed_name is not None:
        name = catalog.feeds[feed_name].definition.title
        rss, atom = urls.named_feed(feed_name, ".rss"), urls.named_feed(feed_name, ".atom")
        changes = urls.named_feed(feed_name, "/changes.atom")
        changes_title = f"What changed: {name}"
    else:
        name = catalog.settings.name
        if not query.is_empty:
            name = f"{name} ({query.describe(catalog.settings.vocabularies)})"
        rss, atom = urls.syndication(query, "rss"), urls.syndication(query, "atom")
        changes = urls.changes()  # only the calendar and named feeds have their changes
        changes_title = f"What changed: {catalog.settings.name}"
    return [
        Alternate(RSS_TYPE, f"{name} (RSS)", urls.absolute(rss)),
        Alternate(ATOM_TYPE, f"{name} (Atom)", urls.absolute(atom)),
        Alternate(ATOM_TYPE, changes_title, urls.absolute(changes)),
    ]


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
        alternates=alternates(catalog, query),
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
        term_feeds=catalog.term_feeds,
        alternates=alternates(catalog, query, feed_name),
    )


def no_sessions(catalog: Catalog, query: Filter, first: date, last: date) -> list[NoSession]:
    """The dates from `first` to `last` on which a matching series holds no session."""
    return [
        NoSession(entry.event.id, entry.event.data.title, skipped)
        for entry, skipped in catalog.skipped_between(query, first, last)
    ]


def _day_of(item: Occurrence | NoSession) -> date:
    return item.day if isinstance(item, NoSession) else agenda.first_day(item)


def rule_text(catalog: Catalog, data: EventData) -> str | None:
    """An event's rule in words, with the days it skips; None without a rule."""
    recurrence = data.recurrence
    if recurrence is None or recurrence.rule is None:
        return None
    text = recurrence.rule.describe()
    if recurrence.skip is not None:
        names = {key: feed.calendar.name for key, feed in catalog.term_feeds.items()}
        text += ", " + skipping.describe(recurrence.skip, names)
    return text


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
    """An event's page: details, upcoming dates (and the dates between them on which the
    series holds no session), add-to-calendar links, JSON-LD."""
    entry = catalog.events[event_id]
    data = entry.event.data
    today = datetime.combine(catalog.compiled_on, time(), catalog.settings.zone)
    index = catalog.index
    chosen = index.of_event(event_id, today)[:EVENT_PAGE_DATES]
    following = chosen[0] if chosen else None
    # A finished series shows the dates it had (those the index still holds), latest last.
    ended = [] if chosen else index.of_event(event_id, index.start)[-EVENT_PAGE_DATES:]
    add = links.AddLinks.of(data, catalog.identity, catalog.settings.timezone)
    dates: list[Occurrence | NoSession] = list(chosen)
    if chosen:
        last = agenda.first_day(chosen[-1])
        dates += [
            NoSession(event_id, data.title, skipped)
            for skipped in entry.event.schedule.skipped
            if catalog.compiled_on <= skipped.day <= last
        ]
        dates.sort(key=_day_of)
    return TEMPLATES.get_template("event.html").render(
        **_common(catalog),
        entry=entry,
        data=data,
        occurrences=chosen,
        dates=dates,
        rule=rule_text(catalog, data),
        ended=ended,
        google=add.google(following) if following else None,
        outlook_personal=add.outlook(following, "personal") if following else None,
        outlook_work=add.outlook(following, "work") if following else None,
        json_ld=structured_data.json_ld(catalog, event_id, following),
        alternates=alternates(catalog, Filter()),
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
            month.year,
            month.month,
            matching_occurrences(catalog, query, window),
            no_sessions(catalog, query, first, last),
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
