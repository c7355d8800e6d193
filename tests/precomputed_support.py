"""Shared by the lean-path tests: one ASGI request as uvicorn passes it, and what was sent."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from conftest import BUNDLED_DATA, DATASETS
from starlette.types import Message, Receive, Scope, Send

from calendar_service.settings import ServiceSettings
from calendar_service.web.app import CalendarApp
from calendar_service.web.service import CalendarService

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Sent:
    """A response as the server writes it: status, every header in order, the body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def with_terms(root: Path) -> Path:
    """The frozen dataset with a term calendar, so that a term feed is served too."""
    data = root / "data"
    shutil.copytree(BUNDLED_DATA, data)
    shutil.copytree(DATASETS / "term-time-programmes" / "terms", data / "terms")
    return data


def open_app(data: Path) -> tuple[CalendarService, CalendarApp]:
    """The service over `data`, not watching, and its application."""
    service = CalendarService.open(ServiceSettings(data_dir=data, watch=False))
    app = service.app()
    assert isinstance(app, CalendarApp)
    return service, app


def scope_of(
    method: str, path: str, headers: dict[str, str] | None = None, query: bytes = b""
) -> Scope:
    """An HTTP scope as uvicorn's httptools protocol builds it (header names lower-cased)."""
    raw = [
        (name.lower().encode(), value.encode("latin-1")) for name, value in (headers or {}).items()
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "root_path": "",
        "headers": raw,
        "state": {},
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
    }


def call(app: Asgi, scope: Scope) -> Sent:
    """Run one request through `app`; the status, headers and body it sent."""
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    asyncio.run(app(dict(scope), receive, send))
    start, *bodies = messages
    assert start["type"] == "http.response.start"
    assert all(body["type"] == "http.response.body" for body in bodies)
    assert not bodies[-1].get("more_body", False)
    headers = tuple((bytes(name), bytes(value)) for name, value in start["headers"])
    return Sent(start["status"], headers, b"".join(body.get("body", b"") for body in bodies))
