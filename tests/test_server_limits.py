"""The real server's limits on connections: the request-head deadline, head sizes, connections.

Raw sockets, because the cases are what a well-behaved client never sends: heads that stop
half-way or arrive a byte at a time, 100 KB URLs, 40 KB of headers. Every refusal must be
our JSON error shape, never uvicorn's text/plain.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import BUNDLED_DATA, Server, start_server, stop_server

from calendar_service.web.app import MAX_URL_BYTES
from calendar_service.web.server import MAX_HEADER_BYTES

# One xdist worker runs the module (make unit: --dist loadgroup):
# its server started once.
pytestmark = pytest.mark.xdist_group("server_limits")
HEADER_TIMEOUT = 2  # seconds, given to the server as CALENDAR_HEADER_TIMEOUT
SLACK = 4.0  # seconds a loaded two-core machine may add to a timer
SLOW_CLIENTS = 20


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def connect(server: Server) -> socket.socket:
    return socket.create_connection(address(server), timeout=10)


def read_answer(sock: socket.socket, deadline: float) -> Answer | None:
    """The response on this socket, or None if the server closed it without one."""
    received = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if not readable:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
        head, separator, body = received.partition(b"\r\n\r\n")
        if separator:
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, _, value in (
                    line.partition(":") for line in head.decode().split("\r\n")[1:]
                )
            )
            if len(body) >= int(headers.get("content-length", "0")):
                return Answer(int(head.split()[1]), headers, body)
    return None


def exchange(server: Server, request: bytes) -> Answer:
    """Send a request (in pieces, as a large one travels) and read the answer."""
    with connect(server) as sock:
        try:
            for start in range(0, len(request), 65536):
                sock.sendall(request[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end was sent: the answer is already waiting
        answer = read_answer(sock, time.monotonic() + 10)
    assert answer is not None, "closed without an answer"
    return answer


def assert_json_error(answer: Answer, status: int) -> str:
    assert answer.status == status, answer
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body = json.loads(answer.body)
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    message: str = body["error"]["message"]
    assert message
    return message


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server with a short request-head deadline."""
    running = start_server(
        BUNDLED_DATA,
        tmp_path_factory.mktemp("limits"),
        extra_env={"CALENDAR_HEADER_TIMEOUT": str(HEADER_TIMEOUT)},
    )
    yield running
    stop_server(running)


# --- the request-head deadline ------------------------------------------------------------------


@dataclass
class SlowClient:
    sock: socket.socket
    kind: str  # "stalled": half a head, then nothing; "trickling": a byte per poll; "idle"
    answer: Answer | None = None
    closed_after: float | None = None


def test_slow_header_clients_are_disconnected_within_the_header_timeout(limited: Server) -> None:
    kinds = ("stalled", "trickling", "idle", "second request stalled")
    clients = [SlowClient(connect(limited), kinds[i % len(kinds)]) for i in range(SLOW_CLIENTS)]
    began = time.monotonic()
    for client in clients:
        if client.kind == "second request stalled":  # a keep-alive connection: one answer first
            client.sock.sendall(get("/version.json"))
            first = read_answer(client.sock, time.monotonic() + 10)
            assert first is not None and first.status == 200
            client.kind = "stalled"
        if client.kind != "idle":
            client.sock.sendall(b"GET /version.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    deadline = began + HEADER_TIMEOUT + SLACK
    received = {id(client): b"" for client in clients}
    while time.monotonic() < deadline and any(c.closed_after is None for c in clients):
        open_clients = [c for c in clients if c.closed_after is None]
        readable, _, _ = select.select([c.sock for c in open_clients], [], [], 0.2)
        for client in open_clients:
            if client.sock in readable:
                try:
                    chunk = client.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                received[id(client)] += chunk
                if not chunk:
                    client.closed_after = time.monotonic() - began
            elif client.kind == "trickling":
                try:
                    client.sock.sendall(b"a")  # more of the header, never its end
                except (BrokenPipeError, ConnectionResetError):
                    client.closed_after = time.monotonic() - began
    for client in clients:
        client.sock.close()
    still_open = [c.kind for c in clients if c.closed_after is None]
    assert still_open == [], f"{len(still_open)} connections still open after {SLACK} s of slack"
    for client in clients:
        assert client.closed_after is not None
        assert client.closed_after <= HEADER_TIMEOUT + SLACK
        data = received[id(client)]
        if client.kind == "idle":
            assert data == b"", "an idle connection is closed without an answer"
        else:
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), head
            assert json.loads(body)["error"]["status"] == 408
    # The server is not worse for it.
    answer = exchange(limited, get("/version.json"))
    assert answer.status == 200


def test_the_deadline_counts_from_the_first_byte_not_the_last(limited: Server) -> None:
    """A byte now and then does not keep a head alive (uvicorn's keep-alive timer did)."""
    with connect(limited) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /version.json HTTP/1.1\r\n")
        closed_after = None
        while time.monotonic() < began + HEADER_TIMEOUT + SLACK:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:  # closed with our bytes unread: a reset, not a FIN
                    data = b""
                if data:
                    assert data.startswith(b"HTTP/1.1 408"), data[:100]
                    continue
                closed_after = time.monotonic() - began
                break
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - began
                break
    assert closed_after is not None
    assert HEADER_TIMEOUT * 0.9 <= closed_after <= HEADER_TIMEOUT + SLACK


# --- heads over the size limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "request_bytes", "status"),
    [
        ("100 KB query string", get("/api/occurrences?q=" + "7" * 100_000), 414),
        ("100 KB query string, facets", get("/api/facets?q=" + "7" * 100_000), 414),
        ("100 KB query string, embed", get("/embed?title=" + "7" * 100_000), 414),
        ("100 KB query string, health", get("/healthz?" + "7" * 100_000), 414),
        ("100 KB path", get("/events/" + "x" * 100_000 + ".ics"), 414),
        ("100 KB path, feed", get("/feeds/" + "x" * 100_000 + ".ics"), 414),
        ("100 KB path, unknown", get("/" + "x" * 100_000), 414),
        ("1 MB query string", get("/calendar.ics?q=" + "7" * 1_000_000), 414),
        (
            "100 KB URL, HEAD",
            get("/feeds/all.ics?q=" + "7" * 100_000).replace(b"GET", b"HEAD", 1),
            414,
        ),
        ("URL one byte over the limit", get("/?q=" + "7" * (MAX_URL_BYTES - 3)), 414),
        ("40 KB header", get("/version.json", "X-Big: " + "a" * 40_000), 431),
        (
            "2,000 small headers",
            get("/version.json", *(f"X-Header-{i}: value" for i in range(2000))),
            431,
        ),
        ("a 300 KB header that never ends", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 300_000, 431),
        ("not HTTP", b"HELLO THERE\r\n\r\n", 400),
        ("bad header name", b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    ],
)
def test_heads_over_the_limits_get_the_json_error(
    limited: Server, name: str, request_bytes: bytes, status: int
) -> None:
    message = assert_json_error(exchange(limited, request_bytes), status)
    assert "7777" not in message and "aaaa" not in message  # nothing echoed


@pytest.mark.parametrize(
    ("name", "request_bytes"),
    [
        ("URL at the limit", get("/version.json?" + "a" * (MAX_URL_BYTES - len("/version.json?")))),
        (
            "headers just under the limit",
            get("/version.json", "X-Big: " + "a" * (MAX_HEADER_BYTES - 200)),
        ),
        (
            "100 ordinary headers",
            get("/version.json", *(f"X-Header-{i}: value" for i in range(100))),
        ),
    ],
)
def test_heads_within_the_limits_are_served(
    limited: Server, name: str, request_bytes: bytes
) -> None:
    answer = exchange(limited, request_bytes)
    assert answer.status in (200, 422), answer  # 422: the URL's parameter itself is refused


# --- the connection limit -----------------------------------------------------------------------


def test_requests_over_the_connection_limit_get_json_503_with_retry_after(tmp_path: Path) -> None:
    limit = 4
    server = start_server(
        BUNDLED_DATA, tmp_path, extra_env={"CALENDAR_MAX_CONNECTIONS": str(limit)}
    )
    try:
        idle = [connect(server) for _ in range(limit - 1)]
        deadline = time.monotonic() + 10
        answer = exchange(server, get("/version.json"))
        while answer.status == 200 and time.monotonic() < deadline:  # until all are accepted
            answer = exchange(server, get("/version.json"))
        assert_json_error(answer, 503)
        assert int(answer.headers["retry-after"]) >= 1
        for sock in idle:
            sock.close()
        answer = exchange(server, get("/version.json"))
        while answer.status == 503 and time.monotonic() < deadline:  # until they are gone
            answer = exchange(server, get("/version.json"))
        assert answer.status == 200
    finally:
        stop_server(server)
