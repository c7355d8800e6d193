"""Fetching partner feeds safely: checked addresses, bounded downloads, last good copies kept.

Only the URLs of the sources file are fetched. Each hop of a fetch (the URL, then every
redirect) is checked before any connection: its scheme (https, or http where the source
allows it), and every address its host resolves to (public ones only, see addresses.py);
the connection then goes to the address that was checked (pinning.py). Downloads are
bounded in time and size, before and after decompression. A feed that passes is handed to
`check_feed` (the importer's own parse); only then does it replace the last good copy,
which is written atomically (fetch_store.py; partner_feeds.py reads it from there).
Whatever fails is recorded in the source's status, and the last good copy stays as it was:
one bad source never touches another.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calendar_service import __version__
from calendar_service.addresses import (
    Resolver,
    address_problem,
    is_ip_address,
    system_resolver,
)
from calendar_service.errors import CalendarServiceError
from calendar_service.fetch_store import FetchStore, SourceStatus
from calendar_service.model import CalendarSettings
from calendar_service.partner_feeds import MAX_FEED_BYTES, FeedRejected, check_feed
from calendar_service.partner_sources import SourceConfig
from calendar_service.settings import ServiceSettings

if TYPE_CHECKING:
    import httpx

# Limits of one fetch (README, "Partner feeds"). Tests pass smaller ones in FetchLimits.
CONNECT_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 30.0  # the whole fetch, every redirect included
MAX_REDIRECTS = 5
MAX_DOWNLOAD_BYTES = 5_000_000  # as sent, compressed or not
# After decompression the importer's MAX_FEED_BYTES (the most it parses): a gzip bomb stops there.
ACCEPTED_ENCODINGS = "gzip"  # decoded here, step by step, within MAX_FEED_BYTES
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEZONE = CalendarSettings.model_fields["timezone"].default
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long and how much one fetch may take."""

    connect_timeout: float = CONNECT_TIMEOUT_S
    total_timeout: float = TOTAL_TIMEOUT_S
    max_redirects: int = MAX_REDIRECTS
    max_download_bytes: int = MAX_DOWNLOAD_BYTES
    max_feed_bytes: int = MAX_FEED_BYTES


class FetchFailed(CalendarServiceError):
    """One fetch failed: a refused address or scheme, a limit, the network or the status."""


# --- Fetching ---------------------------------------------------------------------------------


def user_agent(base_url: str | None) -> str:
    """The User-Agent of every fetch: the service, its version and where it is published."""
    return f"calendar-service/{__version__}" + (f" (+{base_url})" if base_url else "")


def fetch_all(
    sources: Sequence[SourceConfig],
    store: FetchStore,
    settings: ServiceSettings,
    *,
    resolver: Resolver | None = None,
    now: datetime | None = None,
    limits: FetchLimits | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[SourceStatus]:
    """Fetch every source in turn and record each one's status; never raises for a source.

    A source whose fetch fails keeps its last good copy byte for byte; the others go on.
    `resolver` turns host names into addresses (the system's by default); `now` stamps the
    statuses (default: the clock at each fetch); `timezone` is the calendar's, for the
    importer's check (which rules it keeps as rules), so that what is kept is what loads.
    """
    results = []
    with store.locked():
        for source in sources:
            results.append(
                fetch_source(
                    source,
                    store,
                    settings,
                    resolver=resolver or system_resolver,
                    now=now,
                    limits=limits or FetchLimits(),
                    timezone=timezone,
                )
            )
    return results


def fetch_source(
    source: SourceConfig,
    store: FetchStore,
    settings: ServiceSettings,
    *,
    resolver: Resolver,
    now: datetime | None,
    limits: FetchLimits,
    timezone: str = DEFAULT_TIMEZONE,
) -> SourceStatus:
    """One source fetched, checked and recorded; see `fetch_all`."""
    attempt = now or datetime.now(UTC)
    previous = store.status(source.id)
    good = store.last_good(source.id)
    if previous is None or good is None:
        previous = SourceStatus(source.id, source.url)  # no copy: nothing a 304 could keep
    elif previous.url != source.url:
        # Another URL's validators mean nothing here: ask for the whole feed.
        previous = replace(previous, etag=None, last_modified=None)
    base = replace(previous, url=source.url, last_attempt=attempt)
    try:
        download = _download(source, previous, settings, resolver, limits)
        if download.body is None:  # 304: the last good copy is current
            status = replace(base, last_success=attempt, last_error=None)
            store.save(status)
            return status
        events = check_feed(download.body, source, timezone=timezone)
    except (FetchFailed, FeedRejected) as exc:
        status = replace(base, last_error=_short(str(exc)))
    except Exception as exc:  # never let one source stop the others
        status = replace(base, last_error=_short(f"{type(exc).__name__}: {exc}"))
    else:
        status = replace(
            base,
            last_success=attempt,
            last_error=None,
            etag=download.etag,
            last_modified=download.last_modified,
            events=events,
            sha256=hashlib.sha256(download.body).hexdigest(),
        )
        unchanged = good is not None and status.sha256 == previous.sha256
        # The same bytes again (a server without validators): the copy stays, no reload.
        store.save(status, None if unchanged else download.body)
        return status
    store.save(status)
    return status


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Download:
    body: bytes | None  # None: not modified
    etag: str | None
    last_modified: str | None


def _download(
    source: SourceConfig,
    previous: SourceStatus,
    settings: ServiceSettings,
    resolver: Resolver,
    limits: FetchLimits,
) -> _Download:
    """Follow the source's URL hop by hop, each checked, within the limits."""
    import httpx

    from calendar_service.pinning import PinnedTransport

    deadline = time.monotonic() + limits.total_timeout
    headers = {
        "User-Agent": user_agent(settings.base_url),
        "Accept": "text/calendar, */*;q=0.1",
        "Accept-Encoding": ACCEPTED_ENCODINGS,
    }
    conditional = bool(previous.etag or previous.last_modified)
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    url = httpx.URL(source.url)
    resolver = _within(resolver, limits.connect_timeout)
    for hop in range(limits.max_redirects + 1):
        address = checked_address(url, source, resolver, settings.fetch_allow_loopback)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"no answer within {limits.total_timeout:g} s")
        timeout = httpx.Timeout(min(remaining, limits.connect_timeout), read=remaining)
        transport = PinnedTransport(
            address, allow_loopback=settings.fetch_allow_loopback, tls=url.scheme == "https"
        )
        # trust_env=False: a proxy from the environment would connect for us, unchecked.
        with httpx.Client(transport=transport, timeout=timeout, trust_env=False) as client:
            try:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code in REDIRECTS:
                        url = _next_hop(url, response, hop, limits)
                        continue
                    if response.status_code == 304 and conditional:
                        return _Download(None, previous.etag, previous.last_modified)
                    if response.status_code != 200:
                        raise FetchFailed(f"{url} answered HTTP {response.status_code}")
                    body = _read_body(response, limits, deadline)
                    return _Download(
                        body,
                        response.headers.get("ETag"),
                        response.headers.get("Last-Modified"),
                    )
            except httpx.TimeoutException:
                raise FetchFailed(f"{url}: timed out (limit {limits.total_timeout:g} s)") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{url}: {exc or type(exc).__name__}") from None
    raise AssertionError("unreachable: the last hop returns or raises")


def _within(resolver: Resolver, timeout: float) -> Resolver:
    """`resolver`, given up on after `timeout` seconds (the system's has no deadline)."""

    def resolve(host: str, port: int) -> Sequence[str]:
        answers: list[Sequence[str] | OSError] = []

        def ask() -> None:
            try:
                answers.append(resolver(host, port))
            except OSError as exc:
                answers.append(exc)
            except (UnicodeError, ValueError) as exc:  # a name no DNS can carry
                answers.append(OSError(str(exc)))

        # A daemon thread: one stuck in the system resolver is left to finish on its own.
        asking = threading.Thread(target=ask, name="calendar-resolve", daemon=True)
        asking.start()
        asking.join(timeout)
        if not answers:
            raise FetchFailed(f"{host}: no DNS answer within {timeout:g} s")
        answer = answers[0]
        if isinstance(answer, OSError):
            raise answer
        return answer

    return resolve


def _next_hop(url: httpx.URL, response: httpx.Response, hop: int, limits: FetchLimits) -> httpx.URL:
    if hop >= limits.max_redirects:
        raise FetchFailed(f"more than {limits.max_redirects} redirects (the last from {url})")
    location = response.headers.get("Location")
    if not location:
        raise FetchFailed(f"{url} answered HTTP {response.status_code} without a Location")
    return url.join(location)


def checked_address(
    url: httpx.URL, source: SourceConfig, resolver: Resolver, allow_loopback: bool = False
) -> str:
    """The address to connect to for `url`, after every check; FetchFailed naming the refusal.

    The scheme must be https (or http where the source allows it), the URL must carry no
    credentials, and every address the host resolves to must be public (addresses.py).
    """
    allowed = ("https", "http") if source.allow_http else ("https",)
    if url.scheme not in allowed:
        only = "https or http" if source.allow_http else "https (set allow_http for http)"
        raise FetchFailed(f"{url}: the scheme {url.scheme!r} is refused; only {only}")
    if url.userinfo:
        raise FetchFailed(
            f"{url.copy_with(username=None, password=None)}: credentials in URLs are refused"
        )
    host = url.host
    if not host:
        raise FetchFailed(f"{url}: no host")
    try:
        if is_ip_address(host):
            addresses = [host]  # an address in the URL is itself what is checked
        else:
            addresses = list(resolver(host, url.port or (443 if url.scheme == "https" else 80)))
    except OSError as exc:
        raise FetchFailed(f"{host}: cannot resolve ({exc.strerror or exc})") from None
    if not addresses:
        raise FetchFailed(f"{host}: resolves to no address")
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem is not None:
            named = host if address == host else f"{host} resolves to {address}, which"
            raise FetchFailed(f"{named} is {problem}: refused")
    return addresses[0]


def _read_body(response: httpx.Response, limits: FetchLimits, deadline: float) -> bytes:
    """The body, decompressed step by step: neither size limit is passed, even briefly."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise FetchFailed(f"the feed came in an encoding not asked for: {encoding!r}")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_download_bytes:
        size, allowed = int(declared), limits.max_download_bytes
        raise FetchFailed(f"the feed is {size:,} bytes, more than the {allowed:,} allowed")
    inflater = _Inflater(encoding, limits.max_feed_bytes)
    received = 0
    for chunk in response.iter_raw():
        received += len(chunk)
        if received > limits.max_download_bytes:
            raise FetchFailed(
                f"the feed is more than the {limits.max_download_bytes:,} bytes allowed"
            )
        inflater.feed(chunk)
        if time.monotonic() > deadline:
            raise FetchFailed(f"the feed took more than {limits.total_timeout:g} s")
    return inflater.finish()


class _Inflater:
    """Decompresses gzip within a size limit; identity passes through."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.decoder: Any = None
        if encoding in ("gzip", "x-gzip"):
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        if self.decoder is None:
            self._add(data)
            return
        try:
            while data:
                # At most one byte past the limit per step: a bomb never unfolds in memory.
                self._add(self.decoder.decompress(data, self.limit + 1 - self.size))
                data = self.decoder.unconsumed_tail
                if not data and self.decoder.eof and self.decoder.unused_data:
                    data = self.decoder.unused_data  # another gzip member follows
                    self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as exc:
            raise FetchFailed(f"the feed's compression is damaged: {exc}") from None

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchFailed(f"the feed is more than {self.limit:,} bytes once decompressed")
        self.parts.append(data)

    def finish(self) -> bytes:
        if self.decoder is not None and not self.decoder.eof:
            raise FetchFailed("the feed's compressed data ends early")
        return b"".join(self.parts)
