"""Refusals answered for their reader: an HTML page on a page's URL, the JSON shape elsewhere.

A person who follows a bad link to a page gets a page in the site's style, with the reason
and a way back; the API, feeds and assets keep the one JSON error shape programs read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope

from calendar_service.web import views
from calendar_service.web.pages import PAGE_PATHS, security_headers
from calendar_service.web.responses import error_response

log = logging.getLogger("calendar_service.web")
# Programs' paths: whatever they refuse, the answer is JSON, whatever the Accept header.
MACHINE_PREFIXES = ("/api/", "/feeds/", "/static/")


def for_people(scope: Scope) -> bool:
    """Whether a refusal goes to a person's browser.

    Yes on a page's path; no on the API, feeds, assets and any file name with a dot;
    elsewhere (an unknown path) when the request accepts HTML, as a browser's does.
    """
    path: str = scope.get("path") or ""
    last = path.rsplit("/", 1)[-1]
    if "." in last:  # calendar.ics, /events/x.ics, version.json, embed.js, theme.css
        return False
    if any(pattern.match(path) for pattern in PAGE_PATHS):
        return True
    if path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in Headers(scope=scope).get("accept", "")


def refusal(
    scope: Scope,
    status: int,
    message: str,
    parameter: str | None = None,
    allowed: Sequence[str] = (),
) -> Response:
    """The answer to a refused request: an HTML error page for people, else JSON."""
    if not for_people(scope):
        return error_response(status, message, parameter, allowed)
    service = scope["app"].state.service
    settings = service.settings
    embedded = (scope.get("path") or "").endswith("/embed")  # /embed, /feeds/{name}/embed
    ancestors = settings.embed_frame_ancestors if embedded else settings.frame_ancestors
    try:
        body = views.render_error(service.snapshot.catalog, status, message, parameter, allowed)
    except Exception:  # a page that cannot be drawn must not hide the refusal: say it as JSON
        log.exception("could not render the error page for %s", scope.get("path"))
        return error_response(status, message, parameter, allowed)
    headers = {"Cache-Control": "no-store", **security_headers(ancestors)}
    return HTMLResponse(body, status_code=status, headers=headers)
