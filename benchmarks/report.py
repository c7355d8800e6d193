"""A benchmark's results: rows with targets and verdicts, written as Markdown."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.processes import HOST, ROOT, cpu_model

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "latest.md"


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


def publish(text: str, out: Path) -> None:
    """Write a run's Markdown results to `out`, and show them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print()
    print(text)
