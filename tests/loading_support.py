"""Shared by the data-loading tests: fixture paths, copies of valid data, error and CLI helpers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

from calendar_service.loading import DataError, DataInvalid, load

VALID = FIXTURES / "valid"
BAD_EVENTS = FIXTURES / "bad_events"
BAD_FILES = sorted(BAD_EVENTS.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: line=(?P<line>\d+) field=(?P<field>\S*) message=(?P<message>.+)$")

EVENT = """\
  - id: {id}
    title: {title}
    category: awareness-day
    audiences: [schools]
    start: {start}
"""


@dataclass(frozen=True)
class Expectation:
    line: int
    field: str
    message: str


def expectation(path: Path) -> Expectation:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = EXPECT.match(first)
    assert match, f"{path.name} must begin with an '# expect: line=N field=F message=M' comment"
    return Expectation(int(match["line"]), match["field"], match["message"].strip())


def valid_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(VALID, target)
    return target


def errors_of(root: Path) -> list[DataError]:
    with pytest.raises(DataInvalid) as caught:
        load(root)
    assert caught.value.errors, "DataInvalid must list at least one error"
    return caught.value.errors


def events_file(*events: str) -> str:
    return "events:\n" + "\n".join(events)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
