"""`stamp` records what changed: the change log, /changes.atom, /api/changes and the feeds
each show a moved date, a confirmed one, a cancelled occurrence and a withdrawn event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import pytest
import yaml
from changes_support import AFTER, BEFORE, EXPECTED, WITHDRAWN, edit, edit_text_only
from conftest import BUNDLED_DATA, InProcess, in_process

from calendar_service.cli import main
from calendar_service.stamping import stamp

TODAY = (AFTER + timedelta(days=1)).date()


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frozen dataset stamped, edited as an editor would, and stamped again."""
    root = copy_of(BUNDLED_DATA, tmp_path_factory.mktemp("changes") / "data")
    stamp(root, now=BEFORE)  # keeps each event's content, to compare the edits with
    assert not (root / "changes.yaml").exists()
    edit(root)
    changed = stamp(root, now=AFTER)
    assert sorted(changed) == sorted(event for event, _kind, _summary in EXPECTED)
    return root


@pytest.fixture(scope="module")
def service(edited: Path) -> InProcess:
    return in_process(edited, today=TODAY, base_url="https://calendar.example.org")


def logged(root: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((root / "changes.yaml").read_text())["changes"]
    return entries


def test_each_change_is_in_the_change_log_with_its_summary(edited: Path) -> None:
    entries = logged(edited)
    found = [(entry["event"], entry["kind"], entry["summary"]) for entry in entries]
    assert found == EXPECTED
    assert {entry["at"] for entry in entries} == {AFTER.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert not any(entry.get("minor") for entry in entries)


def test_each_change_is_in_changes_atom(service: InProcess) -> None:
    feed = feedparser.parse(service.get("/changes.atom").content)
    assert not feed.bozo
    titles = [entry.title for entry in feed.entries]
    assert sorted(titles) == sorted(summary for _event, _kind, summary in EXPECTED)
    links = {entry.title: entry.link for entry in feed.entries}
    assert links[EXPECTED[2][2]] == "https://calendar.example.org/events/time-to-talk-day"
    assert links[EXPECTED[3][2]] == "https://calendar.example.org/"  # no page once withdrawn


def test_a_named_feeds_changes_are_only_its_own_events(service: InProcess) -> None:
    schools = feedparser.parse(service.get("/feeds/schools/changes.atom").content)
    parents = feedparser.parse(service.get("/feeds/parents-carers/changes.atom").content)
    withdrawn = EXPECTED[3][2]
    assert EXPECTED[2][2] in [entry.title for entry in schools.entries]
    assert withdrawn not in [entry.title for entry in schools.entries]  # not for schools
    assert withdrawn in [entry.title for entry in parents.entries]


def test_api_changes_pages_newest_first_and_filters_by_day(service: InProcess) -> None:
    first = service.get("/api/changes?limit=3").json()
    assert first["total"] == len(EXPECTED) and first["count"] == 3
    rest = service.get(f"/api/changes?limit=3&cursor={first['next_cursor']}").json()
    assert rest["next_cursor"] is None
    summaries = [item["summary"] for item in first["changes"] + rest["changes"]]
    assert sorted(summaries) == sorted(summary for _event, _kind, summary in EXPECTED)
    day = AFTER.date()
    assert service.get(f"/api/changes?from={day}&to={day}").json()["total"] == len(EXPECTED)
    after = day + timedelta(days=1)
    assert service.get(f"/api/changes?from={after}").json()["total"] == 0
    assert service.get(f"/api/changes?from={after}&to={day}").status_code == 422


def test_the_feeds_show_each_change(service: InProcess) -> None:
    rss = feedparser.parse(service.get("/feeds/all.rss").content)
    titles = [entry.title for entry in rss.entries]
    assert "Time to Talk Day: Thursday 11 February 2027" in titles
    assert "Time to Talk Day: Thursday 4 February 2027" not in titles
    assert (
        "Children's Mental Health Week: Monday 1 February 2027 to Sunday 7 February 2027" in titles
    )
    assert (
        "Random Acts of Kindness Week: Sunday 14 February 2027 to Saturday 20 February 2027"
        " (cancelled)" in titles
    )
    described = "\n".join(entry.description for entry in rss.entries)
    for _event, kind, summary in EXPECTED:
        if kind != "withdrawn":
            assert summary.replace("'", "&#x27;") in described or summary in described


def test_a_withdrawn_event_stays_in_the_ics_feeds_cancelled(service: InProcess) -> None:
    for path in ("/calendar.ics", "/feeds/parents-carers.ics"):
        calendar = icalendar.Calendar.from_ical(service.get(path).content)
        mine = [
            component
            for component in calendar.walk("VEVENT")
            if str(component["UID"]).startswith(WITHDRAWN + "@")
        ]
        assert mine, path
        assert {str(component["STATUS"]) for component in mine} == {"CANCELLED"}
        assert {int(component["SEQUENCE"]) for component in mine} == {1}
        assert all(component.decoded("LAST-MODIFIED") == AFTER for component in mine)
    assert service.get(f"/events/{WITHDRAWN}").status_code == 404


def test_a_withdrawn_event_leaves_the_feeds_after_their_window(edited: Path) -> None:
    later = in_process(edited, today=TODAY + timedelta(days=367))
    calendar = icalendar.Calendar.from_ical(later.get("/calendar.ics").content)
    uids = {str(component["UID"]) for component in calendar.walk("VEVENT")}
    assert not any(uid.startswith(WITHDRAWN + "@") for uid in uids)


def copy_of(source: Path, root: Path) -> Path:
    for path in source.rglob("*"):
        if path.is_file():
            target = root / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return root


def test_a_withdrawn_event_put_back_is_added_again(edited: Path, tmp_path: Path) -> None:
    root = copy_of(edited, tmp_path / "data")
    programmes = root / "events" / "programmes.yaml"
    original = (BUNDLED_DATA / "events" / "programmes.yaml").read_text()
    programmes.write_text(original)
    assert stamp(root, now=AFTER + timedelta(hours=1)) == [WITHDRAWN]
    last = logged(root)[-1]
    assert (last["event"], last["kind"]) == (WITHDRAWN, "added")
    assert last["summary"].startswith("Young Parents Programme (April 2026 intake) added")
    calendar = icalendar.Calendar.from_ical(
        in_process(root, today=TODAY).get("/calendar.ics").content
    )
    statuses = {
        str(component["STATUS"])
        for component in calendar.walk("VEVENT")
        if str(component["UID"]).startswith(WITHDRAWN + "@")
    }
    assert statuses and "CANCELLED" not in statuses  # its own dates, not the withdrawn copy


def test_a_text_only_edit_is_recorded_as_minor(edited: Path, tmp_path: Path) -> None:
    root = copy_of(edited, tmp_path / "data")
    edit_text_only(root)
    assert main(["stamp", str(root)]) == 0
    last = logged(root)[-1]
    assert (last["event"], last["kind"], last.get("minor")) == ("time-to-talk-day", "edited", True)
    assert last["summary"] == "Time to Talk Day: details updated (text or links)"
    feed = feedparser.parse(in_process(root).get("/changes.atom").content)
    assert feed.entries[0].title == "Time to Talk Day: details updated (text or links) (minor)"
