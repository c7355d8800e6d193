"""One Filter type, parsed from query strings and applied alike by every output."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from calendar_service.errors import CalendarServiceError
from calendar_service.model import EventData, Status, Vocabularies
from calendar_service.values import SLUG_PATTERN, is_slug

MAX_VALUES = 20  # values of one parameter
MAX_PARAMETER_LENGTH = 200
FILTER_FIELDS = ("category", "audience", "theme", "tag", "q", "online", "status")
# Event-level fields: a feed carries whole series, so only these apply to ICS.
EVENT_FIELDS = ("category", "audience", "theme", "tag", "q", "online")
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


def fold(text: str) -> str:
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


def keys_for(event: EventData) -> FilterKeys:
    """The filter keys of an event."""
    organiser = event.organiser.name if event.organiser else ""
    text = " ".join(
        (event.title, event.summary, event.description, " ".join(event.tags), organiser)
    )
    return FilterKeys(
        category=event.category,
        audiences=frozenset(event.audiences),
        themes=frozenset(event.themes),
        tags=frozenset(event.tags),
        online=bool(event.location and event.location.online),
        text=fold(text),
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
    _terms: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Canonical form: sorted, without repeats, so equal filters compare and hash equal.
        for name in ("category", "audience", "theme", "tag"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        object.__setattr__(self, "status", tuple(sorted(set(self.status))))
        query = " ".join(self.q.split())
        object.__setattr__(self, "q", query)
        object.__setattr__(self, "_terms", tuple(fold(query).split()))

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
        """The filter as canonical query parameters, in a fixed order."""
        pairs: list[tuple[str, str]] = []
        for name in ("category", "audience", "theme", "tag"):
            pairs += [(name, value) for value in getattr(self, name)]
        if self.q:
            pairs.append(("q", self.q))
        if self.online is not None:
            pairs.append(("online", "true" if self.online else "false"))
        pairs += [("status", value.value) for value in self.status]
        return pairs

    def query_string(self) -> str:
        return urlencode(self.items())

    def event_level(self) -> Filter:
        """This filter without its occurrence-level part (status)."""
        return Filter(self.category, self.audience, self.theme, self.tag, self.q, self.online)


def parse_filter(
    params: Mapping[str, Sequence[str]],
    vocabularies: Vocabularies,
    *,
    fields: Iterable[str] = FILTER_FIELDS,
) -> Filter:
    """Read a Filter from query parameters; unknown vocabulary values are refused."""
    allowed_fields = set(fields)
    known: dict[str, Mapping[str, object]] = {
        "category": vocabularies.categories,
        "audience": vocabularies.audiences,
        "theme": vocabularies.themes,
    }
    values: dict[str, tuple[str, ...]] = {}
    for name in ("category", "audience", "theme", "tag"):
        raw = _values(params, name) if name in allowed_fields else []
        for value in raw:
            if name in known and value not in known[name]:
                raise QueryError(
                    name, f"unknown {name} {_shorten(value)!r}", allowed=list(known[name])
                )
            if name == "tag" and not is_slug(value):
                raise QueryError(
                    "tag", f"tag {_shorten(value)!r} is not a tag name", [SLUG_PATTERN]
                )
        values[name] = tuple(raw)
    query_values = _values(params, "q") if "q" in allowed_fields else []
    if len(query_values) > 1:
        raise QueryError("q", "give q once")
    online_values = _values(params, "online") if "online" in allowed_fields else []
    if len(online_values) > 1:
        raise QueryError("online", "give online once", ["true", "false"])
    online: bool | None = None
    if online_values:
        if online_values[0] not in ("true", "false"):
            raise QueryError("online", "online must be true or false", ["true", "false"])
        online = online_values[0] == "true"
    statuses = []
    for value in _values(params, "status") if "status" in allowed_fields else []:
        try:
            statuses.append(Status(value))
        except ValueError:
            raise QueryError(
                "status", f"unknown status {_shorten(value)!r}", [s.value for s in Status]
            ) from None
    return Filter(
        category=values["category"],
        audience=values["audience"],
        theme=values["theme"],
        tag=values["tag"],
        q=query_values[0] if query_values else "",
        online=online,
        status=tuple(statuses),
    )


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


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    raw = list(params.get(name, ()))
    # A form may send `audience=schools,parents-carers`; both spellings mean the same.
    values = [part.strip() for value in raw for part in value.split(",")] if name != "q" else raw
    values = [value for value in values if value]
    if len(values) > MAX_VALUES:
        raise QueryError(name, f"at most {MAX_VALUES} values of {name}")
    for value in values:
        if len(value) > MAX_PARAMETER_LENGTH:
            raise QueryError(name, f"{name} is longer than {MAX_PARAMETER_LENGTH} characters")
    return values


def _shorten(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."
