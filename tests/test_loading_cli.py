"""The validate, schema and stamp commands on the data directory and the bundled schemas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import BUNDLED_DATA, ROOT
from loading_support import BAD_EVENTS, cli, expectation, valid_copy

from calendar_service.loading import STAMP_ADVICE, load


def test_validate_command_exits_1_listing_every_error_with_file_and_line(
    tmp_path: Path,
) -> None:
    root = valid_copy(tmp_path)
    chosen = ["unknown-category.yaml", "duplicate-key.yaml", "absurd-year.yaml"]
    for name in chosen:
        shutil.copy(BAD_EVENTS / name, root / "events" / name)
    result = cli("validate", str(root))
    assert result.returncode == 1, result.stdout + result.stderr
    for name in chosen:
        expected = expectation(BAD_EVENTS / name)
        assert f"events/{name}:{expected.line}:" in result.stderr
        assert expected.message in result.stderr
    assert "3 error(s)" in result.stderr


def test_validate_command_exits_0_with_a_summary_on_the_bundled_data() -> None:
    result = cli("validate", str(BUNDLED_DATA))
    assert result.returncode == 0, result.stderr
    count = len(load(BUNDLED_DATA).events)
    assert f"OK: {count} events" in result.stdout
    assert "feeds" in result.stdout


def test_schema_command_prints_json_schema_of_events_and_calendar() -> None:
    events = cli("schema")
    assert events.returncode == 0, events.stderr
    schema = json.loads(events.stdout)
    assert schema["type"] == "object"
    assert "events" in schema["properties"]
    assert "EventData" in schema["$defs"]
    calendar = cli("schema", "--kind", "calendar")
    assert calendar.returncode == 0, calendar.stderr
    assert "vocabularies" in json.loads(calendar.stdout)["properties"]


def test_bundled_json_schemas_match_the_model(tmp_path: Path) -> None:
    """Editors' completion reads data/schema/: it must be what the model says today."""
    result = cli("schema", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("calendar.schema.json", "events.schema.json", "terms.schema.json"):
        committed = (ROOT / "data" / "schema" / name).read_text()
        assert committed == (tmp_path / name).read_text(), f"run `make schema` ({name})"


def test_bundled_data_is_stamped() -> None:
    """Every bundled event has its revision recorded, so SEQUENCE follows real edits."""
    warnings = load(BUNDLED_DATA).warnings
    assert [warning for warning in warnings if warning.endswith(STAMP_ADVICE)] == []
