"""Every URL the service publishes, built in one place, and the base they all start with.

Each method gives a path relative to the site ("/…"); only `absolute` adds the base URL.
Call sites choose on purpose: absolute in ICS, JSON, JSON-LD, subscribe links, the widget's
outward links and the embed snippet (they are read away from the site); relative for
navigation inside the site, month paging, theme.css and the export's list of URLs.

The base comes from configuration, else from the address `serve` actually listens on
(`choose_base`); never from a request's Host header, which any client can set and which
would end up in responses cached for everyone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from calendar_service.errors import CalendarServiceError

if TYPE_CHECKING:
    from calendar_service.query import Filter

FeedSuffix = Literal[".ics", ".json", ".rss", ".atom", "/changes.atom", "/subscribe", "/embed"]
Syndication = Literal["rss", "atom"]
# Listening on every interface names no address a client can use: links then name this
# machine's loopback address, which works in a browser on the same machine (README).
LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class BaseUrlMissing(CalendarServiceError):
    """No base URL is configured and there is no served address to fall back on."""


def served_url(host: str, port: int) -> str:
    """The base URL of `http://host:port` as a client reaches it (the real, bound port).

    An unspecified address (0.0.0.0, ::) becomes the loopback address of its family;
    an IPv6 address is bracketed.
    """
    host = LOOPBACK_FOR.get(host, host)
    try:
        bracketed = ipaddress.ip_address(host).version == 6
    except ValueError:  # a name, such as localhost
        bracketed = False
    return f"http://[{host}]:{port}" if bracketed else f"http://{host}:{port}"


def choose_base(configured: str | None, calendar_yaml: str | None, served: str | None) -> str:
    """The base of every absolute link, without a trailing slash.

    `--base-url` or `CALENDAR_BASE_URL` (`configured`) wins over `base_url` in
    calendar.yaml, which wins over the address served. BaseUrlMissing when none is given
    (the static export has no served address).
    """
    base = configured or calendar_yaml or served
    if not base:
        raise BaseUrlMissing(
            "no base URL: give --base-url, CALENDAR_BASE_URL or base_url in calendar.yaml "
            "(the public address, such as https://calendar.example.org)"
        )
    return base.rstrip("/")


def _query(pairs: Sequence[tuple[str, str]]) -> str:
    """`?…` for some query parameters, or the empty string."""
    return "?" + urlencode(pairs) if pairs else ""


@dataclass(frozen=True, slots=True)
class Urls:
    """The URL builder of one calendar; ids and feed names are slugs, so need no quoting."""

    base_url: str  # no trailing slash

    def absolute(self, path: str) -> str:
        """A path from this class as an absolute URL under the base."""
        return self.base_url + path

    def home(self, query: Filter | None = None, month: date | None = None) -> str:
        """The home page, with the whole filter (status too); given a month, that month's."""
        pairs = list(query.items()) if query is not None else []
        return "/" + _query([*pairs, ("month", f"{month:%Y-%m}")] if month else pairs)

    def subscribe(self, query: Filter) -> str:
        """The subscribe page of the filter's event-level part."""
        return "/subscribe" + _query(query.event_level().items())

    def calendar(self, query: Filter) -> str:
        """The ICS feed of the filter's event-level part (a feed carries whole series)."""
        return "/calendar.ics" + _query(query.event_level().items())

    def syndication(self, query: Filter, kind: Syndication) -> str:
        """The RSS or Atom feed of the filter's event-level part: its upcoming dates."""
        return f"/calendar.{kind}" + _query(query.event_level().items())

    def changes(self) -> str:
        """What changed, as Atom."""
        return "/changes.atom"

    def api_changes(self) -> str:
        """What changed, as paginated JSON."""
        return "/api/changes"

    def named_feed(self, name: str, suffix: FeedSuffix) -> str:
        """A named feed from calendar.yaml: its ICS, JSON, RSS, Atom, changes, subscribe
        page or embed."""
        return f"/feeds/{name}{suffix}"

    def term_feed(self, calendar_id: str) -> str:
        """A term calendar's school year as ICS: terms, half terms and closure days."""
        return f"/feeds/terms/{calendar_id}.ics"

    def event(self, event_id: str) -> str:
        """An event's page."""
        return f"/events/{event_id}"

    def event_ics(self, event_id: str) -> str:
        """An event's own ICS file, every date of the series."""
        return f"/events/{event_id}.ics"

    def embed(self, query: Filter, options: Sequence[tuple[str, str]] = ()) -> str:
        """The widget for the whole filter, with display options after it."""
        return "/embed" + _query([*query.items(), *options])

    def embed_script(self) -> str:
        """The script a site pastes to show the widget."""
        return "/embed.js"

    def digest(self, query: Filter, first: date, last: date | None = None, suffix: str = "") -> str:
        """The digest of the whole filter: a month (`last` None) or the days first to last.

        `suffix` is the form's (digest.DigestFormat.suffix): "" for email HTML.
        """
        period = [("month", f"{first:%Y-%m}")] if last is None else [
            ("from", first.isoformat()), ("to", last.isoformat())
        ]  # fmt: skip
        return f"/digest{suffix}" + _query([*query.items(), *period])

    def feed_digest(self, name: str, month: date, suffix: str = "") -> str:
        """A named feed's digest of one month, a plain path: the static export has it."""
        return f"/feeds/{name}/digest/{month:%Y-%m}{suffix}"

    def theme_css(self, accent: str) -> str:
        """The widget's accent colour stylesheet (six hex digits)."""
        return f"/theme.css?accent={accent}"
