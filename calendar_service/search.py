"""Answer occurrence, event and facet queries from a Catalog, with bounded work."""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from calendar_service import ics
from calendar_service.capacity import ExpansionPool, expansions
from calendar_service.compiling import Catalog
from calendar_service.entries import EventEntry
from calendar_service.expansion import (
    MAX_EXPANDED_OCCURRENCES,
    MAX_EXPANSION_STEPS,
    Job,
    Part,
    estimate,
    unpickled,
)
from calendar_service.expansion import run as run_job
from calendar_service.fields import FIELD
from calendar_service.index import SortKey, sort_key
from calendar_service.model import Occurrence, start_instant
from calendar_service.query import Filter, QueryError
from calendar_service.values import MAX_YEAR, MIN_YEAR

MAX_WINDOW_DAYS = 5 * 366
DEFAULT_WINDOW_DAYS = 365
QUERY_REACH_YEARS = 10
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Window:
    """A range of days, both ends inclusive, in the calendar's zone."""

    first: date
    last: date
    # The request parameters the ends came from, for errors about them (the embed: month).
    first_parameter: str = field(default="from", compare=False)
    last_parameter: str = field(default="to", compare=False)

    def bounds(self, catalog: Catalog) -> tuple[datetime, datetime]:
        zone = catalog.settings.zone
        start = datetime.combine(self.first, time(), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), zone)
        return start, end


def parse_day(name: str, raw: str) -> date:
    # Only YYYY-MM-DD: date.fromisoformat also takes week dates such as 2026-W05-1.
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        raise QueryError(name, f"{name} must be a date YYYY-MM-DD", ["YYYY-MM-DD"])
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise QueryError(name, f"{name} must be a date YYYY-MM-DD", ["YYYY-MM-DD"]) from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise QueryError(name, f"{name} must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


def parse_window(first: str | None, last: str | None, today: date) -> Window:
    """`from` and `to` (inclusive); defaults: today to twelve months ahead; capped."""
    start = parse_day("from", first) if first is not None else today
    end = parse_day("to", last) if last is not None else start + timedelta(days=DEFAULT_WINDOW_DAYS)
    if end < start:
        raise QueryError("to", f"to ({end}) is before from ({start})")
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise QueryError(
            "to", f"the window is longer than {MAX_WINDOW_DAYS} days; ask for a shorter one"
        )
    window = Window(start, end)
    check_range(window, today, "from" if start < query_range(today)[0] else "to")
    return window


def query_range(today: date) -> tuple[date, date]:
    """The days any query may ask about: expanding a series costs time in proportion to
    the distance from its start, so that distance is bounded, not only the window."""
    reach = timedelta(days=QUERY_REACH_YEARS * 366)
    return today - reach, today + reach


def check_range(window: Window, today: date, parameter: str) -> None:
    """Refuse a window that reaches outside the query range."""
    first, last = query_range(today)
    if window.first < first or window.last > last:
        raise QueryError(
            parameter,
            f"{parameter} must keep the window between {first} and {last} "
            f"(up to {QUERY_REACH_YEARS} years either side of today)",
            [f"{first}..{last}"],
        )


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise QueryError("limit", "limit must be a whole number", [f"1-{MAX_LIMIT}"])
    value = int(raw)
    if not 1 <= value <= MAX_LIMIT:
        raise QueryError("limit", f"limit must be between 1 and {MAX_LIMIT}", [f"1-{MAX_LIMIT}"])
    return value


def encode_cursor(key: tuple[Any, ...]) -> str:
    text = json.dumps(list(key), separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, shape: tuple[type, ...]) -> tuple[Any, ...] | None:
    """A cursor is the sort key of the last item served, so pages survive reloads."""
    if raw is None:
        return None
    problem = QueryError("cursor", "cursor is not one this API gave out; start again without it")
    if len(raw) > MAX_CURSOR_LENGTH:
        raise problem
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(value, list) or len(value) != len(shape):
        raise problem
    if not all(isinstance(item, kind) for item, kind in zip(value, shape, strict=True)):
        raise problem
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of matching occurrences."""

    window: Window
    occurrences: list[Occurrence]
    total: int
    next_cursor: str | None


def matching_occurrences(catalog: Catalog, query: Filter, window: Window) -> list[Occurrence]:
    """Occurrences in the window that pass the filter, in order.

    Past events stay findable here (the API, a month's page) however long ago they ended;
    only the feeds drop them, `past_days` after their last date (EventEntry.current).
    """
    verdicts: dict[str, bool] = {}
    events = catalog.events
    chosen = []
    for occurrence in occurrences_in(catalog, query, window):
        verdict = verdicts.get(occurrence.event_id)
        if verdict is None:
            entry = events.get(occurrence.event_id)
            verdict = entry is not None and query.matches(entry.keys)
            verdicts[occurrence.event_id] = verdict
        if verdict and query.matches_status(occurrence.status):
            chosen.append(occurrence)
    return chosen


def needs_expansion(catalog: Catalog, window: Window) -> bool:
    """Whether the window reaches beyond the index (and so into the expansion pool)."""
    return not catalog.index.covers(*window.bounds(catalog))


def occurrences_in(catalog: Catalog, query: Filter, window: Window) -> list[Occurrence]:
    """Occurrences overlapping the window, in order, of at least the events passing `query`.

    From the index where the window lies in it; the rest of the window is expanded in a
    worker process (capacity.py), for the events passing the filter only, within a
    budget of cost (refused with a 422 naming the edge of the window beyond the index).
    Each occurrence comes from one side of the index's edges, by where it starts.
    """
    start, end = window.bounds(catalog)
    index = catalog.index
    if index.covers(start, end):
        return index.between(start, end)
    before: list[Part] = []
    after: list[Part] = []
    crosses = start < index.end and end > index.start
    if start < index.start:
        edge = index.start if crosses else None
        before.append(Part(start, min(end, index.start), starts_before=edge))
    if end > index.end:
        edge = index.end if crosses else None
        after.append(Part(max(start, index.end), end, starts_from=edge))
    inside: list[Occurrence] = []
    if crosses:
        inside = index.between(max(start, index.start), min(end, index.end))
        if before:  # those starting before the index come from the expansion
            zone = catalog.settings.zone
            inside = [o for o in inside if start_instant(o.start, zone) >= index.start]
    found = _expanded(catalog, query, window, (*before, *after))
    early = [occurrence for part in found[: len(before)] for occurrence in part]
    late = [occurrence for part in found[len(before) :] for occurrence in part]
    return [*early, *inside, *late]


def _expanded(
    catalog: Catalog, query: Filter, window: Window, parts: tuple[Part, ...]
) -> list[list[Occurrence]]:
    """Each part's occurrences of the events passing the filter, expanded by a worker."""
    pool = expansions()
    with pool.place():  # first: when the workers are busy, the 503 costs nothing more
        return _expand_in(pool, catalog, query, window, parts)


def _expand_in(
    pool: ExpansionPool,
    catalog: Catalog,
    query: Filter,
    window: Window,
    parts: tuple[Part, ...],
) -> list[list[Occurrence]]:
    """Within a place in the pool: refuse a query over the budget, else expand it there."""
    job = expansion_job(catalog, query, window, parts)
    if job is None:
        return [[] for _ in parts]
    return [unpickled(chunks) for chunks in pool.run(run_job, job)]


def expansion_job(
    catalog: Catalog, query: Filter, window: Window, parts: tuple[Part, ...]
) -> Job | None:
    """What a worker expands for these parts: the series passing the filter that can reach
    them; None when none can. QueryError when the cost is over the budget."""
    entries = [
        entry
        for entry in catalog.matching(query)
        if any(entry.may_occur(part.start, part.end) for part in parts)
    ]
    if not entries:
        return None
    first = parts[0].start.date()
    last = (parts[-1].end - timedelta(microseconds=1)).date()
    cost = estimate(entries, first, last)
    if cost.steps > MAX_EXPANSION_STEPS or cost.occurrences > MAX_EXPANDED_OCCURRENCES:
        index = catalog.index
        indexed = f"{index.start.date()}..{(index.end - timedelta(days=1)).date()}"
        before = parts[0].start < index.start
        parameter = window.first_parameter if before else window.last_parameter
        raise QueryError(
            parameter,
            f"{parameter} reaches beyond the precomputed range ({indexed}), where this query "
            f"needs {cost.series:,} series expanded (about {cost.steps:,} steps, "
            f"{cost.occurrences:,} occurrences; at most {MAX_EXPANSION_STEPS:,} and "
            f"{MAX_EXPANDED_OCCURRENCES:,}): narrow the filter or keep the window in that range",
            [indexed],
        )
    return Job(
        calendar=ics.assemble(catalog.header, catalog.timezone, (e.vevents for e in entries)),
        parts=parts,
        zone=catalog.settings.zone,
        uid_suffix="@" + catalog.identity.uid_domain,
        facts={entry.event.id: catalog.facts[entry.event.id] for entry in entries},
    )


def search(catalog: Catalog, query: Filter, window: Window, limit: int, cursor: str | None) -> Page:
    """A page of occurrences after the cursor."""
    after = decode_cursor(cursor, (float, str, str))
    chosen = matching_occurrences(catalog, query, window)
    zone = catalog.settings.zone

    def key(item: Occurrence) -> SortKey:
        return sort_key(item, zone)

    # Keys of a few occurrences only: the list is in key order already.
    position = bisect_right(chosen, after, key=key) if after is not None else 0
    page = chosen[position : position + limit]
    more = position + limit < len(chosen)
    next_cursor = encode_cursor(key(chosen[position + limit - 1])) if more else None
    return Page(window, page, len(chosen), next_cursor)


def facets(catalog: Catalog, query: Filter, window: Window) -> dict[str, list[dict[str, Any]]]:
    """Counts of events with occurrences in the window, by category, audience, theme, tag."""
    chosen = {o.event_id for o in matching_occurrences(catalog, query, window)}
    entries = [catalog.events[event_id] for event_id in sorted(chosen)]
    vocab = catalog.settings.vocabularies
    counts: dict[str, Counter[str]] = {
        "category": Counter(entry.keys.category for entry in entries),
        "audience": Counter(value for entry in entries for value in entry.keys.audiences),
        "theme": Counter(value for entry in entries for value in entry.keys.themes),
        "tag": Counter(value for entry in entries for value in entry.keys.tags),
    }
    result: dict[str, list[dict[str, Any]]] = {}
    for name, counter in counts.items():
        if FIELD[name].vocabulary:
            result[name] = [
                {"value": key, "label": term.label, "count": counter.get(key, 0)}
                for key, term in vocab.terms(name).items()
            ]
        else:
            result[name] = [
                {"value": key, "label": key, "count": count}
                for key, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))
            ]
    return result


def next_occurrence(catalog: Catalog, event_id: str, today: date) -> Occurrence | None:
    """The event's first occurrence that has not ended, within the index horizon."""
    upcoming = catalog.index.of_event(
        event_id, datetime.combine(today, time(), catalog.settings.zone)
    )
    return upcoming[0] if upcoming else None


def list_events(
    catalog: Catalog, query: Filter, limit: int, cursor: str | None
) -> tuple[list[EventEntry], str | None, int]:
    """Events passing the filter, in id order, a page at a time; past ones too."""
    after = decode_cursor(cursor, (str,))
    chosen = catalog.matching(query)
    ids = [entry.event.id for entry in chosen]
    position = bisect_right(ids, after[0]) if after is not None else 0
    page = chosen[position : position + limit]
    more = position + limit < len(chosen)
    return page, (encode_cursor((ids[position + limit - 1],)) if more else None), len(chosen)
