"""The calendar's settings (`calendar.yaml`): vocabularies, named feeds and their filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, create_model, field_validator

from calendar_service.fields import FIELD, FIELDS
from calendar_service.values import Line, Slug, Strict, Text, Url


class Term(Strict):
    """One value of a controlled vocabulary."""

    label: Line
    description: Text = ""
    transparent: bool = Field(
        default=False, description="Events of this kind do not block free/busy time."
    )
    color: str | None = Field(default=None, pattern=r"^[a-z]+$|^#[0-9a-fA-F]{6}$")


class Vocabularies(Strict):
    """The controlled vocabularies events are checked against."""

    categories: dict[Slug, Term]
    audiences: dict[Slug, Term]
    themes: dict[Slug, Term]

    def terms(self, name: str) -> Mapping[str, Term]:
        """The terms a filter field allows, by key: `terms("audience")` is `audiences`.

        Raises KeyError for a field that has no vocabulary.
        """
        vocabulary = FIELD[name].vocabulary
        if vocabulary is None:
            raise KeyError(f"filter field {name!r} has no vocabulary")
        terms: dict[str, Term] = getattr(self, vocabulary)
        return terms


def _feed_filter_fields() -> dict[str, Any]:
    """The fields of `FeedFilter`: the filter fields named feeds may use, lists of keys."""
    return {field.name: (list[Slug], Field(default=[])) for field in FIELDS if field.in_named_feeds}


if TYPE_CHECKING:

    class FeedFilter(Strict):
        """Its fields are generated from `fields.FIELDS` below; read them with getattr."""

else:
    FeedFilter = create_model(
        "FeedFilter",
        __base__=Strict,
        __doc__="The filter a named feed applies: OR within a field, AND across fields.",
        __module__=__name__,
        **_feed_filter_fields(),
    )


class FeedDefinition(Strict):
    """A named, subscribable feed."""

    name: Slug
    title: Line
    description: Text = ""
    filter: FeedFilter = FeedFilter()


class CalendarSettings(Strict):
    """Calendar-level settings from `calendar.yaml`."""

    name: Line
    description: Text = ""
    organisation: Line
    timezone: str = "Europe/London"
    language: str = Field(default="en-GB", pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
    base_url: Url | None = Field(
        default=None,
        description="Public URL of the service; without it, links name the address served.",
    )
    uid_domain: str = Field(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
    refresh_hours: int = Field(default=6, ge=1, le=168)
    past_days: int = Field(
        default=366, ge=0, le=3660, description="How far back feeds keep past occurrences."
    )
    vocabularies: Vocabularies
    feeds: list[FeedDefinition]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: list[FeedDefinition]) -> list[FeedDefinition]:
        names = [feed.name for feed in feeds]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"feed names must be unique; repeated: {', '.join(duplicated)}")
        return feeds

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
