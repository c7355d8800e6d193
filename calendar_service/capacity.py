"""How many expansions outside the index run at once: worker processes, a queue, and
ExpansionBusy beyond (the web answers it 503 with Retry-After).

Domain, not web: search.py expands through this pool, and nothing here knows HTTP.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from typing import TypeVar

from calendar_service.errors import CalendarServiceError
from calendar_service.expansion import start_worker, timed
from calendar_service.reloading import release_free_memory
from calendar_service.settings import ServiceSettings

A = TypeVar("A")
R = TypeVar("R")
log = logging.getLogger("calendar_service.expansion")
IDLE_S = 10.0  # a pool unused this long stops its processes, and their memory goes back
FIRST_GUESS_S = 2.0  # an expansion's duration before one has been measured
RETRY_AFTER_MAX_S = 60
WORKER_NICENESS = 10  # CPU priority below the server's: cheap requests first
AVERAGE_WEIGHT = 0.3  # of the latest expansion in the running average of their durations


class ExpansionBusy(CalendarServiceError):
    """Every worker and every place in the queue is taken: retry after `retry_after` s."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.message = message or (
            "the server is busy with other queries outside its precomputed range; "
            f"retry after {retry_after} s"
        )
        super().__init__(self.message)
        self.retry_after = retry_after


class ExpansionPool:
    """Worker processes for expansion, and a bound on the requests waiting for them.

    Processes, not threads: expansion is pure Python, and in a thread it held the
    interpreter's lock in turns with every other request, so that a cheap request took
    hundreds of milliseconds while one costly query ran. A request beyond `workers` running
    and `queue` waiting is refused at once (ExpansionBusy) rather than queued without end.
    The processes are started on first use and stopped after IDLE_S without work.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.queue = queue
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._admitted = 0  # running or waiting
        self._turns = threading.Semaphore(workers)
        self._seconds = FIRST_GUESS_S  # running average of an expansion's duration
        self._idle: threading.Timer | None = None

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    @property
    def started(self) -> bool:
        """Whether worker processes are running (or starting)."""
        return self._executor is not None

    @contextmanager
    def place(self) -> Iterator[None]:
        """A place among the jobs running and waiting (ExpansionBusy at once if there is
        none), then, waiting without cost, a turn at a worker, for the block.

        Taken before any other work, so that a refusal costs nothing, and the work of
        preparing a job is done only on its turn: those waiting take no interpreter time
        from the requests being answered meanwhile.
        """
        with self._lock:
            if self._admitted >= self.workers + self.queue:
                raise ExpansionBusy(self.retry_after())
            self._admitted += 1
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
        try:
            with self._turns:
                yield
        finally:
            self._release()

    def run(self, function: Callable[[A], R], argument: A) -> R:
        """`function(argument)` in a worker process, from within a `place()`."""
        with self._lock:
            if self._executor is None:
                # spawn: a fork would copy a process running threads, and the snapshot.
                # Niced: the server's own requests come before expansion on a busy machine.
                # And each worker exits with the server, however the server ends.
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=get_context("spawn"),
                    initializer=start_worker,
                    initargs=(WORKER_NICENESS, os.getpid()),
                )
            executor = self._executor
        try:
            seconds, result = executor.submit(timed, function, argument).result()
        except BrokenProcessPool:
            log.error("an expansion worker process died; new ones start on the next query")
            self._discard(executor)
            raise ExpansionBusy(1, "an expansion worker stopped; retry after 1 s") from None
        with self._lock:
            self._seconds += AVERAGE_WEIGHT * (seconds - self._seconds)
        return result

    def has_room(self) -> bool:
        """Whether a place is free now (it may be taken before the caller asks for it)."""
        return self._admitted < self.workers + self.queue

    def retry_after(self) -> int:
        """Seconds until a place is free, about (a place frees when a running job ends),
        spread at random up to twice that, so that the clients refused together do not all
        come back together."""
        wait = self._seconds / self.workers * random.uniform(1, 2)
        return max(1, min(RETRY_AFTER_MAX_S, math.ceil(wait)))

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1
            if self._admitted == 0 and self._executor is not None:
                self._idle = threading.Timer(IDLE_S, self._retire)
                self._idle.daemon = True
                self._idle.start()

    def _retire(self) -> None:
        """Stop idle workers and hand back the memory expansion used."""
        with self._lock:
            if self._admitted or self._executor is None:
                return
            executor, self._executor, self._idle = self._executor, None, None
        executor.shutdown(wait=True)
        release_free_memory()

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False)

    def close(self) -> None:
        """Stop the workers now (waiting for the jobs they run)."""
        with self._lock:
            executor, self._executor = self._executor, None
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
        if executor is not None:
            executor.shutdown(wait=True)


class _Pools:
    """The process's one pool, made from the settings when first wanted."""

    lock = threading.Lock()
    current: ExpansionPool | None = None


def expansions() -> ExpansionPool:
    """This process's pool, as `configure` sized it (the default size before any service)."""
    with _Pools.lock:
        if _Pools.current is None:
            # Settings are read from the environment once, at start-up, and handed to
            # `configure`; a request must never read them again behind the service's back.
            settings = ServiceSettings()
            _Pools.current = ExpansionPool(settings.expansion_workers, settings.expansion_queue)
        return _Pools.current


def configure(settings: ServiceSettings) -> ExpansionPool:
    """Size this process's pool from the settings an application is made with."""
    wanted = (settings.expansion_workers, settings.expansion_queue)
    with _Pools.lock:
        old = _Pools.current
        if old is not None and (old.workers, old.queue) == wanted:
            return old
        _Pools.current = ExpansionPool(*wanted)
        pool = _Pools.current
    if old is not None:
        old.close()
    return pool
