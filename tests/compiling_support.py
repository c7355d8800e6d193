"""Shared by the compiling tests: snapshots compared whole, and compiling with the events
drawn in a forked child, run in a fresh process (`python tests/compiling_support.py`).

A child is forked only where no other thread runs (forked.can_fork), and a test worker
that has started servers has threads: in a process of its own the forked path is taken
whatever ran before, so the test of it cannot pass by taking the other path.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from conftest import BUNDLED_DATA

from calendar_service import compiling
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.forked import Forked
from calendar_service.loading import load

TODAY = date(2026, 1, 15)
Drawn = list[tuple[bytes, date, date | None]]


def snapshot(data: Path, previous: Catalog | None = None, today: date = TODAY) -> Catalog:
    return compile_catalog(load(data, today=today), today=today, previous=previous)


def assert_same(reused: Catalog, scratch: Catalog) -> None:
    assert list(reused.events) == list(scratch.events)
    for event_id, entry in scratch.events.items():
        assert reused.events[event_id] == entry, event_id
    assert reused.index.occurrences == scratch.index.occurrences
    assert reused.index.by_event == scratch.index.by_event
    # The sort keys and end instants a reload takes over from the previous index.
    assert reused.index.keys == scratch.index.keys
    assert reused.index.ends == scratch.index.ends
    assert reused.index.longest == scratch.index.longest
    assert reused.everything.body == scratch.everything.body
    for name, feed in scratch.feeds.items():
        assert reused.feeds[name].file.body == feed.file.body, name


class _Watched(Forked[Drawn]):
    """A Forked that records whether its child sent its result back."""

    sent: ClassVar[list[bool]] = []

    def result(self) -> Drawn | None:
        found = super().result()
        self.sent.append(found is not None)
        return found


def drawn_in_a_child(*, failing: bool) -> list[bool]:
    """Compile the bundled data with its events drawn by a forked child (which raises if
    `failing`), assert the snapshot is the one compiled in this process alone, and return
    whether each child forked sent back what it drew."""
    draw, parent = compiling._drawn, os.getpid()

    def drawn(*args: Any) -> Drawn:
        if failing and os.getpid() != parent:
            raise RuntimeError("in the child")
        return draw(*args)

    _Watched.sent = []
    compiling.PARALLEL_EVENTS, compiling.Forked = 1, _Watched  # whatever the machine's load
    compiling.core_free, compiling._drawn = (lambda: True), drawn
    forked = snapshot(BUNDLED_DATA)
    compiling.core_free, compiling._drawn = (lambda: False), draw
    here = snapshot(BUNDLED_DATA)
    assert_same(forked, here)
    assert forked.version == here.version and len(forked.events) > 10
    return _Watched.sent


if __name__ == "__main__":
    drawn = drawn_in_a_child(failing=False)
    failed = drawn_in_a_child(failing=True)
    print(json.dumps({"drawn": drawn, "failed": failed}))
