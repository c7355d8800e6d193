"""Measure compile time, memory and HTTP throughput of calendar-service on generated data."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import export_timing, generate
from benchmarks.compile_cpu import BASE_URL as COMPILE_BASE
from benchmarks.compile_cpu import compile_cpu_rows, compile_times
from benchmarks.processes import (
    HOST,
    NGINX,
    fetch,
    free_port,
    memory_mb,
    nginx_command,
    running,
    wait_until_up,
)
from benchmarks.profiles import profile_top, py_spy_top
from benchmarks.reload_timing import reload_rows
from benchmarks.report import DEFAULT_OUT, Report, markdown, publish
from benchmarks.traffic import LoadResult, measure
from calendar_service.compiling import compile_catalog
from calendar_service.export import build_site
from calendar_service.feed_size import SUBSCRIBED_FEED_LIMIT
from calendar_service.loading import load
from calendar_service.reloading import collection_paused
from calendar_service.settings import ServiceSettings

START_TIMEOUT = 300.0  # seconds: the server loads and compiles before it answers

# Targets.
COMPILE_TARGET_S = 2.0
MEMORY_TARGET_MB = 200.0
QUERY_P99_TARGET_MS = 10.0
FEED_VS_NGINX_TARGET = 0.5


def month_after(today: date) -> tuple[date, date]:
    """The first and last day of the month after today's."""
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def _load_row(report: Report, name: str, result: LoadResult, p99_target: float | None) -> None:
    value = (
        f"{result.rps:,.0f} req/s; p50 {result.p50_ms:.2f} ms; p99 {result.p99_ms:.2f} ms "
        f"({result.requests:,} requests"
        + (f", **{result.errors} errors**" if result.errors else "")
        + ")"
    )
    if p99_target is None:
        report.add(name, value)
    else:
        passed = result.p99_ms < p99_target and result.errors == 0
        report.add(name, value, f"p99 < {p99_target:g} ms", passed)


def benchmark(args: argparse.Namespace, work: Path) -> Report:
    report = Report()
    today = datetime.now(UTC).date()
    data_dir = work / "data"
    print(f"generating {args.events} events in {data_dir}", flush=True)
    began = time.perf_counter()
    generate.write(data_dir, generate.events(args.events, args.seed, today))
    report.add("data", f"{args.events:,} events, seed {args.seed}, generated and stamped")
    report.notes.append(f"Generating and stamping took {time.perf_counter() - began:.1f} s.")

    # (a) compile time, in this process.
    print("compiling (median of 3)", flush=True)
    times = compile_times(data_dir, today)  # wall and CPU over the same three runs
    report.add(
        f"load + compile, median of {times.runs}",
        f"{times.total:.2f} s (load {times.load:.2f} s, compile {times.compile:.2f} s; "
        f"{times.occurrences:,} occurrences indexed)",
        f"< {COMPILE_TARGET_S:g} s",
        times.total < COMPILE_TARGET_S,
    )
    # Sizes are the data's, not the service's: reported (validate warns above Google's 1 MB),
    # not judged, since 10,000 generated events make every named feed larger than that.
    for name, size in times.feed_sizes.items():
        over = f" (over Google Calendar's {SUBSCRIBED_FEED_LIMIT / 1e6:g} MB)"
        report.add(
            f"named feed {name}.ics",
            f"{size / 1e6:.2f} MB{over if size > SUBSCRIBED_FEED_LIMIT else ''}",
        )
    if times.total >= COMPILE_TARGET_S and args.profile:
        print("profiling one load + compile", flush=True)
        top = profile_top(
            lambda: compile_catalog(load(data_dir, today=today), base_url=COMPILE_BASE, today=today)
        )
        report.notes.append(
            "cProfile of one load + compile (compile is over target):\n\n```\n" + top + "\n```"
        )

    for row in compile_cpu_rows(times):
        report.add(*row)
    for metric, value, target, passed in reload_rows(data_dir, today):
        report.add(metric, value, target, passed)

    # (b) the real server.
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = {**os.environ, "CALENDAR_BASE_URL": base}
    command = [
        sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir", str(data_dir),
        "--host", HOST, "--port", str(port), "--workers", "1", "--no-watch",
        "--log-level", "warning",
    ]  # fmt: skip
    server_log = work / "server.log"
    print(f"starting the server on {base}", flush=True)
    with running(command, server_log, env) as server:
        started = wait_until_up(base + "/healthz", server, server_log, START_TIMEOUT)
        rss_start = memory_mb(server.pid)
        report.add("server start to first answer", f"{started:.1f} s")
        memory_target = f"< {MEMORY_TARGET_MB:g} MB"
        report.add(
            "server RSS after start (data loaded, idle)",
            f"{rss_start:.0f} MB",
            memory_target,
            rss_start < MEMORY_TARGET_MB,
        )

        first, last = month_after(today)
        query_path = f"/api/occurrences?audience=schools&from={first}&to={last}"
        urls = [
            ("one-month query " + query_path, query_path, {}, QUERY_P99_TARGET_MS),
            ("full feed /feeds/all.ics", "/feeds/all.ics", {}, None),
            ("full feed /feeds/all.ics, gzip", "/feeds/all.ics", {"Accept-Encoding": "gzip"}, None),
            (
                "filtered feed /calendar.ics?category=awareness-day",
                "/calendar.ics?category=awareness-day",
                {},
                None,
            ),
        ]
        body = fetch(base + "/feeds/all.ics")
        gzipped = fetch(base + "/feeds/all.ics", {"Accept-Encoding": "gzip"})
        report.add(
            "full feed size", f"{len(body) / 1e6:.2f} MB, {len(gzipped) / 1e6:.2f} MB gzipped"
        )
        query_body = fetch(base + query_path)
        report.add("one-month query response", f"{len(query_body) / 1e3:.1f} kB")
        for path in (query_path, "/calendar.ics?category=awareness-day"):
            fetch(base + path)  # warm per-filter caches, as a running service has them

        live: dict[str, LoadResult] = {}
        for name, path, headers, p99_target in urls:
            print(f"loading {path} {headers or ''} for {args.duration} s", flush=True)
            result = measure(base + path, headers, args.duration, args.threads, args.connections)
            live[name] = result
            _load_row(report, name, result, p99_target)
        # One connection: the time one request takes, without queueing behind 15 others.
        print(f"loading {query_path} with one connection for {args.duration} s", flush=True)
        single = measure(base + query_path, {}, args.duration, 1, 1)
        _load_row(report, "one-month query, 1 connection (no queueing)", single, None)
        rss_after = memory_mb(server.pid)
        peak = memory_mb(server.pid, "VmHWM")
        report.add(
            "server RSS after load",
            f"{rss_after:.0f} MB (peak VmHWM {peak:.0f} MB)",
            memory_target,
            rss_after < MEMORY_TARGET_MB,
        )
        query = live[urls[0][0]]
        if query.p99_ms >= QUERY_P99_TARGET_MS and args.profile:
            print("profiling the server during the one-month query", flush=True)
            seconds = min(args.duration, 10)
            top = py_spy_top(
                server.pid,
                seconds,
                lambda: measure(base + query_path, {}, seconds - 2, args.threads, args.connections),
            )
            report.notes.append(
                "py-spy (--gil) of the server under the one-month query (p99 over target):\n\n```\n"
                + top
                + "\n```"
            )

    # (d) nginx serving the static export of the same data: the same URL, the same bytes.
    if NGINX.exists():
        nginx_dir = work / "nginx"
        nginx_dir.mkdir()
        print("exporting the site (calendar-service build)", flush=True)
        site = work / "site"
        with collection_paused():
            build_site(ServiceSettings(data_dir=data_dir, base_url=base), site, today=today)
        nginx_port = free_port()
        nginx_base = f"http://{HOST}:{nginx_port}"
        command = nginx_command(nginx_dir, nginx_port, site)
        print(f"starting nginx on {nginx_base}", flush=True)
        with running(command, nginx_dir / "stdout.log") as nginx:
            wait_until_up(nginx_base + "/feeds/all.ics", nginx, nginx_dir / "error.log", 30)
            if fetch(nginx_base + "/feeds/all.ics") != body:
                raise RuntimeError("nginx does not serve the same bytes")
            for name, headers in (
                ("full feed /feeds/all.ics", {}),
                ("full feed /feeds/all.ics, gzip", {"Accept-Encoding": "gzip"}),
            ):
                print(f"loading nginx {headers or ''} for {args.duration} s", flush=True)
                static = measure(
                    nginx_base + "/feeds/all.ics",
                    headers,
                    args.duration,
                    args.threads,
                    args.connections,
                )
                label = "nginx serving the export: " + name.removeprefix("full feed ")
                _load_row(report, label, static, None)
                ratio = live[name].rps / static.rps if static.rps else 0.0
                report.add(
                    f"live / nginx req/s, {name.removeprefix('full feed ')}",
                    f"{ratio:.2f}",
                    f">= {FEED_VS_NGINX_TARGET:g}",
                    ratio >= FEED_VS_NGINX_TARGET,
                )
    else:
        report.add("nginx comparison", f"skipped: {NGINX} is not installed")
    # (e) bytes at hand, live vs nginx on the same bytes: small feed, gzip full feed (median of 3).
    from benchmarks import serving  # here, not above: it imports this module's helpers

    for served in serving.rows(data_dir, work / "serving", duration=args.duration):
        report.add(served.metric, served.value, served.target, served.passed)

    # (f) the export alone: full, then after one edited event (incremental).
    print("timing the export: full, then after one edited event", flush=True)
    for row in export_timing.rows(data_dir, work, today):
        report.add(*row)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.strip() if __doc__ else None
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per URL")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the profiles taken when compile time or query p99 misses its target",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else "python"
    command = shlex.join([python, "-m", "benchmarks.run", *given])
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="calendar-bench-"))
    try:
        report = benchmark(args, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    publish(markdown(report, args, command, time.perf_counter() - began), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
