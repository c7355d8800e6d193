"""The one tree of exceptions calendar-service raises on purpose."""

from __future__ import annotations


class CalendarServiceError(Exception):
    """Base of every error this package raises for a person to act on.

    - `DataInvalid` (documents.py): the data directory holds errors, each located by file,
      line and field; nothing from it is served.
    - `QueryError` (query.py): a query parameter cannot be accepted; a JSON 422 naming it.
    - `ApiError` (web/responses.py): any other client error, answered as the JSON error shape.
    - `ExpansionBusy` (capacity.py): the expansion pool has no place; a 503 with Retry-After.
    - `ExportError` (export.py): the export could not be written; nothing was published.

    Control flow that is not an error (a canonical redirect, YAML problems turned into
    `DataInvalid`) has its own classes beside the code that raises and catches them.
    """
