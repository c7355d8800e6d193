"""The load cache: a reload reads only the files that changed, and gives what a full load gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from loading_cache_support import TODAY, errors, loaded, replace_once, summary

from calendar_service.loading import LoadCache
from calendar_service.reloading import LiveCatalog
from calendar_service.settings import ServiceSettings

SURVEY_TITLE = "title: Durham and Darlington Youth Provision Mapping Survey"
SAME_LENGTH = "title: Durham and Darlington Youth Provision Mapping Review"
SURVEY = "youth-provision-mapping-survey"


def title_of(root: Path, cache: LoadCache, event_id: str) -> str:
    events = {event.id: event for event in loaded(root, cache).events}
    return events[event_id].data.title


@pytest.fixture
def warm(data_copy: Path) -> tuple[Path, LoadCache]:
    """A copy of the dataset, loaded once through a cache that is then reused."""
    cache = LoadCache()
    loaded(data_copy, cache)
    return data_copy, cache


def test_an_edit_is_seen_and_the_result_is_a_full_loads(warm: tuple[Path, LoadCache]) -> None:
    root, cache = warm
    replace_once(root / "events" / "surveys.yaml", SURVEY_TITLE, SURVEY_TITLE + " 2026")
    assert title_of(root, cache, SURVEY).endswith("Mapping Survey 2026")
    assert summary(loaded(root, cache)) == summary(loaded(root, None))


def test_an_edit_keeping_size_and_modification_time_is_seen(
    warm: tuple[Path, LoadCache],
) -> None:
    root, cache = warm
    path = root / "events" / "surveys.yaml"
    size, mtime = path.stat().st_size, path.stat().st_mtime_ns
    replace_once(path, SURVEY_TITLE, SAME_LENGTH, keep_time=True)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (size, mtime)
    assert title_of(root, cache, SURVEY).endswith("Mapping Review")


def test_a_reverted_edit_gives_the_first_load_again(warm: tuple[Path, LoadCache]) -> None:
    root, cache = warm
    first = summary(loaded(root, cache))
    path = root / "events" / "surveys.yaml"
    replace_once(path, SURVEY_TITLE, SURVEY_TITLE + " (edited)")
    assert summary(loaded(root, cache)) != first
    replace_once(path, SURVEY_TITLE + " (edited)", SURVEY_TITLE)
    assert summary(loaded(root, cache)) == first


def test_a_deleted_file_takes_its_events_and_an_added_one_brings_them(
    warm: tuple[Path, LoadCache],
) -> None:
    root, cache = warm
    surveys = root / "events" / "surveys.yaml"
    text = surveys.read_text(encoding="utf-8")
    surveys.unlink()
    assert SURVEY not in {event.id for event in loaded(root, cache).events}
    (root / "events" / "more" / "surveys.yaml").parent.mkdir()
    (root / "events" / "more" / "surveys.yaml").write_text(text, encoding="utf-8")
    events = {event.id: event for event in loaded(root, cache).events}
    assert events[SURVEY].source == "events/more/surveys.yaml"
    assert summary(loaded(root, cache)) == summary(loaded(root, None))


BREAKAGES = {
    "invalid YAML": (SURVEY_TITLE, "title: [unclosed"),
    "unknown field": (SURVEY_TITLE, SURVEY_TITLE + "\n    colour: red"),
    "unknown category": ("category: ", "category: no-such-"),
    "duplicate id across files": (f"id: {SURVEY}", "id: time-to-talk-day"),
    "alias": (SURVEY_TITLE, "title: &name Survey\n    summary: *name"),
}


@pytest.mark.parametrize(("old", "new"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_errors_are_reported_the_same_with_and_without_the_cache(
    warm: tuple[Path, LoadCache], old: str, new: str
) -> None:
    root, cache = warm
    path = root / "events" / "surveys.yaml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(old, new, 1), encoding="utf-8")
    found = errors(root, cache)
    assert found == errors(root, None)
    assert all(error.startswith("events/") for error in found), found
    assert found == errors(root, cache)  # the broken file's errors, from the cache
    path.write_text(original, encoding="utf-8")
    assert summary(loaded(root, cache)) == summary(loaded(root, None))


def test_a_broken_file_keeps_the_last_good_snapshot_and_a_fix_is_served(
    data_copy: Path,
) -> None:
    settings = ServiceSettings(data_dir=data_copy, base_url="https://calendar.example.org")
    live = LiveCatalog.open(settings, today=lambda: TODAY)
    path = data_copy / "events" / "surveys.yaml"
    replace_once(path, "category: survey", "category: no-such-kind")
    served = live.current
    assert not live.reload("test")
    assert live.current is served
    assert live.last_error is not None
    line = path.read_text().splitlines().index("    category: no-such-kind") + 1
    where = f"events/surveys.yaml:{line}: events[0].category: unknown value 'no-such-kind'"
    assert where in live.last_error.message
    replace_once(path, "category: no-such-kind", "category: survey")
    replace_once(path, SURVEY_TITLE, SURVEY_TITLE + " 2026")
    assert live.reload("test")
    assert live.current is not served and live.last_error is None
    assert live.current.events[SURVEY].event.data.title.endswith("Survey 2026")
