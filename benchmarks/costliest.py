"""Time and memory of the costliest queries the service accepts, on a large calendar."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.generate import DEFAULT_SEED, events, write
from benchmarks.run import cpu_model, fetch, free_port, memory_mb, running, wait_until_up


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.costliest", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/costliest.md"))
    args = parser.parse_args(argv)
    command = "python -m benchmarks.costliest " + " ".join(argv or sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="calendar-costliest-") as folder:
        work = Path(folder)
        today = datetime.now(UTC).date()
        write(work / "data", events(args.events, DEFAULT_SEED, today))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = [
            sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir",
            str(work / "data"), "--port", str(port), "--no-watch", "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "CALENDAR_BASE_URL": url}
        rows = []
        with running(serve, work / "server.log", env) as process:
            wait_until_up(url + "/healthz", process, work / "server.log", 300)
            before = memory_mb(process.pid)
            for name, path in queries(today):
                began = time.perf_counter()
                body = fetch(url + path)
                seconds = time.perf_counter() - began
                rows.append((name, path, seconds, len(body), memory_mb(process.pid, "VmHWM")))
            after = memory_mb(process.pid)
    lines = [
        "# The costliest allowed queries",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs "
        f"({cpu_model()}), Python {sys.version.split()[0]}",
        f"- data: {args.events:,} generated events; one worker; first (uncached) request each",
        f"- command: `{command.strip()}`",
        f"- server RSS before: {before:.0f} MB, after: {after:.0f} MB",
        "",
        "| query | URL | time | response | peak RSS |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, path, seconds, size, peak in rows:
        lines.append(f"| {name} | `{path}` | {seconds * 1000:.0f} ms | {size / 1000:.0f} kB "
                     f"| {peak:.0f} MB |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
