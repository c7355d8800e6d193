"""HTTP rules every route shares, applied around the router: HEAD, Allow, CORS, text only."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendar_service.query import QueryError, refuse_control_characters
from calendar_service.web.refusals import refusal
from calendar_service.web.responses import error_response

# The methods the service answers on every route, and all it lets other sites use.
ANSWERED_METHODS = ("GET", "HEAD")
# What a script on another site may read besides the safelisted headers: what it revalidates by.
EXPOSED_HEADERS = ("ETag", "Last-Modified")
RawHeaders = list[tuple[bytes, bytes]]


class HeadAsGet:
    """Answer HEAD wherever GET is answered: routed as GET, sent without the body.

    One layer instead of a HEAD route beside each GET route, so no route can miss it;
    the headers (Content-Length, ETag, 304s and errors) are exactly GET's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def allowed_methods(route_methods: str) -> list[str]:
    """What a 405's Allow lists: the route's methods, and HEAD wherever GET is."""
    methods = {method.strip() for method in route_methods.split(",") if method.strip()}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


class TextParameters:
    """Refuse a control character in any query parameter, on every route, with a 422.

    JSON, or an HTML page on a page's URL (`refusals.refusal` tells).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                refuse_control_characters(scope.get("query_string") or b"")
            except QueryError as exc:
                response = refusal(scope, 422, exc.message, exc.parameter)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class JsonCors(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight in the JSON error shape."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            allow_origins=["*"],
            allow_methods=ANSWERED_METHODS,
            allow_credentials=False,
            expose_headers=EXPOSED_HEADERS,
        )

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        if message["type"] == "http.response.start":
            cross_origin = request_headers.get("origin") is not None
            message["headers"] = self.simple_headers_of(message.get("headers", []), cross_origin)
        await send(message)

    def simple_headers_of(
        self, headers: Sequence[tuple[bytes, bytes]], cross_origin: bool
    ) -> RawHeaders:
        """A response's headers as sent: Starlette's `send` for any origin and no credentials.

        With an Origin, the CORS headers; with or without, `Origin` in Vary (the answer to
        another site differs). Here, so that web/precomputed.py prepares the same bytes.
        """
        answer = MutableHeaders(raw=list(headers))
        if cross_origin:
            answer.update(self.simple_headers)
        answer["Vary"] = ", ".join([*answer.getlist("Vary"), "Origin"])
        return answer.raw

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        method = request_headers["access-control-request-method"]
        if method not in self.allow_methods:
            refused = error_response(
                400,
                f"other sites may not send {method[:20]!r} requests",
                "Access-Control-Request-Method",
                ANSWERED_METHODS,
            )
        elif request_headers.get("access-control-request-private-network") is not None:
            refused = error_response(
                400,
                "other sites may not reach this service as a private network",
                "Access-Control-Request-Private-Network",
            )
        else:
            refused = error_response(
                400,
                "other sites may send only the CORS-safelisted request headers",
                "Access-Control-Request-Headers",
                sorted(self.allow_headers),
            )
        # The CORS headers Starlette worked out still describe what is allowed.
        for name, value in answer.headers.items():
            if name.startswith("access-control-") or name == "vary":
                refused.headers[name] = value
        return refused
