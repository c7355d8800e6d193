"""The partner sources file (`sources.yaml`): which feeds are imported, and how their
events map onto our vocabularies, limits and ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from calendar_service.model import (
    CalendarSettings,
    Organiser,
)
from calendar_service.values import (
    MAX_LIST,
    FieldPath,
    FieldProblem,
    Line,
    Slug,
    Strict,
    Url,
)

# Global caps: a source's own limits may be lower, never higher.
MAX_SOURCES = 50
MAX_SOURCE_EVENTS = 2_000
MAX_SOURCE_OCCURRENCES = 20_000
MAX_SOURCE_ID = 48  # an imported event's id is the source id, a hyphen and UID_DIGITS
UID_DIGITS = 16
FETCHED_NAME = "fetched"  # how an imported event's file is named in messages: fetched/<id>.ics
# A source's last good copy is `<fetched_dir>/<id><FETCHED_SUFFIX>` (FetchStore writes it).
FETCHED_SUFFIX = ".ics"


class Prefer(StrEnum):
    """Who wins where an override sets a field the source's categories also map."""

    OURS = "ours"
    SOURCE = "source"


class CategoryMapping(Strict):
    """What a source's CATEGORIES value becomes in our vocabularies."""

    category: Slug | None = None
    audiences: list[Slug] = Field(default=[], max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)


class SourceFilter(Strict):
    """Events kept (include) or dropped (exclude): OR within a field, AND across fields.

    `text` matches words in the title or description, `categories` the source's own
    CATEGORIES, both ignoring case.
    """

    text: list[Line] = Field(default=[], max_length=MAX_LIST)
    categories: list[Line] = Field(default=[], max_length=MAX_LIST)

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.categories)

    def matches(self, text: str, categories: Iterable[str]) -> bool:
        """Whether an event passes every field given (an empty filter passes everything)."""
        folded = text.casefold()
        if self.text and not any(word.casefold() in folded for word in self.text):
            return False
        if self.categories:
            wanted = {category.casefold() for category in self.categories}
            return any(category.casefold() in wanted for category in categories)
        return True


class SourceConfig(Strict):
    """One partner feed: where it is, who runs it and how its events map to ours."""

    id: Slug = Field(max_length=MAX_SOURCE_ID, description="Namespaces the source's event UIDs.")
    name: Line
    url: Url = Field(description="The feed; the only address ever fetched for this source.")
    allow_http: bool = Field(default=False, description="Fetch over plain http (not https).")
    organiser: Organiser
    page: Url = Field(description="The source's own page, linked from each of its events.")
    category: Slug = Field(description="The category of its events unless mapped.")
    audiences: list[Slug] = Field(min_length=1, max_length=MAX_LIST)
    themes: list[Slug] = Field(default=[], max_length=MAX_LIST)
    map_categories: dict[Line, CategoryMapping] = Field(
        default={}, description="The source's CATEGORIES values mapped to ours (ignoring case)."
    )
    include: SourceFilter = SourceFilter()
    exclude: SourceFilter = SourceFilter()
    prefer: Prefer = Prefer.OURS
    max_events: int = Field(default=500, ge=1, le=MAX_SOURCE_EVENTS)
    max_occurrences: int = Field(default=5_000, ge=1, le=MAX_SOURCE_OCCURRENCES)

    @field_validator("url")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL")
        return value

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> SourceConfig:
        if self.url.lower().startswith("http://") and not self.allow_http:
            raise ValueError("url: http:// is refused unless the source sets allow_http: true")
        return self


class ImportOverride(Strict):
    """Our change to one imported event, named by its source and its UID there."""

    source: Slug
    uid: Line
    hidden: bool = Field(default=False, description="Leave the event out of every output.")
    category: Slug | None = None
    audiences: list[Slug] | None = Field(default=None, min_length=1, max_length=MAX_LIST)
    themes: list[Slug] | None = Field(default=None, max_length=MAX_LIST)


class SourcesFile(Strict):
    """The top level of `sources.yaml`: the partner feeds and our overrides of their events."""

    sources: list[SourceConfig] = Field(default=[], max_length=MAX_SOURCES)
    overrides: list[ImportOverride] = Field(default=[], max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> SourcesFile:
        ids = [source.id for source in self.sources]
        repeated = sorted({key for key in ids if ids.count(key) > 1})
        if repeated:
            raise ValueError(f"source ids must be unique; repeated: {', '.join(repeated)}")
        seen: set[tuple[str, str]] = set()
        for index, override in enumerate(self.overrides):
            if override.source not in ids:
                raise FieldProblem(
                    ("overrides", index, "source"),
                    f"unknown source {override.source!r}; expected one of: {', '.join(ids)}",
                )
            if (override.source, override.uid) in seen:
                raise FieldProblem(("overrides", index, "uid"), "this event is overridden twice")
            seen.add((override.source, override.uid))
        return self

    def overrides_of(self, source_id: str) -> list[ImportOverride]:
        return [override for override in self.overrides if override.source == source_id]


def vocabulary_problems(
    sources: SourcesFile, settings: CalendarSettings
) -> Iterator[tuple[FieldPath, str]]:
    """Every category, audience and theme the sources file names must be in our vocabularies."""
    vocab = settings.vocabularies
    kinds = {
        "category": vocab.categories,
        "audiences": vocab.audiences,
        "themes": vocab.themes,
    }

    def check(base: FieldPath, name: str, value: str | list[str] | None) -> Iterator[Any]:
        values = [value] if isinstance(value, str) else list(value or [])
        for position, item in enumerate(values):
            if item not in kinds[name]:
                path = (*base, name) if isinstance(value, str) else (*base, name, position)
                yield path, f"unknown value {item!r}; expected one of: {', '.join(kinds[name])}"

    for index, source in enumerate(sources.sources):
        for name in kinds:
            yield from check(("sources", index), name, getattr(source, name))
        for label, mapping in source.map_categories.items():
            for name in kinds:
                yield from check(
                    ("sources", index, "map_categories", label), name, getattr(mapping, name)
                )
    for index, override in enumerate(sources.overrides):
        for name in kinds:
            yield from check(("overrides", index), name, getattr(override, name))


def imported_id(source_id: str, uid: str) -> str:
    """Our id of an imported event: the source's id and a hash of its UID there, so the
    same partner event keeps its id (and our UID) through every edit, and two sources
    never share one."""
    return f"{source_id}-{hashlib.sha256(uid.encode()).hexdigest()[:UID_DIGITS]}"


__all__ = [
    "FETCHED_NAME",
    "FETCHED_SUFFIX",
    "MAX_SOURCES",
    "ImportOverride",
    "SourceConfig",
    "SourcesFile",
    "imported_id",
    "vocabulary_problems",
]
