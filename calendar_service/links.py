"""Links people click: subscribe URLs and add-to-calendar links for Google and Outlook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from urllib.parse import quote, urlencode

from calendar_service.identity import Identity
from calendar_service.model import EventData, Occurrence

# None of these forms is documented by Google or Microsoft; they are the ones reported working.
#
# Google, subscribe: `calendar/r?cid=` with the feed as webcal://. Google answers an https://
# cid with "This email address isn't associated with an active Google Calendar account",
# and webcal:// works for a feed served over https (Google fetches it from its own servers,
# so the feed must be public): https://github.com/calagator/calagator/issues/556,
# https://github.com/add2cal/add-to-calendar-button/issues/252 (the library then rewrote
# https to webcal for Google), https://github.com/JEvents/JEvents/pull/329.
# Google, one event: `calendar/render?action=TEMPLATE`,
# https://github.com/InteractionDesignFoundation/add-event-to-calendar-docs (services/google.md).
GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
GOOGLE_SUBSCRIBE = "https://calendar.google.com/calendar/r"
# Outlook on the web lives on two hosts: outlook.live.com for personal Outlook.com (Hotmail,
# Live) accounts, outlook.office.com for work or school (Microsoft 365) accounts; each
# refuses the other kind. Subscribe: `calendar/0/addfromweb?url=&name=` on either host,
# as add2cal/add-to-calendar-button builds it (src/generators/outlook.ts, "outlookcom" and
# "ms365"); https://github.com/commonpike/add-to-calendar-buttons/pull/17 ("office365 ...
# doesn't work for basic accounts on live.com"). One event: `calendar/0/deeplink/compose`
# with startdt/enddt in UTC (a date alone for all-day), services/outlook-web.md in
# InteractionDesignFoundation/add-event-to-calendar-docs and its pull request 10.
OutlookAccount = Literal["personal", "work"]
OUTLOOK_HOSTS: dict[OutlookAccount, str] = {
    "personal": "https://outlook.live.com",
    "work": "https://outlook.office.com",
}
OUTLOOK_SUBSCRIBE = "/calendar/0/addfromweb"
OUTLOOK_COMPOSE = "/calendar/0/deeplink/compose"
DETAILS_LIMIT = 1000  # long query strings are truncated by some browsers and proxies


def webcal(url: str) -> str:
    """The same feed as a webcal:// link, which opens the system calendar app."""
    return "webcal://" + url.split("://", 1)[1]


def google_subscribe(url: str) -> str:
    """Google Calendar's "add by URL" link; Google only accepts it for public URLs."""
    return f"{GOOGLE_SUBSCRIBE}?{urlencode({'cid': webcal(url)})}"


def outlook_subscribe(url: str, name: str, account: OutlookAccount = "work") -> str:
    """Outlook on the web's "subscribe from web" link, for one kind of account."""
    return f"{OUTLOOK_HOSTS[account]}{OUTLOOK_SUBSCRIBE}?{urlencode({'url': url, 'name': name})}"


@dataclass(frozen=True, slots=True)
class SubscribeLinks:
    """Every way to subscribe to one feed, as the pages offer them."""

    feed: str  # the https (or http) address itself, for copying
    webcal: str
    google: str
    outlook_personal: str
    outlook_work: str

    @classmethod
    def of(cls, feed: str, name: str) -> SubscribeLinks:
        """The links for the feed at absolute URL `feed`, named `name` in Outlook."""
        return cls(
            feed=feed,
            webcal=webcal(feed),
            google=google_subscribe(feed),
            outlook_personal=outlook_subscribe(feed, name, "personal"),
            outlook_work=outlook_subscribe(feed, name, "work"),
        )


def _details(event: EventData, page: str) -> str:
    text = event.summary or event.description
    if len(text) > DETAILS_LIMIT:
        text = text[: DETAILS_LIMIT - 1] + "…"
    return f"{text}\n\n{page}" if text else page


def _q(text: str) -> str:
    return quote(text, safe="")


def _day_stamps(day: date) -> tuple[str, str]:
    """An all-day start or end as Google's `dates` and Outlook's `startdt`/`enddt` give it."""
    # isoformat, not strftime: the same text, several times faster (from year 1000 on, and
    # every occurrence lies within search.QUERY_REACH_YEARS of today).
    text = day.isoformat()
    return text.replace("-", ""), text


def _instant_stamps(moment: datetime) -> tuple[str, str]:
    """A timed start or end, in UTC to the second, as Google and Outlook give it (Outlook's
    quoted): building them as their quoted text was half the cost of a named feed's JSON."""
    text = moment.astimezone(UTC).isoformat(timespec="seconds")[:19]
    return text.replace("-", "").replace(":", "") + "Z", text.replace(":", "%3A") + "Z"


def _stamps(occurrence: Occurrence) -> tuple[tuple[str, str], tuple[str, str]]:
    """The occurrence's start and end: each (Google's form, Outlook's quoted form)."""
    start, end = occurrence.start, occurrence.end
    if occurrence.all_day:
        first = start.date() if isinstance(start, datetime) else start
        last = end.date() if isinstance(end, datetime) else end
        return _day_stamps(first), _day_stamps(last)
    assert isinstance(start, datetime) and isinstance(end, datetime)
    return _instant_stamps(start), _instant_stamps(end)


@dataclass(frozen=True, slots=True)
class AddLinks:
    """An event's add-to-calendar links: what every occurrence shares is quoted once.

    Quoting the same title and details for each of a page's occurrences was most of the
    cost of an API request.
    """

    title: str
    quoted_title: str
    google_rest: str
    outlook_rest: str

    @classmethod
    def of(cls, event: EventData, identity: Identity, zone: str) -> AddLinks:
        details = _q(_details(event, identity.event_page(event.id)))
        location = f"&location={_q(event.location.text)}" if event.location is not None else ""
        return cls(
            title=event.title,
            quoted_title=_q(event.title),
            google_rest=f"&details={details}&ctz={_q(zone)}{location}",
            outlook_rest=f"&body={details}{location}",
        )

    def _title(self, occurrence: Occurrence) -> str:
        same = occurrence.title == self.title
        return self.quoted_title if same else _q(occurrence.title)

    def google(self, occurrence: Occurrence) -> str:
        """Google's event template link for one occurrence."""
        return self._google(self._title(occurrence), *_stamps(occurrence))

    def outlook(self, occurrence: Occurrence, account: OutlookAccount = "work") -> str:
        """Outlook on the web's compose link for one occurrence, for one kind of account.

        The API's `links.outlook` is the work-or-school one, as it has always been.
        """
        title = self._title(occurrence)
        return self._outlook(account, title, occurrence.all_day, *_stamps(occurrence))

    def both(self, occurrence: Occurrence) -> tuple[str, str]:
        """`google(occurrence)` and `outlook(occurrence)`, the title and times made once."""
        title = self._title(occurrence)
        start, end = _stamps(occurrence)
        google = self._google(title, start, end)
        return google, self._outlook("work", title, occurrence.all_day, start, end)

    def _google(self, title: str, start: tuple[str, str], end: tuple[str, str]) -> str:
        # `dates` is start/end, its slash quoted.
        return (
            f"{GOOGLE_TEMPLATE}?action=TEMPLATE&text={title}"
            f"&dates={start[0]}%2F{end[0]}{self.google_rest}"
        )

    def _outlook(
        self,
        account: OutlookAccount,
        title: str,
        all_day: bool,
        start: tuple[str, str],
        end: tuple[str, str],
    ) -> str:
        return (
            f"{OUTLOOK_HOSTS[account]}{OUTLOOK_COMPOSE}"
            "?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent"
            f"&subject={title}&startdt={start[1]}&enddt={end[1]}"
            f"&allday={'true' if all_day else 'false'}{self.outlook_rest}"
        )
