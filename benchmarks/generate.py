"""Write a synthetic, valid, stamped data directory of N events for benchmarks."""

from __future__ import annotations

import argparse
import calendar
import random
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from calendar_service.loading import EVENTS_DIR, SETTINGS_FILE
from calendar_service.stamping import stamp

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = ROOT / "data" / SETTINGS_FILE
EVENTS_PER_FILE = 500
DEFAULT_SEED = 20250101
# Recorded as the revision time, so that a seed gives byte-identical revisions.yaml.
STAMP_TIME = datetime(2025, 1, 1, tzinfo=UTC)

AUDIENCES = (
    "schools",
    "early-years",
    "practitioners",
    "managers-designated-leads",
    "parents-carers",
    "young-people",
)
THEMES = (
    "domestic-abuse",
    "harm-outside-the-home",
    "first-1001-days",
    "mental-health-wellbeing",
)
TAGS = (
    "online-safety", "kindness", "bullying", "neglect", "exploitation", "county-lines",
    "send", "early-help", "attendance", "sleep", "healthy-relationships", "substance-misuse",
    "self-harm", "reading", "play", "fathers", "young-carers", "consent", "water-safety",
    "fire-safety", "road-safety", "dental-health", "breastfeeding", "safer-sleep", "poverty",
)  # fmt: skip
SUBJECTS = (
    "Online Safety", "Kindness", "Anti-Bullying", "Young Carers", "Safer Sleep", "Road Safety",
    "Mental Health", "Healthy Relationships", "Neglect", "Exploitation", "Reading", "Play",
    "Fathers", "Water Safety", "Consent", "Attendance", "Self-Harm", "Dental Health",
    "Breastfeeding", "Substance Misuse", "Fire Safety", "Sleep", "Early Help", "Parenting",
)  # fmt: skip
VENUES = (
    "County Hall, Durham", "Family Hub, Chester-le-Street", "Family Hub, Bishop Auckland",
    "Civic Centre, Consett", "Library, Newton Aycliffe", "Community Centre, Seaham",
)  # fmt: skip
ORGANISERS = (
    "Durham Safeguarding Children Partnership",
    "Family Hubs (County Durham)",
    "NSPCC",
    "Mind",
    "Place2Be",
    "Barnardo's",
    "The Children's Society",
)
SENTENCES = (
    "Schools and settings are encouraged to take part and share resources with families.",
    "The session covers recognising signs of harm and what to do next.",
    "Free resources, posters and lesson plans are available from the organiser's website.",
    "Practitioners from every agency are welcome; places are limited, so book early.",
    "Parents and carers can join in at home with activities for all ages.",
    "Further information and booking: see the link below.",
    "The theme this year builds on feedback from children and young people.",
    "Lunch is not provided; please bring your own refreshments.",
    "Certificates of attendance are issued to everyone who completes the course.",
    "Contact the partnership business unit with any questions about accessibility.",
)
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Span:
    """The days over which generated events start."""

    first: date
    last: date

    def day(self, rng: random.Random) -> date:
        return self.first + timedelta(days=rng.randrange((self.last - self.first).days + 1))


def _common(
    rng: random.Random, number: int, kind: str, title: str, category: str
) -> dict[str, Any]:
    """Fields every generated event has: id, text, vocabulary terms, tags."""
    event: dict[str, Any] = {
        "id": f"{kind}-{number:06d}",
        "title": title,
        "summary": rng.choice(SENTENCES),
        "description": "\n".join(rng.sample(SENTENCES, rng.randint(2, 5))),
        "category": category,
        "audiences": sorted(rng.sample(AUDIENCES, rng.randint(1, 3))),
    }
    if rng.random() < 0.7:
        event["themes"] = sorted(rng.sample(THEMES, rng.randint(1, 2)))
    event["tags"] = sorted(rng.sample(TAGS, rng.randint(0, 3)))
    if rng.random() < 0.8:
        organiser: dict[str, Any] = {"name": rng.choice(ORGANISERS)}
        if rng.random() < 0.5:
            organiser["url"] = f"https://example.org/{kind}/{number}"
        event["organiser"] = organiser
    if rng.random() < 0.6:
        event["url"] = f"https://example.org/events/{kind}-{number}"
    if rng.random() < 0.05:
        event["status"] = "provisional"
    return event


def _location(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.35:
        return {"venue": "Microsoft Teams", "online": True}
    return {"venue": rng.choice(VENUES)}


def _timed(day: date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


def one_off_day(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    category = rng.choice(("deadline", "law-change", "survey", "event", "awareness-day"))
    title = f"{rng.choice(SUBJECTS)} {category.replace('-', ' ')} {number}"
    event = _common(rng, number, "day", title, category)
    event["start"] = span.day(rng).isoformat()
    return event


def all_day_span(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    event = _common(rng, number, "week", f"{rng.choice(SUBJECTS)} Week {number}", "awareness-week")
    start = span.day(rng)
    event["start"] = start.isoformat()
    event["end"] = (start + timedelta(days=rng.choice((4, 6, 6, 6, 13)))).isoformat()
    return event


def _nth_weekday(year: int, month: int, weekday: int, ordinal: int) -> date:
    """The ordinal-th (1..4, or -1 for last) given weekday of a month."""
    days = [
        day
        for day in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, day).weekday() == weekday
    ]
    return date(year, month, days[ordinal - 1 if ordinal > 0 else ordinal])


def yearly_day(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    """An awareness day on, say, the first Thursday of February, every year."""
    event = _common(rng, number, "yearly", f"{rng.choice(SUBJECTS)} Day {number}", "awareness-day")
    month, weekday, ordinal = rng.randint(1, 12), rng.randrange(7), rng.choice((1, 2, 3, 4, -1))
    year = span.day(rng).year
    start = _nth_weekday(year, month, weekday, ordinal)
    if not span.first <= start <= span.last:  # the rule's day in the drawn year fell outside
        start = _nth_weekday(year + (1 if start < span.first else -1), month, weekday, ordinal)
    event["start"] = start.isoformat()
    recurrence: dict[str, Any] = {
        "rule": {
            "frequency": "yearly",
            "by_month": [month],
            "by_weekday": [f"{ordinal}{WEEKDAY_CODES[weekday]}"],
        }
    }
    event["recurrence"] = recurrence
    following = _nth_weekday(start.year + 1, month, weekday, ordinal)
    if rng.random() < 0.15:
        recurrence["excluded_dates"] = [following.isoformat()]
    elif rng.random() < 0.3:
        event["overrides"] = [
            {
                "occurrence": following.isoformat(),
                "status": "provisional",
                "note": "Next year's date follows the usual pattern and is not yet confirmed.",
            }
        ]
    return event


def weekly_programme(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    """A course of 6 to 12 weekly timed sessions, sometimes with a half-term gap."""
    title = f"{rng.choice(SUBJECTS)} programme {number}"
    event = _common(rng, number, "programme", title, "programme")
    event["location"] = _location(rng)
    day, hour, count = span.day(rng), rng.randint(9, 17), rng.randint(6, 12)
    event["start"] = _timed(day, hour, rng.choice((0, 30)))
    event["end"] = _timed(day, hour + rng.randint(1, 3), 0)
    event["recurrence"] = {"rule": {"frequency": "weekly", "count": count}}
    session = rng.randint(1, count - 1)
    later = day + timedelta(weeks=session)
    if rng.random() < 0.2:
        event["recurrence"]["excluded_dates"] = [_timed(later, *_hour_minute(event["start"]))]
    elif rng.random() < 0.25:
        moved = later + timedelta(days=1)
        event["overrides"] = [
            {
                "occurrence": _timed(later, *_hour_minute(event["start"])),
                "start": _timed(moved, hour, 0),
                "end": _timed(moved, hour + 1, 30),
                "note": "Moved by one day for this week only.",
            }
        ]
    return event


def _hour_minute(text: str) -> tuple[int, int]:
    hour, minute = text[-5:].split(":")
    return int(hour), int(minute)


def training_session(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    title = f"{rng.choice(SUBJECTS)} training {number}"
    event = _common(rng, number, "training", title, "training-course")
    event["location"] = _location(rng)
    event["audiences"] = sorted({*event["audiences"], "practitioners"})
    day, hour = span.day(rng), rng.randint(9, 14)
    event["start"] = _timed(day, hour, rng.choice((0, 30)))
    event["end"] = _timed(day, hour + rng.randint(2, 3), 30)
    if rng.random() < 0.3:
        event["cost"] = "Free to partner agencies"
    return event


def monthly_series(rng: random.Random, number: int, span: Span) -> dict[str, Any]:
    """A monthly meeting with a count: on the start's day, or on an ordinal weekday."""
    title = f"{rng.choice(SUBJECTS)} network meeting {number}"
    event = _common(rng, number, "monthly", title, "event")
    event["location"] = _location(rng)
    day, hour = span.day(rng), rng.randint(9, 16)
    rule: dict[str, Any] = {"frequency": "monthly", "count": rng.randint(3, 12)}
    if rng.random() < 0.5:
        ordinal = rng.randint(1, 4)
        day = _nth_weekday(day.year, day.month, day.weekday(), ordinal)
        rule["by_weekday"] = [f"{ordinal}{WEEKDAY_CODES[day.weekday()]}"]
    else:
        day = day.replace(day=min(day.day, 28))  # every month has it
    event["start"] = _timed(day, hour)
    event["end"] = _timed(day, hour + 2)
    event["recurrence"] = {"rule": rule}
    return event


Maker = Callable[[random.Random, int, Span], dict[str, Any]]
# (share of events, maker), the shares adding up to 1.
MIX: tuple[tuple[float, Maker], ...] = (
    (0.40, one_off_day),
    (0.15, all_day_span),
    (0.15, yearly_day),
    (0.15, weekly_programme),
    (0.10, training_session),
    (0.05, monthly_series),
)


def events(count: int, seed: int, today: date) -> list[dict[str, Any]]:
    """`count` events in the MIX proportions, shuffled, deterministic for seed and today."""
    rng = random.Random(seed)
    span = Span(today - timedelta(days=365), today + timedelta(days=3 * 365))
    makers: list[Maker] = []
    for share, maker in MIX:
        makers += [maker] * round(share * count)
    makers = (makers + [one_off_day] * count)[:count]
    rng.shuffle(makers)
    return [maker(rng, number, span) for number, maker in enumerate(makers)]


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block-style YAML; the libyaml emitter when present, as it is much faster."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Multi-line text as a literal block, as editors write descriptions."""
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def write(out: Path, items: Sequence[dict[str, Any]], *, stamp_now: datetime = STAMP_TIME) -> None:
    """Write settings, events/*.yaml in files of EVENTS_PER_FILE, and revision stamps."""
    if out.exists():
        shutil.rmtree(out)
    (out / EVENTS_DIR).mkdir(parents=True)
    shutil.copyfile(SETTINGS_SOURCE, out / SETTINGS_FILE)
    for part, first in enumerate(range(0, len(items), EVENTS_PER_FILE)):
        chunk = list(items[first : first + EVENTS_PER_FILE])
        text = yaml.dump(
            {"events": chunk},
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
        header = f"# Generated by benchmarks/generate.py: events {first}-{first + len(chunk) - 1}\n"
        (out / EVENTS_DIR / f"generated-{part:03d}.yaml").write_text(
            header + text, encoding="utf-8"
        )
    stamp(out, now=stamp_now)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=__doc__.strip() if __doc__ else None
    )
    parser.add_argument("--events", type=int, required=True, help="number of events")
    parser.add_argument("--out", type=Path, required=True, help="directory to (re)create")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)"
    )
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be at least 1")
    today = args.today or datetime.now(UTC).date()
    write(args.out, events(args.events, args.seed, today))
    print(f"wrote {args.events} events to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
