"""Several processes over the same data answer with the same bytes and the same ETags.

A load balancer may send each request to a different process (or uvicorn worker); a client
revalidating with If-None-Match must get 304 wherever it lands, so nothing a response says
may depend on which process rendered it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import BUNDLED_DATA, Server, start_server, stop_server

from calendar_service.export import urls
from calendar_service.reloading import LiveCatalog
from calendar_service.settings import ServiceSettings

# One xdist worker runs the module (make unit: --dist loadgroup):
# its servers started once.
pytestmark = pytest.mark.xdist_group("scale_out")
BASE_URL = "https://calendar.example.test"
ENV = {"CALENDAR_BASE_URL": BASE_URL}
# Beyond the export: the API, filtered feeds and pages, and errors, all answered live.
LIVE_ONLY = [
    "/api/events",
    "/api/events?category=deadline&limit=2",
    "/api/events/time-to-talk-day",
    "/api/occurrences",
    "/api/occurrences?audience=schools&audience=parents-carers",
    "/api/facets",
    "/calendar.ics?category=deadline",
    "/calendar.ics?q=kindness",
    "/calendar.ics?audience=schools&theme=mental-health-wellbeing",
    "/embed?category=awareness-day",
    "/?audience=schools",
    "/subscribe?category=training-course",
    "/theme.css?accent=336699",
    "/feeds/no-such-feed.ics",
    "/api/events?unknown=1",
]


def exported_urls() -> list[str]:
    """What `calendar-service build` would write, for the bundled data."""
    live = LiveCatalog.open(ServiceSettings(data_dir=BUNDLED_DATA, base_url=BASE_URL, watch=False))
    try:
        return list(urls(live.current))
    finally:
        live.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Two servers over the same data: one of one process, one of two worker processes.

    Three processes in all: the second server's workers are also what
    test_workers_of_one_server_agree_on_etags compares (a server fewer to start).
    """
    base = tmp_path_factory.mktemp("scale-out")
    first = start_server(BUNDLED_DATA, base, extra_env=ENV)
    try:
        second = start_server(BUNDLED_DATA, base, workers=2, extra_env=ENV)
        try:
            yield first, second
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def fingerprint(client: httpx.Client, server: Server, url: str) -> tuple[int, bytes, str | None]:
    response = client.get(server.url + url, headers={"Accept-Encoding": "identity"})
    return response.status_code, response.content, response.headers.get("etag")


def test_two_processes_answer_every_url_identically(pair: tuple[Server, Server]) -> None:
    first, second = pair
    assert first.get("/version.json").content == second.get("/version.json").content
    exported = exported_urls()
    assert len(exported) > 20
    differing = []
    with httpx.Client(timeout=10) as one, httpx.Client(timeout=10) as two:
        for url in [*exported, *LIVE_ONLY]:
            answer = fingerprint(one, first, url)
            if answer != fingerprint(two, second, url):
                differing.append(url)
            if url in exported:
                assert answer[0] == 200, url
                assert answer[2] is not None, url
    assert differing == []


def test_conditional_requests_work_across_processes(pair: tuple[Server, Server]) -> None:
    first, second = pair
    for url in ("/calendar.ics", "/feeds/all.json", "/embed", "/events/time-to-talk-day"):
        etag = first.get(url).headers["etag"]
        revalidated = second.get(url, headers={"If-None-Match": etag})
        assert revalidated.status_code == 304, url
        assert revalidated.headers["etag"] == etag


def test_workers_of_one_server_agree_on_etags(pair: tuple[Server, Server]) -> None:
    _, server = pair  # two workers
    paths = ["/calendar.ics", "/feeds/all.json", "/", "/embed", "/version.json"]
    # No keep-alive: every request is a new connection, which either worker may accept.
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))

    def fetch(index: int) -> tuple[str, str, str]:
        path = paths[index % len(paths)]
        etag = client.get(server.url + path).headers["etag"]
        loaded_at = client.get(server.url + "/healthz").json()["loaded_at"]
        return path, etag, loaded_at

    answers: list[tuple[str, str, str]] = []
    try:
        # The second worker may still be compiling when the first answers (slow on a busy
        # machine): ask until both have answered, within a deadline.
        deadline = time.monotonic() + 90
        with ThreadPoolExecutor(max_workers=8) as pool:
            while time.monotonic() < deadline:
                answers += pool.map(fetch, range(len(answers), len(answers) + 40))
                if len({loaded_at for _path, _etag, loaded_at in answers}) > 1:
                    break
    finally:
        client.close()
    etags: dict[str, set[str]] = {}
    for path, etag, _loaded_at in answers:
        etags.setdefault(path, set()).add(etag)
    assert {path: len(seen) for path, seen in etags.items()} == dict.fromkeys(paths, 1)
    # Each worker compiles its own snapshot: two load times mean both workers answered.
    assert len({loaded_at for _path, _etag, loaded_at in answers}) == 2
