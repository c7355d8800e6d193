"""The JSON shapes of events and occurrences, as the API, named feeds and pages publish them.

Every URL in them is absolute (they are read away from the site) and comes from `Urls`;
the RRULE is the feed's own (`ics.rrule_text`). What an event's occurrences share is
computed once per snapshot through a `Memo` the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson

from calendar_service import ics, links
from calendar_service.compiling import Catalog
from calendar_service.entries import EventEntry
from calendar_service.model import Occurrence
from calendar_service.search import next_occurrence

T = TypeVar("T")


class Memo(Protocol):
    """A per-snapshot store: `build()`'s value under `key`, computed once (or a few times)."""

    def __call__(self, key: Hashable, build: Callable[[], T]) -> T: ...


def uncached(key: Hashable, build: Callable[[], T]) -> T:
    """A Memo that keeps nothing: for a caller that renders once and keeps the result."""
    return build()


def _iso(value: date | datetime) -> str:
    return value.isoformat()


def _zoned(value: date | datetime, catalog: Catalog) -> date | datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=catalog.settings.zone)
    return value


def _terms(keys: Iterable[str], vocabulary: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"value": key, "label": vocabulary[key].label} for key in keys if key in vocabulary]


def _all_day_last_day(occurrence: Occurrence) -> date | None:
    """For an all-day occurrence, its last day (the exclusive end minus one); else None."""
    if not occurrence.all_day:
        return None
    assert not isinstance(occurrence.end, datetime)
    return occurrence.end - timedelta(days=1)


def event_fields(entry: EventEntry, catalog: Catalog) -> dict[str, Any]:
    """The fields of an event that every occurrence shares."""
    data = entry.event.data
    vocab = catalog.settings.vocabularies
    urls = catalog.identity.urls
    return {
        "event_id": data.id,
        "summary": data.summary,
        "description": data.description,
        "category": _terms([data.category], vocab.categories)[0],
        "audiences": _terms(data.audiences, vocab.audiences),
        "themes": _terms(data.themes, vocab.themes),
        "tags": list(data.tags),
        "organiser": data.organiser.model_dump(mode="json") if data.organiser else None,
        "location": (
            {**data.location.model_dump(mode="json"), "text": data.location.text}
            if data.location
            else None
        ),
        "url": data.url,
        "source": data.source,
        "checked": data.checked.isoformat() if data.checked else None,
        "cost": data.cost,
        "event_page": urls.absolute(urls.event(data.id)),
        "event_ics": urls.absolute(urls.event_ics(data.id)),
        # Dates the rule gives on which no session is held (its occurrences are the held
        # ones), so that a client can say "no session: February half term".
        "skipped": [
            {
                "date": item.day.isoformat(),
                "start": _iso(_zoned(item.start, catalog)),
                "reason": item.reason,
            }
            for item in entry.event.schedule.skipped
        ],
    }


def _shared(catalog: Catalog, event_id: str, memo: Memo) -> tuple[dict[str, Any], links.AddLinks]:
    """An event's JSON fields and link parts, computed once per snapshot."""

    def build() -> tuple[dict[str, Any], links.AddLinks]:
        entry = catalog.events[event_id]
        add = links.AddLinks.of(entry.event.data, catalog.identity, catalog.settings.timezone)
        return event_fields(entry, catalog), add

    return memo(("occurrence", event_id), build)


def occurrence_id(occurrence: Occurrence) -> str:
    """An occurrence's `id` in its JSON: its event's id and its key, unique in the catalog."""
    return f"{occurrence.event_id}/{occurrence.key}"


def occurrence_json(occurrence: Occurrence, catalog: Catalog, memo: Memo) -> dict[str, Any]:
    """One occurrence with its event's fields and add-to-calendar links (`memo`: the
    snapshot's store of what an event's occurrences share, `Published.derived`)."""
    fields, add = _shared(catalog, occurrence.event_id, memo)
    last_day = _all_day_last_day(occurrence)
    google, outlook = add.both(occurrence)
    return {
        "id": occurrence_id(occurrence),
        "title": occurrence.title,
        **fields,
        "start": occurrence.start.isoformat(),
        "end": occurrence.end.isoformat(),
        "last_day": last_day.isoformat() if last_day is not None else None,
        "all_day": occurrence.all_day,
        "status": occurrence.status.value,
        "note": occurrence.note,
        # Where this date was checked: the override's (that year's page), else the event's.
        "source": occurrence.source or fields["source"],
        "checked": occurrence.checked.isoformat() if occurrence.checked else fields["checked"],
        "links": {
            "event_page": fields["event_page"],
            "ics": fields["event_ics"],
            "google": google,
            "outlook": outlook,
        },
    }


class OccurrenceFragments:
    """Occurrences' JSON, each rendered once and embedded as those bytes in every document
    that includes it: an export's named feeds share most occurrences with the whole feed.

    It keeps all it rendered (the whole feed's are 64 MB at 10,000 events), so it is made
    for one export, not kept with a snapshot.
    """

    def __init__(self, catalog: Catalog, memo: Memo) -> None:
        self._catalog = catalog
        self._memo = memo
        self._made: dict[Occurrence, orjson.Fragment] = {}

    def __contains__(self, occurrence: Occurrence) -> bool:
        return occurrence in self._made

    def __call__(self, occurrence: Occurrence) -> orjson.Fragment:
        """`occurrence_json(occurrence)` as orjson writes it, for orjson to embed."""
        made = self._made.get(occurrence)
        if made is None:
            shape = occurrence_json(occurrence, self._catalog, self._memo)
            made = self._made[occurrence] = orjson.Fragment(orjson.dumps(shape))
        return made

    def adopt(self, made: Mapping[str, bytes], occurrences: Iterable[Occurrence]) -> None:
        """Take these occurrences' JSON from `made` (by `occurrence_id`) where it holds them,
        instead of rendering them: for the caller to vouch that those bytes are what
        `occurrence_json` gives now (the export: the previous version's, same inputs)."""
        for occurrence in occurrences:
            if occurrence not in self._made:
                found = made.get(occurrence_id(occurrence))
                if found is not None:
                    self._made[occurrence] = orjson.Fragment(found)


def event_json(entry: EventEntry, catalog: Catalog, today: date, memo: Memo) -> dict[str, Any]:
    """An event as the API shows it: its fields, rule in words and as RRULE, next occurrence.

    The RRULE is the one the event's ICS carries, UNTIL in UTC for a timed series.
    """
    data = entry.event.data
    recurrence = data.recurrence
    following = next_occurrence(catalog, data.id, today)
    return {
        "id": data.id,
        "title": data.title,
        **event_fields(entry, catalog),
        "status": data.status.value,
        "all_day": data.all_day,
        "start": _iso(_zoned(data.start, catalog)),
        "end": _iso(_zoned(data.start + data.duration, catalog)),
        "recurrence": None
        if recurrence is None
        else {
            "rule": recurrence.rule.describe() if recurrence.rule else None,
            "rrule": ics.rrule_text(entry.event.timing, catalog.settings.zone),
            "extra_dates": [_iso(value) for value in recurrence.extra_dates],
            "excluded_dates": [_iso(value) for value in recurrence.excluded_dates],
            "skip": recurrence.skip.model_dump(mode="json") if recurrence.skip else None,
            "overrides": [o.model_dump(mode="json", exclude_none=True) for o in data.overrides],
        },
        "next_occurrence": None if following is None else occurrence_json(following, catalog, memo),
        "sequence": entry.event.sequence,
        "last_modified": entry.event.modified.isoformat(),
    }
