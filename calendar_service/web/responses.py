"""HTTP responses: rendered bodies and their cache, conditional GET, compression, cache
headers and the JSON error shape."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

import orjson
from cachetools import LRUCache
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from calendar_service.compiling import Catalog
from calendar_service.compression import gzip_body
from calendar_service.errors import CalendarServiceError
from calendar_service.feed_files import joined
from calendar_service.query import FILTER_FIELDS, Filter, parse_filter

T = TypeVar("T")
SENT_GZIP = 6  # gzip's level for responses: zlib's default, made at each reload
RESPONSE_CACHE_BYTES = 32_000_000  # rendered responses kept per snapshot, plain and compressed


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body rendered once: bytes, gzip bytes, ETag and Last-Modified.

    The bytes are held in the parts they were made in (feed_files.FeedFile: a named feed
    shares most of its bytes with the whole feed); large ones are sent so, unjoined.
    """

    parts: tuple[bytes, ...]
    content_type: str
    last_modified: datetime
    etag: str
    gzipped: bytes  # empty: none made (an export's), and the bytes are sent as they are

    @classmethod
    def of(cls, body: bytes, content_type: str, last_modified: datetime) -> Rendered:
        return cls.of_parts((body,), content_type, last_modified)

    @classmethod
    def of_parts(
        cls,
        parts: tuple[bytes, ...],
        content_type: str,
        last_modified: datetime,
        *,
        compressed: bool = True,
    ) -> Rendered:
        """The body's ETag and (unless `compressed` is False) its gzip copy."""
        etag = etag_of(parts)
        if not compressed:
            return cls(parts, content_type, last_modified, etag, b"")
        # Compressed whole (a copy, freed at once), so that they are exactly what one body
        # gives.
        return cls(parts, content_type, last_modified, etag, gzip_body(joined(parts), SENT_GZIP))

    @property
    def body(self) -> bytes:
        """The bytes in one piece: a copy, where they are held in parts."""
        return joined(self.parts)

    @property
    def length(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def size(self) -> int:
        return self.length + len(self.gzipped)

    @property
    def http_date(self) -> str:
        return format_http_date(self.last_modified)


def etag_of(parts: tuple[bytes, ...]) -> str:
    """The ETag of a body held in `parts`: a digest of its bytes, quoted (strong)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return '"' + digest.hexdigest()[:32] + '"'


def format_http_date(moment: datetime) -> str:
    """A Last-Modified value: the moment as an HTTP-date (RFC 9110 5.6.7), in GMT."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _size(rendered: Rendered) -> int:
    return rendered.size


class _Responses(LRUCache[Hashable, Rendered]):
    """An LRUCache that tells which keys it lets go of to make room."""

    def __init__(self, max_bytes: int, dropped: Callable[[Hashable], object]) -> None:
        super().__init__(max_bytes, getsizeof=_size)
        self._dropped = dropped

    def popitem(self) -> tuple[Hashable, Rendered]:
        key, rendered = super().popitem()
        self._dropped(key)
        return key, rendered


class ResponseCache:
    """Rendered responses by key, bounded by their bytes; the least recently used go first.

    cachetools is not thread-safe, so a lock guards it; building happens outside the lock:
    two requests may both build, never block. A response larger than a quarter of the
    budget is not kept: a few very large ones would push out all the others.
    """

    def __init__(self, max_bytes: int = RESPONSE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # What `made` made from a kept response, with it; let go of with it.
        self._made: dict[Hashable, tuple[Rendered, Any]] = {}
        self._cache = _Responses(max_bytes, lambda key: self._made.pop(key, None))

    def __call__(self, key: Hashable, build: Callable[[], Rendered]) -> Rendered:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        rendered = build()
        if rendered.size <= self.max_bytes // 4:
            with self._lock:
                self._cache.setdefault(key, rendered)
        return rendered

    def get(self, key: Hashable) -> Rendered | None:
        """The response kept for a key, or None; never builds."""
        with self._lock:
            return self._cache.get(key)

    def made(self, key: Hashable, make: Callable[[Rendered], T]) -> T | None:
        """`make`'s value of the response kept for a key, made once and kept as long as the
        response is (the lean path's prepared answers); None when none is kept."""
        with self._lock:
            rendered = self._cache.get(key)
            found = self._made.get(key)
        if rendered is None:
            return None
        if found is not None and found[0] is rendered:
            return cast(T, found[1])
        value = make(rendered)
        with self._lock:
            if self._cache.get(key) is rendered:  # not let go of meanwhile
                self._made[key] = (rendered, value)
        return value

    @property
    def bytes(self) -> int:
        """The bytes kept now."""
        with self._lock:
            return int(self._cache.currsize)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._cache


class ApiError(CalendarServiceError):
    """A client error answered as JSON: what was wrong, which parameter, what is allowed."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        parameter: str | None = None,
        allowed: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.allowed = list(allowed)

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.parameter, self.allowed)


def json_bytes(body: Any) -> bytes:
    """Compact UTF-8 JSON; orjson is several times faster than the standard library."""
    return orjson.dumps(body)


def error_response(
    status: int, message: str, parameter: str | None = None, allowed: Sequence[str] = ()
) -> JSONResponse:
    """The one JSON shape of every 4xx (and the rare 5xx)."""
    error: dict[str, object] = {"status": status, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    if allowed:
        error["allowed"] = list(allowed)
    return JSONResponse(
        {"error": error},
        status_code=status,
        headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"},
    )


class CanonicalRedirect(Exception):
    """The request's parameters are valid but not in canonical form."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location

    def response(self) -> Response:
        # Permanent and cacheable: a CDN then keeps one copy per filter.
        return Response(
            status_code=301,
            headers={
                "Location": self.location,
                "Cache-Control": "public, max-age=86400",
                "Access-Control-Allow-Origin": "*",
            },
        )


def require_canonical(request: Request, pairs: Sequence[tuple[str, str]]) -> None:
    """Redirect unless the query string is exactly the canonical one for these parameters.

    Canonical: parameters in a fixed order, values sorted, repeats and defaults dropped.
    """
    canonical = urlencode(list(pairs))
    if request.scope.get("query_string", b"").decode("latin-1") != canonical:
        raise CanonicalRedirect(request.url.path + (f"?{canonical}" if canonical else ""))


def query_params(request: Request) -> dict[str, list[str]]:
    """The query string as a mapping of every value of each parameter."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def read_filter(
    request: Request, catalog: Catalog, *extra: str, fields: tuple[str, ...] = FILTER_FIELDS
) -> Filter:
    """The request's filter, refusing unknown parameters (`extra` are the route's own)."""
    refuse_unknown(request, (*fields, *extra))
    return parse_filter(query_params(request), catalog.settings.vocabularies, fields=fields)


def refuse_unknown(request: Request, allowed: Iterable[str]) -> None:
    """Unknown query parameters are refused rather than silently ignored."""
    names = set(allowed)
    for name in request.query_params:
        if name not in names:
            raise ApiError(
                422,
                f"unknown parameter {name[:60]!r}",
                parameter=name[:60],
                allowed=sorted(names),
            )


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value takes gzip (or `*`) with a quality above zero."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip()
            try:
                return not quality or float(quality) > 0
            except ValueError:
                return True
    return False


def http_date(value: str) -> datetime | None:
    """An HTTP-date as an aware datetime, or None for anything that is not one.

    RFC 9110 says to ignore a date header that is not a valid HTTP-date. The standard
    parser raises OverflowError for a year of twenty digits and ValueError for most other
    nonsense, and reads the `-0000` zone as no zone at all.
    """
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def if_modified_since(values: Sequence[str]) -> datetime | None:
    """The request's If-Modified-Since (every value given), or None where RFC 9110 13.1.3
    says to ignore it: absent, repeated, not an HTTP-date, or later than now (a client that
    was once sent a wrong Last-Modified must not be told "not modified" for ever)."""
    if len(values) != 1:
        return None
    moment = http_date(values[0])
    if moment is None or moment > datetime.now(UTC):
        return None
    return moment


def unchanged(rendered: Rendered, if_none_match: str | None, since: Sequence[str]) -> bool:
    """Whether the client's copy is this one: a 304 (`since`: every If-Modified-Since)."""
    if if_none_match is not None:
        return _etag_matches(if_none_match, rendered.etag)
    # If-Modified-Since counts only without If-None-Match (RFC 9110 13.1.3).
    moment = if_modified_since(since)
    return moment is not None and rendered.last_modified.replace(microsecond=0) <= moment


def cache_headers(
    rendered: Rendered,
    *,
    max_age: int,
    filename: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers of pre-rendered bytes in any form (200 or 304, either encoding)."""
    headers = {
        "ETag": rendered.etag,
        "Last-Modified": rendered.http_date,
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if filename is not None:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    headers.update(extra_headers or {})
    return headers


def not_modified(headers: dict[str, str]) -> Response:
    """The 304 of pre-rendered bytes: their headers, no body."""
    return Response(status_code=304, headers=headers)


class PartsResponse(Response):
    """A 200 of bytes held in parts, each sent as it is held (no copy joins them)."""

    def __init__(self, rendered: Rendered, headers: dict[str, str]) -> None:
        self.parts = rendered.parts
        # Content-Length where Starlette would put it, after the headers given.
        length = {"Content-Length": str(rendered.length)}
        super().__init__(b"", 200, {**headers, **length}, media_type=rendered.content_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        last = len(self.parts) - 1
        for position, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": position < last})


def encoded(rendered: Rendered, headers: dict[str, str], *, gzipped: bool) -> Response:
    """The 200 of pre-rendered bytes, gzip-compressed or (also when it has no gzip copy)
    as they are."""
    if gzipped and rendered.gzipped:
        headers = {**headers, "Content-Encoding": "gzip"}
        return Response(rendered.gzipped, 200, headers, media_type=rendered.content_type)
    if len(rendered.parts) > 1:
        return PartsResponse(rendered, headers)
    return Response(rendered.body, 200, headers, media_type=rendered.content_type)


def rendered_response(
    request: Request,
    rendered: Rendered,
    *,
    max_age: int,
    filename: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """Serve pre-rendered bytes with ETag/Last-Modified, 304 and gzip (HEAD: HeadAsGet).

    web/precomputed.py prepares the same responses once per snapshot for the URLs whose
    bytes are made with it, from the same functions.
    """
    headers = cache_headers(
        rendered, max_age=max_age, filename=filename, extra_headers=extra_headers
    )
    request_headers = request.headers
    since = request_headers.getlist("if-modified-since")
    if unchanged(rendered, request_headers.get("if-none-match"), since):
        return not_modified(headers)
    gzipped = accepts_gzip(request_headers.get("accept-encoding", ""))
    return encoded(rendered, headers, gzipped=gzipped)
