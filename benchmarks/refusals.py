"""How fast bad data is refused: the timings the test suite used to assert.

    .venv/bin/python -m benchmarks.refusals [--limit 1.0]

Loads every case of tests/bad_inputs/data/ and every tests/fixtures/bad_events/ file (over
fixtures/valid), as the tests do, and the size and kind cases of tests/test_loading_*.py (a
sparse 3 GiB file, FIFOs, data over the total size), and prints the slowest. Refusing is
meant to be fast, because nothing is read or expanded before it is checked: the command exits
1 when a load takes longer than --limit seconds. The tests check what is refused; this checks
how fast, where a loaded machine cannot fail the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the same cases, materialised as the tests do

from bad_inputs_support import BAD_EVENTS, DATA_CASES, VALID, materialise  # noqa: E402

from calendar_service.documents import MAX_FILE_BYTES  # noqa: E402
from calendar_service.loading import DataInvalid, load  # noqa: E402
from calendar_service.sources import MAX_DATA_BYTES  # noqa: E402


def seconds_to_load(root: Path) -> float:
    started = time.perf_counter()
    with contextlib.suppress(DataInvalid):
        load(root)
    return time.perf_counter() - started


def timings() -> dict[str, float]:
    """Seconds to load (or refuse) each case, by name."""
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="refusals-") as scratch:
        for case in DATA_CASES:
            found[f"bad_inputs/{case.name}"] = seconds_to_load(
                materialise(case, Path(scratch, case.name))
            )
        for bad in sorted(BAD_EVENTS.glob("*.yaml")):
            root = Path(scratch, "bad_events", bad.stem)
            shutil.copytree(VALID, root)
            shutil.copy(bad, root / "events" / bad.name)
            found[f"bad_events/{bad.stem}"] = seconds_to_load(root)
        for name, make in SIZE_AND_KIND.items():
            root = Path(scratch, "size-and-kind", name)
            shutil.copytree(VALID, root)
            make(root)
            found[f"test_loading/{name}"] = seconds_to_load(root)
    return found


def sparse_3g_file(root: Path) -> None:
    with (root / "events" / "sparse.yaml").open("wb") as file:
        file.truncate(3 * 2**30)


def fifos(root: Path) -> None:
    os.mkfifo(root / "events" / "pipe.yaml")
    (root / "revisions.yaml").unlink(missing_ok=True)
    os.mkfifo(root / "revisions.yaml")


def over_the_total_size(root: Path) -> None:
    part = MAX_FILE_BYTES - 1
    for number in range(MAX_DATA_BYTES // part + 1):
        with (root / "events" / f"part-{number:03d}.yaml").open("wb") as file:
            file.truncate(part)


# The cases tests/test_loading_*.py check for what is refused; here, for how fast.
SIZE_AND_KIND = {
    "sparse-3g-file": sparse_3g_file,
    "fifos": fifos,
    "over-the-total-size": over_the_total_size,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=1.0, help="seconds allowed per load")
    args = parser.parse_args(argv)
    measured = sorted(timings().items(), key=lambda item: item[1], reverse=True)
    print("| case | seconds |\n|---|---|")
    for name, seconds in measured[:10]:
        print(f"| {name} | {seconds:.3f} |")
    slow = [name for name, seconds in measured if seconds > args.limit]
    print(f"\n{len(measured)} cases; over {args.limit:g} s: {', '.join(slow) or 'none'}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
