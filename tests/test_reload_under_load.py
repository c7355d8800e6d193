"""Live reload of a real two-worker server while it is under load.

A load generator (threads, each with its own keep-alive httpx.Client) requests feeds, the
occurrences API and /healthz while an "editor" changes the data directory: valid
edits that put a `Reload marker N` in two titles of one file, invalid edits (unknown category,
broken YAML) with a `Broken marker N`, partial writes (part of the file, a pause, then the
rest) like an editor that saves in pieces, some pausing longer than the debounce, and swaps
of the whole data directory for an edited copy (mv data data.old; mv data.new data). Every
response must come whole from one valid snapshot, the last valid edit must reach both
workers, and both must be watching the directory at the end.

The test runs a short scenario (twelve changes: two bursts, a directory swap and a slow
partial write) and asserts what is served, never how much or how fast; its load is paced
(PACE), enough requests in flight across every reload, not the most the server can answer
(unpaced, 4,300 requests cost ~5 s of CPU on the shared machine). The long run (50
changes over a minute, with requests per second and the time for the last edit to reach both
workers) is `benchmarks/reliability.py`, on the same `run_scenario`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HTTP, Server, start_server, stop_server
from reload_under_load_support import (
    ARTIFACT,
    ICS_PATHS,
    JSON_PATH,
    SLOW_EVERY,
    ics_titles,
    run_scenario,
    watching_workers,
)

# Seconds each of the four load threads waits between requests: ~100 requests a second in
# all, some in flight whenever a worker swaps its snapshot (each reload takes longer than
# the gap between two requests).
PACE = 0.03

# --- The test -----------------------------------------------------------------------------


@pytest.fixture
def two_workers(data_copy: Path, tmp_path: Path) -> Iterator[Server]:
    server = start_server(data_copy, tmp_path, watch=True, workers=2)
    # start_server returns once one worker answers; a worker still starting when the first
    # invalid edit lands would refuse to start (a Traceback in the log). Wait for both.
    assert watching_workers(server, 2, timeout=60.0) == 2, server.output()
    yield server
    stop_server(server)


def test_reload_under_load_serves_only_whole_valid_snapshots(two_workers: Server) -> None:
    # Twelve changes: the first burst of five ends valid (4 swaps the directory); the last
    # one, 12, is a slow partial write. The timeout only bounds a hang.
    report = run_scenario(
        two_workers, duration=5.0, changes=SLOW_EVERY, final_timeout=60.0, pace=PACE
    )
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(report.summary(), encoding="utf-8")
    print(report.summary())
    assert report.requests > 0, "the load generator never ran"
    assert report.failures == []
    assert report.problems == []
    assert report.reloads >= 1, "the server never reloaded under load"
    assert report.final_workers >= 2, "the last valid change did not reach both workers"
    assert report.final_watching >= 2, "a worker is not watching the directory at the end"
    assert report.held > 0, "no reload was held: the slow partial writes were not exercised"
    # Once settled, every worker keeps serving the last change, on every URL.
    final = f"Reload marker {report.final_marker}"
    for _ in range(5):
        for path in ICS_PATHS:
            titles = ics_titles(HTTP.get(two_workers.url + path, timeout=10).text)
            assert final in titles and f"{final} (end)" in titles
        occurrences = HTTP.get(two_workers.url + JSON_PATH, timeout=10).json()["occurrences"]
        titles = [item["title"] for item in occurrences]
        assert final in titles and f"{final} (end)" in titles
    assert "Traceback" not in two_workers.output()
