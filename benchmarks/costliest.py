"""Time and memory of the costliest queries the service accepts, one at a time and in a burst."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.generate import DEFAULT_SEED, events, write
from benchmarks.processes import (
    ROOT,
    cpu_model,
    descendants,
    fetch,
    free_port,
    memory_mb,
    running,
    wait_until_up,
)
from benchmarks.run import month_after
from calendar_service.capacity import IDLE_S
from calendar_service.index import HORIZON_FUTURE
from calendar_service.loading import load
from calendar_service.model import Status
from calendar_service.query import Filter
from calendar_service.search import MAX_WINDOW_DAYS

HOST = "127.0.0.1"
BURST = 32  # costly queries at once, as issue 9 sent them
CHEAP_TARGET_MS = 100.0  # the slowest cheap request while the burst runs
PEAK_RSS_TARGET_MB = 400.0  # the server and its worker processes together
BURST_DEADLINE_S = 900.0  # a client gives up on its query after this
SAMPLE_S = 0.05  # how often memory is read
BASELINE_S = 30.0  # cheap requests alone first, for comparison


def queries(today: date) -> list[tuple[str, str]]:
    """Each is allowed (a 200), and each defeats the index or the caches in its own way."""
    beyond = today.replace(year=today.year + 5, day=1)  # past the index (five years ahead)
    before = today.replace(year=today.year - 10, day=1) + timedelta(days=31)
    far = today.replace(year=today.year + 9, day=1)
    return [
        ("5-year window beyond the index, no filter, 500 a page",
         f"/api/occurrences?from={beyond}&to={beyond + timedelta(days=5 * 365)}&limit=500"),
        ("5-year window before the index, no filter, 500 a page",
         f"/api/occurrences?from={before}&to={before + timedelta(days=5 * 365)}&limit=500"),
        ("5-year window inside the index, no filter, 500 a page",
         f"/api/occurrences?from={today}&to={today + timedelta(days=5 * 365)}&limit=500"),
        ("facets over 5 years inside the index",
         f"/api/facets?from={today}&to={today + timedelta(days=5 * 365)}"),
        ("facets over 5 years beyond the index",
         f"/api/facets?from={beyond}&to={beyond + timedelta(days=5 * 365)}"),
        ("text search over 5 years",
         f"/api/occurrences?q=e&from={today}&to={today + timedelta(days=5 * 365)}&limit=500"),
        ("ad-hoc feed of a text search (not cached yet)", "/calendar.ics?q=e"),
        ("month grid nine years ahead", f"/embed?view=month&month={far:%Y-%m}"),
        ("all events, 500 a page", "/api/events?limit=500"),
    ]  # fmt: skip


def burst_paths(today: date, data_dir: Path) -> list[str]:
    """Every category, audience and status, and the widest window, a different one each,
    every one reaching past the end of the index (in canonical form: no redirects)."""
    vocabularies = load(data_dir, today=today).settings.vocabularies
    everything = Filter(
        category=tuple(vocabularies.categories),
        audience=tuple(vocabularies.audiences),
        status=tuple(Status),
    )
    index_end = today + HORIZON_FUTURE
    paths = []
    for n in range(BURST):
        first = today + timedelta(days=7 * (n + 1))
        last = first + timedelta(days=MAX_WINDOW_DAYS - 1)
        assert last >= index_end, "each window reaches past the index"
        pairs = [*everything.items(), ("from", str(first)), ("to", str(last))]
        paths.append("/api/occurrences?" + urlencode(pairs))
    return paths


def cheap_paths(today: date) -> list[tuple[str, str]]:
    first, last = month_after(today)
    return [
        ("/version.json", "/version.json"),
        ("one-month query", f"/api/occurrences?audience=schools&from={first}&to={last}"),
    ]


# A yardstick for the machine itself: a separate process sleeping 2 ms at a time until its
# standard input closes, then printing its worst oversleep, i.e. how long the machine kept a
# ready process waiting meanwhile. Cheap requests cannot be faster than that.
STALL_PROBE = """
import select, sys, time
worst = 0.0
while not select.select([sys.stdin], [], [], 0)[0]:
    began = time.perf_counter()
    time.sleep(0.002)
    worst = max(worst, time.perf_counter() - began - 0.002)
print(worst)
"""


def probe(port: int, paths: Sequence[str]) -> None:
    """In a separate process (so that the burst's clients cannot delay it): GET the paths in
    turn until standard input closes, then print each one's seconds, when sent and status."""
    began = time.perf_counter()
    found: list[tuple[str, float, float, int]] = []
    turn = 0
    while not select.select([sys.stdin], [], [], 0)[0]:
        path = paths[turn % len(paths)]
        turn += 1
        sent = time.perf_counter() - began
        status, _, seconds = get(port, path)
        found.append((path, seconds, sent, status))
    print(json.dumps(found))


def get(port: int, path: str) -> tuple[int, dict[str, str], float]:
    """One GET on a new connection: status, headers, seconds."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=BURST_DEADLINE_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, time.perf_counter() - began
    finally:
        connection.close()


@dataclass
class Costly:
    """One client of the burst: its query until answered, honouring Retry-After."""

    path: str
    first_status: int = 0
    first_seconds: float = 0.0
    attempts: int = 0
    answered_after: float | None = None  # seconds from the start of the burst to its 200
    statuses: list[int] = field(default_factory=list)


@dataclass
class Burst:
    costly: list[Costly]
    cheap: dict[str, list[float]]  # name: seconds of each request during the burst
    slowest: list[tuple[float, float, str]]  # seconds, when (from the start), which
    machine_stall: float  # seconds: the worst wait of an idle process on this machine meanwhile
    baseline: dict[str, list[float]]  # cheap requests alone, before the burst
    cheap_errors: int
    peak_rss_mb: float
    peak_workers: int
    rss_before_mb: float
    rss_after_mb: float
    settle_seconds: float
    seconds: float


def start_probe(port: int, cheap_list: Sequence[tuple[str, str]]) -> subprocess.Popen[str]:
    """The cheap-request client, in a process of its own (see `probe`)."""
    command = [sys.executable, "-m", "benchmarks.costliest", "--probe", str(port)]
    command += [path for _, path in cheap_list]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def probed(
    process: subprocess.Popen[str], cheap_list: Sequence[tuple[str, str]]
) -> list[tuple[str, float, float, int]]:
    """Stop the probe: (name, seconds, sent at, status) of each request it made."""
    names = {path: name for name, path in cheap_list}
    found = json.loads(process.communicate("")[0])
    return [(names[path], took, sent, status) for path, took, sent, status in found]


def measure_cheap(
    port: int, cheap_list: Sequence[tuple[str, str]], seconds: float
) -> dict[str, list[float]]:
    """Cheap requests for a while with nothing else going on: the same machine's baseline."""
    process = start_probe(port, cheap_list)
    time.sleep(seconds)
    found: dict[str, list[float]] = {name: [] for name, _ in cheap_list}
    for name, took, _, _ in probed(process, cheap_list):
        found[name].append(took)
    return found


def run_burst(port: int, pid: int, today: date, data_dir: Path) -> Burst:
    """32 costly queries at once, cheap requests meanwhile, memory sampled throughout."""
    paths = burst_paths(today, data_dir)
    cheap_list = cheap_paths(today)
    for _, path in cheap_list:  # cached, as cheap requests are
        get(port, path)
    baseline = measure_cheap(port, cheap_list, BASELINE_S)
    clients = [Costly(path) for path in paths]
    done = threading.Event()
    gate = threading.Barrier(BURST + 1)
    cheap: dict[str, list[float]] = {name: [] for name, _ in cheap_list}
    slowest: list[tuple[float, float, str]] = []
    cheap_errors = 0
    peak = [memory_mb(pid), 0.0]
    rss_before = peak[0]

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            peak[0] = max(peak[0], memory_mb(pid))
            workers = sum(1 for child in descendants(pid) if _is_worker(child))
            peak[1] = max(peak[1], workers)

    def client(costly: Costly, began: float) -> None:
        gate.wait()
        while time.perf_counter() - began < BURST_DEADLINE_S:
            status, headers, seconds = get(port, costly.path)
            costly.attempts += 1
            costly.statuses.append(status)
            if costly.attempts == 1:
                costly.first_status, costly.first_seconds = status, seconds
            if status != 503:
                costly.answered_after = time.perf_counter() - began
                return
            time.sleep(float(headers.get("retry-after", "1")))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stall_probe = subprocess.Popen(
        [sys.executable, "-c", STALL_PROBE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    cheap_probe = start_probe(port, cheap_list)
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c, began), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    gate.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    machine_stall = float(stall_probe.communicate("")[0])
    for name, took, sent, status in probed(cheap_probe, cheap_list):
        cheap[name].append(took)
        slowest.append((took, sent, name))
        cheap_errors += status != 200
    # Memory after: once the idle workers have stopped and the server has handed memory back.
    settle_began = time.perf_counter()
    while time.perf_counter() - settle_began < IDLE_S + 30:
        if not any(_is_worker(child) for child in descendants(pid)):
            break
        time.sleep(0.2)
    settled = time.perf_counter() - settle_began
    done.set()
    sampler.join()
    return Burst(
        costly=clients,
        cheap=cheap,
        slowest=sorted(slowest, reverse=True)[:5],
        machine_stall=machine_stall,
        baseline=baseline,
        cheap_errors=cheap_errors,
        peak_rss_mb=peak[0],
        peak_workers=int(peak[1]),
        rss_before_mb=rss_before,
        rss_after_mb=memory_mb(pid),
        settle_seconds=settled,
        seconds=seconds,
    )


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _ms(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(ordered):,} requests: p50 {statistics.median(ordered) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


def burst_lines(burst: Burst) -> list[str]:
    answered = [c for c in burst.costly if c.answered_after is not None]
    firsts = [c.first_status for c in burst.costly]
    first_ok = [c.first_seconds for c in burst.costly if c.first_status == 200]
    refused = [c.first_seconds for c in burst.costly if c.first_status == 503]
    worst_cheap = max(max(values) for values in burst.cheap.values()) * 1000
    cheap_ok = worst_cheap <= CHEAP_TARGET_MS and burst.cheap_errors == 0
    rss_ok = burst.peak_rss_mb <= PEAK_RSS_TARGET_MB
    example = burst.costly[0].path
    lines = [
        "",
        f"## {BURST} costly queries at once",
        "",
        f"Each asks for every category, audience and status over the widest window "
        f"({MAX_WINDOW_DAYS} days), a different one each, all reaching past the end of the "
        f"index, e.g. `{example}`. Each client retries after `Retry-After` until answered; "
        "meanwhile a client in a process of its own asks for `/version.json` and a cached "
        "one-month query in turn, each on a new connection. Memory: VmRSS of the server and "
        f"its worker processes, read every {SAMPLE_S * 1000:.0f} ms.",
        "",
        "| measure | value | target | pass/fail |",
        "| --- | --- | --- | --- |",
        f"| first answers | {firsts.count(200)} answered 200 "
        + (f"(p50 {statistics.median(first_ok):.1f} s)" if first_ok else "")
        + f", {firsts.count(503)} answered 503 "
        + (f"(max {max(refused) * 1000:.0f} ms)" if refused else "")
        + f", {len(firsts) - firsts.count(200) - firsts.count(503)} other | | |",
        f"| all {BURST} answered (200) | {len(answered)} of {BURST} after "
        f"{max((c.answered_after or 0) for c in burst.costly):.1f} s, "
        f"{sum(c.attempts for c in burst.costly)} requests in all | | |",
    ]
    for name, values in burst.baseline.items():
        lines.append(
            f"| {name}, alone for {BASELINE_S:.0f} s before the burst | {_ms(values)} | | |"
        )
    for name, values in burst.cheap.items():
        lines.append(f"| {name} during the burst | {_ms(values)} | | |")
    lines += [
        f"| slowest cheap request | {worst_cheap:.1f} ms ({burst.cheap_errors} not 200) "
        f"| ≤ {CHEAP_TARGET_MS:.0f} ms | {'pass' if cheap_ok else '**FAIL**'} |",
        f"| peak RSS | {burst.peak_rss_mb:.0f} MB (before: {burst.rss_before_mb:.0f} MB; "
        f"at most {burst.peak_workers} worker process(es)) | ≤ {PEAK_RSS_TARGET_MB:.0f} MB "
        f"| {'pass' if rss_ok else '**FAIL**'} |",
        "| slowest five cheap requests | "
        + ", ".join(f"{s * 1000:.0f} ms at {at:.1f} s" for s, at, _ in burst.slowest)
        + " (from the start of the burst) | | |",
        f"| the machine meanwhile | a separate process sleeping 2 ms at a time waited up to "
        f"{burst.machine_stall * 1000:.0f} ms longer (other work on the machine) | | |",
        f"| RSS after the burst | {burst.rss_after_mb:.0f} MB, {burst.settle_seconds:.0f} s "
        "after the last answer (idle workers stopped) | | |",
    ]
    return lines


@contextmanager
def server(work: Path, name: str) -> Iterator[tuple[int, int]]:
    """A real server on the generated data: its port and process id."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [
        sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir",
        str(work / "data"), "--port", str(port), "--no-watch", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "CALENDAR_BASE_URL": url}
    with running(command, work / f"{name}.log", env) as process:
        wait_until_up(url + "/healthz", process, work / f"{name}.log", 300)
        yield port, process.pid


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.costliest", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/costliest.md"))
    parser.add_argument("--burst-only", action="store_true", help="skip the one-at-a-time table")
    parser.add_argument("--probe", nargs="+", metavar=("PORT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(int(args.probe[0]), args.probe[1:])
        return 0
    command = "python -m benchmarks.costliest " + " ".join(argv or sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="calendar-costliest-") as folder:
        work = Path(folder)
        today = datetime.now(UTC).date()
        write(work / "data", events(args.events, DEFAULT_SEED, today))
        rows = []
        before = after = 0.0
        if not args.burst_only:
            with server(work, "table") as (port, pid):
                before = memory_mb(pid)
                for name, path in queries(today):
                    began = time.perf_counter()
                    body = fetch(f"http://{HOST}:{port}{path}", timeout=BURST_DEADLINE_S)
                    seconds = time.perf_counter() - began
                    rows.append((name, path, seconds, len(body), memory_mb(pid, "VmHWM")))
                after = memory_mb(pid)
        with server(work, "burst") as (port, pid):
            burst = run_burst(port, pid, today, work / "data")
    lines = [
        "# The costliest allowed queries",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs "
        f"({cpu_model()}), Python {sys.version.split()[0]}; load average at the end "
        + " ".join(f"{value:.1f}" for value in os.getloadavg()),
        f"- data: {args.events:,} generated events; one uvicorn worker, default settings "
        "(one expansion worker process, two requests waiting)",
        f"- command: `{command.strip()}`",
    ]
    if rows:
        lines += [
            "",
            "## One at a time",
            "",
            f"The first (uncached) request each. Server RSS before: {before:.0f} MB, "
            f"after: {after:.0f} MB (worker processes included).",
            "",
            "| query | URL | time | response | peak RSS |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for name, path, seconds, size, peak in rows:
            lines.append(f"| {name} | `{path}` | {seconds * 1000:.0f} ms | {size / 1000:.0f} kB "
                         f"| {peak:.0f} MB |")  # fmt: skip
    lines += burst_lines(burst)
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
