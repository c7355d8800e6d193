"""/docs works with no internet: Swagger UI's files come from the service, under its CSP."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from conftest import Server
from embed_browser_support import Watched

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page, Route

pytestmark = pytest.mark.xdist_group("embed_browser")

DOCS_FILES = [
    "/docs/swagger-ui-bundle.js",
    "/docs/swagger-ui.css",
    "/docs/favicon.png",
    "/docs/swagger-init.js",
]


def test_docs_page_names_only_its_own_files(server: Server) -> None:
    # The real server the browser tests share: an in-process client would close chromium.
    page = server.get("/docs").text
    assert "http://" not in page and "https://" not in page and "//" not in page
    for path in DOCS_FILES:
        response = server.get(path)
        assert response.status_code == 200, path
        assert len(response.content) > 100, path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert "<script>" not in page  # every script is a file, so script-src 'self' holds


def test_docs_render_in_chromium_with_the_internet_cut_off(
    open_page: Callable[..., Page], server: Server
) -> None:
    # A page of the shared context (closed after the test, and its route with it): a context
    # of its own cost chromium ~0.1 s of CPU more.
    page = open_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(15_000)
    asked_outside: list[str] = []

    def only_the_service(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            asked_outside.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_service)
    watched = Watched(page)
    response = page.goto(server.url + "/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI has fetched /openapi.json and drawn one block per operation.
    page.locator(".opblock-summary-path", has_text="/api/occurrences").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/events", "/api/occurrences", "/feeds/{name}.ics"} <= {
        path.strip() for path in paths
    }, paths
    assert page.locator(".info .title").inner_text().startswith("calendar-service")
    page.locator(".opblock-summary", has_text="/api/occurrences").first.click()
    page.locator(".opblock-body .parameters").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert watched.problems() == []
    assert asked_outside == []
