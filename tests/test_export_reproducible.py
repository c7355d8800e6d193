"""Exports are byte-identical for the same data and day, however they are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BUNDLED_DATA
from export_support import FIXED_DAY, Exports, build_here, manifest_of, tree
from export_support import exports as exports

# One xdist worker runs the export modules (make unit: --dist loadgroup): exports made once.
pytestmark = pytest.mark.xdist_group("export")


def test_two_exports_of_the_same_data_and_day_are_byte_identical(
    exports: Exports, tmp_path: Path
) -> None:
    # One by the CLI (in worker processes), one in this process: the same bytes and dates.
    fixed_day = exports.of(FIXED_DAY)
    first = fixed_day.manifest
    build_here(BUNDLED_DATA, tmp_path / "second", FIXED_DAY)
    second = manifest_of(tmp_path / "second")
    assert first == second
    one, two = tree(fixed_day.root), tree(tmp_path / "second")
    assert sorted(one) == sorted(two)
    assert [path for path in one if one[path] != two[path]] == []
    assert any(path.endswith(".gz") for path in one)
    assert any(path.endswith(".br") for path in one)
    # Modification times are the responses' Last-Modified, not the time of the build.
    for item in first["files"]:
        mtime = (tmp_path / "second" / item["path"]).stat().st_mtime
        assert mtime == (fixed_day.root / item["path"]).stat().st_mtime
