"""Shared by the capacity tests: pool occupation helpers, the daily calendar and request helpers."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from calendar_service import capacity
from calendar_service.settings import ServiceSettings

if TYPE_CHECKING:
    from calendar_service.compiling import Catalog

# The application and the catalogs are imported where they are made: an expansion worker
# that `occupy` holds imports this module for `hold_until_released`, and needs neither
# (with them, ~0.3 s of CPU more for each worker a test started).

HOLD_LIMIT_S = 60.0  # a held worker lets go by itself after this, should a test fail
BURST = 4  # costly queries at once against one worker and no queue: three are refused


def occupy(pool: capacity.ExpansionPool, flag: Path) -> None:
    """Take a place in the pool and hold a worker until `flag` exists."""
    with pool.place():
        pool.run(hold_until_released, str(flag))


def hold_until_released(flag: str) -> str:
    """In a worker process: occupy it until the file `flag` exists (polled, bounded)."""
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return flag


# --- The budget ---------------------------------------------------------------------------------


def daily_events(count: int, start: date) -> list[dict[str, Any]]:
    return [
        {"id": f"daily-{n}", "title": f"Daily {n}", "summary": "s", "description": "d",
         "category": "deadline", "audiences": ["schools"], "tags": [f"t{n}"],
         "start": str(start), "recurrence": {"rule": {"frequency": "daily"}}}
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Thirty endless daily series: five years of them beyond the index are over the budget."""
    from index_support import TODAY, compiled

    return compiled(daily_events(30, TODAY), tmp_path_factory.mktemp("daily"))


def api(catalog_dir: Path, **options: Any) -> httpx.AsyncClient:
    from calendar_service.web.service import CalendarService

    settings_ = ServiceSettings(data_dir=catalog_dir, watch=False, **options)
    app = CalendarService.open(settings_).app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return asyncio.run(client.get(path))


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    return error


def beyond_index(client: httpx.AsyncClient, days: int = 0) -> str:
    today = date.fromisoformat(get(client, "/version.json").json()["compiled_on"])
    first = today + timedelta(days=5 * 366 + 30 + days)
    return f"/api/occurrences?from={first}&to={first + timedelta(days=90)}"
