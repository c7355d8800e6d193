"""The partner feed corpus and its expectations, a source to read it with, sources files."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from conftest import BUNDLED_DATA, DATASETS

from calendar_service.loading import load
from calendar_service.model import CalendarSettings, Event
from calendar_service.partner_sources import SourceConfig, imported_id

CORPUS = DATASETS / "partner-feeds"
EXPECTED: dict[str, Any] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 25)
SETTINGS: CalendarSettings = load(BUNDLED_DATA, today=TODAY).settings
SOURCE_ID = "council-training"
PAGE = "https://training.example.gov.uk/courses"

# The source the corpus is read with: the expectations' themes and audiences follow it.
SOURCE_FIELDS: dict[str, Any] = {
    "id": SOURCE_ID,
    "name": "Council training",
    "url": "https://training.example.gov.uk/calendar.ics",
    "organiser": {"name": "Example County Council", "url": "https://www.example.gov.uk/"},
    "page": PAGE,
    "category": "training-course",
    "audiences": ["practitioners"],
    "map_categories": {
        "safeguarding": {"themes": ["domestic-abuse"]},
        "Leadership": {"audiences": ["managers-designated-leads"]},
    },
}
SOURCE = SourceConfig.model_validate(SOURCE_FIELDS)


def source(**changes: Any) -> SourceConfig:
    """The corpus' source with some fields changed."""
    return SourceConfig.model_validate({**SOURCE_FIELDS, **changes})


def by_uid(events: list[Event] | tuple[Event, ...], uid: str) -> Event:
    """The imported event a source UID became."""
    wanted = imported_id(SOURCE_ID, uid)
    return next(event for event in events if event.id == wanted)


def sources_yaml(overrides: list[dict[str, Any]] | None = None, **changes: Any) -> str:
    """A sources.yaml listing the corpus' source (changed as given) and overrides."""
    document = {"sources": [{**SOURCE_FIELDS, **changes}], "overrides": overrides or []}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def data_with_feed(root: Path, feed: str, sources: str | None = None) -> tuple[Path, Path]:
    """A copy of the frozen data with a sources.yaml, and a fetched directory holding `feed`
    from the corpus as the source's last good copy. Returns (data, fetched)."""
    data = root / "data"
    shutil.copytree(BUNDLED_DATA, data)
    (data / "sources.yaml").write_text(sources or sources_yaml(), encoding="utf-8")
    fetched = root / "fetched"
    fetched.mkdir()
    shutil.copyfile(CORPUS / feed, fetched / f"{SOURCE_ID}.ics")
    return data, fetched
