"""Loading the data directory: oversized files, FIFOs and data over the total size refused fast."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from loading_support import errors_of, valid_copy

from calendar_service.documents import MAX_FILE_BYTES, MAX_STAMP_FILE_BYTES
from calendar_service.loading import load
from calendar_service.sources import MAX_DATA_BYTES

MEASURED_VALIDATE = """
import re, sys
from pathlib import Path
from calendar_service.cli import main
code = main(["validate", sys.argv[1]])
# VmHWM is this process's own peak; ru_maxrss would include the parent's, kept over exec.
status = Path("/proc/self/status").read_text()
peak_mb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) / 1024
print(f"measured: {peak_mb:.0f} MB", file=sys.stderr)
sys.exit(code)
"""
MEASURED = re.compile(r"measured: (?P<mb>\d+) MB")


def validate_measured(root: Path) -> tuple[str, float]:
    """`validate` in its own process: its error output and peak memory (MB).

    How fast it refuses is measured by benchmarks/refusals.py, not here.
    """
    result = subprocess.run(
        [sys.executable, "-c", MEASURED_VALIDATE, str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,  # a FIFO opened for reading would wait here for ever
    )
    found = MEASURED.search(result.stderr)
    assert result.returncode == 1 and found, result.stderr
    return result.stderr, float(found["mb"])


def test_validate_refuses_a_sparse_3g_file_by_its_size_fast_and_small(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    with (root / "events" / "sparse.yaml").open("wb") as file:
        file.truncate(3 * 2**30)
    stderr, peak_mb = validate_measured(root)
    assert "events/sparse.yaml: the file is larger than 2,000,000 bytes" in stderr
    assert peak_mb < 150  # the interpreter and the application's modules: nothing read


def test_validate_refuses_fifos_by_kind_without_waiting(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    os.mkfifo(root / "events" / "pipe.yaml")
    (root / "revisions.yaml").unlink(missing_ok=True)
    os.mkfifo(root / "revisions.yaml")
    stderr, _ = validate_measured(root)  # a FIFO opened for reading would hang until timeout
    assert "events/pipe.yaml: not a regular file but a FIFO (named pipe)" in stderr
    assert "revisions.yaml: not a regular file but a FIFO (named pipe)" in stderr


def test_data_over_the_total_size_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    part = MAX_FILE_BYTES - 1
    count = MAX_DATA_BYTES // part + 1
    for number in range(count):
        with (root / "events" / f"part-{number:03d}.yaml").open("wb") as file:
            file.truncate(part)
    errors = errors_of(root)  # how fast: benchmarks/refusals.py
    assert [(error.file, error.line) for error in errors] == [("events/", None)]
    assert f"more than the {MAX_DATA_BYTES:,} allowed" in errors[0].message
    assert f"events/part-000.yaml ({part:,} bytes)" in errors[0].message


def test_revisions_written_by_stamp_may_outgrow_an_events_file_up_to_their_own_limit(
    tmp_path: Path,
) -> None:
    """`stamp` keeps each event's last dates in revisions.yaml: at 10,000 events it is about
    4 MB, over the 2 MB an editor's file may have. Its own limit is MAX_STAMP_FILE_BYTES."""
    root = valid_copy(tmp_path)
    revisions = root / "revisions.yaml"
    stamped = revisions.read_bytes() if revisions.exists() else b"{}\n"
    comment = b"# " + b"x" * 97 + b"\n"
    revisions.write_bytes(stamped + comment * (3 * MAX_FILE_BYTES // len(comment)))
    assert load(root).events  # 6 MB of revisions: loaded
    revisions.write_bytes(stamped + comment * (MAX_STAMP_FILE_BYTES // len(comment) + 1))
    assert any(
        f"revisions.yaml: the file is larger than {MAX_STAMP_FILE_BYTES:,} bytes" in str(error)
        for error in errors_of(root)
    )
