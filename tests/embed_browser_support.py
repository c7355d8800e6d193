"""Shared by the real-browser tests: chromium, the watched context, the host site, title helpers.

A pytest plugin (conftest's `pytest_plugins`), so that its fixtures and hook are defined once:
test modules take `browser`, `context` and `host_site` without importing them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from conftest import FIXTURES, ROOT, Server

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Frame,
        Page,
        Playwright,
        ViewportSize,
        sync_playwright,
    )

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - dev extras not installed
    HAVE_PLAYWRIGHT = False


# Debian's chromium-headless-shell (the old headless mode as a browser of its own, same
# version and Blink as its chromium) where installed: the group's chromium CPU fell from ~42 s
# to ~19 s (browser process 12 -> 4 s, 86 -> 35 renderer processes), with every check the
# same. "Not the behavior of the regular Chrome completely but more performant for
# automation" (https://pptr.dev/guides/headless-modes/); `make browser-deps` installs it.
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
CHROMIUM = HEADLESS_SHELL if HEADLESS_SHELL.exists() else Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless" if CHROMIUM == HEADLESS_SHELL else "--headless=new",
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
GROUP = "embed_browser"  # the xdist group of every module that drives chromium
VIEWPORT: ViewportSize = {"width": 1024, "height": 800}  # a page's, unless a test sets one
# Playwright's own values of the context options tests set: asking for them is the plain context.
DEFAULTS = {"bypass_csp": False, "java_script_enabled": True, "device_scale_factor": 1}
PLAYWRIGHTS_VIEWPORT: ViewportSize = {"width": 1280, "height": 720}  # a new_context's default


# Only the violations come back: axe's whole result (every passing node of every rule, with
# its HTML) cost chromium, Playwright's driver and this process ~0.15 s of CPU a run to copy
# across, ~3 s a run of the suite. `resultTypes` keeps one node of each other type, and
# "will not eliminate the other results, it will only truncate them": the violations are
# whole (https://github.com/dequelabs/axe-core/issues/1183).
AXE_RUN = """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                resultTypes: ['violations']})
  .then(result => result.violations.filter(
    found => found.impact === 'serious' || found.impact === 'critical'))"""


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds on the page as it is now, of serious or critical impact (WCAG 2.2
    AA's tags); the page must let the injected script run (`bypass_csp=True`).

    axe is sent to a page once: into the document shown, and as an init script into every
    document the page loads next, before their own scripts. A copy per check cost ~0.1 s of
    CPU, most of it the 560 KB sent over the DevTools protocol; a page checked again after a
    resize, a change of colour scheme or a load has axe already.
    """
    if not page.evaluate("() => typeof axe === 'object'"):
        source = AXE.read_text()
        page.add_script_tag(content=source)
        page.add_init_script(source)
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN, AXE_TAGS)
    return violations


@contextmanager
def pictured(page: Page, name: str) -> Iterator[None]:
    """Checks of the page shown: if they fail, its full-page screenshot is the evidence,
    test-artifacts/NAME.png. With KEEP_SCREENSHOTS=1 every page checked is kept (to look at
    a layout change). Not always: each costs chromium ~0.3 s of CPU, ~5 s a run.
    """
    path = ARTIFACTS / f"{name}.png"
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        raise
    if os.environ.get("KEEP_SCREENSHOTS") == "1":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)


def _unavailable(reason: str) -> None:
    """In CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


class Chromium:
    """Chromium, launched on first use and kept while browser tests follow one another.

    Launching it (and Playwright's driver) costs about a second of CPU: once for the run of
    browser tests (they share an xdist group, so one worker runs them in a row), not per
    module. It is closed before any other test: while it is open, Playwright's sync API keeps
    an asyncio loop running in this thread, and `asyncio.run` (the in-process client) refuses
    to run beside it.

    Its browser contexts are shared too, one for each set of context-wide options: a new
    context cost chromium ~0.45 s of CPU (three renderer processes and the browser's side of
    the profile), a new page in an open one ~0.15 s, and the group made ~40. Tests take pages
    in them through `context` or `open_page`, which close the pages and clear the cookies and
    permissions after each test; nothing in the service stores anything else in the browser.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._contexts: dict[tuple[tuple[str, object], ...], BrowserContext] = {}

    def get(self) -> Browser:
        if self._browser is None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        return self._browser

    def context(self, **options: Any) -> BrowserContext:
        """The shared context made with these options (viewport 1024x800, 10 s timeouts)."""
        options = {name: value for name, value in options.items() if DEFAULTS.get(name) != value}
        key = tuple(sorted(options.items()))
        if key not in self._contexts:
            made = self.get().new_context(viewport=VIEWPORT, **options)
            made.set_default_timeout(10_000)
            self._contexts[key] = made
        return self._contexts[key]

    def tidy(self) -> None:
        """What a test left in the shared contexts: its pages, cookies and permissions."""
        for shared in self._contexts.values():
            for page in shared.pages:
                page.close()
            shared.clear_cookies()
            shared.clear_permissions()

    def close(self) -> None:
        self._contexts.clear()  # closed with the browser
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


CHROMIUM_RUN = Chromium()


@pytest.fixture
def browser() -> Browser:
    """The running chromium; each test makes its own context."""
    if not HAVE_PLAYWRIGHT:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium)")
    return CHROMIUM_RUN.get()


def _keeps_chromium(item: pytest.Item | None) -> bool:
    """Whether chromium stays open for `item`: a test that uses it, or another of the browser
    tests' group (one worker runs them in a row) that takes no in-process client.

    Kept across the group's few other tests, chromium starts once a run instead of three
    times (~0.9 s of CPU a start).
    """
    if item is None:
        return False
    if "browser" in item.fixturenames:
        return True
    group = item.get_closest_marker("xdist_group")
    return group is not None and group.args[:1] == (GROUP,) and "client" not in item.fixturenames


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the test's own teardown, close chromium unless the next test keeps it."""
    try:
        return (yield)
    finally:
        if not _keeps_chromium(nextitem):
            CHROMIUM_RUN.close()


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

    def __init__(self, opened: BrowserContext | Page) -> None:
        """Watch a new page of `opened`, or `opened` itself if it is a page not yet used."""
        self.page: Page = opened if isinstance(opened, Page) else opened.new_page()
        # On the page, not the context: contexts are shared by the tests in turn.
        self.page.add_init_script(WATCH_SCRIPT)
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
    """The shared plain context (1024x800); the test's pages are closed after it."""
    yield CHROMIUM_RUN.context()
    CHROMIUM_RUN.tidy()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`open_page(viewport=..., color_scheme=..., **context_options)`: a new page in the
    shared context with those context-wide options (`bypass_csp`, `java_script_enabled`,
    `device_scale_factor`), at that window size and colour scheme; closed after the test."""

    def opened(
        viewport: ViewportSize = VIEWPORT,
        color_scheme: Literal["light", "dark"] | None = None,
        **options: Any,
    ) -> Page:
        page = CHROMIUM_RUN.context(**options).new_page()
        page.set_viewport_size(viewport)
        if color_scheme is not None:
            page.emulate_media(color_scheme=color_scheme)
        return page

    yield opened
    CHROMIUM_RUN.tidy()


class HostSite:
    """A third-party website on another origin (another port) serving the fixture pages."""

    def __init__(self, service: str) -> None:
        handler = partial(_HostHandler, service)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # `shutdown` waits for serve_forever's next look at its flag (every 0.5 s by default).
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
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


def _day_titles(page: Page, day: str | None = None) -> list[str]:
    """Titles of the month grid's bars, or of those covering `day` (YYYY-MM-DD)."""
    return list(
        page.eval_on_selector_all(
            ".month-grid .bar a",
            """(links, day) => links
                 .filter(link => !day || (link.dataset.first <= day && day <= link.dataset.last))
                 .map(link => link.querySelector(".bar-title").textContent.trim())""",
            day,
        )
    )


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
