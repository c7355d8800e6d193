"""Serving bytes at hand: the live service against nginx serving the same bytes (issue 16).

    .venv/bin/python -m benchmarks.serving [--data DIR] [--duration 10] [--runs 3]

Two cases, each the live server (`calendar-service serve`, one worker, --no-watch) against
nginx (benchmarks/run.py's config) serving the very bytes fetched from it:

- small feed: /feeds/all.ics of a generated calendar of SMALL_EVENTS events (about 200 KB),
  without compression;
- gzip full feed: /feeds/all.ics of the large calendar (10,000 events: about 10 MB, 0.8 MB
  gzipped) with `Accept-Encoding: gzip`.

Live and nginx runs alternate, `runs` of each, so that other work on a shared machine falls
on both; the ratio reported is the median of the runs' ratios (live req/s / nginx req/s).
Each run also reads the servers' CPU time from /proc: CPU per request is steadier than
req/s where other processes take turns on the cores. `python -m benchmarks.run` calls
`rows` with its generated data.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks import generate
from benchmarks.processes import (
    HOST,
    NGINX,
    descendants,
    fetch,
    free_port,
    nginx_command,
    running,
    wait_until_up,
)
from benchmarks.report import DEFAULT_OUT, Report, Row, markdown, publish
from benchmarks.run import START_TIMEOUT
from benchmarks.traffic import LoadResult, measure

SMALL_EVENTS = 200  # /feeds/all.ics of about 200 KB, the small feed issue 16 names
SMALL_TARGET = 0.25
GZIP_TARGET = 0.6
FEED = "/feeds/all.ics"
GZIP = {"Accept-Encoding": "gzip"}
CONNECTIONS = 32  # wrk -t2 -c32, as the issue measures


@dataclass(frozen=True)
class Run:
    """One load run of one server: what the load tool saw and the server's CPU per request."""

    load: LoadResult
    cpu_us: float  # the server's CPU time (every process of it) per request answered


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants so far."""
    ticks = 0
    for each in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def load_run(url: str, headers: dict[str, str], pid: int, duration: int, threads: int) -> Run:
    """Load `url` for `duration` seconds; the result and the serving process's CPU."""
    before = cpu_seconds(pid)
    load = measure(url, headers, duration, threads, CONNECTIONS)
    used = cpu_seconds(pid) - before
    return Run(load, 1e6 * used / load.requests if load.requests else 0.0)


def serve_command(data_dir: Path, port: int) -> list[str]:
    """`calendar-service serve` as the benchmark runs it: one worker, not watching."""
    return [
        sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir", str(data_dir),
        "--host", HOST, "--port", str(port), "--workers", "1", "--no-watch",
        "--log-level", "warning",
    ]  # fmt: skip


def compare(
    name: str,
    data_dir: Path,
    work: Path,
    headers: dict[str, str],
    *,
    target: float,
    duration: int,
    runs: int,
    threads: int,
) -> list[Row]:
    """Live against nginx on FEED's bytes (as `headers` ask for them), alternating runs."""
    work.mkdir(parents=True)
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {**os.environ, "CALENDAR_BASE_URL": base}
    log = work / "server.log"
    print(f"{name}: starting the server on {base}", flush=True)
    with running(serve_command(data_dir, port), log, env) as server:
        wait_until_up(base + "/healthz", server, log, START_TIMEOUT)
        # nginx's root holds what the live server sends: the feed and its gzip (gzip_static).
        root = work / "root" / FEED.strip("/")
        root.parent.mkdir(parents=True)
        root.write_bytes(fetch(base + FEED))
        root.with_name(root.name + ".gz").write_bytes(fetch(base + FEED, GZIP))
        sent = fetch(base + FEED, headers)
        nginx_dir = work / "nginx"
        nginx_dir.mkdir()
        nginx_port = free_port()
        nginx_base = f"http://{HOST}:{nginx_port}"
        command = nginx_command(nginx_dir, nginx_port, work / "root")
        with running(command, nginx_dir / "stdout.log") as nginx:
            wait_until_up(nginx_base + FEED, nginx, nginx_dir / "error.log", 30)
            if fetch(nginx_base + FEED, headers) != sent:
                raise RuntimeError(f"{name}: nginx does not send the live server's bytes")
            live: list[Run] = []
            static: list[Run] = []
            for number in range(1, runs + 1):
                print(f"{name}: run {number} of {runs}, {duration} s each", flush=True)
                live.append(load_run(base + FEED, headers, server.pid, duration, threads))
                static.append(load_run(nginx_base + FEED, headers, nginx.pid, duration, threads))
    ratios = [
        a.load.rps / b.load.rps if b.load.rps else 0.0 for a, b in zip(live, static, strict=True)
    ]
    ratio = statistics.median(ratios)
    errors = sum(run.load.errors for run in (*live, *static))
    return [
        Row(
            f"{name}: live / nginx req/s, median of {runs}",
            f"{ratio:.2f} (runs {', '.join(f'{each:.2f}' for each in ratios)}; "
            f"{len(sent) / 1e3:,.0f} kB sent" + (f"; **{errors} errors**" if errors else "") + ")",
            f">= {target:g}",
            ratio >= target and errors == 0,
        ),
        Row(f"{name}: live req/s", _figures(live)),
        Row(f"{name}: nginx req/s", _figures(static)),
    ]


def _figures(runs: list[Run]) -> str:
    """req/s and CPU µs per request of each run, then their medians."""
    rps = [run.load.rps for run in runs]
    cpu = [run.cpu_us for run in runs]
    return (
        f"{statistics.median(rps):,.0f} req/s, {statistics.median(cpu):.0f} µs CPU/request "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rps)} req/s; "
        f"{', '.join(f'{c:.0f}' for c in cpu)} µs)"
    )


def rows(
    data_dir: Path, work: Path, *, duration: int = 10, runs: int = 3, threads: int = 2
) -> list[Row]:
    """The small-feed and gzip-full-feed comparisons; `data_dir` is the large calendar.

    The small calendar is generated under `work` (which must not exist yet).
    """
    if not NGINX.exists():
        return [Row("live vs nginx on the same bytes", f"skipped: {NGINX} is not installed")]
    small = work / "small-data"
    generate.write(small, generate.events(SMALL_EVENTS, generate.DEFAULT_SEED, _today()))
    options = {"duration": duration, "runs": runs, "threads": threads}
    return [
        *compare(
            f"small feed ({SMALL_EVENTS} events, identity)",
            small,
            work / "small",
            {},
            target=SMALL_TARGET,
            **options,
        ),
        *compare("gzip full feed", data_dir, work / "full", GZIP, target=GZIP_TARGET, **options),
    ]


def _today() -> date:
    return datetime.now(UTC).date()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serving", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", type=Path, help="the large calendar (default: generated)")
    parser.add_argument("--events", type=int, default=10_000, help="events generated, no --data")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each server")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT.with_name("serving.md"), help="Markdown file"
    )
    args = parser.parse_args(argv)
    args.connections = CONNECTIONS  # for the heading `markdown` writes
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="calendar-serving-"))
    try:
        data_dir = args.data
        if data_dir is None:
            data_dir = work / "data"
            print(f"generating {args.events} events in {data_dir}", flush=True)
            generate.write(data_dir, generate.events(args.events, generate.DEFAULT_SEED, _today()))
        report = Report()
        for row in rows(data_dir, work / "runs", duration=args.duration, runs=args.runs):
            report.add(row.metric, row.value, row.target, row.passed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = shlex.join(["python", "-m", "benchmarks.serving", *(argv or sys.argv[1:])])
    publish(markdown(report, args, command, time.perf_counter() - began), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
