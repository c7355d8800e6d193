"""Query parameters as OpenAPI documents them; `calendar_service.query` parses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query

from calendar_service.search import MAX_LIMIT, MAX_WINDOW_DAYS


def feed_filter_parameters(
    category: Annotated[
        list[str] | None,
        Query(description="Category key; repeat for OR.", examples=["awareness-day"]),
    ] = None,
    audience: Annotated[
        list[str] | None,
        Query(description="Audience key; repeat for OR.", examples=["schools"]),
    ] = None,
    theme: Annotated[
        list[str] | None,
        Query(description="Theme key; repeat for OR.", examples=["mental-health-wellbeing"]),
    ] = None,
    tag: Annotated[
        list[str] | None, Query(description="Free tag; repeat for OR.", examples=["kindness"])
    ] = None,
    q: Annotated[
        str | None,
        Query(
            description="Text search over title, summary, description, tags and organiser; "
            "case- and accent-insensitive, every word must match.",
            examples=["mental health"],
            max_length=200,
        ),
    ] = None,
    online: Annotated[
        str | None, Query(description="Only online (true) or in-person (false) events.")
    ] = None,
) -> None:
    """Event filters, shared by every output: OR within a field, AND across fields."""


def filter_parameters(
    events: Annotated[None, Depends(feed_filter_parameters)] = None,
    status: Annotated[
        list[str] | None,
        Query(
            description="Occurrence status; repeat for OR.",
            examples=["confirmed"],
        ),
    ] = None,
) -> None:
    """Event filters and, for occurrences, their status."""


def window_parameters(
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description="First day (YYYY-MM-DD), default today.",
            examples=["2026-02-01"],
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(
            description=f"Last day, inclusive (YYYY-MM-DD); default a year after `from`; "
            f"at most {MAX_WINDOW_DAYS} days after it.",
            examples=["2026-02-28"],
        ),
    ] = None,
) -> None:
    """The window of days to list."""


def page_parameters(
    limit: Annotated[
        str | None,
        Query(description=f"Items per page, 1-{MAX_LIMIT}, default 100.", examples=["50"]),
    ] = None,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` from the previous page.")
    ] = None,
) -> None:
    """Cursor pagination."""


def documented(*dependencies: Callable[..., None]) -> dict[str, Any]:
    """OpenAPI parameters of these dependencies, for a route's `openapi_extra`.

    Routes read and check their parameters themselves (one parser for every output);
    declaring the dependencies on the route would have FastAPI validate them again on
    each request, which took two thirds of a cached API answer.
    """
    probe = FastAPI()
    probe.add_api_route("/probe", _nothing, dependencies=[Depends(d) for d in dependencies])
    operation = probe.openapi()["paths"]["/probe"]["get"]
    return {"parameters": operation.get("parameters", [])}


def _nothing() -> None:
    """The probe route's endpoint."""
