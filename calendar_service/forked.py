"""Work run in a forked child process beside the parent's own, its result pickled back."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def cores() -> int:
    """The processors this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def can_fork() -> bool:
    """Whether forking is safe and useful here: two cores or more, and no other thread
    (a child forked beside a running thread can inherit a lock that thread held)."""
    return hasattr(os, "fork") and cores() >= 2 and threading.active_count() == 1


_READINGS = 3  # readings of the running tasks, a core free in each


def core_free() -> bool:
    """Whether a core is idle now: in each of a few readings of the tasks the kernel has
    running, this one included, at least one core is left. A child given no core makes the
    parent wait for it, and slows work it was to speed up (measured: 3.3 s against 2.4 s to
    load 10,000 events at a load average of 5.6 on 2).

    Not the load average: it is a minute old, and counts this process's own work (a
    benchmark or `serve` that has just generated or loaded data reads 1 or more on a machine
    whose second core is idle). Where /proc/stat cannot be read, the load average decides.
    """
    try:
        readings = [_tasks_running() for _ in range(_READINGS)]
    except (OSError, ValueError):
        try:
            return os.getloadavg()[0] <= cores() - 1
        except OSError:
            return False
    return max(readings) <= cores() - 1


def _tasks_running() -> int:
    """The tasks running or ready to run on the machine now (/proc/stat's procs_running)."""
    with open("/proc/stat", "rb") as stat:
        for line in stat:
            if line.startswith(b"procs_running "):
                return int(line.split()[1])
    raise ValueError("/proc/stat has no procs_running")


class Forked(Generic[T]):
    """`work()` started in a forked child; `result()` waits for it.

    The child pickles what `work` returns into a pipe and exits without running any
    clean-up of the parent's (os._exit). `result()` is None if the child failed in any
    way: the caller does the work itself, and meets the same exception there if any.
    """

    def __init__(self, work: Callable[[], T]) -> None:
        read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child
            code = 1
            try:
                os.close(read)
                payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self._read = read

    def result(self) -> T | None:
        with os.fdopen(self._read, "rb") as pipe:
            payload = pipe.read()  # to the end: the child has written all, or died
        _, status = os.waitpid(self._pid, 0)
        if status != 0 or not payload:
            return None
        found: T = pickle.loads(payload)
        return found
