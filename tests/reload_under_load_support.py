"""The reload-under-load scenario (edits, load, checks, report); also run by benchmarks."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from conftest import HTTP, ROOT, Server, http_client

from calendar_service.loading import load

ARTIFACT = ROOT / "test-artifacts" / "reload-under-load.txt"
FILE = "events/awareness.yaml"
FIRST_TITLE = "    title: Time to Talk Day\n"  # the file's first event
LAST_TITLE = "    title: Random Acts of Kindness Week\n"  # its last event, in the second half
CATEGORY_LINE = "    category: awareness-day\n"  # the first event's category
LAST_EVENT = "\n  - id: random-acts-of-kindness-week\n"
ICS_PATHS = ("/feeds/all.ics", "/calendar.ics?audience=schools")
JSON_PATH = "/api/occurrences?from=2026-01-01&to=2026-12-31"
HEALTH_PATH = "/healthz"
PATHS = (*ICS_PATHS, JSON_PATH, HEALTH_PATH)
MARKER = re.compile(r"Reload marker (\d+)( \(end\))?")
BURST = 5  # changes in quick succession, then a pause for the server to reload
SHORT_GAP = 0.08  # seconds between changes within a burst
LONG_GAP = 1.2  # at least, after a burst: debounce, settle and compile
SLOW_PAUSE = 1.5  # between the parts of a slow partial write: longer than the debounce
SLOW_EVERY = 12  # every 12th change is a slow partial write (always a valid one)
SWAP_AT = 4  # valid changes numbered 4 modulo 10 swap the whole directory for a copy


# --- The editor ---------------------------------------------------------------------------


def valid_text(original: str, n: int) -> str:
    """Both the first and the last event of the file carry marker n."""
    return original.replace(FIRST_TITLE, f"    title: Reload marker {n}\n").replace(
        LAST_TITLE, f"    title: Reload marker {n} (end)\n"
    )


def invalid_text(original: str, n: int) -> str:
    """Alternately an unknown category and broken YAML, both near the top of the file."""
    text = original.replace(LAST_TITLE, f"    title: Broken marker {n} (end)\n")
    if n % 4 == 1:
        text = text.replace(FIRST_TITLE, f"    title: Broken marker {n}\n")
        return text.replace(CATEGORY_LINE, "    category: seminar\n")
    return text.replace(FIRST_TITLE, f"    title: Broken marker {n}: not: yaml\n")


@dataclass(frozen=True)
class Change:
    number: int
    valid: bool
    partial: str | None  # None, "half" (first half of the bytes) or "prefix" (whole events)
    pause: float  # seconds between the parts of a partial write
    swap: bool = False  # written into a copy of the directory, swapped in by two renames


def plan(changes: int) -> list[Change]:
    """Alternate invalid and valid changes, ending with a valid one, in bursts of five.

    Within a burst the changes come faster than the server's 700 ms debounce, so only the
    last of each burst is loaded (or refused). Every third change, and every burst's last
    valid one, is written in two parts. A valid change is cut after whole events, so its
    first part alone is valid data (one event fewer): it is served only if the server loads
    a file that is still being written. Pauses are 50 ms, or 300 ms for the last of a burst,
    well inside the debounce.
    """
    result = []
    for number in range(1, changes + 1):
        valid = (changes - number) % 2 == 0
        in_parts = number % 3 == 0 or number % BURST == 0
        partial = None if not in_parts else "prefix" if valid else "half"
        pause = 0.0 if partial is None else 0.3 if number % BURST == 0 else 0.05
        if number % SLOW_EVERY == 0:
            partial, pause = "prefix", SLOW_PAUSE
        swap = valid and partial is None and number % 10 == SWAP_AT
        result.append(Change(number, valid, partial, pause, swap))
    return result


def write(path: Path, text: str, change: Change) -> None:
    data = text.encode("utf-8")
    if change.swap:
        swap_directory(path, data)
        return
    if change.partial is None:
        path.write_bytes(data)
        return
    cut = len(data) // 2 if change.partial == "half" else data.index(LAST_EVENT.encode()) + 1
    with path.open("wb") as out:  # truncates, like an editor saving in place
        out.write(data[:cut])
        out.flush()
        time.sleep(change.pause)
        out.write(data[cut:])


def swap_directory(path: Path, data: bytes) -> None:
    """Write into an edited copy of the data directory and swap it in by two renames."""
    root = path.parent.parent  # path is <data>/events/<file>
    fresh, old = root.with_name(root.name + ".new"), root.with_name(root.name + ".old")
    shutil.copytree(root, fresh)
    (fresh / path.relative_to(root)).write_bytes(data)
    root.rename(old)
    fresh.rename(root)
    shutil.rmtree(old)


# --- Checking responses -------------------------------------------------------------------


def markers(titles: list[str]) -> list[str]:
    """Problems with the Reload/Broken markers among one response's titles."""
    problems = []
    firsts, ends = set(), set()
    for title in titles:
        if "Broken marker" in title:
            problems.append(f"served an invalid edit: {title!r}")
        found = MARKER.fullmatch(title)
        if found:
            (ends if found.group(2) else firsts).add(int(found.group(1)))
    if len(firsts | ends) > 1:
        problems.append(f"titles from several versions: markers {sorted(firsts | ends)}")
    elif firsts != ends:
        problems.append(f"a partly written file was served: markers {firsts} and ends {ends}")
    return problems


def ics_titles(body: str) -> list[str]:
    # Short titles: no line folding to undo, no escapes.
    return [line[len("SUMMARY:") :] for line in body.split("\r\n") if line.startswith("SUMMARY:")]


def check(path: str, response: httpx.Response, events: int) -> tuple[list[str], str | None]:
    """Problems with one 200 response, and the marker it serves (ICS/JSON) or version."""
    body = response.content
    if path in ICS_PATHS:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        problems = [] if response.headers.get("etag") == etag else ["ETag does not match body"]
        text = body.decode("utf-8", errors="replace")
        if not text.endswith("END:VCALENDAR\r\n"):
            problems.append("ICS body is incomplete")
        if "Broken marker" in text:
            problems.append("served an invalid edit (Broken marker in the ICS)")
        titles = ics_titles(text)
        problems += markers(titles)
        return problems, _marker_of(titles)
    document = json.loads(body)
    if path == HEALTH_PATH:
        problems = []
        if document["events"] != events:
            problems.append(f"healthz: {document['events']} events, expected {events}")
        error = document["last_reload_error"]
        return problems, str(document["version"]) + (" refused" if error else "")
    titles = [item["title"] for item in document["occurrences"]]
    problems = []
    if b"Broken marker" in body:
        problems.append("served an invalid edit (Broken marker in JSON)")
    problems += markers(titles)
    return problems, _marker_of(titles)


def _marker_of(titles: list[str]) -> str:
    for title in titles:
        found = MARKER.fullmatch(title)
        if found and not found.group(2):
            return found.group(1)
    return "original"


# --- The load generator -------------------------------------------------------------------


@dataclass
class Report:
    """What one run of the scenario saw."""

    duration: float = 0.0
    changes: int = 0
    requests: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # connection errors and non-200s
    problems: list[str] = field(default_factory=list)  # inconsistent or invalid content
    latencies: list[float] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)  # of snapshots /healthz reported
    degraded: int = 0  # /healthz answers reporting a refused reload
    watch_states: Counter[str] = field(default_factory=Counter)  # /healthz watcher.state
    held: int = 0  # /healthz answers reporting a reload held (it dropped events)
    final_watching: int = 0  # workers that say they are watching, at the end
    markers: set[str] = field(default_factory=set)
    final_marker: int = 0
    final_seconds: float | None = None  # from the last write to both workers serving it
    final_workers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, path: str, seconds: float, failure: str | None, problems: list[str]) -> None:
        with self.lock:
            self.requests += 1
            self.by_path[path] += 1
            self.latencies.append(seconds)
            if failure is not None:
                self.failures.append(f"{path}: {failure}")
            self.problems.extend(f"{path}: {problem}" for problem in problems)

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]

    @property
    def reloads(self) -> int:
        return max(len(self.versions) - 1, 0)

    def summary(self) -> str:
        final = "never" if self.final_seconds is None else f"{self.final_seconds:.2f} s"
        lines = [
            f"duration: {self.duration:.1f} s",
            f"data changes: {self.changes} (last valid marker {self.final_marker})",
            f"requests: {self.requests} ("
            + ", ".join(f"{path} {count}" for path, count in sorted(self.by_path.items()))
            + ")",
            f"failed requests (connection errors, non-200): {len(self.failures)}",
            f"inconsistent or invalid responses: {len(self.problems)}",
            f"reloads observed (distinct versions in /healthz, minus one): {self.reloads}",
            f"/healthz answers reporting a refused (invalid) reload: {self.degraded}",
            f"/healthz answers reporting a reload held (events dropped): {self.held}",
            "/healthz watcher states: "
            + ", ".join(f"{state} {count}" for state, count in sorted(self.watch_states.items())),
            f"workers watching the directory at the end: {self.final_watching}",
            f"distinct titles served (original or Reload marker N): {len(self.markers)}",
            f"last valid change served by {self.final_workers} workers after: {final}",
            f"latency p50: {self.percentile(50) * 1000:.1f} ms, "
            f"p99: {self.percentile(99) * 1000:.1f} ms, max: {max(self.latencies) * 1000:.1f} ms",
        ]
        lines += [f"failure: {failure}" for failure in self.failures[:20]]
        kinds = Counter(self.problems).most_common(20)
        lines += [f"problem ({count}x): {problem}" for problem, count in kinds]
        return "\n".join(lines) + "\n"


def load_worker(
    server: Server,
    report: Report,
    stop: threading.Event,
    budget: Iterator[int],
    events: int,
    pace: float,
) -> None:
    """Request PATHS in turn until stopped or the budget is spent, `pace` s apart."""
    offset = threading.get_ident()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for count in budget:
            if stop.wait(pace) if pace else stop.is_set():
                return
            path = PATHS[(count + offset) % len(PATHS)]
            started = time.perf_counter()
            try:
                response = client.get(path)
            except httpx.HTTPError as exc:
                report.record(path, time.perf_counter() - started, repr(exc), [])
                continue
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                report.record(path, seconds, f"status {response.status_code}", [])
                continue
            try:
                problems, seen = check(path, response, events)
            except (ValueError, KeyError) as exc:
                problems, seen = [f"unreadable body: {exc!r}"], None
            report.record(path, seconds, None, problems)
            if path == HEALTH_PATH and not problems:
                document = response.json()
                with report.lock:
                    report.watch_states[document["watcher"]["state"]] += 1
                    report.held += document["reload_held"] is not None
            if seen is not None:
                with report.lock:
                    if path != HEALTH_PATH:
                        report.markers.add(seen)
                    elif seen.endswith(" refused"):
                        report.degraded += 1
                    else:
                        report.versions.add(seen)


def wait_for_final(server: Server, marker: int, processes: int, timeout: float) -> int:
    """Poll on fresh connections until every worker serves the final snapshot; their count."""
    workers: set[str] = set()  # a worker is known by its snapshot's loaded_at
    wanted = f"SUMMARY:Reload marker {marker}\r\n"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with http_client(base_url=server.url, timeout=10) as client:  # one connection
            # The health and second feed only once the feed serves it: the loop waits
            # most of its turns, and each was three requests on a shared two-core machine.
            if wanted in client.get(ICS_PATHS[0]).text:
                health = client.get(HEALTH_PATH).json()
                if wanted in client.get(ICS_PATHS[0]).text:
                    workers.add(health["loaded_at"])
                    if len(workers) >= processes:
                        return len(workers)
        time.sleep(0.02)
    return len(workers)


def watching_workers(server: Server, processes: int, timeout: float) -> int:
    """Poll on fresh connections until every worker says it is watching; their count."""
    workers: set[str] = set()  # a worker is known by its snapshot's loaded_at
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(workers) < processes:
        health = HTTP.get(server.url + HEALTH_PATH, timeout=10).json()
        if health["watcher"]["state"] == "watching" and health["reload_held"] is None:
            workers.add(health["loaded_at"])
        time.sleep(0.02)
    return len(workers)


def run_scenario(
    server: Server,
    *,
    duration: float,
    changes: int,
    threads: int = 4,
    max_requests: int = 50_000,
    processes: int = 2,
    final_timeout: float = 10.0,
    pace: float = 0.0,
) -> Report:
    """Load `server` for about `duration` seconds while its data changes `changes` times.

    `processes` is the server's number of workers, each of which must serve the last change.
    Each of the `threads` waits `pace` seconds between its requests: 0 for as many as the
    server answers (the benchmark's requests per second), more where only their being in
    flight across the reloads matters (the test).
    """
    data_file = server.data_dir / FILE
    original = data_file.read_text(encoding="utf-8")
    for line in (FIRST_TITLE, LAST_TITLE, CATEGORY_LINE, LAST_EVENT):
        assert original.count(line) == 1, line
    events = len(load(server.data_dir).events)
    report = Report(changes=changes)
    stop = threading.Event()
    budget = iter(range(max_requests))  # shared: next() on a range iterator is atomic
    workers = [
        threading.Thread(target=load_worker, args=(server, report, stop, budget, events, pace))
        for _ in range(threads)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    edits = plan(changes)
    last_write = started
    # The changes take about 80% of the duration, the rest is for the last one to settle.
    short = SHORT_GAP * sum(1 for change in edits if change.number % BURST)
    bursts = max(sum(1 for change in edits if change.number % BURST == 0), 1)
    pauses = sum(change.pause for change in edits)
    long_gap = max((duration * 0.8 - short - pauses) / bursts, LONG_GAP)
    for change in edits:
        text = (
            valid_text(original, change.number)
            if change.valid
            else invalid_text(original, change.number)
        )
        write(data_file, text, change)
        last_write = time.monotonic()
        if change is not edits[-1]:
            time.sleep(long_gap if change.number % BURST == 0 else SHORT_GAP)
    report.final_marker = edits[-1].number
    report.final_workers = wait_for_final(server, report.final_marker, processes, final_timeout)
    if report.final_workers >= processes:
        report.final_seconds = time.monotonic() - last_write
    report.final_watching = watching_workers(server, processes, final_timeout)
    time.sleep(max(started + duration - time.monotonic(), 0.0))
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    report.duration = time.monotonic() - started
    return report
