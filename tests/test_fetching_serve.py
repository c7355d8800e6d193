"""`serve` refreshes partner feeds in the background while it answers requests.

A real server fetches from the partner server (loopback allowed for it) every second or so.
While clients keep requesting feeds, the API and /healthz, a feed changes (a new last good
copy: the snapshot is rebuilt and swapped) and then breaks (its last good copy is kept and
nothing is rebuilt). Every response must succeed and come whole; /healthz tells each step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Server, start_server, stop_server, wait_until
from icalendar import Calendar
from partner_feeds_support import sources_yaml
from partner_server_support import PartnerServer, feed, partner

__all__ = ["partner"]
MOVED = "Working Together 2023: an introduction (moved)"  # only in normal-changed.ics
PATHS = (
    "/feeds/all.ics",
    "/calendar.ics",
    "/api/occurrences?from=2027-01-01&to=2027-03-31",
    "/healthz",
)
INTERVAL_HOURS = "0.0001"  # about 0.36 s between fetches: the test waits for several
# Seconds each client waits between its requests: ~70 a second in all, some in flight at
# every swap (a rebuild takes longer than the gap), where unpaced clients parsed every feed
# as fast as the server sent it (~3 s of CPU in this process).
PACE = 0.05


@pytest.fixture
def fetching(data_copy: Path, tmp_path: Path, partner: PartnerServer) -> Iterator[Server]:
    text = sources_yaml(url=f"{partner.url}/feed/normal.ics", allow_http=True)
    (data_copy / "sources.yaml").write_text(text, encoding="utf-8")
    env = {
        "CALENDAR_FETCHED_DIR": str(tmp_path / "fetched"),
        "CALENDAR_FETCH_ALLOW_LOOPBACK": "1",
        "CALENDAR_FETCH_INTERVAL_HOURS": INTERVAL_HOURS,
    }
    server = start_server(data_copy, tmp_path, extra_env=env)
    yield server
    stop_server(server)


class Load:
    """Clients requesting PATHS in turn, PACE seconds apart, until stopped; every failure is
    kept."""

    def __init__(self, server: Server, clients: int = 4) -> None:
        self.server = server
        self.stop = threading.Event()
        self.requests = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self.stop.is_set():
                for path in PATHS:
                    if self.stop.wait(PACE):
                        return
                    problem = self.check(client, path)
                    with self.lock:
                        self.requests += 1
                        if problem:
                            self.failures.append(f"{path}: {problem}")

    @staticmethod
    def check(client: httpx.Client, path: str) -> str | None:
        try:
            response = client.get(path)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        if path.endswith(".ics"):
            Calendar.from_ical(response.text)  # whole: a cut feed does not parse
        else:
            response.json()
        return None

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def source_health(server: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    health: dict[str, Any] = server.get("/healthz").json()
    [source] = health["sources"]
    return health, source


def test_fetching_while_serving_swaps_whole_snapshots_and_keeps_the_last_good_copy(
    fetching: Server, partner: PartnerServer, tmp_path: Path
) -> None:
    copy = tmp_path / "fetched" / "council-training.ics"
    _, first = wait_until(
        lambda: (found := source_health(fetching))[1]["ok"] and found, "the first fetch"
    )
    assert (first["id"], first["name"], first["events"]) == (
        "council-training",
        "Council training",
        2,
    )
    assert copy.read_bytes() == feed("normal.ics")
    served = wait_until(
        lambda: "Neglect: recognising" in (text := fetching.get("/calendar.ics").text) and text,
        "the imported events served",
    )
    assert MOVED not in served

    with Load(fetching) as load:
        reloads = source_health(fetching)[0]["reloads"]
        partner.bodies["normal.ics"] = feed("normal-changed.ics")
        health, changed = wait_until(
            lambda: (
                (found := source_health(fetching))[1]["events"] == 1
                and found[0]["reloads"] > reloads
                and found
            ),
            "the changed feed to be fetched and the snapshot swapped",
        )
        assert changed["ok"] and copy.read_bytes() == feed("normal-changed.ics")
        assert MOVED in fetching.get("/calendar.ics").text

        del partner.bodies["normal.ics"]
        attempt = changed["last_attempt"]
        _, broken = wait_until(
            lambda: (
                (found := source_health(fetching))[1]["last_attempt"] != attempt
                and found[1]["last_error"]
                and found
            ),
            "a fetch of the removed feed",
        )
        assert "HTTP 404" in broken["last_error"] and not broken["ok"]
        assert broken["events"] == 1 and broken["last_success"] == changed["last_success"]
        assert MOVED in fetching.get("/calendar.ics").text  # the last good copy, still served
        assert copy.read_bytes() == feed("normal-changed.ics")
        assert source_health(fetching)[0]["reloads"] == health["reloads"]  # nothing changed
        wait_until(lambda: load.requests > 50, "requests under load")
    assert load.failures == []
    assert partner.requests[0][1]["User-Agent"].endswith(f"(+{fetching.url})")
