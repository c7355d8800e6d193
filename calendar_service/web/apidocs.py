"""The API documentation at /docs: Swagger UI from an installed package, never a CDN."""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from calendar_service.web.pages import (
    ASSETS_MODIFIED,
    CSS,
    HTML,
    JAVASCRIPT,
    STATIC,
    security_headers,
)
from calendar_service.web.responses import Rendered, refuse_unknown, rendered_response
from calendar_service.web.service import service_of

# fastapi-offline (MIT) ships Swagger UI's release files (Apache-2.0) as package data, so
# /docs works on a machine with no internet and under the pages' own CSP.
SWAGGER_UI = resources.files("fastapi_offline") / "static"
# Served path -> (directory, file name, content type); the start-up script is ours.
DOCS_ASSETS = {
    "/docs/swagger-ui-bundle.js": (SWAGGER_UI, "swagger-ui-bundle.js", JAVASCRIPT),
    "/docs/swagger-ui.css": (SWAGGER_UI, "swagger-ui.css", CSS),
    "/docs/favicon.png": (SWAGGER_UI, "favicon.png", "image/png"),
    "/docs/swagger-init.js": (STATIC, "swagger-init.js", JAVASCRIPT),
}
# No inline script: the options Swagger UI starts with are in static/swagger-init.js.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>calendar-service API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
"""
router = APIRouter(include_in_schema=False)


@functools.cache
def _rendered(path: str) -> Rendered:
    """An asset read and compressed once, on its first request (the bundle is 1.5 MB)."""
    if path == "/docs":
        return Rendered.of(DOCS_PAGE.encode(), HTML, ASSETS_MODIFIED)
    directory, name, content_type = DOCS_ASSETS[path]
    return Rendered.of((directory / name).read_bytes(), content_type, ASSETS_MODIFIED)


@router.get("/docs")
def docs(request: Request) -> Response:
    """Swagger UI over /openapi.json, with the CSP of every other page."""
    refuse_unknown(request, ())
    settings = service_of(request).settings
    return rendered_response(
        request,
        _rendered("/docs"),
        max_age=settings.page_max_age,
        extra_headers=security_headers(settings.frame_ancestors),
    )


def _asset(request: Request) -> Response:
    refuse_unknown(request, ())
    max_age = service_of(request).settings.page_max_age
    return rendered_response(request, _rendered(request.url.path), max_age=max_age)


for _path in DOCS_ASSETS:
    router.add_api_route(_path, _asset, methods=["GET"])
