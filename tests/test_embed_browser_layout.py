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


def test_layout_at_320px_1280px_and_200_percent_zoom(
    open_page: Callable[..., Page], server: Server
) -> None:
    # 200% zoom of a 1280px window lays out like a 640px-wide viewport at twice the pixels.
    for width, scale in [(320, 1), (1280, 1), (640, 2)]:
        page = open_page(viewport={"width": width, "height": 900}, device_scale_factor=scale)
        for name, path in SCREENS:
            page.goto(server.url + path)
            page.wait_for_load_state("load")
            suffix = f"{width}" if scale == 1 else f"{width}-zoom200"
            with pictured(page, f"{name}-{suffix}"):
                layout = page.evaluate(OVERFLOW_SCRIPT)
                assert layout["scrollWidth"] <= width, (path, width, layout)
                assert layout["out"] == [], (path, width, layout)


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
