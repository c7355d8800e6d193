"""Where the time goes when a target is missed: cProfile of a call, py-spy of a server."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.processes import ROOT


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
