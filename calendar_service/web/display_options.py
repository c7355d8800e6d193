"""Display options read from the query string: how the embed looks, and which month a page shows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from calendar_service import colours
from calendar_service.query import QueryError, single_value
from calendar_service.search import Window
from calendar_service.values import MAX_YEAR, MIN_YEAR

# `scheme`, not `theme`: `theme` is a filter (the partnership's priorities).
EMBED_OPTIONS = ("view", "limit", "title", "compact", "accent", "scheme", "month")
MAX_EMBED_ITEMS = 100
DEFAULT_EMBED_ITEMS = 10


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """How the embed looks; all parsed from the query string."""

    view: Literal["list", "month"] = "list"
    limit: int = DEFAULT_EMBED_ITEMS
    title: str = ""
    compact: bool = False
    accent: str | None = None  # six hex digits
    scheme: Literal["light", "dark"] = "light"
    month: date | None = None

    def items(self) -> list[tuple[str, str]]:
        """Options that differ from the defaults, as canonical query parameters."""
        pairs: list[tuple[str, str]] = []
        if self.view != "list":
            pairs.append(("view", self.view))
        if self.limit != DEFAULT_EMBED_ITEMS:
            pairs.append(("limit", str(self.limit)))
        if self.title:
            pairs.append(("title", self.title))
        if self.compact:
            pairs.append(("compact", "true"))
        if self.accent:
            pairs.append(("accent", self.accent))
        if self.scheme != "light":
            pairs.append(("scheme", self.scheme))
        if self.month is not None:
            pairs.append(("month", f"{self.month:%Y-%m}"))
        return pairs


def _choice(params: Mapping[str, Sequence[str]], name: str, allowed: tuple[str, ...]) -> str:
    value = single_value(params, name) or allowed[0]
    if value not in allowed:
        raise QueryError(name, f"{name} must be {' or '.join(allowed)}", list(allowed))
    return value


def parse_embed_options(params: Mapping[str, Sequence[str]]) -> EmbedOptions:
    """Read and check the display options of the embed."""
    raw_limit = single_value(params, "limit")
    limit = DEFAULT_EMBED_ITEMS
    if raw_limit is not None:
        # ASCII digits only: "²".isdigit() is true, and int() refuses it.
        digits = raw_limit.isascii() and raw_limit.isdigit()
        if not digits or not 1 <= int(raw_limit[:4]) <= MAX_EMBED_ITEMS:
            raise QueryError(
                "limit", f"limit must be 1-{MAX_EMBED_ITEMS}", [f"1-{MAX_EMBED_ITEMS}"]
            )
        limit = int(raw_limit)
    title = " ".join((single_value(params, "title") or "").split())
    if len(title) > 100:
        raise QueryError("title", "title is longer than 100 characters")
    accent = single_value(params, "accent")
    if accent is not None:
        accent = accent.removeprefix("#").lower()
        if not re.fullmatch(r"[0-9a-f]{6}", accent):
            raise QueryError("accent", "accent must be six hex digits, like 1d70b8", ["RRGGBB"])
    month = parse_month(params)
    return EmbedOptions(
        view=_choice(params, "view", ("list", "month")),  # type: ignore[arg-type]
        limit=limit,
        title=title,
        compact=_choice(params, "compact", ("false", "true")) == "true",
        accent=accent,
        scheme=_choice(params, "scheme", ("light", "dark")),  # type: ignore[arg-type]
        month=month,
    )


def parse_month(params: Mapping[str, Sequence[str]]) -> date | None:
    """The `month` parameter (YYYY-MM) as its first day, if given; the embed's and home's."""
    month_text = single_value(params, "month")
    if month_text is None:
        return None
    problem = QueryError("month", "month must be YYYY-MM", ["YYYY-MM"])
    if not re.fullmatch(r"\d{4}-\d{2}", month_text):
        raise problem
    try:
        month = date(int(month_text[:4]), int(month_text[5:]), 1)
    except ValueError:
        raise problem from None
    if not MIN_YEAR <= month.year <= MAX_YEAR:
        raise QueryError("month", f"month must be between {MIN_YEAR} and {MAX_YEAR}")
    return month


def month_window(month: date) -> Window:
    """The days of a month, as a window whose errors name the `month` parameter."""
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Window(month, last, "month", "month")


def accent_css(accent: str) -> str:
    """CSS custom properties for an accent colour, with a readable text colour on it."""
    return f":root{{--accent:#{accent};--on-accent:#{colours.text_on(accent)}}}\n"
