"""Shared fixtures: the bundled data, copies of it, and real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from calendar_service import reloading
from calendar_service.settings import ServiceSettings
from calendar_service.web.service import CalendarService

T = TypeVar("T")
# The browser fixtures: registered once, so that one chromium serves every module.
pytest_plugins = ["embed_browser_support"]

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(__file__).resolve().parent / "datasets"
# A frozen copy of data/ as it stood in November 2026: editors change data/, tests read this.
BUNDLED_DATA = DATASETS / "partnership-2026"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUMMARY = ROOT / "test-artifacts" / "reliability-corpus.txt"


def record_summary(values: dict[str, object]) -> None:
    """Merge `key: value` lines into the reliability summary (figures for the README).

    Locked: under xdist (make unit) two workers may finish a module at the same moment.
    """
    SUMMARY.parent.mkdir(exist_ok=True)
    with (SUMMARY.parent / (SUMMARY.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines: dict[str, str] = {}
        if SUMMARY.exists():
            for line in SUMMARY.read_text().splitlines():
                key, sep, value = line.rpartition(": ")
                if sep:
                    lines[key] = value
        lines.update({key: str(value) for key, value in values.items()})
        SUMMARY.write_text("".join(f"{key}: {lines[key]}\n" for key in sorted(lines)))


def wait_until(condition: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout`.

    For waiting on another thread or process: a test awaits the state it needs, never a
    fixed delay, and the timeout only bounds a hang (it is no budget: a slow machine passes).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def service_app(settings: ServiceSettings, *, today: date | None = None) -> FastAPI:
    """The application over `settings` in this process, on a fixed day when given."""
    fixed: Callable[[], date] | None = None if today is None else (lambda: today)
    return CalendarService.open(settings, today=fixed).app()


IN_PROCESS_URL = "http://testserver"


# The event loop of in-process requests made from the main thread, one for the run as a
# server has one: asyncio.run made and closed one for each request (~0.15 ms of CPU, 1.05 ->
# 0.83 ms for a small page). Closed at the end of the session (`main_loop_closed`).
MAIN_LOOP = asyncio.Runner()


@dataclass
class InProcess:
    """The real application in this process, over httpx's ASGI transport (no server, no port).

    `.get` answers like `Server.get`, so a test can take either.
    """

    app: FastAPI
    base_url: str = IN_PROCESS_URL

    @property
    def url(self) -> str:
        """The service's base URL, as `Server.url`: its absolute links start with it."""
        return self.base_url

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """One request; an absolute URL on the base URL is taken as its path."""
        if path.startswith(self.base_url):
            path = path[len(self.base_url) :]

        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as client:
                return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

        if threading.current_thread() is threading.main_thread():
            return MAIN_LOOP.run(fetch())
        return asyncio.run(fetch())  # a test's own thread: a loop of its own

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        """GET like a calendar client: canonical-form redirects are followed unless asked."""
        kwargs.setdefault("follow_redirects", True)
        return self.request("GET", path, **kwargs)


def in_process(data_dir: Path, *, today: date | None = None, **settings: object) -> InProcess:
    """The application over `data_dir` (and `settings`) in this process, not watching.

    Requests go to the `base_url` setting when given, else to `IN_PROCESS_URL`.
    """
    configured = ServiceSettings(data_dir=data_dir, watch=False).with_options(**settings)
    return InProcess(service_app(configured, today=today), configured.base_url or IN_PROCESS_URL)


def http_client(**options: Any) -> httpx.Client:
    """An httpx client for the tests' servers, which speak plain HTTP on 127.0.0.1.

    It loads no CA bundle: making a default client costs ~20 ms of CPU, ~1 ms without,
    and polling loops made hundreds of them (`httpx.get` makes one per call).
    """
    return httpx.Client(verify=False, **options)


# Shared by `Server.get` and the loops that poll a server. Without keep-alive each request
# still comes on a new connection, as with `httpx.get`.
HTTP = http_client(limits=httpx.Limits(max_keepalive_connections=0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A real `calendar-service serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    data_dir: Path

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        """GET like a calendar client: canonical-form redirects are followed unless asked."""
        kwargs.setdefault("follow_redirects", True)
        return HTTP.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    data_dir: Path,
    log_dir: Path,
    *,
    watch: bool = False,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start the service the way `make run` does, and wait until it answers."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    env = {**os.environ, "CALENDAR_BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
    command = [
        sys.executable, "-m", "calendar_service.cli", "serve",
        "--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers),
        "--log-level", "warning",
    ]  # fmt: skip
    if not watch:
        command.append("--no-watch")
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            if HTTP.get(url + "/healthz", timeout=1).status_code == 200:
                return Server(url, process, log, data_dir)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# The modules whose tests mostly wait (a watched directory's debounce and hold, a server's
# start, signals and shutdown, a partner's slow answer): one xdist group, so that one worker
# runs them in a row while the others compute. With 46 tests it is among the first groups
# handed out (xdist hands the largest first), so the waiting starts with the run. Split test
# by test, the three workers ran them at the same moments and all waited together.
WAITING = pytest.mark.xdist_group("waiting")

# Tests in no xdist group that wait or are one long test: under xdist they go first among the
# tests in no group, so that they do not end the run on one worker. In collection order they
# came last (a run's last ~40 s used a quarter of the two cores).
EARLY = frozenset(
    {
        "test_reload_under_load.py",
        "test_index_expansion_equals_library.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The EARLY modules first, each whole and in its own order (a stable sort)."""
    items.sort(key=lambda item: item.path.name not in EARLY)


@pytest.fixture(scope="session", autouse=True)
def collector_left_alone() -> Iterator[None]:
    """A service opened in a test process leaves the collector alone after each build.

    `reloading.keep_collector_off_snapshot` collects the whole heap and freezes it: in a
    server the heap is its snapshot, in a test process it is pytest's, hypothesis' and every
    catalog a fixture holds, so each call walked it for ~0.17 s of CPU, 140 times a run (23 s
    of the suite's ~220). Nothing here is about the collector; the servers the tests start
    (and the benchmarks) still run it.
    """
    with pytest.MonkeyPatch.context() as patch:

        def left_alone(*, collect: bool = True) -> None:
            """The real one's signature, doing nothing."""

        patch.setattr(reloading, "keep_collector_off_snapshot", left_alone)
        yield


@pytest.fixture(scope="session", autouse=True)
def main_loop_closed() -> Iterator[None]:
    yield
    MAIN_LOOP.close()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled data directory."""
    target = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, target)
    return target


@pytest.fixture(scope="session")
def client() -> InProcess:
    """The application over the bundled data in this process, shared by read-only tests.

    For HTTP behaviour; `server` is for what needs the process (signals, workers, sockets).
    """
    return in_process(BUNDLED_DATA, base_url=IN_PROCESS_URL)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server over the bundled data, shared by read-only tests."""
    running = start_server(BUNDLED_DATA, tmp_path_factory.mktemp("server"))
    yield running
    stop_server(running)
