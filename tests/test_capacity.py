"""Queries beyond the occurrence index: the same answers, bounded cost, bounded concurrency.

Expansion outside the index runs in worker processes (web/capacity.py), at most
`expansion_workers` at once with `expansion_queue` waiting; beyond that a request is
answered 503 with Retry-After at once, and cheap requests are answered meanwhile. A query
whose expansion would cost more than the budget is refused with a 422 naming the edge of
its window. These run the real pool: worker processes, started and stopped for real.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import BUNDLED_DATA, ROOT, Server, start_server, stop_server, wait_until
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from index_support import LONDON, TODAY, compiled, happens_once_in_london, keys

from calendar_service import capacity, index
from calendar_service.compiling import Catalog
from calendar_service.expansion import (
    MAX_EXPANDED_OCCURRENCES,
    MAX_EXPANSION_STEPS,
    SERIES_STEPS,
    estimate,
    timing_only,
)
from calendar_service.query import Filter
from calendar_service.reloading import LiveCatalog
from calendar_service.search import Window, occurrences_in
from calendar_service.settings import ServiceSettings
from calendar_service.web.service import CalendarService

# One xdist worker runs the module (make unit: --dist loadgroup):
# its servers and catalogs made once.
pytestmark = pytest.mark.xdist_group("capacity")
HOLD_LIMIT_S = 60.0  # a held worker lets go by itself after this, should a test fail
BURST = 4  # costly queries at once against one worker and no queue: three are refused


def occupy(pool: capacity.ExpansionPool, flag: Path) -> None:
    """Take a place in the pool and hold a worker until `flag` exists."""
    with pool.place():
        pool.run(hold_until_released, str(flag))


def hold_until_released(flag: str) -> str:
    """In a worker process: occupy it until the file `flag` exists (polled, bounded)."""
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return flag


# --- The same answers: index inside, expansion outside -------------------------------------------


def index_edges() -> tuple[date, date]:
    with tempfile.TemporaryDirectory() as folder:
        built = compiled(
            [{"id": "one", "title": "One", "summary": "s", "description": "d",
              "category": "deadline", "audiences": ["schools"], "start": str(TODAY)}],
            Path(folder),
        ).index  # fmt: skip
    return built.start.date(), built.end.date()


EDGES = index_edges()


@st.composite
def edge_event(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """An event near an edge of the index: one-off, a span, timed, or a series across it."""
    edge = draw(st.sampled_from(EDGES))
    day = edge + timedelta(days=draw(st.integers(-400, 40)))
    day = day.replace(day=min(day.day, 28))
    event: dict[str, Any] = {
        "id": f"event-{number}",
        "title": f"Event {number}",
        "summary": "s",
        "description": "d " * draw(st.integers(1, 40)),  # folded lines the worker skips
        "category": "deadline",
        "audiences": ["schools"],
        "tags": draw(st.lists(st.sampled_from(["a", "b"]), max_size=1)),
    }
    kind = draw(st.sampled_from(["day", "span", "timed", "overnight"]))
    start: date | datetime = day
    end: date | datetime | None = None
    if kind == "span":
        end = day + timedelta(days=draw(st.integers(1, 20)))
    elif kind != "day":
        start = datetime.combine(day, clock(23, 30) if kind == "overnight" else clock(10))
        end = start + timedelta(hours=3 if kind == "overnight" else 1)
        assume(happens_once_in_london(start) and happens_once_in_london(end))
    event["start"] = (
        start.isoformat(timespec="minutes") if isinstance(start, datetime) else str(start)
    )
    if end is not None:
        event["end"] = end.isoformat(timespec="minutes") if isinstance(end, datetime) else str(end)
    rule = draw(st.sampled_from([None, "weekly", "yearly", "endless"]))
    if rule == "weekly":
        event["recurrence"] = {"rule": {"frequency": "weekly", "count": draw(st.integers(2, 30))}}
    elif rule == "yearly":
        event["recurrence"] = {"rule": {"frequency": "yearly", "count": draw(st.integers(2, 6))}}
    elif rule == "endless":
        event["recurrence"] = {"rule": {"frequency": "yearly"}}
    return event


@st.composite
def edge_calendars(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(edge_event(number)) for number in range(draw(st.integers(1, 6)))]


@settings(deadline=None, max_examples=25, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(events=edge_calendars(), data=st.data())
def test_windows_across_and_beyond_the_index_equal_direct_expansion(
    events: list[dict[str, Any]], data: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        catalog = compiled(events, Path(folder))
    first_edge, last_edge = EDGES
    suffix = "@" + catalog.identity.uid_domain
    for edge in (first_edge, last_edge):
        first = edge - timedelta(days=data.draw(st.integers(-30, 400)))
        last = first + timedelta(days=data.draw(st.integers(0, 500)))
        window = Window(first, last)
        start, end = window.bounds(catalog)
        expected = index.expand(catalog.calendar, start, end, LONDON, suffix, catalog.facts)
        got = occurrences_in(catalog, Filter(), window)
        assert keys(got) == keys(expected), (first, last)
        assert got == expected
        tagged = occurrences_in(catalog, Filter(tag=("a",)), window)
        wanted = {e["id"] for e in events if "a" in e["tags"]}
        assert [o for o in got if o.event_id in wanted] == [
            o for o in tagged if o.event_id in wanted
        ]


def test_the_worker_reads_only_what_places_events_in_time() -> None:
    catalog = LiveCatalog.open(ServiceSettings(data_dir=BUNDLED_DATA, watch=False)).current
    feed = catalog.everything.body
    timing = timing_only(feed)
    assert len(timing) < len(feed) / 2
    assert b"DESCRIPTION" not in timing and b"SUMMARY" not in timing
    assert timing.count(b"BEGIN:VEVENT") == feed.count(b"BEGIN:VEVENT")
    assert b"TZOFFSETFROM" in timing  # the time zone stays whole


# --- The budget ---------------------------------------------------------------------------------


def daily_events(count: int, start: date) -> list[dict[str, Any]]:
    return [
        {"id": f"daily-{n}", "title": f"Daily {n}", "summary": "s", "description": "d",
         "category": "deadline", "audiences": ["schools"], "tags": [f"t{n}"],
         "start": str(start), "recurrence": {"rule": {"frequency": "daily"}}}
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Thirty endless daily series: five years of them beyond the index are over the budget."""
    return compiled(daily_events(30, TODAY), tmp_path_factory.mktemp("daily"))


def test_estimate_bounds_what_expansion_produces(daily: Catalog) -> None:
    first, last = EDGES[1], EDGES[1] + timedelta(days=99)
    entries = list(daily.events.values())
    cost = estimate(entries, first, last)
    window = Window(first, last)
    start, end = window.bounds(daily)
    produced = index.expand(
        daily.calendar, start, end, LONDON, "@" + daily.identity.uid_domain, daily.facts
    )
    assert cost.series == 30
    assert len(produced) <= cost.occurrences <= len(produced) + 2 * cost.series
    stepped = (last - TODAY).days + 1  # each series steps from its start to the window's end
    assert cost.steps >= 30 * (SERIES_STEPS + stepped)


def api(catalog_dir: Path, **options: Any) -> httpx.AsyncClient:
    settings_ = ServiceSettings(data_dir=catalog_dir, watch=False, **options)
    app = CalendarService.open(settings_).app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return asyncio.run(client.get(path))


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    return error


@pytest.fixture(scope="module")
def daily_api(tmp_path_factory: pytest.TempPathFactory) -> httpx.AsyncClient:
    """The application over the bundled data and thirty endless daily series."""
    folder = tmp_path_factory.mktemp("daily-data")
    shutil.copytree(BUNDLED_DATA, folder / "data")
    events = daily_events(30, date.today())
    document = yaml.safe_dump({"events": events}, sort_keys=False)
    (folder / "data" / "events" / "daily.yaml").write_text(document, encoding="utf-8")
    return api(folder / "data")


@pytest.mark.parametrize("route", ["/api/occurrences", "/api/facets"])
@pytest.mark.parametrize(
    ("query", "status", "parameter"),
    [
        ("", 422, "to"),  # thirty series, five years of days each: over the budget
        ("&category=deadline", 422, "to"),  # a filter that keeps them all
        ("&status=cancelled", 422, "to"),  # status is per occurrence: all are expanded
        ("&tag=t3", 200, None),  # one series: within it
        ("&tag=t3&tag=t4", 200, None),  # two
        ("&audience=parents-carers", 200, None),  # none of them
    ],
)
def test_costly_expansion_is_refused_naming_the_window_edge(
    daily_api: httpx.AsyncClient, route: str, query: str, status: int, parameter: str | None
) -> None:
    client = daily_api
    today = date.today()
    first = today + timedelta(days=5 * 366 + 1)  # beyond the index
    last = first + timedelta(days=5 * 365)
    path = f"{route}?from={first}&to={last}{query}"
    canonical = get(client, path)
    if canonical.status_code == 301:
        canonical = get(client, canonical.headers["location"])
    if status == 200:
        assert canonical.status_code == 200, canonical.text[:300]
        return
    error = assert_error(canonical, status)
    assert error["parameter"] == parameter
    assert f"{MAX_EXPANSION_STEPS:,}" in error["message"]
    assert f"{MAX_EXPANDED_OCCURRENCES:,}" in error["message"]
    assert "narrow the filter" in error["message"]
    indexed = error["allowed"][0]
    # The same filter inside the precomputed range is served.
    inside_last = date.fromisoformat(indexed.split("..")[1])
    inside = get(client, f"{route}?from={inside_last - timedelta(days=30)}"
                         f"&to={inside_last}{query}")  # fmt: skip
    if inside.status_code == 301:
        inside = get(client, inside.headers["location"])
    assert inside.status_code == 200


# --- Concurrency: 503 beyond the pool, cheap requests answered meanwhile -----------------------


@pytest.fixture
def single_worker() -> Iterator[httpx.AsyncClient]:
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=0)
    yield client
    capacity.configure(ServiceSettings())  # the default pool again for other tests


def beyond_index(client: httpx.AsyncClient, days: int = 0) -> str:
    today = date.fromisoformat(get(client, "/version.json").json()["compiled_on"])
    first = today + timedelta(days=5 * 366 + 30 + days)
    return f"/api/occurrences?from={first}&to={first + timedelta(days=90)}"


def test_a_full_pool_answers_503_with_retry_after_and_cheap_requests_meanwhile(
    single_worker: httpx.AsyncClient, tmp_path: Path
) -> None:
    client = single_worker
    pool = capacity.expansions()
    assert (pool.workers, pool.queue) == (1, 0)
    flag = tmp_path / "release"
    held = threading.Thread(target=occupy, args=(pool, flag))
    held.start()
    try:
        deadline = time.monotonic() + 30
        while pool.admitted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.admitted == 1
        today = date.fromisoformat(get(client, "/version.json").json()["compiled_on"])
        for path in (
            beyond_index(client),
            beyond_index(client).replace("/api/occurrences", "/api/facets"),
            # Refused by the pool itself, not by the API's shortcut: the same answer.
            f"/embed?view=month&month={today.year + 8}-{today.month:02d}",
        ):
            busy = get(client, path)
            error = assert_error(busy, 503)
            assert "retry after" in error["message"]
            assert int(busy.headers["retry-after"]) >= 1
            assert busy.headers["cache-control"] == "no-store"  # never cached by a CDN
        # Cheap requests are answered while the worker is busy.
        assert get(client, "/version.json").status_code == 200
        month = get(client, "/api/occurrences?from=2026-02-01&to=2026-02-28")
        assert month.status_code == 200
        assert get(client, "/feeds/all.ics").status_code == 200
        assert held.is_alive() and pool.admitted == 1  # still holding the only worker
    finally:
        flag.touch()
        held.join(timeout=HOLD_LIMIT_S)
    # Once it is free, the same query is answered.
    served = get(client, beyond_index(client))
    assert served.status_code == 200
    assert served.json()["total"] > 0


def test_the_queue_lets_requests_wait_their_turn(tmp_path: Path) -> None:
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=1)
    try:
        pool = capacity.expansions()
        flag = tmp_path / "release"
        held = threading.Thread(target=occupy, args=(pool, flag))
        held.start()
        deadline = time.monotonic() + 30
        while pool.admitted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        answers: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: answers.append(get(client, beyond_index(client))))
        waiting.start()
        while pool.admitted < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.admitted == 2  # one running, one waiting
        assert_error(get(client, beyond_index(client, days=7)), 503)  # no third place
        flag.touch()
        waiting.join(timeout=HOLD_LIMIT_S)
        held.join(timeout=HOLD_LIMIT_S)
        assert [answer.status_code for answer in answers] == [200]
    finally:
        capacity.configure(ServiceSettings())


# --- The real server under a burst --------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server on 500 generated events, one expansion worker and no queue."""
    folder = tmp_path_factory.mktemp("burst")
    generate = [sys.executable, "-m", "benchmarks.generate", "--events", "500"]
    subprocess.run([*generate, "--out", str(folder / "data")], cwd=ROOT, check=True)
    running = start_server(
        folder / "data",
        folder,
        extra_env={"CALENDAR_EXPANSION_WORKERS": "1", "CALENDAR_EXPANSION_QUEUE": "0"},
    )
    yield running
    stop_server(running)


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def workers(pid: int) -> list[int]:
    """The expansion worker processes under a server: its descendants run niced."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    base = niceness(pid)
    niced = []
    for child in found:
        try:
            if niceness(child) == base + capacity.WORKER_NICENESS:
                niced.append(child)
        except OSError:
            continue
    return niced


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_burst_of_costly_queries_gets_503s_and_every_one_is_answered_on_retry(
    generated: Server,
) -> None:
    today = date.fromisoformat(generated.get("/version.json").json()["compiled_on"])
    paths = []
    for n in range(BURST):
        first = today + timedelta(days=60 + 7 * n)  # each crosses the end of the index
        paths.append(f"/api/occurrences?from={first}&to={first + timedelta(days=1829)}")
    statuses: dict[str, list[int]] = {path: [] for path in paths}
    cheap: list[int] = []
    gate = threading.Barrier(len(paths))

    def client(path: str) -> None:
        gate.wait()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            response = httpx.get(generated.url + path, timeout=60)
            statuses[path].append(response.status_code)
            if response.status_code != 503:
                return
            error = assert_error(response, 503)
            assert error["status"] == 503
            # Retry-After is honoured, capped so that the test stays short.
            time.sleep(min(1.0, float(response.headers["retry-after"])))

    threads = [threading.Thread(target=client, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        cheap.append(httpx.get(generated.url + "/version.json", timeout=60).status_code)
    for thread in threads:
        thread.join()
    assert all(codes[-1] == 200 for codes in statuses.values()), statuses
    assert any(503 in codes for codes in statuses.values()), statuses
    assert cheap and set(cheap) == {200}
    assert workers(generated.process.pid), "the worker process ran the burst"
    # That it stops after IDLE_S without work: test_an_idle_pool_stops_its_worker_processes.


def test_an_idle_pool_stops_its_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a burst the worker processes stop, and their memory goes back (the pool of this
    process, with IDLE_S shortened: the server's pool is the same code)."""
    monkeypatch.setattr(capacity, "IDLE_S", 0.2)
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=0)
    try:
        others = set(workers(os.getpid()))  # those of servers this process has started
        assert get(client, beyond_index(client)).status_code == 200
        pool = capacity.expansions()
        started = set(workers(os.getpid())) - others
        assert pool.started and started, "the query ran in an expansion worker"
        wait_until(lambda: not pool.started, "the idle pool to stop")
        wait_until(lambda: not any(alive(pid) for pid in started), "its workers to end")
    finally:
        capacity.configure(ServiceSettings())


@pytest.mark.parametrize("uvicorn_workers", [1, 2])
def test_expansion_workers_end_with_the_server(uvicorn_workers: int, tmp_path: Path) -> None:
    """Even when the server's process ends without shutting its pool down (uvicorn's
    worker processes end with os._exit), its expansion workers do not outlive it."""
    server = start_server(BUNDLED_DATA, tmp_path, workers=uvicorn_workers)
    try:
        today = date.fromisoformat(server.get("/version.json").json()["compiled_on"])
        first = today + timedelta(days=8 * 366)
        response = server.get(f"/api/occurrences?from={first}&to={first + timedelta(days=30)}")
        assert response.status_code == 200
        expansion = workers(server.process.pid)
        assert expansion, "the query ran in an expansion worker"
    finally:
        stop_server(server)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in expansion) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in expansion if alive(pid)] == []
