"""The expansion worker processes: bursts are answered on retry, idle and ended workers stop."""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from capacity_support import BURST, api, assert_error, beyond_index, get
from conftest import BUNDLED_DATA, HTTP, ROOT, Server, start_server, stop_server, wait_until

from calendar_service import capacity
from calendar_service.settings import ServiceSettings

# One xdist worker runs the module (make unit: --dist loadgroup):
# its servers and catalogs made once.
pytestmark = pytest.mark.xdist_group("capacity")


# --- The real server under a burst --------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server on 500 generated events, one expansion worker and no queue."""
    folder = tmp_path_factory.mktemp("burst")
    with pytest.MonkeyPatch.context() as patch:  # the generator in this process, not a new one
        patch.syspath_prepend(str(ROOT))
        generate = importlib.import_module("benchmarks.generate")
    assert generate.main(["--events", "500", "--out", str(folder / "data")]) == 0
    running = start_server(
        folder / "data",
        folder,
        extra_env={"CALENDAR_EXPANSION_WORKERS": "1", "CALENDAR_EXPANSION_QUEUE": "0"},
    )
    yield running
    stop_server(running)


RETRY_CAP_S = 0.25


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
            response = HTTP.get(generated.url + path, timeout=60)
            statuses[path].append(response.status_code)
            if response.status_code != 503:
                return
            error = assert_error(response, 503)
            assert error["status"] == 503
            # Retry-After is honoured, capped so that the test stays short: at 1 s, each
            # refused client idled up to a second after the worker was free again.
            time.sleep(min(RETRY_CAP_S, float(response.headers["retry-after"])))

    threads = [threading.Thread(target=client, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        cheap.append(HTTP.get(generated.url + "/version.json", timeout=60).status_code)
        threads[0].join(timeout=0.05)  # a cheap request every 50 ms, not a busy loop
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
