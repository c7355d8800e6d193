"""Shared by the export tests: builds, nginx in front of the export, the live site, headers.

The export of the bundled data for a day is built once per run (`exports`, by the CLI as a
user runs it) and only read; builds whose subject is not the CLI process run in-process.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BUNDLED_DATA, ROOT, Server, free_port, start_server, stop_server

from calendar_service.export import ExportedFile, build_site
from calendar_service.settings import ServiceSettings

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
# The same public URL for every build and server, so absolute links are the same bytes.
BASE_URL = "https://calendar.example.test"
FIXED_DAY = "2026-11-25"
# Brotli's quality for the tests' exports' shared files: their subject is not the compressed
# bytes, and at 11 (the default) brotli was half the export tests' CPU. test_compression.py
# holds an export at the default to its levels.
BROTLI_QUALITY = 5
IDENTITY = {"Accept-Encoding": "identity"}
# Headers the static files must carry exactly as the live service sends them.
COMPARED_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "x-content-type-options",
    "content-disposition",
    "content-security-policy",
    "referrer-policy",
    "content-encoding",
)


def nginx_binary() -> str:
    """Debian's nginx; a failure on CI, a skip on a workstation without it."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").is_file():
        found = "/usr/sbin/nginx"
    if found is None:
        message = "nginx is not installed (`make browser-deps` installs it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def build(data_dir: Path, out: Path, day: str) -> None:
    """Run `calendar-service build` as a user would."""
    env = {
        **os.environ,
        "CALENDAR_BASE_URL": BASE_URL,
        "CALENDAR_EXPORT_BROTLI_QUALITY": str(BROTLI_QUALITY),
    }
    command = [
        sys.executable, "-m", "calendar_service.cli", "build",
        "--data-dir", str(data_dir), str(out), "--date", day,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def build_here(
    data_dir: Path, out: Path, day: str, base_url: str = BASE_URL, workers: int | None = None
) -> list[ExportedFile]:
    """`build_site` in this process, with the settings `build` gives the CLI."""
    settings = ServiceSettings(
        data_dir=data_dir, base_url=base_url, export_brotli_quality=BROTLI_QUALITY
    )
    return build_site(settings, out, today=date.fromisoformat(day), workers=workers)


def assert_same_export(made: Path, fresh: Path) -> None:
    """Two exports with the same files, bytes, manifest and dates."""
    assert manifest_of(made) == manifest_of(fresh)
    ours, theirs = tree(made), tree(fresh)
    assert sorted(ours) == sorted(theirs)
    assert [path for path in theirs if ours[path] != theirs[path]] == []
    for item in manifest_of(fresh)["files"]:
        for suffix in ("", ".gz", ".br"):
            path = made / (item["path"] + suffix)
            if path.exists():
                assert path.stat().st_mtime == (fresh / item["path"]).stat().st_mtime, path


def manifest_of(out: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return manifest


@dataclass
class Export:
    """An export: the link it is published at, and its manifest."""

    root: Path
    manifest: dict[str, Any]


class Exports:
    """Exports of the bundled data by day, each built once by the CLI for the whole run (the
    export modules' two xdist workers both read the same day's): only read them."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        # Under xdist each worker's base folder is in the run's own; shared there.
        base = factory.getbasetemp()
        self.shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        self.built: dict[str, Export] = {}

    def of(self, day: str) -> Export:
        if day not in self.built:
            root = self.shared / f"export-{day}" / "site"
            with (self.shared / f"export-{day}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker may be building it
                if not (root / "manifest.json").exists():
                    root.parent.mkdir(exist_ok=True)
                    build(BUNDLED_DATA, root, day)
            self.built[day] = Export(root, manifest_of(root))
        return self.built[day]


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return Exports(tmp_path_factory)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass
class Nginx:
    url: str
    process: subprocess.Popen[bytes]
    state: Path

    def log(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            path = self.state / name
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def start_nginx(root: Path, upstream: str, state: Path) -> Nginx:
    """nginx in the foreground with deploy/nginx.conf, everything it writes under `state`."""
    binary = nginx_binary()
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # As root the workers would drop to an unprivileged user that cannot read pytest's
    # private temporary directories; otherwise the directive is ignored.
    user = "root" if os.geteuid() == 0 else "nobody"
    text = NGINX_CONF.read_text(encoding="utf-8")
    for placeholder, value in (
        ("__USER__", user),
        ("__STATE__", str(state)),
        ("__PORT__", f"127.0.0.1:{port}"),
        ("__ROOT__", str(root)),
        ("__UPSTREAM__", upstream),
    ):
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    assert re.search(r"__[A-Z]+__", text) is None
    conf = state / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    command = [binary, "-p", str(state), "-c", str(conf), "-g", "daemon off; master_process on;"]
    with (state / "nginx.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    running = Nginx(f"http://127.0.0.1:{port}", process, state)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{running.log()}")
        try:
            httpx.get(running.url + "/version.json", timeout=1)
            return running
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"nginx did not start:\n{running.log()}")


def stop_nginx(running: Nginx) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@dataclass
class Site:
    live: Server
    nginx: Nginx
    export: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.manifest["files"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, exports: Exports) -> Iterator[Site]:
    """The live service, an export of the same day, and nginx serving it in front of live."""
    nginx_binary()
    base = tmp_path_factory.mktemp("site")
    live = start_server(BUNDLED_DATA, base, extra_env={"CALENDAR_BASE_URL": BASE_URL})
    try:
        # The live service compiles for today (UTC); the export is of the same day.
        compiled_on = live.get("/version.json").json()["compiled_on"]
        export = exports.of(compiled_on)
        assert export.manifest["compiled_on"] == compiled_on
        # nginx's root is the link the build switches, as deploy/nginx.conf says.
        assert export.root.is_symlink()
        nginx = start_nginx(export.root, live.url.removeprefix("http://"), base / "nginx")
        try:
            yield Site(live, nginx, export.root, export.manifest)
        finally:
            stop_nginx(nginx)
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def compared(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in COMPARED_HEADERS}
