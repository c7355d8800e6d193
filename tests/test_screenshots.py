"""scripts/screenshots.py writes the README's four pictures from headless chromium."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from conftest import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.xdist_group("embed_browser")  # one chromium at a time
SCRIPT = ROOT / "scripts" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def script() -> ModuleType:
    """The script as a module: its table of shots (names and sizes), its photographer."""
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


def test_screenshots_script_writes_four_pngs_of_the_window_size(
    context: BrowserContext, tmp_path: Path
) -> None:
    # With the browser tests' chromium and shared plain context (device scale 1), in this
    # process: the script's own run (`make screenshots`) adds only launching one and making
    # a context, and a process of its own cost ~3.5 s of CPU.
    screenshots = script()
    written = screenshots.photograph(context, tmp_path / "shots")
    assert sorted(path.name for path in (tmp_path / "shots").iterdir()) == [
        "digest.png",
        "embed.png",
        "home.png",
        "month.png",
    ]
    assert sorted(written) == sorted((tmp_path / "shots").iterdir())
    for shot in screenshots.SHOTS:
        picture = tmp_path / "shots" / f"{shot.name}.png"
        assert picture.stat().st_size > 10_000, picture  # an empty window is about 5 KB
        assert png_size(picture) == (shot.width, shot.height), picture
