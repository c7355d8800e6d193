"""How long the static export takes: a full export, and the export after one edited event.

`rows(data_dir, work, today)` gives (metric, value, target, passed) rows for benchmarks/run.py;
`python -m benchmarks.export_timing --events 10000` runs it alone on generated data.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks import generate
from calendar_service.export import ExportedFile, build_site
from calendar_service.settings import ServiceSettings

FULL_TARGET_S = 60.0
AFTER_EDIT_TARGET_S = 5.0
BASE_URL = "https://calendar.example.test"
Row = tuple[str, str, str, bool | None]


@dataclass(frozen=True, slots=True)
class Timed:
    """One build: wall seconds, CPU seconds (this process and its workers), what it did."""

    wall: float
    cpu: float
    stored: Counter[str]

    def text(self) -> str:
        return (
            f"{self.wall:.1f} s (CPU {self.cpu:.1f} s); {self.stored['written']:,} files written, "
            f"{self.stored['linked']:,} linked, {self.stored['copied']:,} re-dated"
        )


def _cpu() -> float:
    mine, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + workers.ru_utime + workers.ru_stime


def timed_build(data_dir: Path, out: Path, today: date) -> Timed:
    """`build_site` as `calendar-service build` runs it (one worker process per core)."""
    settings = ServiceSettings(data_dir=data_dir, base_url=BASE_URL)
    began, cpu = time.perf_counter(), _cpu()
    files: list[ExportedFile] = build_site(settings, out, today=today)
    return Timed(time.perf_counter() - began, _cpu() - cpu, Counter(item.stored for item in files))


def edit_one_event(data_dir: Path) -> str:
    """Change the first event's title, as an editor would (unstamped); its id."""
    source = sorted((data_dir / "events").glob("*.yaml"))[0]
    text = source.read_text(encoding="utf-8")
    found = re.search(r"^- id: (\S+)\n  title: (.*)$", text, re.M)
    if found is None:
        raise RuntimeError(f"{source}: no event title to edit")
    edited = text[: found.end(2)] + " (edited)" + text[found.end(2) :]
    source.write_text(edited, encoding="utf-8")
    return found.group(1)


def rows(data_dir: Path, work: Path, today: date) -> list[Row]:
    """A full export of a copy of `data_dir`, then one event edited and exported again."""
    data = work / "export-data"
    shutil.copytree(data_dir, data)
    out = work / "export-site"
    full = timed_build(data, out, today)
    edited = edit_one_event(data)
    after = timed_build(data, out, today)
    return [
        (
            "full export (every precomputable URL, .gz and .br)",
            full.text(),
            f"<= {FULL_TARGET_S:g} s",
            full.wall <= FULL_TARGET_S,
        ),
        (
            f"export after one edited event ({edited})",
            after.text(),
            f"<= {AFTER_EDIT_TARGET_S:g} s",
            after.wall <= AFTER_EDIT_TARGET_S,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_timing")
    parser.add_argument("--events", type=int, default=10_000, help="events to generate")
    parser.add_argument("--data", type=Path, help="an existing data directory (not changed)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="export-timing-") as name:
        work = Path(name)
        data = args.data
        if data is None:
            data = work / "generated"
            generate.write(data, generate.events(args.events, args.seed, today))
        for metric, value, target, passed in rows(data, work, today):
            verdict = "" if passed is None else ("met" if passed else "NOT MET")
            print(f"{metric}: {value} [target {target}: {verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
