"""Links people click: subscribe URLs and add-to-calendar links for Google and Outlook."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode

from calendar_service.ics import Identity
from calendar_service.model import EventData, Occurrence
from calendar_service.query import Filter

GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
GOOGLE_SUBSCRIBE = "https://calendar.google.com/calendar/r"
OUTLOOK_COMPOSE = "https://outlook.office.com/calendar/0/deeplink/compose"
OUTLOOK_SUBSCRIBE = "https://outlook.office.com/calendar/0/addfromweb"
DETAILS_LIMIT = 1000  # long query strings are truncated by some browsers and proxies


def feed_url(identity: Identity, query: Filter) -> str:
    """The canonical https URL of a filter's feed."""
    text = query.event_level().query_string()
    return f"{identity.base_url}/calendar.ics" + (f"?{text}" if text else "")


def webcal(url: str) -> str:
    """The same feed as a webcal:// link, which opens the system calendar app."""
    return "webcal://" + url.split("://", 1)[1]


def google_subscribe(url: str) -> str:
    """Google Calendar's "add by URL" link; Google only accepts it for public URLs."""
    return f"{GOOGLE_SUBSCRIBE}?{urlencode({'cid': webcal(url)})}"


def outlook_subscribe(url: str, name: str) -> str:
    """Outlook.com / Microsoft 365 "subscribe from web" link."""
    return f"{OUTLOOK_SUBSCRIBE}?{urlencode({'url': url, 'name': name})}"


def _details(event: EventData, page: str) -> str:
    text = event.summary or event.description
    if len(text) > DETAILS_LIMIT:
        text = text[: DETAILS_LIMIT - 1] + "…"
    return f"{text}\n\n{page}" if text else page


def google_add(occurrence: Occurrence, event: EventData, identity: Identity, zone: str) -> str:
    """Google's event template link for one occurrence."""
    if occurrence.all_day:
        assert isinstance(occurrence.start, date) and isinstance(occurrence.end, date)
        dates = f"{occurrence.start:%Y%m%d}/{occurrence.end:%Y%m%d}"
    else:
        assert isinstance(occurrence.start, datetime) and isinstance(occurrence.end, datetime)
        start = occurrence.start.astimezone(UTC)
        end = occurrence.end.astimezone(UTC)
        dates = f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    params = {
        "action": "TEMPLATE",
        "text": occurrence.title,
        "dates": dates,
        "details": _details(event, identity.event_page(event.id)),
        "ctz": zone,
    }
    if event.location is not None:
        params["location"] = event.location.text
    return f"{GOOGLE_TEMPLATE}?{urlencode(params, quote_via=quote)}"


def outlook_add(occurrence: Occurrence, event: EventData, identity: Identity) -> str:
    """Outlook on the web's compose link for one occurrence."""
    if occurrence.all_day:
        start, end = occurrence.start, occurrence.end
        start_text, end_text = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
    else:
        assert isinstance(occurrence.start, datetime) and isinstance(occurrence.end, datetime)
        start_text = occurrence.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        end_text = occurrence.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": occurrence.title,
        "startdt": start_text,
        "enddt": end_text,
        "allday": "true" if occurrence.all_day else "false",
        "body": _details(event, identity.event_page(event.id)),
    }
    if event.location is not None:
        params["location"] = event.location.text
    return f"{OUTLOOK_COMPOSE}?{urlencode(params, quote_via=quote)}"


def last_day(occurrence: Occurrence) -> date | None:
    """For an all-day occurrence, its last day (the exclusive end minus one)."""
    if not occurrence.all_day:
        return None
    assert not isinstance(occurrence.end, datetime)
    return occurrence.end - timedelta(days=1)
