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


def spawned(pid: int, below: int) -> set[int]:
    """The processes multiprocessing spawned under `pid`, `below` or more levels down (not
    its resource tracker, which it starts with a command of its own)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, level, depth = set(), [pid], 0
    while level:
        depth += 1
        level = [child for parent in level for child in parents.get(parent, [])]
        for child in level if depth >= below else []:
            try:
                if b"--multiprocessing-fork" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.add(child)
            except OSError:
                continue
    return found


def expansion_workers(pid: int, uvicorn_workers: int = 1) -> set[int]:
    """The expansion worker processes under the server `pid`: spawned by its process, or by
    its worker processes if it has several (uvicorn spawns those). Each runs niced below
    the server.

    Known by where they run, not by their niceness: under `nice` 10 or more the server and
    its workers are at 19 too.
    """
    found = spawned(pid, below=1 if uvicorn_workers == 1 else 2)
    base = niceness(pid)
    for worker in found:
        try:
            assert niceness(worker) == min(base + capacity.WORKER_NICENESS, 19), worker
        except OSError:
            continue  # ended meanwhile
    return found


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
    assert expansion_workers(generated.process.pid), "the worker process ran the burst"
    # That it stops after IDLE_S without work: test_an_idle_pool_stops_its_worker_processes;
    # that it ends with the server: test_expansion_workers_end_with_the_server[1].


def test_an_idle_pool_stops_its_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a burst the worker processes stop, and their memory goes back (the pool of this
    process, with IDLE_S shortened: the server's pool is the same code)."""
    monkeypatch.setattr(capacity, "IDLE_S", 0.2)
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=0)
    try:
        # Those of servers this process has started, and of pools earlier tests opened here.
        others = expansion_workers(os.getpid())
        assert get(client, beyond_index(client)).status_code == 200
        pool = capacity.expansions()
        started = expansion_workers(os.getpid()) - others
        assert pool.started and started, "the query ran in an expansion worker"
        wait_until(lambda: not pool.started, "the idle pool to stop")
        wait_until(lambda: not any(alive(pid) for pid in started), "its workers to end")
    finally:
        capacity.configure(ServiceSettings())


@pytest.fixture(params=[1, 2], ids=["1", "2"])
def ended(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, int]]:
    """A server to end, and its number of worker processes: the burst's, of one process
    (this is the last test of the module to use it, and a module's tests run in file order:
    a server start fewer), or one of two workers."""
    if request.param == 1:
        # Stopped by the test; the module fixture's own stop is then a no-op.
        yield request.getfixturevalue("generated"), 1
        return
    server = start_server(BUNDLED_DATA, tmp_path, workers=2)
    try:
        yield server, 2
    finally:
        stop_server(server)


def test_expansion_workers_end_with_the_server(ended: tuple[Server, int]) -> None:
    """Even when the server's process ends without shutting its pool down (uvicorn's
    worker processes end with os._exit), its expansion workers do not outlive it."""
    server, uvicorn_workers = ended
    today = date.fromisoformat(server.get("/version.json").json()["compiled_on"])
    first = today + timedelta(days=8 * 366)
    response = server.get(f"/api/occurrences?from={first}&to={first + timedelta(days=30)}")
    assert response.status_code == 200
    expansion = expansion_workers(server.process.pid, uvicorn_workers)
    assert expansion, "the query ran in an expansion worker"
    stop_server(server)
    wait_until(
        lambda: not any(alive(pid) for pid in expansion),
        "the expansion workers to end with the server",
    )
