"""Named feeds over Google Calendar's 1 MB are named by `validate`, with how to cut them."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED_DATA, in_process

from calendar_service import cli
from calendar_service.compiling import compile_catalog
from calendar_service.feed_size import SUBSCRIBED_FEED_LIMIT, feed_sizes, oversized_feeds
from calendar_service.loading import load

DAY = date(2026, 1, 5)
BASE = "https://calendar.example.org"


def test_feed_sizes_are_the_bytes_each_named_feed_serves() -> None:
    catalog = compile_catalog(load(BUNDLED_DATA, today=DAY), base_url=BASE, today=DAY)
    served = in_process(BUNDLED_DATA, today=DAY, base_url=BASE)
    sizes = feed_sizes(catalog)
    assert list(sizes) == [feed.name for feed in catalog.settings.feeds]
    for name, size in sizes.items():
        assert size == len(served.get(f"/feeds/{name}.ics").content)


def test_each_feed_over_the_limit_is_named_once_and_the_others_not() -> None:
    catalog = compile_catalog(load(BUNDLED_DATA, today=DAY), base_url=BASE, today=DAY)
    sizes = feed_sizes(catalog)
    limit = sorted(sizes.values())[len(sizes) // 2]  # about half the feeds are over it
    warnings = list(oversized_feeds(catalog, limit))
    over = [name for name, size in sizes.items() if size > limit]
    assert over and len(over) < len(sizes)
    assert len(warnings) == len(over)
    for name, warning in zip(over, warnings, strict=True):
        assert warning.startswith(f"calendar.yaml: feed {name!r} is ")
        assert f"({sizes[name]:,} bytes)" in warning
        assert "narrower filter" in warning and "past_days: " in warning
    assert list(oversized_feeds(catalog, max(sizes.values()))) == []


def _with_a_large_feed(tmp_path: Path) -> Path:
    """The dataset and 120 training events of about 9,000 characters each: over 1 MB."""
    root = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, root)
    long_text = "A session on keeping children safe online. " * 210
    events = [
        {
            "id": f"long-session-{number:03d}",
            "title": f"Long session {number}",
            "description": long_text,
            "category": "training-course",
            "audiences": ["practitioners"],
            "start": f"2026-03-{number % 28 + 1:02d}",
            "status": "provisional",
        }
        for number in range(120)
    ]
    (root / "events" / "long.yaml").write_text(yaml.safe_dump({"events": events}), "utf-8")
    return root


def test_validate_warns_of_a_feed_over_one_megabyte_and_strict_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _with_a_large_feed(tmp_path)
    assert cli.main(["validate", "--date", DAY.isoformat(), str(root)]) == 0
    lenient = capsys.readouterr().err
    feed_warnings = [line for line in lenient.splitlines() if "Google Calendar" in line]
    assert feed_warnings, lenient
    assert all(line.startswith("warning: calendar.yaml: feed '") for line in feed_warnings)
    assert any("feed 'all' is 1." in line for line in feed_warnings)
    assert cli.main(["validate", "--strict", "--date", DAY.isoformat(), str(root)]) == 1
    printed = lenient.count("\nwarning: ") + lenient.startswith("warning: ")
    # The feeds' warnings count as errors with the rest (unstamped, provisional events).
    assert f"strict: {printed} warning(s) above count as errors" in capsys.readouterr().err


def test_the_limit_is_googles_one_megabyte() -> None:
    assert SUBSCRIBED_FEED_LIMIT == 1_000_000
