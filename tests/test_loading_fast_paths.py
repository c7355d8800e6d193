"""What loading reads fast gives what reading it as any data file gives: the change log as
`stamp` writes it, and each event's content hash (revisions.yaml's stamps depend on it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import DATASETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slug_support import slugs

from calendar_service.documents import parse_yaml
from calendar_service.loading import load
from calendar_service.model import Change, ChangeKind
from calendar_service.revisions import _CHANGE, _changes_as_stamped, changes_text, read_changes

TODAY = date(2026, 11, 25)
PROPERTIES = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
IDS = slugs(6)


def read_as_yaml(raw: bytes) -> list[Change]:
    """The change log read by the YAML parser, as any data file is."""
    items = parse_yaml(raw).value["changes"]
    return sorted((_CHANGE.validate_python(item) for item in items), key=lambda c: c.at)


@st.composite
def change_logs(draw: st.DrawFn) -> list[Change]:
    """Change logs `stamp` could write: any summary text, ids that read as numbers too."""
    entries = []
    for _ in range(draw(st.integers(1, 6))):
        at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 10**6)))
        summary = draw(st.text(min_size=1, max_size=40) | st.sampled_from(["It's 'done'", "a: b"]))
        entries.append(
            {
                "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "event": draw(IDS),
                "kind": draw(st.sampled_from(list(ChangeKind))).value,
                "summary": summary,
                "minor": draw(st.booleans()),
            }
        )
    try:
        return [_CHANGE.validate_python(entry) for entry in entries]
    except ValueError:
        return []


@PROPERTIES
@given(changes=change_logs())
def test_the_change_log_read_fast_is_the_log_read_as_yaml(changes: list[Change]) -> None:
    raw = changes_text(changes).encode()
    fast = _changes_as_stamped(raw)
    if fast is not None:  # else it is read as YAML: what it then gives is what load gives
        assert list(fast) == read_as_yaml(raw)
    errors: list[object] = []
    assert list(read_changes(raw, errors)) == sorted(changes, key=lambda c: c.at)
    assert errors == []


def test_a_change_log_as_stamp_writes_it_is_read_fast() -> None:
    """Summaries as stamp words them ("<title> moved: <date>") are written in quotes."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    changes = [
        Change(at, "time-to-talk-day", ChangeKind.MOVED, "Time to Talk: it's 'moved'"),
        Change(at - timedelta(days=1), "true-2", ChangeKind.EDITED, "Café: text", minor=True),
    ]
    raw = changes_text(changes).encode()
    assert _changes_as_stamped(raw) == tuple(read_as_yaml(raw))
    plain = changes_text([Change(at, "2026", ChangeKind.EDITED, "Café")]).encode()
    assert _changes_as_stamped(plain) is None  # a quoted id, a plain summary: read as YAML


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda text: text.replace("kind: moved", "kind: shifted"), id="bad-kind"),
        pytest.param(lambda text: text.replace("event: ", "event: Not A Slug ", 1), id="bad-id"),
        pytest.param(lambda text: text + "- at: 2026\n", id="half-entry"),
    ],
)
def test_an_invalid_change_log_is_read_as_yaml_and_its_errors_located(edit: object) -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    text = changes_text([Change(at, "time-to-talk-day", ChangeKind.MOVED, "Moved")])
    raw = edit(text).encode()  # type: ignore[operator]
    assert _changes_as_stamped(raw) is None
    errors: list[object] = []
    read_changes(raw, errors)
    assert errors and all(getattr(error, "line", None) for error in errors)


# Each event's content hash, as stamped: a change of how it is computed must keep these.
PINNED_HASHES = {
    "partnership-2026": {
        "care-leaver-death-notification": "0dfbe6b6ba8e99d0",
        "childrens-mental-health-week": "dae8f9ede5cd0ddb",
        "dscp-training-programme-2024-25": "67bec18ad1bb5828",
        "kindness-challenge-deadline": "39a0b92f0ba47ed3",
        "mappa-controlling-coercive-behaviour": "68f2c626f0f5a00f",
        "random-acts-of-kindness-week": "78033d7f55053b8c",
        "time-to-talk-day": "a4d88da57868315a",
        "young-parents-programme-2025-02": "6761d7739394e1b3",
        "young-parents-programme-2025-04": "1583e4881033cd57",
        "young-parents-programme-2026-02": "89c395445518b3ed",
        "young-parents-programme-2026-04": "7eabdc85236ca2db",
        "youth-provision-mapping-survey": "dc99fbebdd2ab44d",
    },
    "term-time-programmes": {  # skipped days are part of the hash
        "friday-play-day": "2bb168ecd83be87c",
        "monday-parents-group": "3db4afe216200bb7",
        "tuesday-rhyme-time": "2a72092fbeb54de8",
    },
}


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_content_hashes_of_the_frozen_data_do_not_change(name: str) -> None:
    loaded = load(DATASETS / name, today=TODAY)
    assert {event.id: event.content_hash for event in loaded.events} == PINNED_HASHES[name]
