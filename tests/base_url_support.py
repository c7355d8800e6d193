"""Shared by the base-URL tests: a server with no base URL configured, and a crawler.

`start_plain` runs `calendar-service serve` as a person would, with no CALENDAR_* variable
(conftest's `start_server` sets CALENDAR_BASE_URL) and reads the address it reports.
`crawl` fetches every page, feed, JSON document and script reachable from a few seeds.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote

import httpx
from bad_inputs_support import ABSOLUTE_URL
from conftest import BUNDLED_DATA, HTTP, Server, wait_until

from calendar_service.loading import load

SERVING = re.compile(r"serving on (http://\S+); links start with (\S+)")
HREF = re.compile(r"""(?:href|src|action)="([^"]+)\"""")
# Every address of this machine written in a response, with its port.
LOCAL_ADDRESS = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)")


def data_without_base_url(tmp_path: Path) -> Path:
    """A copy of the frozen dataset whose calendar.yaml names no base URL."""
    target = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, target)
    settings = target / "calendar.yaml"
    lines = settings.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("base_url:")]
    assert len(kept) == len(lines) - 1, "the dataset's calendar.yaml names one base_url"
    settings.write_text("".join(kept), encoding="utf-8")
    return target


def plain_environment() -> dict[str, str]:
    """This process's environment without any CALENDAR_* setting."""
    return {name: value for name, value in os.environ.items() if not name.startswith("CALENDAR_")}


def start_plain(data_dir: Path, log_dir: Path, *options: str) -> tuple[Server, str]:
    """`serve` over `data_dir` with `options`; the server and the links' base it reports."""
    log = log_dir / "server.log"
    command = [
        sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir", str(data_dir),
        "--no-watch", "--log-level", "warning", *options,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=plain_environment()
        )

    def reported() -> re.Match[str] | None:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text(errors='replace')}")
        return SERVING.search(log.read_text(errors="replace"))

    found = wait_until(reported, "the server to report its address", timeout=60)
    server = Server(found[1], process, log, data_dir)

    def answers() -> bool:
        try:
            return HTTP.get(server.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, "the server to answer /healthz", timeout=60)
    return server, found[2]


def _unescaped(body: str) -> str:
    """ICS lines unfolded, HTML entities undone twice: the embed code shown in a page is
    HTML written as text, so its own `&amp;` is escaped once more."""
    return html.unescape(html.unescape(body.replace("\r\n ", "")))


def decoded(body: str) -> str:
    """A body as its links read: unescaped, and %-escapes undone twice (a feed URL inside
    a Google or Outlook link is escaped once more)."""
    return unquote(unquote(_unescaped(body)))


def seeds(data_dir: Path) -> list[str]:
    """Where a crawl starts: the home page, the widget, the API, and every named feed."""
    paths = ["/", "/embed", "/embed?view=month", "/embed.js", "/version.json"]
    paths += ["/api/occurrences", "/api/events", "/calendar.ics"]
    for feed in load(data_dir).settings.feeds:
        paths += [f"/feeds/{feed.name}{suffix}" for suffix in (".ics", ".json", "/embed")]
    return paths


def crawl(server: Server, base: str, start: Iterable[str], depth: int) -> dict[str, str]:
    """Path -> body of everything reachable from `start` within `depth` links.

    Links to `base` (where the links say the service is) are fetched from `server`.
    """
    bodies: dict[str, str] = {}
    level = list(start)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        for _ in range(depth + 1):
            following: list[str] = []
            for path in level:
                if path in bodies:
                    continue
                response = client.get(path, follow_redirects=True)
                assert response.status_code == 200, (path, response.status_code)
                bodies[path] = response.text
                following += _our_paths(response.text, base)
            level = following
    return bodies


def _our_paths(body: str, base: str) -> list[str]:
    text = _unescaped(body)
    webcal = "webcal://" + base.split("://", 1)[1]
    found: list[str] = []
    for url in [*HREF.findall(text), *ABSOLUTE_URL.findall(text)]:
        for prefix in (base, webcal):
            if url.startswith(prefix + "/"):
                url = url[len(prefix) :]
        if url.startswith("/") and not url.startswith("//") and "month=" not in url:
            found.append(url)  # month paging goes on for ever: its first pages are seeds
    return found
