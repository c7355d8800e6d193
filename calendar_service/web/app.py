"""The FastAPI application factory: routes, error handlers and the reload lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from calendar_service import __version__
from calendar_service.capacity import ExpansionBusy
from calendar_service.query import QueryError
from calendar_service.web import api, apidocs, digests, feeds, pages, syndication
from calendar_service.web.limits import MAX_URL_BYTES
from calendar_service.web.precomputed import Precomputed
from calendar_service.web.protocol import HeadAsGet, JsonCors, TextParameters, allowed_methods
from calendar_service.web.refusals import refusal
from calendar_service.web.responses import ApiError, CanonicalRedirect, error_response
from calendar_service.web.service import CalendarService

log = logging.getLogger("calendar_service.web")


class UrlLengthLimit:
    """Refuse over-long URLs with a 414 before any routing or parsing (HTML on a page)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            if length > MAX_URL_BYTES:
                response = refusal(scope, 414, f"the URL is longer than {MAX_URL_BYTES} bytes")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CalendarApp(FastAPI):
    """The FastAPI application behind its lean path (web/precomputed.py): a request for
    bytes made with the snapshot is answered before any middleware or routing."""

    precomputed: Precomputed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http":
            try:
                answer = self.precomputed.answer(scope)
            except Exception:  # a fault here must not take the feeds down: the app answers
                log.exception("the lean path failed on %s; the app answers", scope["path"][:200])
        if answer is None:
            await super().__call__(scope, receive, send)
            return
        for message in answer:
            await send(message)

    async def full_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The application without its lean path: middleware, routing and handlers."""
        await super().__call__(scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Watch the data and refresh partner feeds while the application runs; SIGHUP reloads."""
    live = app.state.service.live
    if live.settings.watch:
        live.start_watching()
    live.start_fetching()  # partner feeds, if the sources file lists any and the interval > 0
    if threading.current_thread() is threading.main_thread():
        # Not every platform or loop supports signal handlers; reload still works by watching.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, live.reload_in_background)
    yield
    live.stop()


def create_app(service: CalendarService) -> FastAPI:
    """The application serving one service; routes find it at `request.app.state.service`."""
    app = CalendarApp(
        title="calendar-service",
        version=__version__,
        description=(
            "Awareness days, programmes, training and deadlines as ICS feeds and JSON. "
            "Every filter is one shared set of parameters: repeated values are OR, "
            "different parameters AND."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Starlette would answer `/api/events/` with a 307 to an absolute URL built from the
        # Host header (a spoofed host in a cacheable redirect); unknown paths are JSON 404s.
        redirect_slashes=False,
    )
    app.state.service = service
    app.precomputed = Precomputed(app, service)
    _error_handlers(app)
    _middleware(app)
    app.include_router(feeds.router)
    app.include_router(syndication.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(digests.router)
    app.include_router(apidocs.router)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every refusal as the one JSON error shape, or an HTML page on a page; no traceback."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ExpansionBusy, _busy)
    app.add_exception_handler(CanonicalRedirect, _canonical)
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _middleware(app: FastAPI) -> None:
    # Outermost last: HEAD is routed as GET through every other layer, so even a 414 or a
    # refused parameter is answered to HEAD without a body.
    app.add_middleware(JsonCors)
    app.add_middleware(TextParameters)
    app.add_middleware(UrlLengthLimit)
    app.add_middleware(HeadAsGet)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return refusal(request.scope, exc.status, exc.message, exc.parameter, exc.allowed)


async def _busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ExpansionBusy)
    response = error_response(503, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _canonical(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CanonicalRedirect)
    return exc.response()


async def _query_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueryError)
    return refusal(request.scope, 422, exc.message, exc.parameter, exc.allowed)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    parameter = location[-1] if location else None
    message = str(first.get("msg", "invalid request"))
    return refusal(
        request.scope, 422, f"{parameter}: {message}" if parameter else message, parameter
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        message = "not found"
    if exc.status_code == 405:
        # The router's Allow names the matched route's methods; HeadAsGet adds HEAD.
        allowed = allowed_methods((exc.headers or {}).get("Allow", ""))
        # JSON even on a page: no link a person follows sends another method.
        response = error_response(
            405, f"{request.method[:20]} is not answered here", allowed=allowed
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return refusal(request.scope, exc.status_code, message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never show a traceback or echo input; the log has the details.
    log.exception("unexpected error on %s", request.url.path)
    return error_response(500, "internal error; it has been logged")
