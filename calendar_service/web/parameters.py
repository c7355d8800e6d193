"""Query parameters as OpenAPI documents them, generated from the tables that define them.

The filter fields come from `calendar_service.fields`; the window and the page from the
small tables below. Routes read and check their parameters themselves (one parser for every
output, `calendar_service.query`): declaring them as FastAPI dependencies would have FastAPI
validate them again on each request, which took two thirds of a cached API answer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calendar_service.fields import FIELDS, FieldKind, FilterField
from calendar_service.query import MAX_PARAMETER_LENGTH
from calendar_service.search import MAX_LIMIT, MAX_WINDOW_DAYS

Parameter = dict[str, Any]  # one OpenAPI Parameter Object


@dataclass(frozen=True, slots=True)
class Documented:
    """A query parameter as OpenAPI shows it; every one is optional."""

    name: str
    description: str
    example: str = ""  # "" for none
    repeatable: bool = False
    max_length: int | None = None

    def openapi(self) -> Parameter:
        """The Parameter Object, keyed and ordered as FastAPI writes it."""
        value: dict[str, Any] = {"type": "string"}
        if self.repeatable:
            value = {"type": "array", "items": {"type": "string"}}
        elif self.max_length is not None:
            value["maxLength"] = self.max_length
        schema: dict[str, Any] = {"anyOf": [value, {"type": "null"}]}
        schema["description"] = self.description
        if self.example:
            schema["examples"] = [self.example]
        schema["title"] = self.name.replace("_", " ").title()
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": self.description,
        }


def _of_field(field: FilterField) -> Parameter:
    # Every value is refused over MAX_PARAMETER_LENGTH; only free text is likely to reach it.
    length = MAX_PARAMETER_LENGTH if field.kind is FieldKind.TEXT else None
    return Documented(
        field.name, field.description, field.example, field.repeatable, length
    ).openapi()


# Event filters, shared by every output: OR within a field, AND across fields.
feed_filter_parameters: list[Parameter] = [
    _of_field(field) for field in FIELDS if field.event_level
]
# Event filters and, for occurrences, their status; the occurrence-level fields come first,
# as the API has always listed them.
filter_parameters: list[Parameter] = [
    *(_of_field(field) for field in FIELDS if not field.event_level),
    *feed_filter_parameters,
]
# The window of days to list.
window_parameters: list[Parameter] = [
    Documented("from", "First day (YYYY-MM-DD), default today.", "2026-02-01").openapi(),
    Documented(
        "to",
        f"Last day, inclusive (YYYY-MM-DD); default a year after `from`; "
        f"at most {MAX_WINDOW_DAYS} days after it.",
        "2026-02-28",
    ).openapi(),
]
# The days of changes to list (/api/changes).
change_window_parameters: list[Parameter] = [
    Documented(
        "from", "First day of changes (YYYY-MM-DD, UTC); default none.", "2026-11-01"
    ).openapi(),
    Documented("to", "Last day of changes, inclusive (YYYY-MM-DD, UTC).", "2026-11-30").openapi(),
]
# Cursor pagination.
page_parameters: list[Parameter] = [
    Documented("limit", f"Items per page, 1-{MAX_LIMIT}, default 100.", "50").openapi(),
    Documented("cursor", "`next_cursor` from the previous page.").openapi(),
]


def documented(*groups: Sequence[Parameter]) -> dict[str, Any]:
    """OpenAPI parameters of these groups, in order, for a route's `openapi_extra`."""
    return {"parameters": [copy.deepcopy(parameter) for group in groups for parameter in group]}
