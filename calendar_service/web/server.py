"""The HTTP protocol uvicorn runs for us: a deadline and a size limit on request heads, as JSON."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from calendar_service.settings import ServiceSettings
from calendar_service.web.limits import MAX_HEADER_BYTES, MAX_URL_BYTES

log = logging.getLogger("calendar_service.web")
RETRY_AFTER_BUSY_S = 1  # a refused connection's next try: connections come and go quickly


class Refused(Exception):
    """A request answered with an error before it reaches the application."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class CalendarProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits uvicorn lacks, and our error shape.

    uvicorn has no timeout for receiving a request: its keep-alive timer starts only after a
    response and stops at any byte, so a client sending a header a byte at a time, or nothing,
    held a connection for ever. Here each request head must arrive whole within
    `header_timeout` seconds of its first byte (of the connection, for the first request).
    Heads over the size limits, and requests over the connection limit, are answered with the
    JSON error every other refusal has (414, 431, 503), not uvicorn's text/plain 400 and 503.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        head_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout = head_timeout
        # Checked in on_headers_complete so that the refusal is JSON; uvicorn's own check
        # would answer text/plain first.
        self.max_connections = self.limit_concurrency
        self.limit_concurrency = None
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_started = False  # a byte of the current request head has arrived
        self.head_bytes = 0  # bytes received since the current head began
        self.header_bytes = 0
        self.refusal: Refused | None = None

    # --- the head deadline ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.arm_head_deadline()  # bytes between requests start the next head's clock
        self.head_bytes += len(data)
        super().data_received(data)
        # A header line still arriving: httptools buffers it whole before passing it on, so
        # its bytes are counted here, before the line ends.
        too_long = self.head_started and self.head_bytes > MAX_URL_BYTES + MAX_HEADER_BYTES
        if too_long and not self.transport.is_closing():
            self.refuse(self.head_too_large())

    def arm_head_deadline(self) -> None:
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.head_timeout, self.head_timed_out)

    def disarm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def head_timed_out(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a response is on its way: close after it
            return
        if self.head_started:
            log.warning(
                "request head not received within %s s; connection closed", self.head_timeout
            )
            self.refuse(
                Refused(408, f"the request head did not arrive within {self.head_timeout} s")
            )
        else:
            self.transport.close()  # an idle connection: nothing to answer

    # --- the head's size --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_started = True
        self.head_bytes = 0
        self.header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            raise self.head_too_large()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self.header_bytes > MAX_HEADER_BYTES:
            raise self.head_too_large()
        super().on_header(name, value)

    def head_too_large(self) -> Refused:
        """414 for the URL (httptools passes it on as it arrives), else 431 for the headers."""
        if len(self.url) > MAX_URL_BYTES:
            self.refusal = Refused(414, f"the URL is longer than {MAX_URL_BYTES} bytes")
        else:
            self.refusal = Refused(
                431, f"the request's header fields are longer than {MAX_HEADER_BYTES} bytes"
            )
        return self.refusal

    def on_headers_complete(self) -> None:
        self.disarm_head_deadline()
        self.head_started = False
        self.head_bytes = 0
        limit = self.max_connections
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            log.warning("connection limit (%d) reached; request refused", limit)
            self.refusal = Refused(
                503,
                "the server has as many connections as it takes; retry shortly",
                {"Retry-After": str(RETRY_AFTER_BUSY_S)},
            )
            raise self.refusal
        super().on_headers_complete()

    # --- answers ----------------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools refused (our refusals raise through it)."""
        refusal, self.refusal = self.refusal, None
        self.refuse(refusal or Refused(400, "the request is not valid HTTP/1.1"))

    def refuse(self, refusal: Refused) -> None:
        """Answer with the JSON error shape and close the connection."""
        # Imported here: this module is pickled into the workers from `serve`'s own process,
        # which runs no application and so never imports the web framework (web/running.py).
        from calendar_service.web.responses import error_response

        self.disarm_head_deadline()
        response = error_response(refusal.status, refusal.message)
        lines = [STATUS_LINE[refusal.status]]
        headers = [*self.server_state.default_headers, *response.raw_headers]
        headers += [
            (name.lower().encode(), value.encode()) for name, value in refusal.headers.items()
        ]
        headers.append((b"connection", b"close"))
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join([*lines, b"\r\n", response.body]))
        self.transport.close()


def protocol(settings: ServiceSettings) -> functools.partial[CalendarProtocol]:
    """What uvicorn's `http` option takes: our protocol with these settings' limits.

    A partial of a module-level class, so that uvicorn can pickle it into each worker.
    """
    return functools.partial(CalendarProtocol, head_timeout=settings.header_timeout)
