"""Loading the data directory: revision stamps are checked, and the feed follows them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from loading_support import EVENT, errors_of, events_file, valid_copy

from calendar_service.loading import STAMP_ADVICE, DataInvalid, load
from calendar_service.revisions import STAMP_CLOCK_TOLERANCE
from calendar_service.settings import ServiceSettings
from calendar_service.stamping import stamp
from calendar_service.values import MAX_SEQUENCE
from calendar_service.web.service import CalendarService

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
    assert [warning for warning in loaded.warnings if warning.endswith(STAMP_ADVICE)] == []
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
