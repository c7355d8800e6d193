"""The service run under uvicorn: the socket bound first, the data checked, our protocol.

The application is imported where it is made (`_application`, `WorkerApp`): with several
workers, this process only checks the data and watches over them, and without FastAPI and
the routes it starts ~0.25 s of CPU sooner and holds less memory for as long as it runs.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.supervisors import Multiprocess

from calendar_service.feed_size import oversized_feeds
from calendar_service.loading import DataInvalid, load
from calendar_service.settings import ServiceSettings
from calendar_service.urls import LOOPBACK_FOR, choose_base, served_url
from calendar_service.web.server import protocol

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "GRACEFUL_SHUTDOWN_S",
    "STARTUP_FAILURE",
    "WorkerApp",
    "configure_logging",
    "listen",
    "run",
    "uvicorn_config",
]

GRACEFUL_SHUTDOWN_S = 10  # requests in flight at SIGTERM have this long to finish
STARTUP_FAILURE = 3  # uvicorn's exit status when the server could not start (a port in use)


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """Bind the address `serve` listens on, before the data is read: the port, resolved.

    As uvicorn binds (IPv6 for an address with a colon); the socket is handed to it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # for the worker processes
    return sock


def configure_logging() -> None:
    """Our log lines (reloads, refused data) beside uvicorn's, on standard error."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@dataclass(frozen=True)
class WorkerApp:
    """The application factory of each worker process: its own snapshot.

    Pickled into each worker as uvicorn's factory, by reference to this module. `served`
    is the address the parent bound, the links' base when none is configured.
    """

    settings: ServiceSettings
    served: str

    def __call__(self) -> FastAPI:
        from calendar_service.web.service import CalendarService

        configure_logging()
        return CalendarService.open(self.settings, served_url=self.served).app()


def _application(settings: ServiceSettings, served: str) -> tuple[object, list[str], str]:
    """What uvicorn runs, the data's warnings and the base URL links start with.

    One worker serves the snapshot built here; several workers each build their own
    (from the same files, so the same bytes) after this process has checked the data.
    Raises DataInvalid for data that cannot be served.
    """
    if settings.workers == 1:
        from calendar_service.web.service import CalendarService

        service = CalendarService.open(settings, served_url=served)
        catalog = service.snapshot.catalog
        warnings = [*catalog.warnings, *oversized_feeds(catalog)]
        return service.app(), warnings, catalog.identity.base_url
    loaded = load(settings.data_dir)
    base = choose_base(settings.base_url, loaded.settings.base_url, served)
    # Settings are handed over as arguments, never through the environment: each worker
    # calls the factory with the same settings. Feed sizes: `validate` warns of them.
    return WorkerApp(settings, served), list(loaded.warnings), base


def _announce(settings: ServiceSettings, served: str, warnings: list[str], base: str) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"calendar-service: serving on {served}; links start with {base}", file=sys.stderr)
    if base == served and settings.host in LOOPBACK_FOR:
        print(
            f"calendar-service: listening on every interface ({settings.host or '0.0.0.0'}) "
            "with no base URL: links name this machine only; set --base-url",
            file=sys.stderr,
        )


def uvicorn_config(
    settings: ServiceSettings, application: object, log_level: str
) -> uvicorn.Config:
    """uvicorn's configuration from our settings: limits, timeouts and our HTTP protocol."""
    return uvicorn.Config(
        application,  # type: ignore[arg-type]
        factory=settings.workers > 1,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # Our protocol: a deadline for request heads, size limits, JSON errors (web/server.py).
        http=protocol(settings),  # type: ignore[arg-type]
        ws="none",  # nothing here speaks WebSocket; an upgrade request is an ordinary request
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
        backlog=settings.backlog,
        proxy_headers=False,  # absolute URLs come from configuration, never from headers
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        log_level=log_level,
    )


def run(settings: ServiceSettings, *, log_level: str) -> int:
    """Bind, check the data, then serve until a signal; the process's exit status.

    The socket is bound first so that links can name the port actually served (port 0
    included) when no base URL is configured.
    """
    configure_logging()
    try:
        sock = listen(settings.host, settings.port, settings.backlog)
    except OSError as exc:
        print(
            f"calendar-service: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return STARTUP_FAILURE
    served = served_url(settings.host, sock.getsockname()[1])
    try:
        application, warnings, base = _application(settings, served)
    except DataInvalid as exc:
        sock.close()
        print(f"calendar-service: refusing to start: {exc}", file=sys.stderr)
        return 1
    _announce(settings, served, warnings, base)
    # After a graceful shutdown uvicorn restores these handlers and raises the signal again;
    # with the default handler a single-process server then died by SIGTERM instead of
    # exiting 0 as it does with --workers N.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _exit_quietly)
    config = uvicorn_config(settings, application, log_level)
    server = uvicorn.Server(config)
    if settings.workers == 1:
        server.run(sockets=[sock])
        if not server.started:
            return STARTUP_FAILURE
    else:  # as uvicorn.run does, which takes only an import string for several workers
        Multiprocess(config, sockets=[sock]).run()
    return 0


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)
