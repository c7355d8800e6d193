"""JSON API routes: occurrences, events and facets, documented for OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from calendar_service import capacity
from calendar_service.compiling import Catalog
from calendar_service.query import EVENT_FIELDS, single_value
from calendar_service.search import (
    Window,
    facets,
    list_events,
    needs_expansion,
    parse_limit,
    parse_window,
    search,
)
from calendar_service.web.feeds import unknown_event
from calendar_service.web.parameters import (
    documented,
    feed_filter_parameters,
    filter_parameters,
    page_parameters,
    window_parameters,
)
from calendar_service.web.responses import (
    Rendered,
    json_bytes,
    read_filter,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.service import Published, service_of, snapshot_of
from calendar_service.web.shapes import event_json, occurrence_json

# --- Response models --------------------------------------------------------------------------


class Term(BaseModel):
    value: str
    label: str


class Links(BaseModel):
    event_page: str
    ics: str
    google: str
    outlook: str


class SkippedOut(BaseModel):
    date: str = Field(description="The day (YYYY-MM-DD) with no session")
    start: str = Field(description="The start the rule gave, as occurrences write starts")
    reason: str = Field(description='Why: "February half term", "Easter Monday"')


class EventFields(BaseModel):
    """What an event and each of its occurrences share."""

    event_id: str
    title: str
    summary: str
    description: str
    category: Term
    audiences: list[Term]
    themes: list[Term]
    tags: list[str]
    organiser: dict[str, Any] | None
    location: dict[str, Any] | None
    url: str | None
    source: str | None = Field(
        description="The organiser's page the dates were checked against; for an occurrence, "
        "its own year's page where the data gives one"
    )
    checked: str | None = Field(description="The day (YYYY-MM-DD) they were last checked there")
    cost: str | None
    event_page: str
    event_ics: str
    skipped: list[SkippedOut] = Field(
        description="Dates the series' rule gives on which no session is held, with why; "
        "its occurrences are the sessions held"
    )


class OccurrenceOut(EventFields):
    id: str
    start: str
    end: str
    last_day: str | None
    all_day: bool
    status: str = Field(description="confirmed, provisional (not yet announced) or cancelled")
    note: str | None = Field(
        description="This occurrence's own text: a year's theme, or why it is provisional"
    )
    links: Links


class OccurrencePage(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    total: int
    count: int
    next_cursor: str | None
    occurrences: list[OccurrenceOut]


class RecurrenceOut(BaseModel):
    rule: str | None
    rrule: str | None
    extra_dates: list[str]
    excluded_dates: list[str]
    skip: dict[str, Any] | None = Field(
        description="The days the rule skips: bank_holidays, school_holidays (a term calendar)"
    )
    overrides: list[dict[str, Any]]


class EventOut(EventFields):
    id: str
    status: str
    all_day: bool
    start: str
    end: str
    recurrence: RecurrenceOut | None
    next_occurrence: OccurrenceOut | None
    sequence: int
    last_modified: str


class EventPage(BaseModel):
    total: int
    count: int
    next_cursor: str | None
    events: list[EventOut]


class FacetCount(BaseModel):
    value: str
    label: str
    count: int


class Facets(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    category: list[FacetCount]
    audience: list[FacetCount]
    theme: list[FacetCount]
    tag: list[FacetCount]


class ErrorBody(BaseModel):
    status: int
    message: str
    parameter: str | None = None
    allowed: list[str] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


JSON_TYPE = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    301: {"description": "The same query in canonical form (parameter order, sorted values)"},
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "A parameter was refused; the body says which"},
    503: {
        "model": ErrorOut,
        "description": "Busy with other queries beyond the precomputed range; see Retry-After",
    },
}


def _single(request: Request, name: str) -> str | None:
    return single_value({name: request.query_params.getlist(name)}, name)


def _given(request: Request, *names: str) -> list[tuple[str, str]]:
    """The non-filter parameters present, in this fixed order (numbers normalised)."""
    pairs = []
    for name in names:
        value = _single(request, name)
        if value is not None:
            pairs.append((name, str(int(value)) if name == "limit" else value))
    return pairs


def refuse_if_busy(catalog: Catalog, window: Window) -> None:
    """A 503 now when the window needs expansion and the pool has no room for it.

    Only a shortcut: in a burst, refusals then cost no thread (each would take its turn at
    the interpreter with the requests being answered); the pool's own check is the rule.
    """
    if needs_expansion(catalog, window):
        pool = capacity.expansions()
        if not pool.has_room():
            raise capacity.ExpansionBusy(pool.retry_after())


def cached_json(
    request: Request, snapshot: Published, body: Callable[[], Any], *, again: bool = True
) -> Response:
    """JSON rendered once per snapshot and canonical URL, with ETag, 304 and gzip.

    Called once every check of the request has passed. `again`: whether the same URL gets
    the same answer while the snapshot is served (see `answer_key`).
    """
    last_modified = snapshot.everything.last_modified
    rendered = snapshot.rendered(
        _api_key(request, again),
        lambda: Rendered.of(json_bytes(body()), JSON_TYPE, last_modified),
    )
    return rendered_response(request, rendered, max_age=service_of(request).settings.page_max_age)


async def cached_json_in_thread(
    request: Request, snapshot: Published, body: Callable[[], Any], *, again: bool = True
) -> Response:
    """`cached_json`, built in a worker thread on a miss; a hit is answered on the loop.

    A hop to a worker thread and back costs more than answering from the cache does, and
    a hit has no slow build to keep off the loop.
    """
    rendered = snapshot.cache.get(_api_key(request, again))
    if rendered is None:
        return await run_in_threadpool(cached_json, request, snapshot, body, again=again)
    return rendered_response(request, rendered, max_age=service_of(request).settings.page_max_age)


def answer_key(path: str, query_string: bytes) -> tuple[str, str, bytes]:
    """The cache key of the JSON answered to a URL that gets it again, unchecked, while the
    snapshot is served: its checks depend on the URL and the snapshot only. The lean path
    (web/precomputed.py) answers a GET or HEAD of such a URL from the cache."""
    return ("api", path, query_string)


def _api_key(request: Request, again: bool) -> tuple[str, str, bytes]:
    """The cache key of a request's JSON: `answer_key` where the URL gets it `again`; else
    a key the lean path never asks for (a window beyond the index: the answer waits on the
    expansion pool's room, `refuse_if_busy`)."""
    query_string = request.scope.get("query_string", b"")
    key = answer_key(request.scope["path"], query_string)
    return key if again else ("api-expanding", *key[1:])


router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)


@router.get(
    "/occurrences",
    response_model=OccurrencePage,
    summary="Occurrences (recurrences expanded) in a window, filtered and paginated",
    openapi_extra=documented(filter_parameters, window_parameters, page_parameters),
)
async def occurrences(request: Request) -> Response:
    # Async: the parameters are read here, on the event loop (they cost microseconds),
    # so that a query the busy expansion pool must refuse is refused without a thread.
    snapshot = snapshot_of(request)
    catalog = snapshot.catalog
    query = read_filter(request, catalog, "from", "to", "limit", "cursor")
    window = parse_window(_single(request, "from"), _single(request, "to"), catalog.compiled_on)
    limit = parse_limit(_single(request, "limit"))
    require_canonical(request, [*query.items(), *_given(request, "from", "to", "limit", "cursor")])
    cursor = _single(request, "cursor")
    refuse_if_busy(catalog, window)
    again = not needs_expansion(catalog, window)

    def body() -> dict[str, Any]:
        page = search(catalog, query, window, limit, cursor)
        return {
            "from": window.first.isoformat(),
            "to": window.last.isoformat(),
            "total": page.total,
            "count": len(page.occurrences),
            "next_cursor": page.next_cursor,
            "occurrences": [
                occurrence_json(o, catalog, snapshot.derived) for o in page.occurrences
            ],
        }

    return await cached_json_in_thread(request, snapshot, body, again=again)


@router.get(
    "/events",
    response_model=EventPage,
    summary="Events (series) with their rules in words and their next occurrence",
    openapi_extra=documented(feed_filter_parameters, page_parameters),
)
def events(request: Request) -> Response:
    snapshot = snapshot_of(request)
    catalog = snapshot.catalog
    # Status belongs to occurrences (an override may cancel one): not a filter here.
    query = read_filter(request, catalog, "limit", "cursor", fields=EVENT_FIELDS)
    limit = parse_limit(_single(request, "limit"))
    require_canonical(request, [*query.items(), *_given(request, "limit", "cursor")])
    cursor = _single(request, "cursor")

    def body() -> dict[str, Any]:
        page, next_cursor, total = list_events(catalog, query, limit, cursor)
        today, memo = catalog.compiled_on, snapshot.derived
        return {
            "total": total,
            "count": len(page),
            "next_cursor": next_cursor,
            "events": [event_json(entry, catalog, today, memo) for entry in page],
        }

    return cached_json(request, snapshot, body)


EventIdPath = Annotated[
    str, Path(description="The event's id, as in `event_id`.", examples=["time-to-talk-day"])
]


@router.get("/events/{event_id}", response_model=EventOut, summary="One event")
def event(request: Request, event_id: EventIdPath) -> Response:
    snapshot = snapshot_of(request)
    catalog = snapshot.catalog
    refuse_unknown(request, ())
    entry = catalog.events.get(event_id)
    if entry is None:
        raise unknown_event(event_id)
    return cached_json(
        request,
        snapshot,
        lambda: event_json(entry, catalog, catalog.compiled_on, snapshot.derived),
    )


@router.get(
    "/facets",
    response_model=Facets,
    summary="Counts of events by category, audience, theme and tag for a filter",
    openapi_extra=documented(filter_parameters, window_parameters),
)
async def facet_counts(request: Request) -> Response:
    snapshot = snapshot_of(request)  # async for the reason `occurrences` is
    catalog = snapshot.catalog
    query = read_filter(request, catalog, "from", "to")
    window = parse_window(_single(request, "from"), _single(request, "to"), catalog.compiled_on)
    require_canonical(request, [*query.items(), *_given(request, "from", "to")])
    refuse_if_busy(catalog, window)
    again = not needs_expansion(catalog, window)

    def body() -> dict[str, Any]:
        counts = facets(catalog, query, window)
        return {"from": window.first.isoformat(), "to": window.last.isoformat(), **counts}

    return await cached_json_in_thread(request, snapshot, body, again=again)
