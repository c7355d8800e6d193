"""Reload and serve under load for longer: the scenario of tests/test_reload_under_load.py.

    .venv/bin/python -m benchmarks.reliability [--duration 60] [--changes 50]
        [--out benchmarks/results/reliability.md] [--workers 2] [--threads 4]
        [--max-requests 200000]

A real `calendar-service serve --workers N` (watching) runs on 127.0.0.1 over a copy of
`data/` in a temporary directory. Load-generator threads (one keep-alive httpx.Client each)
request /feeds/all.ics, /calendar.ics?audience=schools, /api/occurrences for 2026 and
/healthz, bounded by --duration and --max-requests, while the data changes --changes times:
valid edits (`Reload marker N`), invalid ones (`Broken marker N`: unknown category or broken
YAML), files written in two parts (some pausing longer than the debounce) and swaps of the
whole data directory for an edited copy. The result is a Markdown table, printed and written to
--out, headed by the date, the machine and the exact command.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.processes import descendants

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # one scenario, shared with the test

from conftest import BUNDLED_DATA, Server, start_server, stop_server  # noqa: E402
from reload_under_load_support import Report, run_scenario  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "reliability.md"


def memory(pid: int) -> tuple[float, float]:
    """Current and peak resident size (VmRSS, VmHWM) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def role(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    return "worker" if "multiprocessing" in command else "other"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def table(report: Report, workers: list[tuple[int, str, float, float]], main_mb: float) -> str:
    final = "never" if report.final_seconds is None else f"{report.final_seconds:.2f} s"
    invalid = sum(
        1 for problem in report.problems if "Broken marker" in problem or "partly" in problem
    )
    rows = [
        ("duration of the load", f"{report.duration:.1f} s"),
        (
            "data changes (valid / invalid, alternating; some written in two parts, some "
            "pausing 1.5 s between them; some swapping the whole directory)",
            report.changes,
        ),
        ("requests", f"{report.requests:,}"),
        ("requests/s", f"{report.requests / max(report.duration, 1e-9):,.0f}"),
        ("failed requests (connection errors, non-200)", len(report.failures)),
        ("inconsistent responses (ETag, several versions, incomplete)", len(report.problems)),
        ("invalid or half-written snapshots served (responses)", invalid),
        ("reloads (distinct versions seen in /healthz, minus one)", report.reloads),
        ("/healthz answers reporting a refused reload", f"{report.degraded:,}"),
        ("/healthz answers reporting a held reload (a snapshot dropping events)", report.held),
        (
            "/healthz watcher states",
            ", ".join(f"{state} {count:,}" for state, count in sorted(report.watch_states.items())),
        ),
        ("workers watching the data directory at the end", report.final_watching),
        (
            f"time to serve the last valid change (marker {report.final_marker}) on all "
            f"{report.final_workers} workers, from its write",
            final,
        ),
        ("latency p50", f"{report.percentile(50) * 1000:.1f} ms"),
        ("latency p99", f"{report.percentile(99) * 1000:.1f} ms"),
        ("latency max", f"{max(report.latencies, default=0.0) * 1000:.1f} ms"),
        ("peak RSS, supervisor (VmHWM)", f"{main_mb:.1f} MB"),
    ]
    for pid, kind, rss, peak in workers:
        rows.append((f"peak RSS, {kind} {pid} (VmHWM; now {rss:.1f} MB)", f"{peak:.1f} MB"))
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if report.failures or report.problems:
        lines.append("")
        lines += [f"- failure: {failure}" for failure in report.failures[:20]]
        lines += [f"- problem: {problem}" for problem in sorted(set(report.problems))[:20]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--changes", type=int, default=50, help="changes to the data (50)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown result file")
    parser.add_argument("--workers", type=int, default=2, help="server workers (2)")
    parser.add_argument("--threads", type=int, default=4, help="load-generator threads (4)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="bound (200000)")
    args = parser.parse_args(argv)
    if args.changes < 1 or args.duration <= 0 or args.max_requests < 1:
        parser.error("--changes, --duration and --max-requests must be positive")

    command = shlex.join([".venv/bin/python", "-m", "benchmarks.reliability", *sys.argv[1:]])
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="calendar-reliability-") as temporary:
        data = Path(temporary) / "data"
        shutil.copytree(BUNDLED_DATA, data)
        server: Server = start_server(data, Path(temporary), watch=True, workers=args.workers)
        try:
            report = run_scenario(
                server,
                duration=args.duration,
                changes=args.changes,
                threads=args.threads,
                max_requests=args.max_requests,
                processes=args.workers,
                final_timeout=30.0,
            )
            time.sleep(0.1)
            pid = server.process.pid
            workers = [(child, role(child), *memory(child)) for child in sorted(descendants(pid))]
            main_mb = memory(pid)[1]
        finally:
            stop_server(server)
            traceback = "Traceback" in server.output()
    heading = [
        "# Reliability: reload under load",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        f"- server: `calendar-service serve --workers {args.workers}` watching a copy of "
        f"`data/`, on 127.0.0.1; {args.threads} load threads, keep-alive",
        f"- tracebacks in the server log: {'yes' if traceback else 'none'}",
        "",
    ]
    text = "\n".join(heading) + "\n" + table(report, workers, main_mb)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    settled = report.final_seconds is not None and report.final_watching >= args.workers
    ok = settled and not (report.failures or report.problems or traceback)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
