"""Shared fixtures: the bundled data, copies of it, and real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(__file__).resolve().parent / "datasets"
# A frozen copy of data/ as it stood in November 2026: editors change data/, tests read this.
BUNDLED_DATA = DATASETS / "partnership-2026"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUMMARY = ROOT / "test-artifacts" / "reliability-corpus.txt"


def record_summary(values: dict[str, object]) -> None:
    """Merge `key: value` lines into the reliability summary (figures for the README)."""
    SUMMARY.parent.mkdir(exist_ok=True)
    lines: dict[str, str] = {}
    if SUMMARY.exists():
        for line in SUMMARY.read_text().splitlines():
            key, sep, value = line.rpartition(": ")
            if sep:
                lines[key] = value
    lines.update({key: str(value) for key, value in values.items()})
    SUMMARY.write_text("".join(f"{key}: {lines[key]}\n" for key in sorted(lines)))


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
        return httpx.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

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
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
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


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled data directory."""
    target = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, target)
    return target


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server over the bundled data, shared by read-only tests."""
    running = start_server(BUNDLED_DATA, tmp_path_factory.mktemp("server"))
    yield running
    stop_server(running)
