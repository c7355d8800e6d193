"""Loading the data directory: every kind of bad event data is refused with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BUNDLED_DATA
from loading_support import BAD_FILES, EVENT, errors_of, events_file, expectation, valid_copy

from calendar_service.loading import load


def test_bad_events_fixtures_cover_every_kind_of_bad_data() -> None:
    assert len(BAD_FILES) >= 20
    for path in BAD_FILES:
        expectation(path)  # each file states what it expects


@pytest.mark.parametrize("bad", BAD_FILES, ids=[path.stem for path in BAD_FILES])
def test_bad_events_file_is_refused_with_file_line_field_and_message(
    bad: Path, tmp_path: Path
) -> None:
    expected = expectation(bad)
    root = valid_copy(tmp_path)
    shutil.copy(bad, root / "events" / bad.name)
    errors = errors_of(root)
    name = f"events/{bad.name}"
    assert all(error.file == name for error in errors), errors  # the good file stays good
    matching = [
        error
        for error in errors
        if error.line == expected.line
        and error.field == expected.field
        and expected.message in error.message
    ]
    assert matching, f"expected {expected} among {errors}"
    assert f"{name}:{expected.line}" in str(matching[0])


def test_valid_fixture_loads(tmp_path: Path) -> None:
    loaded = load(valid_copy(tmp_path))
    assert [event.id for event in loaded.events] == [
        "annual-awareness-day",
        "spring-awareness-week",
        "weekly-drop-in",
    ]


def test_bundled_data_loads() -> None:
    loaded = load(BUNDLED_DATA)
    assert len(loaded.events) >= 10
    assert len({event.id for event in loaded.events}) == len(loaded.events)


def test_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    text = events_file(EVENT.format(id="cafe-day", title="Caf\xe9 day", start="2026-02-05"))
    (root / "events" / "latin1.yaml").write_bytes(text.encode("latin-1"))
    errors = errors_of(root)
    assert len(errors) == 1
    assert errors[0].file == "events/latin1.yaml"
    assert errors[0].line == 3
    assert "not valid UTF-8" in errors[0].message


def test_zero_byte_file_is_refused_as_empty(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "nothing.yaml").write_bytes(b"")
    errors = errors_of(root)
    assert [(error.file, error.message) for error in errors] == [
        ("events/nothing.yaml", "the file is empty")
    ]


def test_duplicate_id_across_two_files_names_both_places(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "a.yaml").write_text(
        events_file(EVENT.format(id="shared-id", title="First", start="2026-02-05"))
    )
    (root / "events" / "b.yaml").write_text(
        "# the same id again\n"
        + events_file(EVENT.format(id="shared-id", title="Second", start="2026-02-06"))
    )
    errors = errors_of(root)
    assert len(errors) == 1
    error = errors[0]
    assert error.file == "events/b.yaml"
    assert error.line == 3
    assert error.field == "events[0].id"
    assert "duplicate id 'shared-id'" in error.message
    assert "events/a.yaml:2" in error.message


def test_one_bad_file_among_good_files_reports_all_its_errors_at_once(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "good.yaml").write_text(
        events_file(EVENT.format(id="good-day", title="Good day", start="2026-02-05"))
    )
    bad = events_file(
        EVENT.format(id="impossible-day", title="Impossible", start="2026-02-30"),
        EVENT.format(id="unknown-kind", title="Unknown", start="2026-02-05").replace(
            "awareness-day", "seminar"
        ),
        EVENT.format(id="out-of-step", title="Out of step", start="2026-02-06")
        + "    recurrence:\n      rule: {frequency: yearly, by_month: [2], by_weekday: [1TH]}\n",
        EVENT.format(id="good-day", title="Good day again", start="2026-02-05"),
        EVENT.format(id="no-title", title="''", start="2026-02-05"),
    )
    (root / "events" / "mixed.yaml").write_text(bad)
    errors = errors_of(root)
    located = {(error.line, error.field) for error in errors}
    assert all(error.file == "events/mixed.yaml" for error in errors), errors
    assert located == {
        (6, "events[0].start"),
        (10, "events[1].category"),
        (18, "events[2].start"),
        (22, "events[3].id"),
        (29, "events[4].title"),
    }, errors


def test_yaml_11_booleans_and_sexagesimals_stay_text(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "surprises.yaml").write_text(
        events_file(
            EVENT.format(id="norway-day", title="no", start="2026-02-05")
            + "    cost: 12:30\n    summary: on\n"
        )
    )
    event = next(event for event in load(root).events if event.id == "norway-day")
    assert event.data.title == "no"
    assert event.data.cost == "12:30"
    assert event.data.summary == "on"


def test_file_with_byte_order_mark_loads(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    text = events_file(EVENT.format(id="bom-day", title="Day with a BOM", start="2026-02-05"))
    (root / "events" / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    event = next(event for event in load(root).events if event.id == "bom-day")
    assert event.data.title == "Day with a BOM"
