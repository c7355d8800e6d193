"""The filter fields, declared once: every surface that names a filter is generated here.

One row of `FIELDS` reaches the query-string parser and the canonical URL
(`calendar_service.query`), the named-feed filters of `calendar.yaml`
(`calendar_settings.FeedFilter`), the OpenAPI parameters (`web.parameters`), the home
page's filter form, and the embed: its `data-` attributes, its snippet and the list in
`embed.js`. Adding a field is one row here plus its `Filter` attribute and `FilterKeys`
key in `query.py`, the hot path that stays hand-written; `tests/test_filter_fields.py`
fails when they disagree.

This module imports nothing from the package, so the model and the query can both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class FieldKind(StrEnum):
    """How a filter field reads its values and matches an event."""

    TERM = "term"  # keys of a controlled vocabulary; repeat for OR
    TAG = "tag"  # free tags (slugs); repeat for OR
    TEXT = "text"  # words that must all occur, case- and accent-insensitive
    FLAG = "flag"  # true or false
    STATUS = "status"  # an occurrence's status; repeat for OR


@dataclass(frozen=True, slots=True)
class FilterField:
    """One filter field and what each surface needs to know about it."""

    name: str  # query parameter, `Filter` attribute, `data-` attribute, YAML key
    kind: FieldKind
    vocabulary: str | None  # attribute of `Vocabularies` holding the allowed keys
    repeatable: bool  # several values, OR'd; otherwise given at most once
    event_level: bool  # applies to whole events (feeds); otherwise to occurrences
    in_named_feeds: bool  # a named feed in calendar.yaml may filter by it
    form_legend: str | None  # heading of its part of the home page's form; None: not shown
    description: str  # for OpenAPI
    example: str  # for OpenAPI; "" for none
    # How `Filter.describe` names a FLAG when true and when false.
    flag_words: tuple[str, str] = ("", "")


FIELDS: tuple[FilterField, ...] = (
    FilterField(
        "category", FieldKind.TERM, "categories", True, True, True, "Kind",
        "Category key; repeat for OR.", "awareness-day",
    ),
    FilterField(
        "audience", FieldKind.TERM, "audiences", True, True, True, "Who for",
        "Audience key; repeat for OR.", "schools",
    ),
    FilterField(
        "theme", FieldKind.TERM, "themes", True, True, True, "Priority",
        "Theme key; repeat for OR.", "mental-health-wellbeing",
    ),
    FilterField(
        "tag", FieldKind.TAG, None, True, True, True, None,
        "Free tag; repeat for OR.", "kindness",
    ),
    FilterField(
        "q", FieldKind.TEXT, None, False, True, False, "Words",
        "Text search over title, summary, description, tags and organiser; "
        "case- and accent-insensitive, every word must match.", "mental health",
    ),
    FilterField(
        "online", FieldKind.FLAG, None, False, True, False, None,
        "Only online (true) or in-person (false) events.", "",
        flag_words=("online", "in person"),
    ),
    FilterField(
        "status", FieldKind.STATUS, None, True, False, False, None,
        "Occurrence status; repeat for OR.", "confirmed",
    ),
)  # fmt: skip

FIELD: dict[str, FilterField] = {field.name: field for field in FIELDS}
FILTER_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS)
# Event-level fields: a feed carries whole series, so only these apply to ICS.
EVENT_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS if field.event_level)
NAMED_FEED_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS if field.in_named_feeds)
FORM_FIELDS: tuple[FilterField, ...] = tuple(field for field in FIELDS if field.form_legend)

_EMBED_FILTERS = re.compile(r"var FILTERS = \[[^\]]*\];")


def embed_filters_line() -> str:
    """The line of `embed.js` that lists the filters it reads, in canonical order."""
    names = ", ".join(f'"{name}"' for name in FILTER_FIELDS)
    return f"var FILTERS = [{names}];"


def embed_script(js: str) -> str:
    """`embed.js` with its list of filters written from the table.

    The loader sends its `data-` attributes in the service's canonical order, so the
    frame loads without a redirect; this keeps that list the table's.
    """
    written, count = _EMBED_FILTERS.subn(embed_filters_line(), js)
    if count != 1:
        raise ValueError("embed.js must hold exactly one `var FILTERS = [...];` line")
    return written
