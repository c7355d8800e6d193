"""Someone else's text made plain: tags stripped, entities read, controls dropped, length capped."""

from __future__ import annotations

import html
import re

import nh3

from calendar_service.values import (
    MAX_TEXT,
    MAX_TITLE,
)

_BREAKS = re.compile(r"<\s*(?:br\s*/?|/p|/div|/li|/h[1-6]|/tr)\s*>", re.IGNORECASE)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(value: str, limit: int = MAX_TEXT) -> str:
    """Text with every HTML tag stripped (scripts and styles with their content), entities
    read, control characters dropped and the length capped: plain text for every output."""
    text = _BREAKS.sub("\n", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))
    text = _CONTROLS.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return capped(text, limit)


def plain_line(value: str, limit: int = MAX_TITLE) -> str:
    """One line of plain text (titles, venues), capped."""
    return capped(" ".join(plain_text(value, MAX_TEXT).split()), limit)


def capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def shortened(text: str) -> str:
    return capped(" ".join(text.split()), 80)


__all__ = ["capped", "plain_line", "plain_text", "shortened"]
