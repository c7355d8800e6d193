"""Loading checks events files in two processes when there is enough to check: what it
gives, errors included, is what checking them all in one process gives."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATASETS, ROOT
from loading_forked_support import TODAY

from calendar_service import events_files, forked, judging, loading, parallel_checking
from calendar_service.forked import Forked, can_fork
from calendar_service.loading import load

needs_fork = pytest.mark.skipif(not can_fork(), reason="one core, or threads running")
needs_two_cores = pytest.mark.skipif(
    not hasattr(os, "fork") or forked.cores() < 2, reason="no fork, or one core"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 generated events in four files, stamped, as the benchmark writes them (250 a
    file, not its 500: four files for the two processes to share, at half the cost).

    Written in this process: a process of its own for it cost its start and imports too.
    """
    folder = tmp_path_factory.mktemp("generated") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        generate = importlib.import_module("benchmarks.generate")
        patch.setattr(generate, "EVENTS_PER_FILE", 250)
        arguments = ["--events", "1000", "--today", TODAY.isoformat(), "--out", str(folder)]
        assert generate.main(arguments) == 0
    assert len(list((folder / "events").glob("*.yaml"))) == 4
    return folder


def compared(folder: Path) -> dict[str, Any]:
    """loading_forked_support.compared(folder), run in a process of its own (that module
    says why)."""
    support = Path(__file__).with_name("loading_forked_support.py")
    run = subprocess.run(
        [sys.executable, str(support), str(folder)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    found: dict[str, Any] = json.loads(run.stdout)
    return found


@needs_two_cores
def test_two_processes_load_what_one_does(generated: Path) -> None:
    found = compared(generated)
    assert found["sent"] == [True] and found["errors"] is None
    assert found["same"] and found["listed"] > 100


@needs_two_cores
def test_two_processes_report_the_errors_one_does(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(DATASETS / "partnership-2026", folder)
    files = sorted((folder / "events").glob("*.yaml"))
    edits = [("category", "nonsense"), ("start", "'2026-02-30'")]
    for path, (key, wrong) in zip(files, edits, strict=False):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(rf"(\n *{key}: ).*", rf"\g<1>{wrong}", text, count=1), "utf-8")
    # The parent reads the change log and the stamps while the child checks files: their
    # errors keep their place among the others.
    (folder / "changes.yaml").write_text("changes:\n- at: yesterday\n  event: x\n", "utf-8")
    stamps = folder / "revisions.yaml"
    stamps.write_text(stamps.read_text("utf-8").replace("sequence: 0", "sequence: -1", 1), "utf-8")
    found = compared(folder)
    assert found["sent"] == [True] and found["same"]
    errors = found["errors"]
    assert all(part in errors for part in ("nonsense", "changes.yaml:2", "revisions.yaml:5"))


def test_what_a_child_checked_comes_back_as_it_was(generated: Path) -> None:
    """Each checked event, sent through a pickle as the child sends it, is the same event,
    checked in the parent's own context object, its listed rule kept beside it."""
    context = object()
    listing = judging.Listing()
    found: list[loading.DataError] = []
    name = "events/generated-000.yaml"
    checked = events_files.check_events_file(
        name,
        (generated / name).read_bytes(),
        found,
        settings=load(generated, today=TODAY).settings,
        terms={},
        today=TODAY,
        context=context,
        judged={},
        listing=listing,
    )
    sent = pickle.loads(
        pickle.dumps([parallel_checking._sendable(event, listing) for event in checked])
    )
    received_listing = judging.Listing()
    back = [parallel_checking._received(item, context, received_listing) for item in sent]
    assert back == list(checked)
    assert all(event.judged.context is context for event in back)
    assert len(received_listing.listed) == len(listing.listed) > 0


@needs_fork
def test_a_failed_child_gives_no_result() -> None:
    def fails() -> int:
        raise RuntimeError("in the child")

    assert Forked(fails).result() is None
    assert Forked(lambda: [1, 2, 3]).result() == [1, 2, 3]


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="no /proc/stat here")
def test_the_tasks_running_now_include_this_one() -> None:
    """core_free reads the kernel's count of running tasks: while this process reads it,
    it is running, so the count is at least one (a misread line would give none)."""
    assert forked._tasks_running() >= 1
