"""Real-browser tests of layout at 320px, 1280px and 200% zoom, and axe accessibility checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conftest import Server
from embed_browser_support import AXE, _unavailable, pictured, serious_violations

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

# One xdist worker runs the module (make unit: --dist loadgroup):
# one chromium and one server.
pytestmark = pytest.mark.xdist_group("embed_browser")


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


def _fits(page: Page, name: str, width: int, suffix: str) -> None:
    """Nothing on the page as shown reaches past the window's `width`."""
    with pictured(page, f"{name}-{suffix}"):
        layout = page.evaluate(OVERFLOW_SCRIPT)
        assert layout["scrollWidth"] <= width, (page.url, width, layout)
        assert layout["out"] == [], (page.url, width, layout)


def test_layout_at_320px_1280px_and_200_percent_zoom(
    open_page: Callable[..., Page], server: Server
) -> None:
    # Each screen loaded once at 320px and then widened to 1280px: the pages' layout is CSS
    # alone (no script reads a width), so a resized page lays out as one loaded at that size,
    # and a page and a load less per screen saved chromium ~0.2 s of CPU a run.
    page = open_page(viewport={"width": 320, "height": 900})
    for name, path in SCREENS:
        page.set_viewport_size({"width": 320, "height": 900})
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        for width in (320, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            _fits(page, name, width, f"{width}")
    # 200% zoom of a 1280px window lays out like a 640px-wide viewport at twice the pixels.
    zoomed = open_page(viewport={"width": 640, "height": 900}, device_scale_factor=2)
    for name, path in SCREENS:
        zoomed.goto(server.url + path)
        zoomed.wait_for_load_state("load")
        _fits(zoomed, name, 640, "640-zoom200")


# 5. Accessibility ----------------------------------------------------------------------------

AXE_PAGES = [
    "/",
    "/embed",
    "/embed?scheme=dark",
    "/embed?view=month&month=2026-02",
    "/subscribe",
    "/events/time-to-talk-day",
]


def test_axe_finds_no_serious_violations(open_page: Callable[..., Page], server: Server) -> None:
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run `make browser-deps` (npm ci in tests/browser)")
    # Our CSP (script-src 'self') would refuse the injected axe script; bypass it for this test.
    page = open_page(bypass_csp=True)  # 1024x800
    failures: list[str] = []
    for path in AXE_PAGES:
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        for violation in serious_violations(page):
            targets = [node["target"] for node in violation["nodes"][:5]]
            failures.append(
                f"{path}: {violation['id']} ({violation['impact']}): "
                f"{violation['help']} -> {targets}"
            )
    assert failures == [], "axe violations:\n" + "\n".join(failures)
