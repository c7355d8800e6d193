"""scripts/screenshots.py writes the README's four pictures from headless chromium."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

pytestmark = pytest.mark.xdist_group("embed_browser")  # one chromium at a time
SCRIPT = ROOT / "scripts" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def script() -> ModuleType:
    """The script as a module, for its table of shots (names and sizes)."""
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which the format puts first."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_screenshots_script_writes_four_pngs_of_the_window_size(tmp_path: Path) -> None:
    shots = script().SHOTS
    if not Path(script().CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing (CI is set, so this fails)")
        pytest.skip("/usr/bin/chromium is missing: run `make browser-deps`")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "shots")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "shots").iterdir()) == [
        "digest.png",
        "embed.png",
        "home.png",
        "month.png",
    ]
    for shot in shots:
        picture = tmp_path / "shots" / f"{shot.name}.png"
        assert picture.stat().st_size > 10_000, picture  # an empty window is about 5 KB
        assert png_size(picture) == (shot.width, shot.height), picture
