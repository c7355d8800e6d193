"""The build never deletes or writes outside its output, nor reads through a hostile one."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BUNDLED_DATA
from export_support import BASE_URL, BROTLI_QUALITY, FIXED_DAY, Export, Exports
from export_support import exports as exports

from calendar_service.cli import main
from calendar_service.export_storage import compression

# One xdist worker runs the export modules (make unit: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("export")


def build_command(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """`calendar-service build` in this process (the CLI's own handling is the subject)."""
    monkeypatch.setenv("CALENDAR_BASE_URL", BASE_URL)
    monkeypatch.setenv("CALENDAR_EXPORT_BROTLI_QUALITY", str(BROTLI_QUALITY))
    code = main(["build", "--data-dir", str(BUNDLED_DATA), str(out), "--date", FIXED_DAY])
    return code, capsys.readouterr().err


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
    files = [{"path": path} for path in paths]
    return json.dumps({"version": "x", "compression": compression(BROTLI_QUALITY), "files": files})


def same_bytes(made: Export, *paths: str) -> str:
    """A manifest listing the very bytes the build makes, so that it would reuse the files."""
    hashes = {item["path"]: item["sha256"] for item in made.manifest["files"]}
    files = [{"path": path, "sha256": hashes[path]} for path in paths]
    return json.dumps({"compression": compression(BROTLI_QUALITY), "files": files})


# Each case prepares the export the output link names now (given the victims' folder) so as
# to make the build delete, write or read outside it; `refused` is what the error must say,
# or None when the build must succeed without touching anything outside.
HOSTILE_OUTPUTS: dict[str, tuple[Any, str | None]] = {
    "manifest-relative-escape": (
        lambda out, v, h: (out / "manifest.json").write_text(listing("../victims/relative.txt")),
        "manifest.json",
    ),
    "manifest-absolute-path": (
        lambda out, v, h: (out / "manifest.json").write_text(listing(str(v / "absolute.txt"))),
        "manifest.json",
    ),
    "manifest-path-through-symlinked-folder": (
        lambda out, v, h: (
            (out / "elsewhere").symlink_to(v, target_is_directory=True),
            (out / "manifest.json").write_text(listing("elsewhere/linked.txt")),
        ),
        "outside the output directory",
    ),
    "manifest-escape-among-good-paths": (
        lambda out, v, h: (
            (out / "calendar.ics").write_text("stale"),
            (out / "manifest.json").write_text(listing("calendar.ics", "a/../../victims/all.ics")),
        ),
        "manifest.json",
    ),
    "manifest-not-json": (
        lambda out, v, h: (out / "manifest.json").write_text('{"files": [{"path": '),
        "manifest.json",
    ),
    "manifest-paths-not-text": (
        lambda out, v, h: (out / "manifest.json").write_text('{"files": [{"path": 7}]}'),
        "manifest.json",
    ),
    "feeds-folder-is-a-symlink-out": (
        lambda out, v, h: (out / "feeds").symlink_to(v, target_is_directory=True),
        None,
    ),
    # The manifest lists calendar.ics with the bytes the build makes: a plain file would be
    # reused, a link (here to a victim) never is.
    "reused-file-is-a-symlink-out": (
        lambda out, v, h: (
            (out / "calendar.ics").symlink_to(v / "calendar.ics"),
            (out / "manifest.json").write_text(same_bytes(h, "calendar.ics")),
        ),
        None,
    ),
    "reused-file-has-a-sibling-linked-out": (
        lambda out, v, h: (
            shutil.copy2(h.root / "calendar.ics", out / "calendar.ics"),
            shutil.copy2(h.root / "calendar.ics.br", out / "calendar.ics.br"),
            (out / "calendar.ics.gz").symlink_to(v / "calendar.ics.gz"),
            (out / "manifest.json").write_text(same_bytes(h, "calendar.ics")),
        ),
        None,
    ),
    "versions-folder-is-a-symlink-out": (
        lambda out, v, h: out.parent.joinpath("site.versions").symlink_to(v),
        "outside the output directory",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_OUTPUTS))
def test_build_never_deletes_or_writes_outside_its_output_directory(
    case: str,
    exports: Exports,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepare, refused = HOSTILE_OUTPUTS[case]
    kept = victims(tmp_path)
    served = tmp_path / "served"  # the export the link names now
    served.mkdir()
    out = tmp_path / "site"
    out.symlink_to(served, target_is_directory=True)
    prepare(served, tmp_path / "victims", exports.of(FIXED_DAY))
    before = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}

    code, stderr = build_command(out, capsys, monkeypatch)

    assert {path: (tmp_path / "victims" / path).read_bytes() for path in kept} == kept
    assert {p.relative_to(served).as_posix() for p in served.rglob("*")} == {
        p.removeprefix("served/") for p in before if p.startswith("served/")
    }
    if refused is None:
        assert code == 0, stderr
        assert (out / "calendar.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
        for suffix in ("", ".gz", ".br"):
            assert not (out / f"calendar.ics{suffix}").is_symlink()
        assert gzip.decompress((out / "calendar.ics.gz").read_bytes()).startswith(b"BEGIN:")
        assert out.resolve().parent == (tmp_path / "site.versions").resolve()
        return
    assert code == 1
    assert refused in stderr
    assert "Traceback" not in stderr
    # All or nothing: a refused build leaves everything as it found it, the link included.
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")} == before
    assert os.readlink(out) == str(served)


def test_a_folder_that_is_not_a_link_is_refused_unless_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("someone's own page")
    code, stderr = build_command(out, capsys, monkeypatch)
    assert code == 1
    assert "not a link to an export" in stderr
    assert (out / "index.html").read_text() == "someone's own page"
    assert not (tmp_path / "site.versions").exists() or not any(
        (tmp_path / "site.versions").iterdir()
    )
