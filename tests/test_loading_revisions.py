"""revisions.yaml read fast when it is as `stamp` writes it: the same result as a YAML read."""

from __future__ import annotations

from pathlib import Path

import pytest
from changes_support import AFTER, BEFORE, WITHDRAWN, edit, replace_once
from loading_cache_support import TODAY, errors, loaded, summary

from calendar_service import revisions
from calendar_service.stamping import stamp

WITHDRAWN_TITLE = "    title: Young Parents Programme (April 2026 intake)\n"


@pytest.fixture
def stamped(data_copy: Path) -> Path:
    """The dataset stamped, edited and stamped again: one event withdrawn, its `last` kept."""
    stamp(data_copy, now=BEFORE)
    edit(data_copy)
    stamp(data_copy, now=AFTER)
    return data_copy


def fast(root: Path) -> bool:
    """Whether the fast reader takes this revisions.yaml (else it is read as YAML)."""
    raw = (root / "revisions.yaml").read_bytes()
    return revisions._stamped(raw, revisions.latest_stamp(TODAY)) is not None


def test_revisions_as_stamp_writes_them_load_as_their_yaml_does(stamped: Path) -> None:
    assert fast(stamped)
    first = loaded(stamped, None)
    assert [event.id for event in first.withdrawn] == [WITHDRAWN]
    path = stamped / "revisions.yaml"
    # A comment between two revisions is valid YAML the fast reader does not expect.
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"\n{WITHDRAWN}:", f"\n# a comment\n{WITHDRAWN}:"))
    assert not fast(stamped)
    again = loaded(stamped, None)
    assert again.version != first.version  # the bytes differ; nothing else does
    assert summary(again)[:2] + summary(again)[3:] == summary(first)[:2] + summary(first)[3:]


PROBLEMS = {
    "alias in a withdrawn event's last": (
        WITHDRAWN_TITLE,
        WITHDRAWN_TITLE + "    summary: *title\n",
        "YAML aliases (*name) are not allowed",
    ),
    "duplicate key in a withdrawn event's last": (
        WITHDRAWN_TITLE,
        WITHDRAWN_TITLE + WITHDRAWN_TITLE,
        "duplicate key 'title'",
    ),
    "sequence out of range": (
        "'\n  sequence: 1\n  modified: '2026-11-25T12:30:00Z'\n  withdrawn",
        "'\n  sequence: 9999999999\n  modified: '2026-11-25T12:30:00Z'\n  withdrawn",
        "sequence: must be a whole number",
    ),
    "impossible time": (
        "  modified: '2026-11-25T12:30:00Z'\n  withdrawn",
        "  modified: '2026-13-25T12:30:00Z'\n  withdrawn",
        "not a real time",
    ),
    "duplicate event": (
        f"{WITHDRAWN}:\n",
        f"{WITHDRAWN}:\n  hash: '7eabdc85236ca2db'\n  sequence: 0\n"
        "  modified: '2026-11-25T12:30:00Z'\n" + f"{WITHDRAWN}:\n",
        f"duplicate key '{WITHDRAWN}'",
    ),
}


@pytest.mark.parametrize(("old", "new", "message"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_a_problem_the_fast_reader_meets_is_reported_as_the_yaml_read_reports_it(
    stamped: Path, old: str, new: str, message: str
) -> None:
    path = stamped / "revisions.yaml"
    replace_once(path, old, new)
    assert not fast(stamped)
    found = errors(stamped, None)
    assert len(found) == 1 and found[0].startswith("revisions.yaml:"), found
    assert message in found[0]
    line = int(found[0].split(":")[1])
    assert path.read_text().splitlines()[line - 1] in new.splitlines()


CHANGE_PROBLEMS = {
    "unknown field": (
        "  kind: withdrawn\n",
        "  kind: withdrawn\n  colour: red\n",
        "changes[{n}].colour: unknown field 'colour'"
        " (see `calendar-service schema` for the fields)",
    ),
    "missing field": ("  kind: withdrawn\n", "", "changes[{n}].kind: this field is required"),
    "not a mapping": (
        "- at: '2026-11-25T12:30:00Z'\n  event: young-parents-programme-2026-04\n"
        "  kind: withdrawn\n",
        "- just text\n- at: '2026-11-25T12:30:00Z'\n  event: young-parents-programme-2026-04\n"
        "  kind: withdrawn\n",
        "changes[{n}]: Input should be a valid dictionary or instance of Change",
    ),
}


@pytest.mark.parametrize(("old", "new", "message"), CHANGE_PROBLEMS.values(), ids=CHANGE_PROBLEMS)
def test_change_log_entries_are_checked_with_file_line_and_field(
    stamped: Path, old: str, new: str, message: str
) -> None:
    """The change log is held compactly (a slotted dataclass), still checked as a model."""
    path = stamped / "changes.yaml"
    text = path.read_text(encoding="utf-8")
    entry = text[: text.index(old) + 2].count("\n- ") - 1  # the entry edited, from 0
    replace_once(path, old, new)
    found = errors(stamped, None)
    assert len(found) == 1 and found[0].startswith("changes.yaml:"), found
    assert found[0].endswith(message.format(n=entry)), found
