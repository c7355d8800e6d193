"""Real-browser tests of the pages and the embeddable widget (issue 4).

Headless Debian chromium (/usr/bin/chromium) driven by Playwright against real uvicorn servers;
the widget is embedded from a page served by a separate http.server on another origin. Needs
`make browser-deps` (chromium, and axe-core in tests/browser/node_modules). Never runs
`playwright install`. Screenshots go to test-artifacts/ at the repository root.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import FIXTURES, ROOT, Server, start_server, stop_server, wait_until

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
HOST_PAGES = FIXTURES / "embed"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
HOSTILE_TITLE = "<script>alert(1)</script> Hostile"
HEIGHT = "el => el.getBoundingClientRect().height"

try:
    from playwright.sync_api import Browser, BrowserContext, Frame, Page, sync_playwright

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - dev extras not installed
    HAVE_PLAYWRIGHT = False


def _unavailable(reason: str) -> None:
    """In CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not HAVE_PLAYWRIGHT:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Records CSP violations and uncaught errors in every frame, whatever the page's own CSP says.
WATCH_SCRIPT = """
window.__problems = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__problems.push("CSP " + event.violatedDirective + " blocked " + event.blockedURI);
});
window.addEventListener("error", (event) => {
  window.__problems.push("error " + (event.message || event.target && event.target.src));
}, true);
"""


class Watched:
    """A page whose console errors, page errors and dialogs are collected."""

    def __init__(self, context: BrowserContext) -> None:
        context.add_init_script(WATCH_SCRIPT)
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        # Chromium asks every origin for /favicon.ico by itself; neither site has one.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type in ("error", "assert"):
            self.errors.append(f"console {message.type}: {message.text} @ {message.location}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def problems(self) -> list[str]:
        found = list(self.errors)
        for frame in self.page.frames:
            try:
                found += [f"{frame.url}: {p}" for p in frame.evaluate("window.__problems || []")]
            except Exception as error:  # a refused frame has no document to ask
                found.append(f"{frame.url}: could not read problems ({error})")
        return found


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context(viewport={"width": 1024, "height": 800})
    created.set_default_timeout(10_000)
    yield created
    created.close()


class HostSite:
    """A third-party website on another origin (another port) serving the fixture pages."""

    def __init__(self, service: str) -> None:
        handler = partial(_HostHandler, service)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _HostHandler(BaseHTTPRequestHandler):
    def __init__(self, service: str, *args: Any, **kwargs: Any) -> None:
        self.service = service
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        name = urlsplit(self.path).path.strip("/").removesuffix(".html") or "host"
        page = HOST_PAGES / f"{name}.html"
        if "/" in name or not page.is_file():
            self.send_error(404)
            return
        body = page.read_text().replace("{{SERVICE}}", self.service).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def host_site(server: Server) -> Iterator[HostSite]:
    site = HostSite(server.url)
    yield site
    site.close()


def _day_titles(page: Page, selector: str = ".day-events a") -> list[str]:
    """Titles in month-grid cells, without the "(provisional)"/"(cancelled)" suffixes."""
    return [
        re.sub(r" \((provisional|cancelled)\)$", "", text.strip())
        for text in page.locator(selector).all_inner_texts()
    ]


def _titles(frame: Page | Frame) -> list[str]:
    """Event titles as shown, without screen-reader-only suffixes such as "(cancelled)"."""
    return list(
        frame.eval_on_selector_all(
            ".event-title a",
            """links => links.map(link => {
                 const copy = link.cloneNode(true);
                 copy.querySelectorAll(".visually-hidden").forEach(hidden => hidden.remove());
                 return copy.textContent.trim();
               })""",
        )
    )


# 1. Embedding from a third-party origin -----------------------------------------------------


def test_widget_embedded_on_another_origin(
    context: BrowserContext, server: Server, host_site: HostSite
) -> None:
    assert urlsplit(host_site.url).port != urlsplit(server.url).port
    watched = Watched(context)
    page = watched.page
    page.goto(host_site.url + "/host.html")

    iframe = page.wait_for_selector("#widget iframe")
    assert iframe is not None
    src = urlsplit(iframe.get_attribute("src") or "")
    assert f"{src.scheme}://{src.netloc}" == server.url
    assert src.path == "/embed"
    # The loader writes the canonical query: defaults such as view=list are left out.
    assert parse_qs(src.query) == {"audience": ["schools"]}
    assert iframe.get_attribute("title")

    frame = iframe.content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    frame.wait_for_selector(".widget-footer")

    # The frame posts its height; the loader sizes the iframe to it (from the 480px default).
    def sized() -> bool:
        scroll = frame.evaluate("document.documentElement.scrollHeight")
        return bool(abs(iframe.evaluate(HEIGHT) - scroll) <= 3)

    wait_until(sized, "the iframe sized to its content", timeout=5)
    scroll_height = frame.evaluate("document.documentElement.scrollHeight")
    height = iframe.evaluate(HEIGHT)
    style_height = iframe.evaluate("el => el.style.height")
    assert abs(height - scroll_height) <= 3, (height, scroll_height, style_height)
    assert style_height.endswith("px") and style_height != "480px", style_height
    # No inner scrollbars: the whole document fits inside the frame both ways.
    inner = frame.evaluate(
        """() => ({
             scrollHeight: document.documentElement.scrollHeight,
             clientHeight: document.documentElement.clientHeight,
             scrollWidth: document.documentElement.scrollWidth,
             clientWidth: document.documentElement.clientWidth,
           })"""
    )
    assert inner["scrollHeight"] <= inner["clientHeight"] + 1, inner
    assert inner["scrollWidth"] <= inner["clientWidth"], inner
    # The host's content after the widget is pushed below it, not covered by it.
    after_top = page.eval_on_selector("#after", "el => el.getBoundingClientRect().top")
    frame_bottom = iframe.evaluate("el => el.getBoundingClientRect().bottom")
    assert after_top >= frame_bottom

    # The frame shows what the API lists for the same filter from today.
    api = server.get("/api/occurrences", params={"audience": "schools"}).json()
    expected = [occurrence["title"] for occurrence in api["occurrences"]]
    shown = _titles(frame)
    assert shown, "the widget shows no events"
    count = min(len(shown), len(expected), 10)
    assert set(shown[:count]) == set(expected[:count]), (shown, expected)
    assert len(shown) == min(10, api["total"])

    assert watched.problems() == []
    assert watched.dialogs == []


def test_attributes_written_over_several_lines_still_load_the_widget(
    context: BrowserContext, server: Server, host_site: HostSite
) -> None:
    """The service refuses line breaks in parameters (issue 9); the loader sends words."""
    watched = Watched(context)
    watched.page.goto(host_site.url + "/multiline.html")
    iframe = watched.page.wait_for_selector("#widget iframe")
    assert iframe is not None
    query = parse_qs(urlsplit(iframe.get_attribute("src") or "").query)
    assert query == {"title": ["Dates for schools and parents"], "q": ["mental health"]}
    frame = iframe.content_frame()
    assert frame is not None
    frame.wait_for_selector(".widget-footer")
    assert frame.inner_text(".widget-title") == "Dates for schools and parents"
    assert watched.problems() == []


def test_noscript_fallback_links_to_the_calendar(
    browser: Browser, server: Server, host_site: HostSite
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(host_site.url + "/host.html")
        assert page.locator("iframe").count() == 0
        link = page.locator("#widget noscript a, #widget a").first
        assert link.get_attribute("href") == f"{server.url}/?audience=schools"
        assert link.is_visible()
    finally:
        context.close()


# 2. Filters ----------------------------------------------------------------------------------


def test_month_view_filtered_by_category(context: BrowserContext, server: Server) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/embed?category=awareness-week&view=month&month=2026-02")
    assert page.locator("#grid-title").inner_text() == "February 2026"
    shown = set(_day_titles(page))
    assert "Children's Mental Health Week" in shown
    assert "Random Acts of Kindness Week" in shown
    assert "Time to Talk Day" not in shown
    assert not any("Young Parents" in title for title in shown)
    # Each week is placed on the days it covers (2026's Children's Mental Health Week moved).
    on_ninth = _day_titles(page, 'td[data-date="2026-02-09"] .day-events a')
    assert "Children's Mental Health Week" in on_ninth
    # Unfiltered, the same month does show Time to Talk Day (on the first Thursday).
    page.goto(server.url + "/embed?view=month&month=2026-02")
    on_fifth = _day_titles(page, 'td[data-date="2026-02-05"] .day-events a')
    assert "Time to Talk Day" in on_fifth
    assert watched.problems() == []


# 3. Keyboard ---------------------------------------------------------------------------------


def _active_date(page: Page) -> str | None:
    script = "document.activeElement && document.activeElement.dataset.date || null"
    return page.evaluate(script)  # type: ignore[no-any-return]


def test_month_grid_keyboard_navigation(context: BrowserContext, server: Server) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/embed?view=month&month=2026-02")
    page.wait_for_load_state("load")
    # Exactly one cell is in the tab order (roving tabindex): the month's first day.
    roving = page.eval_on_selector_all(
        "td[data-date]", "cells => cells.filter(c => c.tabIndex === 0).map(c => c.dataset.date)"
    )
    assert roving == ["2026-02-01"]

    for _ in range(10):
        page.keyboard.press("Tab")
        if _active_date(page):
            break
    assert _active_date(page) == "2026-02-01", "Tab never reached the grid"

    # Feb 2026 starts on a Sunday; the grid runs Monday to Sunday.
    for key, expected in [
        ("ArrowRight", "2026-02-02"),
        ("ArrowDown", "2026-02-09"),
        ("ArrowRight", "2026-02-10"),
        ("End", "2026-02-15"),
        ("Home", "2026-02-09"),
        ("ArrowLeft", "2026-02-08"),
        ("ArrowUp", "2026-02-01"),
        ("ArrowUp", "2026-02-01"),  # nothing above the first row: focus stays
        ("ArrowLeft", "2026-01-31"),  # into the previous month's days shown in the grid
    ]:
        page.keyboard.press(key)
        assert _active_date(page) == expected, f"after {key}"
    roving = page.eval_on_selector_all(
        "td[data-date]", "cells => cells.filter(c => c.tabIndex === 0).map(c => c.dataset.date)"
    )
    assert roving == ["2026-01-31"]

    with page.expect_navigation():
        page.keyboard.press("PageDown")
    assert parse_qs(urlsplit(page.url).query)["month"] == ["2026-03"]
    assert page.locator("#grid-title").inner_text() == "March 2026"
    page.locator('td[data-date="2026-03-02"]').focus()
    with page.expect_navigation():
        page.keyboard.press("PageUp")
    assert page.locator("#grid-title").inner_text() == "February 2026"
    assert watched.problems() == []


# 4. Small screens and zoom -------------------------------------------------------------------

OVERFLOW_SCRIPT = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".visually-hidden, .skip-link")) continue;
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) {
      out.push(el.tagName + "." + el.className + " right=" + Math.round(box.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 10)};
}"""

SCREENS = [
    ("embed", "/embed"),
    ("embed-month", "/embed?view=month&month=2026-02"),
    ("home", "/"),
]


def test_layout_at_320px_1280px_and_200_percent_zoom(browser: Browser, server: Server) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # 200% zoom of a 1280px window lays out like a 640px-wide viewport at twice the pixels.
    for width, scale in [(320, 1), (1280, 1), (640, 2)]:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, device_scale_factor=scale
        )
        try:
            page = context.new_page()
            for name, path in SCREENS:
                page.goto(server.url + path)
                page.wait_for_load_state("load")
                suffix = f"{width}" if scale == 1 else f"{width}-zoom200"
                page.screenshot(path=str(ARTIFACTS / f"{name}-{suffix}.png"), full_page=True)
                layout = page.evaluate(OVERFLOW_SCRIPT)
                assert layout["scrollWidth"] <= width, (path, width, layout)
                assert layout["out"] == [], (path, width, layout)
        finally:
            context.close()
    for name, _ in SCREENS:
        assert (ARTIFACTS / f"{name}-320.png").stat().st_size > 0


# 5. Accessibility ----------------------------------------------------------------------------

AXE_PAGES = [
    "/",
    "/embed",
    "/embed?scheme=dark",
    "/embed?view=month&month=2026-02",
    "/subscribe",
    "/events/time-to-talk-day",
]


def test_axe_finds_no_serious_violations(browser: Browser, server: Server) -> None:
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run `make browser-deps` (npm ci in tests/browser)")
    source = AXE.read_text()
    # Our CSP (script-src 'self') would refuse the injected axe script; bypass it for this test.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1024, "height": 800})
    failures: list[str] = []
    try:
        page = context.new_page()
        for path in AXE_PAGES:
            page.goto(server.url + path)
            page.wait_for_load_state("load")
            page.add_script_tag(content=source)
            result = page.evaluate(
                "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
            )
            for violation in result["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"][:5]]
                    failures.append(
                        f"{path}: {violation['id']} ({violation['impact']}): "
                        f"{violation['help']} -> {targets}"
                    )
    finally:
        context.close()
    assert failures == [], "axe violations:\n" + "\n".join(failures)


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


def test_hostile_content_renders_as_text(browser: Browser, hostile_server: Server) -> None:
    # Without our CSP, so only escaping stands between the data and the browser.
    context = browser.new_context(bypass_csp=True)
    try:
        watched = Watched(context)
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
    finally:
        context.close()


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


def test_newcomer_filters_to_schools_and_subscribes_in_one_click(
    context: BrowserContext, server: Server
) -> None:
    watched = Watched(context)
    page = watched.page
    page.goto(server.url + "/")
    page.get_by_label("Schools").check()
    page.get_by_role("button", name="Show events").click()
    page.wait_for_load_state("load")
    # The form's query is redirected to the canonical filter URL.
    assert urlsplit(page.url).query == "audience=schools"
    titles = {title.strip() for title in page.locator(".event-title").all_inner_texts()}
    expected = {
        item["title"]
        for item in server.get("/api/occurrences?audience=schools&limit=100").json()["occurrences"]
    }
    assert titles == expected
    box = page.locator(".subscribe-box")
    webcal = box.get_by_role("link", name="Calendar app").get_attribute("href") or ""
    assert webcal.startswith("webcal://") and webcal.endswith("/calendar.ics?audience=schools")
    google = box.get_by_role("link", name="Google Calendar").get_attribute("href") or ""
    assert parse_qs(urlsplit(google).query)["cid"] == [webcal]
    feed = server.get("/calendar.ics?audience=schools")
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    assert watched.problems() == []
