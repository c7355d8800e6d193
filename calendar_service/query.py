"""One Filter type, parsed from query strings and applied alike by every output."""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from calendar_service.errors import CalendarServiceError
from calendar_service.fields import (
    EVENT_FIELDS,
    FIELDS,
    FILTER_FIELDS,
    NAMED_FEED_FIELDS,
    FieldKind,
    FilterField,
)
from calendar_service.model import EventData, FeedFilter, Status, Vocabularies
from calendar_service.values import SLUG_PATTERN, is_slug

__all__ = [
    "EVENT_FIELDS",
    "FILTER_FIELDS",
    "MAX_PARAMETER_LENGTH",
    "MAX_VALUES",
    "Filter",
    "FilterKeys",
    "QueryError",
    "keys_for",
    "parse_filter",
    "refuse_control_characters",
    "search_text",
    "single_value",
]

MAX_VALUES = 20  # values of one parameter
MAX_PARAMETER_LENGTH = 200
_FLAG_VALUES = ("true", "false")
# No parameter may hold these: RFC 5545's CONTROL (C0 but tab, and DEL), which strict
# iCalendar readers refuse, and the C1 controls and Unicode line separators that the data
# files may not hold either. Tab is whitespace, folded to a space like any other.
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# Every way one can arrive in a raw query string: percent-encoded (C0 and DEL, or C1 and the
# separators in UTF-8) or as a raw octet. Most query strings have none, and are not decoded.
_MAYBE_CONTROL = re.compile(rb"%[01]|%7f|%c2%[89]|%e2%80%a[89]|[\x00-\x1f\x7f-\x9f]", re.I)


class QueryError(CalendarServiceError, ValueError):
    """A query parameter that cannot be accepted, with what is allowed instead."""

    def __init__(self, parameter: str, message: str, allowed: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.allowed = list(allowed)


def search_text(text: str) -> str:
    """Case- and accent-insensitive form of a text, for search."""
    folded = text.casefold()
    if folded.isascii():  # most text: nothing to decompose
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True, slots=True)
class FilterKeys:
    """What a filter looks at in one event, computed once per snapshot."""

    category: str
    audiences: frozenset[str]
    themes: frozenset[str]
    tags: frozenset[str]
    online: bool
    text: str  # folded title, summary, description, tags and organiser


@functools.lru_cache(maxsize=4096)
def _shared_set(values: tuple[str, ...]) -> frozenset[str]:
    """One frozenset for each list of keys: a calendar's events share a few lists of
    audiences, themes and tags, and a frozenset of each event's own cost 6 MB at 10,000."""
    return frozenset(values)


def keys_for(event: EventData) -> FilterKeys:
    """The filter keys of an event (their sets shared with other events' equal ones)."""
    organiser = event.organiser.name if event.organiser else ""
    text = " ".join(
        (event.title, event.summary, event.description, " ".join(event.tags), organiser)
    )
    return FilterKeys(
        category=event.category,
        audiences=_shared_set(tuple(event.audiences)),
        themes=_shared_set(tuple(event.themes)),
        tags=_shared_set(tuple(event.tags)),
        online=bool(event.location and event.location.online),
        text=search_text(text),
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """OR within a field, AND across fields; empty fields match everything."""

    category: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    theme: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    q: str = ""
    online: bool | None = None
    status: tuple[Status, ...] = ()
    _terms: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Canonical form: sorted, without repeats, so equal filters compare and hash equal;
        # text one space between words.
        for field in FIELDS:
            value = getattr(self, field.name)
            if field.repeatable:
                object.__setattr__(self, field.name, tuple(sorted(set(value))))
            elif field.kind is FieldKind.TEXT:
                object.__setattr__(self, field.name, " ".join(value.split()))
        object.__setattr__(self, "_terms", tuple(search_text(self.q).split()))

    @property
    def is_empty(self) -> bool:
        return not self.items()

    def matches(self, keys: FilterKeys) -> bool:
        """Whether an event passes the event-level fields of this filter."""
        return (
            (not self.category or keys.category in self.category)
            and (not self.audience or not keys.audiences.isdisjoint(self.audience))
            and (not self.theme or not keys.themes.isdisjoint(self.theme))
            and (not self.tag or not keys.tags.isdisjoint(self.tag))
            and (self.online is None or keys.online == self.online)
            and all(term in keys.text for term in self._terms)
        )

    def matches_status(self, status: Status) -> bool:
        return not self.status or status in self.status

    def items(self) -> list[tuple[str, str]]:
        """The filter as canonical query parameters, in the table's order."""
        return [(field.name, value) for field in FIELDS for value in self._texts(field)]

    def query_string(self) -> str:
        return urlencode(self.items())

    def event_level(self) -> Filter:
        """This filter without its occurrence-level part (status)."""
        return Filter(**{name: getattr(self, name) for name in EVENT_FIELDS})

    def data_attributes(self) -> list[tuple[str, str]]:
        """The filter as the embed's `data-` attributes, in the table's order.

        A repeatable field's values are joined with commas, which `embed.js` splits again
        (keys and tags cannot hold a comma); the values are not HTML-escaped.
        """
        attributes = []
        for field in FIELDS:
            if texts := self._texts(field):
                attributes.append((f"data-{field.name}", ",".join(texts)))
        return attributes

    def describe(self, vocabularies: Vocabularies) -> str:
        """A short human title for the event-level part, used to name ad-hoc feeds.

        Vocabulary keys are shown by label, tags with `#`, text quoted; status is left out.
        """
        parts: list[str] = []
        for field in FIELDS:
            value = getattr(self, field.name)
            if field.kind is FieldKind.TERM:
                terms = vocabularies.terms(field.name)
                parts += [terms[key].label for key in value if key in terms]
            elif field.kind is FieldKind.TAG:
                parts += [f"#{tag}" for tag in value]
            elif field.kind is FieldKind.TEXT and value:
                parts.append(f'"{value}"')
            elif field.kind is FieldKind.FLAG and value is not None:
                parts.append(field.flag_words[0] if value else field.flag_words[1])
        return ", ".join(parts) or "all"

    @classmethod
    def of_feed(cls, definition: FeedFilter) -> Filter:
        """The filter of a named feed in `calendar.yaml`."""
        values: dict[str, Any] = {
            name: tuple(getattr(definition, name)) for name in NAMED_FEED_FIELDS
        }
        return cls(**values)

    def _texts(self, field: FilterField) -> list[str]:
        """One field's values as query-string texts; empty when it is not filtered."""
        value = getattr(self, field.name)
        if field.repeatable:
            return [str(item) for item in value]  # Status is a StrEnum: its value
        if field.kind is FieldKind.FLAG:
            return [] if value is None else [_FLAG_VALUES[0] if value else _FLAG_VALUES[1]]
        return [value] if value else []


def parse_filter(
    params: Mapping[str, Sequence[str]],
    vocabularies: Vocabularies,
    *,
    fields: Iterable[str] = FILTER_FIELDS,
) -> Filter:
    """Read a Filter from query parameters; unknown vocabulary values are refused.

    Only `fields` are read; the others keep their empty value.
    """
    allowed = set(fields)
    values = {
        field.name: _parse_field(field, _values(params, field), vocabularies)
        for field in FIELDS
        if field.name in allowed
    }
    return Filter(**values)


def _parse_field(field: FilterField, raw: list[str], vocabularies: Vocabularies) -> Any:
    """One field's value from its (split, length-checked) query texts."""
    name = field.name
    if not field.repeatable and len(raw) > 1:
        allowed = _FLAG_VALUES if field.kind is FieldKind.FLAG else ()
        raise QueryError(name, f"give {name} once", allowed)
    if field.kind is FieldKind.TERM:
        terms = vocabularies.terms(name)
        for value in raw:
            if value not in terms:
                raise QueryError(name, f"unknown {name} {_shorten(value)!r}", allowed=list(terms))
        return tuple(raw)
    if field.kind is FieldKind.TAG:
        for value in raw:
            if not is_slug(value):
                raise QueryError(
                    name, f"{name} {_shorten(value)!r} is not a tag name", [SLUG_PATTERN]
                )
        return tuple(raw)
    if field.kind is FieldKind.TEXT:
        return raw[0] if raw else ""
    if field.kind is FieldKind.FLAG:
        if not raw:
            return None
        if raw[0] not in _FLAG_VALUES:
            raise QueryError(name, f"{name} must be true or false", _FLAG_VALUES)
        return raw[0] == _FLAG_VALUES[0]
    statuses = []
    for value in raw:
        try:
            statuses.append(Status(value))
        except ValueError:
            raise QueryError(
                name, f"unknown {name} {_shorten(value)!r}", [s.value for s in Status]
            ) from None
    return tuple(statuses)


def refuse_control_characters(query_string: bytes) -> None:
    """Refuse a query string with a control character in any parameter's name or value.

    The query string is decoded as Starlette decodes it for every route, so what is
    checked here is what any route reads.
    """
    if not _MAYBE_CONTROL.search(query_string):
        return
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        # The name is shown with its own control characters escaped, if it has any.
        shown = _shorten(CONTROL_CHARACTER.sub(_escaped, name))
        for text in (name, value):
            if found := CONTROL_CHARACTER.search(text):
                raise QueryError(
                    shown,
                    f"{shown} holds a control character or line separator "
                    f"(U+{ord(found[0]):04X}); only text is accepted",
                )


def _escaped(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")


def single_value(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """A parameter that may be given at most once."""
    values = params.get(name, ())
    if len(values) > 1:
        raise QueryError(name, f"give {name} once")
    return values[0] if values else None


def _values(params: Mapping[str, Sequence[str]], field: FilterField) -> list[str]:
    """A field's non-empty texts, each checked for length."""
    name = field.name
    raw = list(params.get(name, ()))
    # A form may send `audience=schools,parents-carers`; both spellings mean the same.
    split = field.kind is not FieldKind.TEXT
    values = [part.strip() for value in raw for part in value.split(",")] if split else raw
    values = [value for value in values if value]
    if len(values) > MAX_VALUES:
        raise QueryError(name, f"at most {MAX_VALUES} values of {name}")
    for value in values:
        if len(value) > MAX_PARAMETER_LENGTH:
            raise QueryError(name, f"{name} is longer than {MAX_PARAMETER_LENGTH} characters")
    return values


def _shorten(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."
