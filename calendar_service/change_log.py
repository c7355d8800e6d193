"""The change log (`changes.yaml`): what `stamp` found changed in each event, and when."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from calendar_service.values import Slug, Summary, UtcMoment


class ChangeKind(StrEnum):
    """What `stamp` found changed in an event; `edited` is text only, so minor."""

    ADDED = "added"  # a new event, or a new date in a series
    MOVED = "moved"
    CONFIRMED = "confirmed"  # a provisional date confirmed
    PROVISIONAL = "provisional"  # a confirmed date made provisional again
    CANCELLED = "cancelled"  # one occurrence (or a one-off event) cancelled or dropped
    REINSTATED = "reinstated"
    WITHDRAWN = "withdrawn"  # the event removed from the data
    EDITED = "edited"


# A pydantic dataclass with slots: validated as a model is, held in a fifth of the memory
# (every snapshot keeps the whole change log, 10,000 entries at 10,000 events).
@pydantic_dataclass(
    frozen=True, slots=True, config=ConfigDict(extra="forbid", str_strip_whitespace=True)
)
class Change:
    """One entry of the change log (`changes.yaml`), written by `stamp`."""

    at: UtcMoment
    event: Slug
    kind: ChangeKind
    summary: Summary = Field(min_length=1)
    minor: bool = False
