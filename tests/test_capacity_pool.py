"""Queries beyond the occurrence index: bounded concurrency in the worker pool, 503s, the queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from capacity_support import HOLD_LIMIT_S, api, assert_error, beyond_index, get, occupy
from conftest import BUNDLED_DATA

from calendar_service import capacity
from calendar_service.settings import ServiceSettings

# One xdist worker runs the module (make unit: --dist loadgroup):
# its servers and catalogs made once.
pytestmark = pytest.mark.xdist_group("capacity")


# --- Concurrency: 503 beyond the pool, cheap requests answered meanwhile -----------------------


@pytest.fixture
def single_worker() -> Iterator[httpx.AsyncClient]:
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=0)
    yield client
    capacity.configure(ServiceSettings())  # the default pool again for other tests


def test_a_full_pool_answers_503_with_retry_after_and_cheap_requests_meanwhile(
    single_worker: httpx.AsyncClient, tmp_path: Path
) -> None:
    client = single_worker
    pool = capacity.expansions()
    assert (pool.workers, pool.queue) == (1, 0)
    flag = tmp_path / "release"
    held = threading.Thread(target=occupy, args=(pool, flag))
    held.start()
    try:
        deadline = time.monotonic() + 30
        while pool.admitted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.admitted == 1
        today = date.fromisoformat(get(client, "/version.json").json()["compiled_on"])
        for path in (
            beyond_index(client),
            beyond_index(client).replace("/api/occurrences", "/api/facets"),
            # Refused by the pool itself, not by the API's shortcut: the same answer.
            f"/embed?view=month&month={today.year + 8}-{today.month:02d}",
        ):
            busy = get(client, path)
            error = assert_error(busy, 503)
            assert "retry after" in error["message"]
            assert int(busy.headers["retry-after"]) >= 1
            assert busy.headers["cache-control"] == "no-store"  # never cached by a CDN
        # Cheap requests are answered while the worker is busy.
        assert get(client, "/version.json").status_code == 200
        month = get(client, "/api/occurrences?from=2026-02-01&to=2026-02-28")
        assert month.status_code == 200
        assert get(client, "/feeds/all.ics").status_code == 200
        assert held.is_alive() and pool.admitted == 1  # still holding the only worker
    finally:
        flag.touch()
        held.join(timeout=HOLD_LIMIT_S)
    # Once it is free, the same query is answered.
    served = get(client, beyond_index(client))
    assert served.status_code == 200
    assert served.json()["total"] > 0


def test_the_queue_lets_requests_wait_their_turn(tmp_path: Path) -> None:
    client = api(BUNDLED_DATA, expansion_workers=1, expansion_queue=1)
    try:
        pool = capacity.expansions()
        flag = tmp_path / "release"
        held = threading.Thread(target=occupy, args=(pool, flag))
        held.start()
        deadline = time.monotonic() + 30
        while pool.admitted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        answers: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: answers.append(get(client, beyond_index(client))))
        waiting.start()
        while pool.admitted < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.admitted == 2  # one running, one waiting
        assert_error(get(client, beyond_index(client, days=7)), 503)  # no third place
        flag.touch()
        waiting.join(timeout=HOLD_LIMIT_S)
        held.join(timeout=HOLD_LIMIT_S)
        assert [answer.status_code for answer in answers] == [200]
    finally:
        capacity.configure(ServiceSettings())
