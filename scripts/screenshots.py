"""Screenshots for the README: the service on a fixed day, photographed by headless chromium.

Usage: .venv/bin/python scripts/screenshots.py [OUT_DIR] (default docs/screenshots), or
`make screenshots`. Serves tests/datasets/partnership-2026 (frozen, so the pictures change only
when the pages do) on a free port of 127.0.0.1, as if today were `DAY`, and drives Debian's
/usr/bin/chromium through Playwright (never a downloaded browser).
"""

from __future__ import annotations

import argparse
import socket
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import uvicorn
from playwright.sync_api import BrowserContext, sync_playwright

from calendar_service.settings import ServiceSettings
from calendar_service.web.service import CalendarService

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "datasets" / "partnership-2026"
CHROMIUM = "/usr/bin/chromium"
DAY = date(2026, 11, 20)  # within the frozen data's season: upcoming February weeks show


@dataclass(frozen=True)
class Shot:
    """One picture: the page it shows and the size of the window (the PNG's size)."""

    name: str
    path: str
    width: int
    height: int


SHOTS = (
    Shot("home", "/", 1200, 900),
    Shot("month", "/embed?view=month&month=2027-02", 900, 500),
    Shot("embed", "/embed?audience=schools&limit=5", 480, 640),
    # The email digest of the frozen data's fullest month, as a mail client shows it.
    Shot("digest", "/digest?month=2025-02", 640, 900),
)


class Running:
    """The real application under uvicorn in a thread, on a socket bound before it starts."""

    def __init__(self, data: Path, day: date) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        settings = ServiceSettings(data_dir=data, base_url=self.url, watch=False)
        app = CalendarService.open(settings, today=lambda: day).app()
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],))

    def __enter__(self) -> Running:
        self.thread.start()
        while not self.server.started:  # uvicorn sets it once the socket is served
            if not self.thread.is_alive():
                raise RuntimeError("the service stopped before it served")
            self.thread.join(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


def take(out: Path, data: Path = DATA, day: date = DAY) -> list[Path]:
    """Write one PNG per shot into `out`, from a chromium of its own; return their paths."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
        )
        try:
            return photograph(browser.new_context(), out, data, day)
        finally:
            browser.close()


def photograph(
    context: BrowserContext, out: Path, data: Path = DATA, day: date = DAY
) -> list[Path]:
    """Write one PNG per shot into `out` with a page of `context` (the tests pass theirs, a
    context at device scale 1), and close the page."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    # One page for every shot, resized for each: a context of its own per shot cost
    # chromium ~0.45 s of CPU more (its renderer processes and profile).
    page = context.new_page()
    try:
        with Running(data, day) as service:
            for shot in SHOTS:
                page.set_viewport_size({"width": shot.width, "height": shot.height})
                page.goto(service.url + shot.path, wait_until="networkidle")
                target = out / f"{shot.name}.png"
                page.screenshot(path=str(target))
                written.append(target)
    finally:
        page.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--data", default=str(DATA), help="data directory to serve")
    parser.add_argument("--date", default=DAY.isoformat(), help="the day taken as today")
    args = parser.parse_args()
    for path in take(Path(args.out), Path(args.data), date.fromisoformat(args.date)):
        print(path)


if __name__ == "__main__":
    main()
