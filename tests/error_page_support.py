"""Read the HTML error page people get, with the standard library's parser (not ours)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

# The pages people read, written out here rather than taken from the service's routes.
PAGE_PATH = re.compile(
    r"/(subscribe|embed|digest|events/[^/.]+|feeds/[^/.]+/(subscribe|embed|digest/[^/.]+))?"
)


def for_people(path: str) -> bool:
    """Whether a refusal at `path` must be the HTML error page (else the JSON shape)."""
    return PAGE_PATH.fullmatch(path) is not None


class _ErrorPage(HTMLParser):
    """Collects the text of the heading, the message and the parameter named, and links."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, str] = {"h1": "", "message": "", "parameter": ""}
        self.links: list[str] = []
        self.stylesheets: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")
        if tag == "h1":
            self._open.append("h1")
        elif "error-message" in classes:
            self._open.append("message")
        elif (
            tag == "code" and self._open[-1:] == ["parameter-line"] and not self.texts["parameter"]
        ):
            self._open.append("parameter")
        elif "error-parameter" in classes:
            self._open.append("parameter-line")
        else:
            self._open.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        for where in self._open:
            if where in self.texts:
                self.texts[where] += data


VOID = ("meta", "link", "input", "br")


def html_error(response: httpx.Response) -> dict[str, Any]:
    """The error page's status, message and parameter, checked to be a page people can use."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = _ErrorPage()
    # Void elements have no end tag in HTML: close them so the stack stays balanced.
    text = response.text
    for tag in VOID:
        text = text.replace(f"<{tag} ", f"<{tag}/ ").replace(f"<{tag}>", f"<{tag}/>")
    page.feed(text)
    assert page.texts["h1"].strip(), "the error page has no heading"
    assert "/" in page.links, "the error page has no way home"
    assert "/static/calendar.css" in page.stylesheets, "the error page is not in the site's style"
    message = page.texts["message"].strip()
    assert message
    error: dict[str, Any] = {"status": response.status_code, "message": message}
    if page.texts["parameter"]:
        error["parameter"] = page.texts["parameter"]
    return error
