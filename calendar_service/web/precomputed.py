"""The lean path: bytes made with the snapshot, answered in front of middleware and routing.

Most requests a calendar service gets are for bytes it already holds: feeds polled by
calendar clients, the embed's script and styles, version.json. Through FastAPI each one
paid for four middlewares, routing, parameter solving and header building, most of the CPU
a 200 KB feed cost. Here a GET or HEAD of such a URL without a query string is answered from
headers prepared once per snapshot by the functions the routes use (web/responses.py for
ETag, 304 and gzip; JsonCors for CORS), so every byte is what the full stack sends.

JSON the API made and keeps for a URL (api.answer_key) is answered the same way, once the
app has answered that URL in this snapshot: the one-month query then costs a few
microseconds of CPU instead of 150. Every other request goes to the app unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Message, Scope

from calendar_service.web.api import answer_key
from calendar_service.web.feeds import VERSION_MAX_AGE, version_of
from calendar_service.web.pages import ASSET_FILES
from calendar_service.web.protocol import ANSWERED_METHODS, JsonCors
from calendar_service.web.responses import (
    PartsResponse,
    Rendered,
    accepts_gzip,
    cache_headers,
    encoded,
    not_modified,
    unchanged,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import Response

    from calendar_service.web.service import CalendarService, Published

Answer = tuple[Message, ...]  # a response's start and its body messages
TABLE = ("precomputed",)  # the key of a snapshot's table among its derived values
JOIN_BELOW = 1_000_000  # bytes: a body held in parts is sent so from this size up


@dataclass(frozen=True, slots=True)
class Form:
    """One answer a URL can get: status, body (in the parts it is held in), and the raw
    headers without and with Origin."""

    status: int
    body: tuple[bytes, ...]
    headers: tuple[tuple[bytes, bytes], ...]
    cross_origin_headers: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A URL's bytes in every form a GET or HEAD of it is answered with."""

    rendered: Rendered
    not_modified: Form
    identity: Form
    gzipped: Form

    @classmethod
    def of(
        cls, rendered: Rendered, cors: JsonCors, *, max_age: int, filename: str | None = None
    ) -> Prepared:
        headers = cache_headers(rendered, max_age=max_age, filename=filename)

        def form(response: Response) -> Form:
            raw = response.raw_headers
            same_site = tuple(cors.simple_headers_of(raw, cross_origin=False))
            body: tuple[bytes, ...] = (bytes(response.body),)
            if isinstance(response, PartsResponse):
                # One message each part. A small body is joined once: there one more
                # message costs more than the copy saves.
                as_held = rendered.length >= JOIN_BELOW
                body = response.parts if as_held else (b"".join(response.parts),)
            cross_origin = tuple(cors.simple_headers_of(raw, True))
            return Form(response.status_code, body, same_site, cross_origin)

        forms = [
            not_modified(headers),
            encoded(rendered, headers, gzipped=False),
            encoded(rendered, headers, gzipped=True),
        ]
        return cls(rendered, *(form(response) for response in forms))

    def answer(self, scope: Scope) -> Answer:
        """The request's answer, chosen as `rendered_response` and JsonCors choose it."""
        if_none_match: str | None = None
        accept_encoding: str | None = None
        since: list[str] = []
        cross_origin = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if if_none_match is None:  # the first, as Starlette's Headers.get reads it
                    if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                since.append(value.decode("latin-1"))
            elif name == b"accept-encoding":
                if accept_encoding is None:
                    accept_encoding = value.decode("latin-1")
            elif name == b"origin":
                cross_origin = True
        if unchanged(self.rendered, if_none_match, since):
            form = self.not_modified
        elif accepts_gzip(accept_encoding or ""):
            form = self.gzipped
        else:
            form = self.identity
        headers = form.cross_origin_headers if cross_origin else form.headers
        start = {"type": "http.response.start", "status": form.status, "headers": headers}
        if scope["method"] != "GET":  # HEAD: GET's headers only
            return start, {"type": "http.response.body", "body": b""}
        *first, last = form.body
        more = [{"type": "http.response.body", "body": part, "more_body": True} for part in first]
        return start, *more, {"type": "http.response.body", "body": last}


class Precomputed:
    """The lean path of one application: the URLs whose bytes each snapshot holds."""

    def __init__(self, app: FastAPI, service: CalendarService) -> None:
        self.app = app
        self.service = service
        # The app's CORS rules, for the headers they add (this instance wraps nothing).
        self.cors = JsonCors(app)

    def answer(self, scope: Scope) -> Answer | None:
        """The answer to an HTTP request for bytes made with the snapshot, or for JSON the
        API made for the same URL and kept; None: ask the app.

        Exact paths only: for the table, any query string (refused or redirected by the
        routes) goes to the app, and any other method does. The snapshot is read per
        request, so a reload is followed at once; its table is made on the first request
        that needs it.
        """
        if scope["method"] not in ANSWERED_METHODS:
            return None
        snapshot = self.service.snapshot
        path = scope["path"]
        prepared = None
        if not scope["query_string"]:
            prepared = snapshot.derived(TABLE, lambda: self.table(snapshot)).get(path)
        if prepared is None and scope.get("raw_path", b"") == path.encode():
            prepared = self.kept_json(snapshot, path, scope["query_string"])
        return None if prepared is None else prepared.answer(scope)

    def kept_json(self, snapshot: Published, path: str, query_string: bytes) -> Prepared | None:
        """The API's JSON for this URL if the app answered it and keeps it (api.answer_key).

        The app's checks of the URL (its length, its parameters) passed when it was kept,
        and they give the same now: the URL is the same, and its path written as briefly
        (the caller asks for no percent-escapes), so no longer.
        """
        max_age = self.service.settings.page_max_age
        return snapshot.cache.made(
            answer_key(path, query_string),
            lambda rendered: Prepared.of(rendered, self.cors, max_age=max_age),
        )

    def table(self, snapshot: Published) -> dict[str, Prepared]:
        """Each precomputed URL's path and its prepared answers, for one snapshot.

        Paths come from the routes (`url_path_for`), max-ages from the settings the routes
        read; an ICS file's name is its URL's last segment, as each route names it.
        """
        settings, cors = self.service.settings, self.cors
        table = {
            url: Prepared.of(rendered, cors, max_age=settings.page_max_age)
            for url, rendered in ASSET_FILES.items()
        }
        version = str(self.app.url_path_for("version"))
        table[version] = Prepared.of(version_of(snapshot), cors, max_age=VERSION_MAX_AGE)

        def ics(rendered: Rendered | None, route: str, **params: str) -> None:
            if rendered is not None:
                url = str(self.app.url_path_for(route, **params))
                filename = url.rpartition("/")[2]
                max_age = settings.feed_max_age
                table[url] = Prepared.of(rendered, cors, max_age=max_age, filename=filename)

        ics(snapshot.everything, "calendar_feed")
        for name in snapshot.catalog.feeds:
            ics(snapshot.named_feed(name), "named_feed", name=name)
        for calendar_id in snapshot.catalog.term_feeds:
            ics(snapshot.term_feed(calendar_id), "term_feed", calendar_id=calendar_id)
        return table
