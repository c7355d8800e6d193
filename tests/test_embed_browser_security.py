"""Real-browser tests of hostile content shown as text, the CSP on HTML pages and framing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from conftest import Server, start_server, stop_server
from embed_browser_support import HOSTILE_TITLE, PLAYWRIGHTS_VIEWPORT, HostSite, Watched

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, Page

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")


# 6. Hostile content --------------------------------------------------------------------------

HOSTILE_EVENT = """
events:
  - id: hostile-event
    title: "<script>alert(1)</script> Hostile"
    summary: "Summary with <b onmouseover=alert(1)>bold</b> markup"
    description: |-
      An image <img src=x onerror=alert(1)> should stay text.
      So should javascript:alert(1) and "><svg onload=alert(1)>.
    category: awareness-day
    audiences: [schools]
    start: 2026-12-10
"""


@pytest.fixture
def hostile_server(data_copy: Path, tmp_path: Path) -> Iterator[Server]:
    (data_copy / "events" / "hostile.yaml").write_text(HOSTILE_EVENT)
    running = start_server(data_copy, tmp_path)
    yield running
    stop_server(running)


def test_hostile_content_renders_as_text(
    open_page: Callable[..., Page], hostile_server: Server
) -> None:
    # Without our CSP, so only escaping stands between the data and the browser.
    watched = Watched(open_page(viewport=PLAYWRIGHTS_VIEWPORT, bypass_csp=True))
    page = watched.page
    for path in ("/embed?q=hostile", "/", "/events/hostile-event"):
        page.goto(hostile_server.url + path)
        page.wait_for_load_state("networkidle")  # every script has had its chance
        title = page.get_by_text(HOSTILE_TITLE, exact=True).first
        assert title.is_visible(), path
        assert page.locator("img, svg, b[onmouseover]").count() == 0, path
        assert page.locator('[href^="javascript:" i], [src^="javascript:" i]').count() == 0
        executable = page.eval_on_selector_all(
            "script",
            """scripts => scripts
                 .filter(s => !s.type || /javascript|module/.test(s.type))
                 .map(s => s.src || s.textContent)""",
        )
        assert all(script.startswith(hostile_server.url) for script in executable), executable
    body = page.locator(".description").inner_text()
    assert "<img src=x onerror=alert(1)>" in body
    assert "javascript:alert(1)" in body
    # The JSON-LD block keeps the title intact as data.
    ld = json.loads(page.locator('script[type="application/ld+json"]').text_content() or "")
    assert ld["name"] == HOSTILE_TITLE
    assert page.title().startswith(HOSTILE_TITLE)
    assert watched.dialogs == []
    assert watched.problems() == []


# 7. Security headers -------------------------------------------------------------------------

HTML_PATHS = [
    "/",
    "/?audience=schools",
    "/subscribe",
    "/events/time-to-talk-day",
    "/embed",
    "/embed?view=month&month=2026-02",
]


def _policy(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url} has no Content-Security-Policy"
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {parts[0]: parts[1] if len(parts) > 1 else "" for parts in directives}


def test_csp_on_every_html_response(server: Server) -> None:
    for path in HTML_PATHS:
        response = server.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        policy = _policy(response)
        assert policy["script-src"] == "'self'", path
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        expected = "*" if path.startswith("/embed") else "'none'"
        assert policy["frame-ancestors"] == expected, path
    # Cached revalidations carry the policy too.
    first = server.get("/embed")
    again = server.get("/embed", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert _policy(again)["frame-ancestors"] == "*"


def test_api_documentation_page_has_a_csp_that_forbids_framing(server: Server) -> None:
    response = server.get("/docs")
    assert response.headers["content-type"].startswith("text/html")
    assert _policy(response)["frame-ancestors"] == "'none'"
    assert server.get("/redoc").status_code == 404


def test_browser_refuses_to_frame_the_home_page(
    context: BrowserContext, server: Server, host_site: HostSite
) -> None:
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
        page.goto(host_site.url + "/frames-home.html")
    page.wait_for_load_state("load")
    frame = page.frame_locator("#home")
    assert frame.locator(".site-header").count() == 0
    assert any("frame-ancestors" in text for text in refused), refused
