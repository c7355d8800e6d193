"""The email digest in headless Chromium: no horizontal scrolling at 320 px and 1280 px, its
inline styles applied under its CSP, dark mode from prefers-color-scheme, and axe's checks
(contrast included) in both schemes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pytest
from conftest import Server
from digest_support import TERM
from embed_browser_support import AXE, _unavailable, pictured, serious_violations

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

# One xdist worker runs the module (make unit: --dist loadgroup): one chromium at a time.
pytestmark = pytest.mark.xdist_group("embed_browser")

DIGESTS = [
    ("digest-term", f"/digest?{TERM}"),
    ("digest-feed", "/feeds/practitioners/digest/2025-02"),
]
LAYOUT_SCRIPT = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) out.push(el.tagName + "." + el.className);
  }
  const digest = getComputedStyle(document.querySelector(".digest"));
  return {
    scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 10),
    background: digest.backgroundColor, colour: digest.color,
    when: getComputedStyle(document.querySelector(".when")).fontWeight,
  };
}"""
Scheme = Literal["light", "dark"]
BACKGROUND: dict[Scheme, str] = {"light": "rgb(255, 255, 255)", "dark": "rgb(11, 12, 12)"}
WIDTHS = (320, 1280)


def test_the_email_digest_fits_320px_and_1280px_in_either_scheme(
    open_page: Callable[..., Page], server: Server
) -> None:
    # Each digest loaded once, then resized and its scheme switched, as a reader's window or
    # system setting does: its layout and colours are CSS alone (@media width and
    # prefers-color-scheme). A page and a load for each width and scheme cost chromium
    # ~0.5 s of CPU more a run.
    page = open_page(viewport={"width": WIDTHS[0], "height": 900})
    for name, path in DIGESTS:
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        page.emulate_media(color_scheme="light")
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        for scheme in BACKGROUND:
            page.emulate_media(color_scheme=scheme)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                with pictured(page, f"{name}-{width}-{scheme}"):
                    layout = page.evaluate(LAYOUT_SCRIPT)
                    assert layout["scrollWidth"] <= width, (path, layout)
                    assert layout["out"] == [], (path, layout)
                    # The inline styles apply (the page's CSP allows them), and dark mode
                    # turns the page dark with light text.
                    assert layout["when"] == "700", (path, layout)
                    assert layout["background"] == BACKGROUND[scheme], (path, layout)
                    assert layout["colour"] != layout["background"]


def test_axe_finds_no_serious_violations_in_the_digest_in_either_scheme(
    open_page: Callable[..., Page], server: Server
) -> None:
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run `make browser-deps` (npm ci in tests/browser)")
    # Our CSP (script-src 'self') would refuse the injected axe script; bypass it for this test.
    page = open_page(viewport={"width": 1024, "height": 900}, bypass_csp=True)
    failures: list[str] = []
    for _name, path in DIGESTS:
        page.emulate_media(color_scheme="light")
        page.goto(server.url + path)
        page.wait_for_load_state("load")
        # Both schemes on one load, as a reader's system switching to dark mode does: the
        # colours follow prefers-color-scheme (CSS alone), and axe is injected once.
        for scheme in BACKGROUND:
            page.emulate_media(color_scheme=scheme)
            background = page.evaluate(
                "getComputedStyle(document.querySelector('.digest')).backgroundColor"
            )
            assert background == BACKGROUND[scheme], (path, scheme)
            failures += [
                f"{path} ({scheme}): {violation['id']}: {violation['help']}"
                for violation in serious_violations(page)
            ]
    assert failures == []
