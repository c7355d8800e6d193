"""The build never deletes or writes outside its output directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_DATA, ROOT
from export_support import BASE_URL, FIXED_DAY

# One xdist worker runs the module (make unit: --dist loadgroup):
# live server, nginx and exports made once.
pytestmark = pytest.mark.xdist_group("export")


def build_command(data_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALENDAR_BASE_URL": BASE_URL}
    command = [
        sys.executable, "-m", "calendar_service.cli", "build",
        "--data-dir", str(data_dir), str(out), "--date", FIXED_DAY,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)


def victims(root: Path) -> dict[str, bytes]:
    """Files outside the output directory that no build may touch, with their bytes."""
    folder = root / "victims"
    folder.mkdir()
    made = {}
    for name in ("relative.txt", "absolute.txt", "all.ics", "calendar.ics", "linked.txt"):
        for suffix in ("", ".gz", ".br"):
            (folder / (name + suffix)).write_bytes(f"keep {name}{suffix}\n".encode())
            made[name + suffix] = f"keep {name}{suffix}\n".encode()
    return made


def listing(*paths: str) -> str:
    return json.dumps({"version": "x", "files": [{"path": path} for path in paths]})


# Each case prepares an output directory (given the victims' folder) that tries to make the
# build delete or write outside it; `refused` is what the error must say, or None when the
# build must succeed without touching anything outside.
HOSTILE_OUTPUTS: dict[str, tuple[Any, str | None]] = {
    "manifest-relative-escape": (
        lambda out, v: (out / "manifest.json").write_text(listing("../victims/relative.txt")),
        "manifest.json",
    ),
    "manifest-absolute-path": (
        lambda out, v: (out / "manifest.json").write_text(listing(str(v / "absolute.txt"))),
        "manifest.json",
    ),
    "manifest-path-through-symlinked-folder": (
        lambda out, v: (
            (out / "elsewhere").symlink_to(v, target_is_directory=True),
            (out / "manifest.json").write_text(listing("elsewhere/linked.txt")),
        ),
        "outside the output directory",
    ),
    "manifest-escape-among-good-paths": (
        lambda out, v: (
            (out / "calendar.ics").write_text("stale"),
            (out / "manifest.json").write_text(listing("calendar.ics", "a/../../victims/all.ics")),
        ),
        "manifest.json",
    ),
    "manifest-not-json": (
        lambda out, v: (out / "manifest.json").write_text('{"files": [{"path": '),
        "manifest.json",
    ),
    "manifest-paths-not-text": (
        lambda out, v: (out / "manifest.json").write_text('{"files": [{"path": 7}]}'),
        "manifest.json",
    ),
    "feeds-folder-is-a-symlink-out": (
        lambda out, v: (out / "feeds").symlink_to(v, target_is_directory=True),
        "outside the output directory",
    ),
    "temporary-file-is-a-symlink-out": (
        lambda out, v: (out / "calendar.ics.tmp").symlink_to(v / "calendar.ics"),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_OUTPUTS))
def test_build_never_deletes_or_writes_outside_its_output_directory(
    case: str, tmp_path: Path
) -> None:
    prepare, refused = HOSTILE_OUTPUTS[case]
    kept = victims(tmp_path)
    out = tmp_path / "site"
    out.mkdir()
    prepare(out, tmp_path / "victims")
    before = {p.relative_to(out).as_posix() for p in out.rglob("*")}

    result = build_command(BUNDLED_DATA, out)

    assert {path: (tmp_path / "victims" / path).read_bytes() for path in kept} == kept
    if refused is None:
        assert result.returncode == 0, result.stderr
        assert (out / "calendar.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
        return
    assert result.returncode == 1
    assert refused in result.stderr
    assert "Traceback" not in result.stderr
    # All or nothing: a refused build leaves the directory as it found it.
    assert {p.relative_to(out).as_posix() for p in out.rglob("*")} == before
