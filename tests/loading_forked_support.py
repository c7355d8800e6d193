"""Shared by the two-process loading tests: a directory loaded in one process and then in
two, run in a fresh process (`python tests/loading_forked_support.py DATA`).

Loading forks only where no other thread runs (forked.can_fork), and a test worker that
has started servers has threads: in a process of its own the forked path is taken whatever
ran before, so the comparison cannot pass by comparing one process with itself.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar

from calendar_service import parallel_checking
from calendar_service.forked import Forked
from calendar_service.loading import DataInvalid, LoadCache, LoadedData, load

TODAY = date(2026, 11, 25)


class _Watched(Forked[Any]):
    """A Forked that records whether its child sent its result back."""

    sent: ClassVar[list[bool]] = []

    def result(self) -> Any:
        found = super().result()
        self.sent.append(found is not None)
        return found


def described(loaded: LoadedData) -> tuple[object, ...]:
    """All a load gives, the listed rules by what they answer over the index's window."""
    first = datetime.combine(TODAY - timedelta(days=800), time())
    last = datetime.combine(TODAY + timedelta(days=1900), time())
    listed = {key: found.between(first, last) for key, found in loaded.expansions.items()}
    return (loaded.events, loaded.warnings, loaded.version, loaded.changes, listed)


def loaded(folder: Path, *, forked: bool) -> LoadedData | str:
    """The directory loaded, its events files checked in two processes or in one whatever
    the machine's load; the errors' text if it is refused."""
    parallel_checking.PARALLEL_BYTES = 0 if forked else 10**12
    parallel_checking.core_free, parallel_checking.Forked = (lambda: True), _Watched
    try:
        return load(folder, today=TODAY, cache=LoadCache())
    except DataInvalid as refused:
        return str(refused)


def compared(folder: Path) -> dict[str, Any]:
    """Whether one process and two load the same (or refuse it with the same errors), the
    errors, the rules listed, and whether each child forked sent back what it checked."""
    one = loaded(folder, forked=False)
    _Watched.sent = []
    two = loaded(folder, forked=True)
    if isinstance(one, str) or isinstance(two, str):
        return {"same": one == two, "errors": one, "listed": 0, "sent": _Watched.sent}
    same = described(one) == described(two)
    return {"same": same, "errors": None, "listed": len(one.expansions), "sent": _Watched.sent}


if __name__ == "__main__":
    print(json.dumps(compared(Path(sys.argv[1]))))
