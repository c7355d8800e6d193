"""Shared by the data-loading tests: fixture paths, copies of valid data, error and CLI helpers."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES

from calendar_service.cli import main
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
    """`calendar-service ARGS` in this process (its `main`), answered as `subprocess.run`
    would: the status the console script exits with, and what it wrote to each stream.

    A fresh interpreter a call cost ~0.45 s of CPU; where the process itself is the subject
    (what reaches a real stderr), tests still start one.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return subprocess.CompletedProcess(
        ["calendar-service", *args], status, out.getvalue(), err.getvalue()
    )
