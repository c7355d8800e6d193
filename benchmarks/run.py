"""Measure compile time, memory and HTTP throughput of calendar-service on generated data."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import export_timing, generate
from benchmarks.compile_cpu import BASE_URL as COMPILE_BASE
from benchmarks.compile_cpu import compile_cpu_rows, compile_times
from benchmarks.reload_timing import reload_rows
from calendar_service.compiling import compile_catalog
from calendar_service.export import build_site
from calendar_service.feed_size import SUBSCRIBED_FEED_LIMIT
from calendar_service.loading import load
from calendar_service.reloading import collection_paused
from calendar_service.settings import ServiceSettings

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.md"
NGINX = Path("/usr/sbin/nginx")
START_TIMEOUT = 300.0  # seconds: the server loads and compiles before it answers

# Targets.
COMPILE_TARGET_S = 2.0
MEMORY_TARGET_MB = 200.0
QUERY_P99_TARGET_MS = 10.0
FEED_VS_NGINX_TARGET = 0.5


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses and socket errors


@dataclass
class Row:
    """One line of the results table."""

    metric: str
    value: str
    target: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("pass" if self.passed else "**FAIL**")


@dataclass
class Report:
    """The table and the notes under it."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, value: str, target: str = "", passed: bool | None = None) -> None:
        self.rows.append(Row(metric, value, target, passed))
        print(f"  {metric}: {value}" + (f" (target {target})" if target else ""), flush=True)


# --- machine and process facts -------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def descendants(pid: int) -> list[int]:
    """Descendant processes of `pid` (uvicorn with --workers > 1 forks them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    """A /proc/PID/status memory figure of a process and its descendants, in MB."""
    total_kb = 0
    for each in (pid, *descendants(pid)):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Poll `url` until it answers 200; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            fetch(url, timeout=2)
            return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def running(
    command: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process for the block, then stop it (SIGTERM, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- load generation ------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise ValueError(f"cannot read wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> LoadResult:
    """Read requests/s, p50, p99 and errors from `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+),", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not (done and rps and "50" in percentiles and "99" in percentiles):
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = 0
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(bad.group(1))
    if sockets := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(value) for value in sockets.groups())
    return LoadResult(
        tool="wrk",
        requests=int(done.group(1)),
        seconds=_duration_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_duration_ms(percentiles["50"]),
        p99_ms=_duration_ms(percentiles["99"]),
        errors=errors,
    )


def run_wrk(
    url: str, headers: dict[str, str], duration: int, threads: int, connections: int
) -> LoadResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


async def _python_load(
    url: str, headers: dict[str, str], duration: int, connections: int
) -> LoadResult:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                began = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        tool="python-httpx",
        requests=len(latencies),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=ordered[int(0.50 * (len(ordered) - 1))],
        p99_ms=ordered[int(0.99 * (len(ordered) - 1))],
        errors=errors,
    )


def measure(
    url: str, headers: dict[str, str], duration: int, threads: int, connections: int
) -> LoadResult:
    """Load one URL on 127.0.0.1 for `duration` seconds with wrk, or Python if wrk is absent."""
    assert url.startswith(f"http://{HOST}:"), "load only ever goes to 127.0.0.1"
    if shutil.which("wrk"):
        return run_wrk(url, headers, duration, threads, connections)
    return asyncio.run(_python_load(url, headers, duration, connections))


# --- nginx ------------------------------------------------------------------------------------

NGINX_CONFIG = """\
daemon off;
worker_processes 1;
{user}pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/calendar ics; }}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {{
        listen {host}:{port};
        root {root};
        gzip_static on;
        gzip_vary on;
        location / {{ }}
    }}
}}
"""


def nginx_command(tmp: Path, port: int, root: Path) -> list[str]:
    """An nginx config serving `root` (a static export, with its .gz files); the command."""
    user = ""
    if os.geteuid() == 0:  # otherwise nginx's workers switch to `nobody`, who cannot read tmp
        import pwd

        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n"
    config = tmp / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(user=user, tmp=tmp, root=root, host=HOST, port=port))
    return [str(NGINX), "-p", str(tmp), "-c", str(config), "-e", str(tmp / "error.log")]


# --- profiles -------------------------------------------------------------------------------


def profile_top(function: Callable[[], object], limit: int = 10) -> str:
    """cProfile of one call: top functions by own time, then the project's by cumulative."""
    profiler = cProfile.Profile()
    profiler.runcall(function)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(r"calendar_service[/\\]", limit)
    lines = []
    for line in text.getvalue().splitlines():
        line = re.sub(r"\S*[/\\](site-packages|lib[/\\]python3\.\d+)[/\\]", "", line.rstrip())
        lines.append(line.replace(str(ROOT) + os.sep, ""))
    return "\n".join(line for line in lines if line and not line.startswith("   Ordered"))


def py_spy_top(pid: int, seconds: int, during: Callable[[], object], limit: int = 10) -> str:
    """Sample a running process with py-spy while `during` runs; top frames by own samples."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return "(py-spy is not installed; `pip install py-spy` for a profile of the server)"
    with tempfile.NamedTemporaryFile(suffix=".txt") as raw:
        command = [
            spy,
            "record",
            "--gil",
            "-r",
            "200",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-f",
            "raw",
        ]
        command += ["-o", raw.name]  # --gil: only the thread running Python, not idle ones
        spy_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)
        during()
        _, stderr = spy_process.communicate(timeout=seconds + 60)
        if spy_process.returncode != 0:
            return f"(py-spy failed: {stderr.decode(errors='replace').strip()[-500:]})"
        own: dict[str, int] = {}
        total: dict[str, int] = {}
        samples = 0
        for line in Path(raw.name).read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            # "function (file:line)" -> "function (file)": one entry per function.
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
            samples += count
            own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                total[frame] = total.get(frame, 0) + count
    if not samples:
        return "(py-spy recorded no samples)"
    out = [f"{samples} samples; own% cumulative% frame"]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:limit]:
        out.append(f"{100 * count / samples:5.1f} {100 * total[frame] / samples:5.1f}  {frame}")
    return "\n".join(out)


# --- the benchmark ------------------------------------------------------------------------------


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


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def markdown(report: Report, args: argparse.Namespace, command: str, elapsed: float) -> str:
    tool = "wrk" if shutil.which("wrk") else "Python asyncio + httpx (wrk not found)"
    lines = [
        "# calendar-service benchmark",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
        f"- Python {platform.python_version()} on {platform.platform()}",
        f"- command: `{command}`",
        f"- load: {tool}, {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s per URL, all to {HOST}; server: 1 uvicorn worker, --no-watch",
        f"- whole run: {elapsed:.0f} s; load average at the end {_load_average()} "
        "(other work on the machine skews every figure: compare quiet runs only)",
        "",
        "| metric | value | target | pass/fail |",
        "| --- | --- | --- | --- |",
    ]
    for row in report.rows:
        cells = (row.metric, row.value, row.target, row.verdict)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    for note in report.notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"


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


def publish(text: str, out: Path) -> None:
    """Write a run's Markdown results to `out`, and show them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print()
    print(text)


if __name__ == "__main__":
    sys.exit(main())
