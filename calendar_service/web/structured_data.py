"""schema.org Event data (JSON-LD) for an event's page, so search engines read its dates."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from calendar_service.compiling import Catalog
from calendar_service.model import Occurrence
from calendar_service.web.shapes import event_json, uncached

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
