"""An httpx transport that connects only to one address checked beforehand.

The host name stays in the URL, so TLS still sends it (SNI) and checks the certificate
against it, and the Host header names it; only the TCP connection goes to the pinned
address, so a second DNS answer (rebinding) is never asked for. Once connected, the peer's
address is checked again: what the socket reached is what was allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from calendar_service.addresses import address_problem

AddressCheck = Callable[[str], str | None]  # an address to why it is refused, or None


class AddressRefused(httpx.TransportError):
    """The connection reached, or would reach, an address that is not allowed."""


class _PeerRefused(httpcore.ConnectError):
    pass


class _PinnedBackend(httpcore.SyncBackend):
    """Opens every TCP connection to `address`, whatever host the URL names."""

    def __init__(self, address: str, check: AddressCheck) -> None:
        self.address = address
        self.check = check

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(self.address, port, timeout, local_address, socket_options)
        peer = str(stream.get_extra_info("socket").getpeername()[0])
        problem = self.check(peer)
        if problem is not None:
            stream.close()
            raise _PeerRefused(f"connected to {peer}, {problem}")
        return stream


class _Body(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        stream = self._response.stream
        assert isinstance(stream, Iterable)
        with _mapped(self._request):
            yield from stream

    def close(self) -> None:
        self._response.close()


class PinnedTransport(httpx.BaseTransport):
    """HTTP/1.1 to one checked address; TLS verified against the URL's host name."""

    def __init__(self, address: str, *, allow_loopback: bool, tls: bool) -> None:
        def check(peer: str) -> str | None:
            return address_problem(peer, allow_loopback=allow_loopback)

        self._pool = httpcore.ConnectionPool(
            # Made only for https: loading the trusted certificates takes tens of milliseconds.
            ssl_context=httpx.create_ssl_context() if tls else None,
            max_connections=1,
            retries=0,
            network_backend=_PinnedBackend(address, check),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped(request):
            response = self._pool.handle_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """httpcore's exceptions as httpx's, so that callers catch one family."""
    try:
        yield
    except _PeerRefused as exc:
        raise AddressRefused(str(exc), request=request) from exc
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc) or "timed out", request=request) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise httpx.TransportError(str(exc) or type(exc).__name__, request=request) from exc
