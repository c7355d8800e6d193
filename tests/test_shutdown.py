"""Graceful shutdown of a real server: SIGTERM lets the requests in flight finish whole.

Fifty clients, each on its own connection, request feeds and the occurrences API at once;
SIGTERM arrives while they are in flight, and ten more clients try to connect just after it.
Every request must end either with a complete 200 body (the ETag matching the bytes for
feeds, a whole JSON document for the API) or refused before any of its response was sent,
never with a truncated body or a connection reset mid-response; the server must exit 0
within its 10 s graceful timeout.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import BUNDLED_DATA, WAITING, http_client, start_server, stop_server

from calendar_service.web.running import GRACEFUL_SHUTDOWN_S

pytestmark = WAITING  # one worker runs the waiting modules in a row: conftest

GRACEFUL_TIMEOUT = float(GRACEFUL_SHUTDOWN_S)  # what `serve` gives uvicorn
PATHS = (
    "/feeds/all.ics",
    "/api/occurrences?from=2026-01-01&to=2026-12-31",
    "/calendar.ics?audience=schools",
    "/api/occurrences?from=2025-01-01&to=2027-12-31&limit=500",
)
CONCURRENT = 50
LATE = 10  # clients that only start after SIGTERM


@dataclass
class Outcome:
    path: str
    kind: str  # "complete", "refused" (at connect), "not taken on" (closed unanswered), "broken"
    detail: str
    started: float
    ended: float


def whole(path: str, response: httpx.Response, body: bytes) -> str | None:
    """Why a 200 body is not whole, or None."""
    if response.status_code != 200:
        return f"status {response.status_code}"
    if path.endswith(".ics") or ".ics?" in path:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if response.headers.get("etag") != etag:
            return "ETag does not match the body"
        if not body.endswith(b"END:VCALENDAR\r\n"):
            return "ICS body does not end with END:VCALENDAR"
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return f"JSON body is not whole ({len(body)} bytes)"
    if document["count"] != len(document["occurrences"]):
        return "JSON count does not match its occurrences"
    return None


def request(client: httpx.Client, path: str, answering: threading.Event) -> Outcome:
    """One GET on the client's own new connection, classified by how far the response got.

    `answering` is set once its status line has arrived: the server is answering the burst.
    """
    started = time.monotonic()
    headers_seen = False
    try:
        with client, client.stream("GET", path) as response:
            headers_seen = True
            answering.set()
            body = response.read()
    except httpx.ConnectError as exc:
        return Outcome(path, "refused", f"at connect: {exc!r}", started, time.monotonic())
    except httpx.TransportError as exc:
        # Closed before the status line: the server took nothing on (the connection was
        # still in the listen backlog) and a client may retry. After it: cut short.
        kind = "broken" if headers_seen else "not taken on"
        where = "mid-response" if headers_seen else "before any response"
        return Outcome(path, kind, f"{where}: {exc!r}", started, time.monotonic())
    problem = whole(path, response, body)
    kind = "complete" if problem is None else "broken"
    return Outcome(path, kind, problem or f"{len(body)} bytes", started, time.monotonic())


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_requests_in_flight_and_exits_0(workers: int, tmp_path: Path) -> None:
    server = start_server(BUNDLED_DATA, tmp_path, workers=workers)
    try:
        for path in PATHS:  # each answers before the test proper
            response = server.get(path)
            assert whole(path, response, response.content) is None
        outcomes: list[Outcome] = []
        lock = threading.Lock()
        gate = threading.Barrier(CONCURRENT + 1)
        answering = threading.Event()

        def client(path: str, wait: bool) -> None:
            # Made first, so that the burst is not spread out by making them; it connects
            # only when it sends the request.
            http = http_client(base_url=server.url, timeout=GRACEFUL_TIMEOUT + 5)
            if wait:
                gate.wait()
            outcome = request(http, path, answering)
            with lock:
                outcomes.append(outcome)

        threads = [
            threading.Thread(target=client, args=(PATHS[i % len(PATHS)], True))
            for i in range(CONCURRENT)
        ]
        for thread in threads:
            thread.start()
        gate.wait()
        # SIGTERM once the server answers the burst: the first response has begun, and the
        # other requests are on their way or being answered (however loaded the machine).
        assert answering.wait(timeout=30), "no response to the burst began"
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        late = [
            threading.Thread(target=client, args=(PATHS[i % len(PATHS)], False))
            for i in range(LATE)
        ]
        for thread in late:
            thread.start()
        code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
        exited = time.monotonic() - signalled
        for thread in threads + late:
            thread.join(timeout=GRACEFUL_TIMEOUT + 10)
    finally:
        if server.process.poll() is None:
            stop_server(server)

    kinds = Counter(outcome.kind for outcome in outcomes)
    in_flight = sum(1 for o in outcomes if o.kind == "complete" and o.started < signalled < o.ended)
    print(f"workers={workers}: {dict(kinds)}, {in_flight} completed across SIGTERM, "
          f"exit {code} after {exited:.2f} s")  # fmt: skip
    assert len(outcomes) == CONCURRENT + LATE
    broken = [f"{o.path}: {o.detail}" for o in outcomes if o.kind == "broken"]
    assert broken == []
    assert in_flight > 0, "no request was in flight when SIGTERM arrived"
    assert code == 0, server.output()
    assert exited < GRACEFUL_TIMEOUT
    assert "Traceback" not in server.output()
