"""Edits to a copy of the frozen dataset, as an editor makes them, for the change-log tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

# Stamps of the copy before and after the edits; the service is opened on the day after.
BEFORE = datetime(2026, 11, 20, 9, tzinfo=UTC)
AFTER = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)

# What each edit makes `stamp` record: event, kind, summary.
EXPECTED = [
    (
        "childrens-mental-health-week",
        "confirmed",
        "Children's Mental Health Week 2027 confirmed: Monday 1 February to Sunday 7 February",
    ),
    (
        "random-acts-of-kindness-week",
        "cancelled",
        "Random Acts of Kindness Week 2027 cancelled: Sunday 14 February to Saturday 20 February",
    ),
    (
        "time-to-talk-day",
        "moved",
        "Time to Talk Day 2027 moved: Thursday 11 February (was Thursday 4 February)",
    ),
    (
        "young-parents-programme-2026-04",
        "withdrawn",
        "Young Parents Programme (April 2026 intake) withdrawn",
    ),
]
WITHDRAWN = "young-parents-programme-2026-04"


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace `old`, which must be in the file exactly once, with `new`."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def edit(root: Path) -> None:
    """Move a date, confirm a provisional one, cancel one occurrence, withdraw an event."""
    awareness = root / "events" / "awareness.yaml"
    replace_once(
        awareness,
        '        by_weekday: ["1TH"]\n',
        '        by_weekday: ["1TH"]\n    overrides:\n'
        "      - occurrence: 2027-02-04\n        start: 2027-02-11\n",
    )
    replace_once(
        awareness,
        "      - occurrence: 2027-02-01\n        status: provisional",
        "      - occurrence: 2027-02-01\n        status: confirmed",
    )
    replace_once(
        awareness,
        "      - occurrence: 2027-02-14\n        status: provisional",
        "      - occurrence: 2027-02-14\n        status: cancelled",
    )
    programmes = root / "events" / "programmes.yaml"
    text = programmes.read_text()
    start = text.index(f"  - id: {WITHDRAWN}\n")
    following = text.find("\n  - id: ", start + 1)
    programmes.write_text(
        text[:start].rstrip() + "\n" + (text[following:] if following > 0 else "")
    )


def edit_text_only(root: Path) -> None:
    """A reworded description: recorded, but minor."""
    replace_once(
        root / "events" / "awareness.yaml",
        "It's a day for us all to start a conversation about mental health.",
        "It is a day for everyone to start a conversation about mental health.",
    )
