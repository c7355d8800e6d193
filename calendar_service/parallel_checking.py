"""Events files checked in two processes when enough are stale and a second core is free."""

from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Callable, Hashable
from typing import Any, cast

from calendar_service.documents import DataError
from calendar_service.events_files import CheckedEvent
from calendar_service.forked import Forked, can_fork, core_free
from calendar_service.judging import Judged, Listing
from calendar_service.load_cache import LoadCache
from calendar_service.sources import DataFile

# Events files are checked in two processes when those to check hold this many bytes
# (about 3,000 events) and two cores are free: a forked child takes files from the same
# queue as the parent and pickles what it found back (0.1 s each way for half of 10,000
# events, against 0.7 s of checking them). Below this, forking costs more than it saves.
PARALLEL_BYTES = 2_000_000

CheckFile = Callable[[str, bytes, list[DataError]], tuple[CheckedEvent, ...]]
# What a child sends back of one file, pickled as soon as the file is checked: its position
# in the queue, its checked events (without the context they were checked in: the parent's
# own is put back, and each with its listed rule), and the file's errors.
_Sent = tuple[int, tuple[tuple[Any, ...], ...], tuple[DataError, ...]]


def check_on_two_cores(
    files: list[tuple[str, DataFile]],
    cache: LoadCache,
    context: Hashable,
    listing: Listing,
    check: CheckFile,
    meanwhile: Callable[[], object] = lambda: None,
) -> None:
    """Check the stale events files in two processes, if there is enough to check and two
    cores to check it on, and keep what each file gave in `cache`, as `reuse` would: the
    results and errors are those of checking every file here (tested). A second core must
    be free (forked.core_free asks the kernel), not only there. Both processes take
    the next file from one queue, so that a child starved of a core takes little; what it
    took and could not send back (if it failed) is left for `load` to check. The parent
    does `meanwhile` (work of its own that the files' checks do not need) first, once the
    child has begun: the queue leaves the child more files to check meanwhile."""
    stale = [(name, file) for name, file in files if cache.stale(name, file, context)]
    if len(stale) < 2 or sum(file.size for _, file in stale) < PARALLEL_BYTES:
        return
    if not can_fork() or not core_free() or len(stale) > _QUEUE_MOST:
        return
    queue = _FileQueue(len(stale))
    listing.allowance.left //= 2  # each process lists rules within half of what is left

    def check_taken() -> list[bytes]:
        # Each file pickled once checked, not all at the end: the queue then shares out
        # the pickling too, and the parent waits for no more than the last file.
        sent = []
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            checked = check(name, file.raw, found)
            events = tuple(_sendable(event, listing) for event in checked)
            entry: _Sent = (position, events, tuple(found))
            sent.append(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        return sent

    child = Forked(check_taken)
    try:
        meanwhile()
        while (position := queue.take()) is not None:
            name, file = stale[position]
            found: list[DataError] = []
            cache.store(name, file, context, check(name, file.raw, found), tuple(found))
    finally:
        queue.close()
        received = child.result()
    for payload in received or ():
        position, events, found_there = cast(_Sent, pickle.loads(payload))
        name, file = stale[position]
        checked = tuple(_received(event, context, listing) for event in events)
        cache.store(name, file, context, checked, found_there)


_QUEUE_MOST = 32_768  # positions a pipe's buffer holds (64 KiB, two bytes each)


class _FileQueue:
    """Positions 0..count-1 in a pipe, taken by whichever process reads first: each read
    of two bytes takes one whole position (Linux reads a pipe under its lock, and every
    position was written before anyone reads)."""

    def __init__(self, count: int) -> None:
        self._read, write = os.pipe()
        os.write(write, struct.pack(f"<{count}H", *range(count)))
        os.close(write)  # empty, a read gives b"": the queue is done

    def take(self) -> int | None:
        taken = os.read(self._read, 2)
        return struct.unpack("<H", taken)[0] if taken else None

    def close(self) -> None:
        os.close(self._read)


def _sendable(event: CheckedEvent, listing: Listing) -> tuple[Any, ...]:
    judged = event.judged
    return (
        judged.data,
        judged.sessions,
        judged.published,
        judged.problems,
        judged.provenance,
        judged.content_hash,
        listing.of(judged.published),
        event.source,
        event.index,
        event.line,
        event.id_line,
        event.problems,
        event.provenance,
    )


def _received(sent: tuple[Any, ...], context: Hashable, listing: Listing) -> CheckedEvent:
    data, sessions, published, problems, told, hashed, expansion, *located = sent
    judged = Judged(data, context, sessions, published, problems, told, hashed)
    if expansion is not None:
        listing.listed[id(published)] = (published, expansion)
    return CheckedEvent(judged, *located)
