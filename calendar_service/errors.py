"""The one tree of exceptions calendar-service raises on purpose."""

from __future__ import annotations


class CalendarServiceError(Exception):
    """Base of every error this package raises for a person to act on.

    - `DataInvalid` (documents.py): the data directory holds errors, each located by file,
      line and field; nothing from it is served.
    - `QueryError` (query.py): a query parameter cannot be accepted; a JSON 422 naming it.
    - `ApiError` (web/responses.py): any other client error, answered as the JSON error shape.
    - `ExpansionBusy` (capacity.py): the expansion pool has no place; a 503 with Retry-After.
    - `ExportError` (publishing.py): the export could not be written; nothing was published.
    - `BaseUrlMissing` (urls.py): no base URL is configured where one is needed (the export).
    - `FeedRejected` (partner_feeds.py): a partner feed cannot be used at all; its last good
      copy stays.
    - `FetchFailed` (fetching.py): one fetch of a partner feed failed (a refused address or
      scheme, a limit, the network or the status); recorded in the source's status.

    Control flow that is not an error (a canonical redirect, YAML problems turned into
    `DataInvalid`) has its own classes beside the code that raises and catches them, and so
    does `pinning.AddressRefused`, an httpx TransportError so that httpx's own handling of a
    failed connection applies to it (fetching.py turns it into `FetchFailed`).
    """
