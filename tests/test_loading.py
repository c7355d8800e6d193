"""Loading the data directory: every kind of bad data is refused with file, line and field."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from conftest import BUNDLED_DATA, FIXTURES, ROOT
from test_bad_inputs import expand

from calendar_service import documents
from calendar_service.documents import MAX_FILE_BYTES
from calendar_service.loading import STAMP_CLOCK_TOLERANCE, DataError, DataInvalid, load, stamp
from calendar_service.settings import ServiceSettings
from calendar_service.sources import MAX_DATA_BYTES
from calendar_service.values import MAX_SEQUENCE
from calendar_service.web.service import CalendarService

VALID = FIXTURES / "valid"
BAD_EVENTS = FIXTURES / "bad_events"
BAD_FILES = sorted(BAD_EVENTS.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: line=(?P<line>\d+) field=(?P<field>\S*) message=(?P<message>.+)$")

EVENT = """\
  - id: {id}
    title: {title}
    category: awareness-day
    audiences: [schools]
    start: {start}
"""


@dataclass(frozen=True)
class Expectation:
    line: int
    field: str
    message: str


def expectation(path: Path) -> Expectation:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = EXPECT.match(first)
    assert match, f"{path.name} must begin with an '# expect: line=N field=F message=M' comment"
    return Expectation(int(match["line"]), match["field"], match["message"].strip())


def valid_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(VALID, target)
    return target


def errors_of(root: Path) -> list[DataError]:
    with pytest.raises(DataInvalid) as caught:
        load(root)
    assert caught.value.errors, "DataInvalid must list at least one error"
    return caught.value.errors


def events_file(*events: str) -> str:
    return "events:\n" + "\n".join(events)


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


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


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
    for name in ("calendar.schema.json", "events.schema.json"):
        committed = (ROOT / "data" / "schema" / name).read_text()
        assert committed == (tmp_path / name).read_text(), f"run `make schema` ({name})"


def test_bundled_data_is_stamped() -> None:
    """Every bundled event has its revision recorded, so SEQUENCE follows real edits."""
    assert load(BUNDLED_DATA).warnings == ()


CORPUS_FILES = (ROOT / "tests" / "bad_inputs" / "data").rglob("*.yaml")
YAML_FILES = sorted(
    [
        *(path for path in CORPUS_FILES if path.name != "expect.yaml"),
        *BAD_FILES,
        *VALID.rglob("*.yaml"),
    ]
)


def parsed(text: str, parser: type) -> object:
    try:
        document = documents.build_document(text, parser)
    except documents.YamlProblem as problem:
        return ("refused", problem.line, problem.message)
    return (document.value, document.lines)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: path.parent.name + "/" + path.name)
def test_pure_python_parser_reads_every_file_as_libyaml_does(path: Path) -> None:
    """Machines without libyaml fall back to PyYAML's parser: same values, lines, refusals."""
    raw = expand(path.read_bytes())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before parsing")
    assert documents.PARSER is not documents.PurePythonParser, "libyaml is not installed"
    assert parsed(text, documents.PurePythonParser) == parsed(text, documents.PARSER)


# --- File names, kinds, sizes and places ---------------------------------------------------

UNPRINTABLE_NAMES = {
    "not UTF-8": ("bad\udcff.yaml", "bad\\xff.yaml"),
    "newline": ("a\nforged.yaml:1: fine.yaml", "a\\nforged.yaml:1: fine.yaml"),
    "carriage return": ("a\rforged.yaml", "a\\rforged.yaml"),
    "tab": ("a\tb.yaml", "a\\tb.yaml"),
    "escape sequence": ("\x1b[31mred.yaml", "\\x1b[31mred.yaml"),
    "delete": ("a\x7f.yaml", "a\\x7f.yaml"),
    "next line (C1)": ("a\x85b.yaml", "a\\x85b.yaml"),
    "line separator": ("a\u2028b.yaml", "a\\u2028b.yaml"),
    "right-to-left override": ("a\u202eb.yaml", "a\\u202eb.yaml"),
    "zero-width space": ("a\u200bb.yaml", "a\\u200bb.yaml"),
}


@pytest.mark.parametrize("name", UNPRINTABLE_NAMES.values(), ids=UNPRINTABLE_NAMES.keys())
def test_file_name_that_is_not_printable_utf8_is_refused_by_its_escaped_name(
    name: tuple[str, str], tmp_path: Path
) -> None:
    real, shown = name
    root = valid_copy(tmp_path)
    (root / "events" / real).write_text(
        events_file(EVENT.format(id="oddly-named", title="Oddly named", start="2026-02-05"))
    )
    errors = errors_of(root)
    assert [(error.file, error.line) for error in errors] == [(f"events/{shown}", None)]
    assert "file names must be printable UTF-8" in errors[0].message
    assert str(errors[0]).isprintable()


def test_validate_names_unprintable_files_on_one_line_each_without_a_traceback(
    tmp_path: Path,
) -> None:
    root = valid_copy(tmp_path)
    text = events_file(EVENT.format(id="oddly-named", title="Oddly named", start="2026-02-05"))
    (root / "events" / "bad\udcff.yaml").write_text(text)
    (root / "events" / "a\nevents/forged.yaml:1: all fine.yaml".replace("/", "\u2215")).write_text(
        text
    )
    result = subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", "validate", str(root)],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    stderr = result.stderr.decode("utf-8")  # strictly: nothing unprintable reached it
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[0] == "2 error(s) in the data:"
    assert lines[1:] == [
        "  events/a\\nevents\u2215forged.yaml:1: all fine.yaml: file names must be printable"
        " UTF-8, without control or invisible characters",
        "  events/bad\\xff.yaml: file names must be printable UTF-8, without control or"
        " invisible characters",
    ]


def test_a_newline_in_a_key_does_not_forge_an_error_line(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "keys.yaml").write_text(
        events_file(EVENT.format(id="odd-key", title="Odd key", start="2026-02-05"))
        + '    "x\\nevents/other.yaml:9: forged": 1\n'
    )
    with pytest.raises(DataInvalid) as caught:
        load(root)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines
    assert lines[1].startswith("  events/keys.yaml:7: events[0].x\\nevents/other.yaml:9: forged:")


MEASURED_VALIDATE = """
import re, sys
from pathlib import Path
from calendar_service.cli import main
code = main(["validate", sys.argv[1]])
# VmHWM is this process's own peak; ru_maxrss would include the parent's, kept over exec.
status = Path("/proc/self/status").read_text()
peak_mb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) / 1024
print(f"measured: {peak_mb:.0f} MB", file=sys.stderr)
sys.exit(code)
"""
MEASURED = re.compile(r"measured: (?P<mb>\d+) MB")


def validate_measured(root: Path) -> tuple[str, float]:
    """`validate` in its own process: its error output and peak memory (MB).

    How fast it refuses is measured by benchmarks/refusals.py, not here.
    """
    result = subprocess.run(
        [sys.executable, "-c", MEASURED_VALIDATE, str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,  # a FIFO opened for reading would wait here for ever
    )
    found = MEASURED.search(result.stderr)
    assert result.returncode == 1 and found, result.stderr
    return result.stderr, float(found["mb"])


def test_validate_refuses_a_sparse_3g_file_by_its_size_fast_and_small(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    with (root / "events" / "sparse.yaml").open("wb") as file:
        file.truncate(3 * 2**30)
    stderr, peak_mb = validate_measured(root)
    assert "events/sparse.yaml: the file is larger than 2,000,000 bytes" in stderr
    assert peak_mb < 150  # the interpreter and the application's modules: nothing read


def test_validate_refuses_fifos_by_kind_without_waiting(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    os.mkfifo(root / "events" / "pipe.yaml")
    (root / "revisions.yaml").unlink(missing_ok=True)
    os.mkfifo(root / "revisions.yaml")
    stderr, _ = validate_measured(root)  # a FIFO opened for reading would hang until timeout
    assert "events/pipe.yaml: not a regular file but a FIFO (named pipe)" in stderr
    assert "revisions.yaml: not a regular file but a FIFO (named pipe)" in stderr


def test_data_over_the_total_size_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    part = MAX_FILE_BYTES - 1
    count = MAX_DATA_BYTES // part + 1
    for number in range(count):
        with (root / "events" / f"part-{number:03d}.yaml").open("wb") as file:
            file.truncate(part)
    errors = errors_of(root)  # how fast: benchmarks/refusals.py
    assert [(error.file, error.line) for error in errors] == [("events/", None)]
    assert f"more than the {MAX_DATA_BYTES:,} allowed" in errors[0].message
    assert f"events/part-000.yaml ({part:,} bytes)" in errors[0].message


# --- Revision stamps -------------------------------------------------------------------------

REVISION = "{id}:\n  hash: '{hash}'\n  sequence: {sequence}\n  modified: '{modified}'\n"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamped_copy(tmp_path: Path, now: datetime) -> Path:
    root = valid_copy(tmp_path)
    stamp(root, now=now)
    return root


def set_modified(root: Path, event_id: str, moment: datetime) -> None:
    path = root / "revisions.yaml"
    text = path.read_text()
    entry = text.index(f"{event_id}:\n")
    start = text.index("  modified: '", entry) + len("  modified: '")
    path.write_text(text[:start] + utc_text(moment) + text[start + 20 :])


def test_stamps_are_checked_with_the_events_and_every_error_listed_at_once(
    tmp_path: Path,
) -> None:
    root = stamped_copy(tmp_path, datetime(2025, 1, 31, 9, tzinfo=UTC))
    text = (root / "revisions.yaml").read_text().replace("sequence: 0", "sequence: -5", 1)
    (root / "revisions.yaml").write_text(text)
    (root / "events" / "bad.yaml").write_text(
        events_file(EVENT.format(id="bad-day", title="Bad", start="2026-02-30"))
    )
    files = {error.file for error in errors_of(root)}
    assert files == {"events/bad.yaml", "revisions.yaml"}


def test_a_stamp_after_the_loading_day_and_its_tolerance_is_refused(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    root = stamped_copy(tmp_path, now)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    set_modified(root, "weekly-drop-in", tomorrow + STAMP_CLOCK_TOLERANCE - timedelta(minutes=1))
    load(root)  # a clock a little ahead: accepted
    set_modified(root, "weekly-drop-in", tomorrow + STAMP_CLOCK_TOLERANCE + timedelta(minutes=1))
    errors = errors_of(root)
    assert [(error.file, error.field) for error in errors] == [
        ("revisions.yaml", "weekly-drop-in.modified")
    ]
    assert "in the future" in errors[0].message
    assert str(errors[0]).startswith(f"revisions.yaml:{errors[0].line}: ")
    later_day = now.date() + timedelta(days=3)
    assert load(root, today=later_day).events  # loading for a later day: not the future
    earlier_day = now.date() - timedelta(days=300)
    with pytest.raises(DataInvalid):
        load(root, today=earlier_day)  # an earlier day never makes the future acceptable


def test_stamps_in_the_past_load_for_an_earlier_day(tmp_path: Path) -> None:
    """Tests and builds load for a given day: real past stamps are never in its future."""
    root = stamped_copy(tmp_path, datetime.now(UTC) - timedelta(minutes=5))
    loaded = load(root, today=date(2020, 1, 1))
    assert {event.sequence for event in loaded.events} == {0}


def test_a_change_when_sequence_is_at_its_largest_is_refused(tmp_path: Path) -> None:
    root = stamped_copy(tmp_path, datetime(2025, 1, 31, 9, tzinfo=UTC))
    text = (root / "revisions.yaml").read_text()
    (root / "revisions.yaml").write_text(text.replace("sequence: 0", f"sequence: {MAX_SEQUENCE}"))
    assert {event.sequence for event in load(root).events} == {MAX_SEQUENCE}
    sample = root / "events" / "sample.yaml"
    sample.write_text(sample.read_text().replace("Weekly drop-in", "Weekly drop-in (moved)"))
    errors = errors_of(root)
    assert [(error.file, error.line) for error in errors] == [("events/sample.yaml", 4)]
    assert f"already {MAX_SEQUENCE:,}" in errors[0].message


def test_stamp_records_changes_that_load_then_uses(tmp_path: Path) -> None:
    first = datetime(2025, 1, 31, 9, tzinfo=UTC)
    root = stamped_copy(tmp_path, first)
    loaded = load(root)
    assert loaded.warnings == ()
    assert {(event.sequence, event.modified) for event in loaded.events} == {(0, first)}
    sample = root / "events" / "sample.yaml"
    sample.write_text(sample.read_text().replace("Weekly drop-in", "Weekly drop-in (moved)"))
    second = datetime(2025, 2, 1, 9, tzinfo=UTC)
    assert stamp(root, now=second) == ["weekly-drop-in"]
    event = next(event for event in load(root).events if event.id == "weekly-drop-in")
    assert (event.sequence, event.modified) == (1, second)


# --- Last-Modified is never in the future ----------------------------------------------------


def get_feed(root: Path, headers: dict[str, str]) -> httpx.Response:
    """GET /feeds/all.ics from the application in this process."""
    application = CalendarService.open(ServiceSettings(data_dir=root, watch=False)).app()

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/feeds/all.ics", headers=headers)

    return asyncio.run(fetch())


def test_after_a_future_stamp_is_fixed_revalidating_with_its_date_gets_the_feed(
    tmp_path: Path,
) -> None:
    root = stamped_copy(tmp_path, datetime(2025, 1, 31, 9, tzinfo=UTC))
    set_modified(root, "weekly-drop-in", datetime(9999, 12, 31, tzinfo=UTC))
    assert [error.field for error in errors_of(root)] == ["weekly-drop-in.modified"]
    # An older version served that date; a client kept it. The stamp is fixed:
    set_modified(root, "weekly-drop-in", datetime(2025, 2, 1, 9, tzinfo=UTC))
    for kept in (
        "Fri, 31 Dec 9999 23:59:59 GMT",
        format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True),
    ):
        response = get_feed(root, {"If-Modified-Since": kept})
        assert response.status_code == 200, kept
        assert b"BEGIN:VCALENDAR" in response.content
    served = get_feed(root, {})
    again = get_feed(root, {"If-Modified-Since": served.headers["last-modified"]})
    assert again.status_code == 304  # revalidating with what we sent still works


def test_last_modified_is_never_later_than_the_snapshot(tmp_path: Path) -> None:
    """A stamp a little ahead (a clock running fast) is allowed, but never sent as is."""
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    root = stamped_copy(tmp_path, ahead)
    assert {event.modified for event in load(root).events} == {ahead}
    response = get_feed(root, {})
    assert response.status_code == 200
    assert parsedate_to_datetime(response.headers["last-modified"]) <= datetime.now(UTC)
