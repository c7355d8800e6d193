"""`calendar-service stamp`: each changed event's revision, and what changed, in words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

from pydantic import ValidationError

from calendar_service.agenda import dates_in_words
from calendar_service.feed_files import EPOCH
from calendar_service.index import HORIZON_FUTURE, expand_events, facts_of
from calendar_service.loading import CHANGES_FILE, REVISIONS_FILE, load
from calendar_service.model import (
    CalendarSettings,
    Change,
    ChangeKind,
    Event,
    EventData,
    Occurrence,
    Status,
)
from calendar_service.revisions import (
    KEPT_FIELDS,
    Revision,
    changes_text,
    kept_content,
    read_revisions,
    revisions_text,
)

# More changes of one kind in one event are summed up in one entry ("12 dates moved").
MAX_LISTED = 3
# A status change names its kind; a date that only moved is MOVED.
STATUS_KINDS = {
    Status.CONFIRMED: ChangeKind.CONFIRMED,
    Status.PROVISIONAL: ChangeKind.PROVISIONAL,
    Status.CANCELLED: ChangeKind.CANCELLED,
}
Found = tuple[ChangeKind, str, bool]  # kind, summary, minor


def stamp(root: Path, *, now: datetime | None = None) -> list[str]:
    """Record the revision of every changed event in `revisions.yaml` and what changed in
    `changes.yaml`; return the ids of the events changed, added or withdrawn."""
    data = load(root)
    revisions = read_revisions(root)
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    today = moment.astimezone(data.settings.zone).date()
    changes = list(data.changes)
    changed: list[str] = []
    present = set()
    for event in data.events:
        present.add(event.id)
        known = revisions.get(event.id)
        kept = kept_content(event.data)
        if known is not None and known.hash == event.content_hash and known.withdrawn is None:
            if known.last != kept:  # recorded before revisions kept content: filled in
                revisions[event.id] = known.model_copy(update={"last": kept})
            continue
        # An event back after being withdrawn is told as added again.
        returning = known is not None and known.withdrawn is not None
        before = None if returning else _previous(known)
        found = describe(
            before, event.data, data.settings, today, known is not None and not returning
        )
        changes += [
            Change(at=moment, event=event.id, kind=k, summary=s, minor=m) for k, s, m in found
        ]
        sequence = known.sequence + 1 if known is not None else 0
        revisions[event.id] = Revision(
            hash=event.content_hash, sequence=sequence, modified=moment, last=kept
        )
        changed.append(event.id)
    for key, known in sorted(revisions.items()):
        # Revisions without `last` are of events removed before the change log was kept.
        if key in present or known.withdrawn is not None or known.last is None:
            continue
        before = _previous(known)
        summary = withdrawn_summary(key, before, data.settings, today)
        changes.append(Change(at=moment, event=key, kind=ChangeKind.WITHDRAWN, summary=summary))
        revisions[key] = known.model_copy(
            update={"withdrawn": moment, "modified": moment, "sequence": known.sequence + 1}
        )
        changed.append(key)
    (root / REVISIONS_FILE).write_text(revisions_text(revisions), encoding="utf-8")
    if changes or (root / CHANGES_FILE).exists():
        (root / CHANGES_FILE).write_text(changes_text(changes), encoding="utf-8")
    return changed


def _previous(known: Revision | None) -> EventData | None:
    """The event as last stamped, or None when the revision did not keep it."""
    if known is None or known.last is None:
        return None
    try:
        return EventData.model_validate(known.last)
    except ValidationError:  # kept by a version of the model that took other fields
        return None


def upcoming(data: EventData, settings: CalendarSettings, today: date) -> list[Occurrence]:
    """An event's occurrences from `today` to the index's horizon, as subscribers see them."""
    event = Event(data, "", 0, 0, EPOCH, "")
    zone = settings.zone
    start = datetime.combine(today, time(), zone)
    end = datetime.combine(today + HORIZON_FUTURE, time(), zone)
    return expand_events([event], start, end, zone, {data.id: facts_of(data, zone)})


def describe(
    before: EventData | None,
    after: EventData,
    settings: CalendarSettings,
    today: date,
    known: bool,
) -> list[Found]:
    """What changed from `before` to `after`, each with a one-line summary.

    Dates are compared occurrence by occurrence (by the start the rule gives each), over
    the dates still to come; an edit that changes none of them is text only, so minor.
    `known`: the event had a revision, but its content was not kept (so not comparable).
    """
    now = upcoming(after, settings, today)
    if before is None and not known:
        first = next((o for o in now if o.status is not Status.CANCELLED), None)
        when = f": {dates_in_words(first)}" if first is not None else ""
        return [(ChangeKind.ADDED, f"{after.title} added{when}", False)]
    if before is None:
        return [(ChangeKind.EDITED, f"{after.title} updated", False)]
    dated = list(_dated_changes(upcoming(before, settings, today), now, after))
    if dated:
        return _summed_up(dated, after.title)
    # Only KEPT_FIELDS are kept: an edit to none of them is to texts, links or sources.
    kept = EventData.model_validate(kept_content(after))
    fields = [name for name in KEPT_FIELDS if getattr(before, name) != getattr(kept, name)]
    what = ", ".join(fields) or "text or links"
    return [(ChangeKind.EDITED, f"{after.title}: details updated ({what})", True)]


def _dated_changes(
    old: list[Occurrence], new: list[Occurrence], event: EventData
) -> Iterator[Found]:
    """Occurrence by occurrence: moved, status changed, added or dropped."""
    recurring = event.recurrence is not None
    before = {o.key: o for o in old}
    after = {o.key: o for o in new}
    gone = [before[key] for key in sorted(before.keys() - after.keys())]
    came = [after[key] for key in sorted(after.keys() - before.keys())]
    # A one-off event's key is its start: moving it is a date gone and one come.
    pairs = [(before[key], after[key]) for key in sorted(before.keys() & after.keys())]
    pairs += list(zip(gone, came, strict=False))
    for was, now in pairs:
        label = _label(now, recurring)
        when = dates_in_words(now, year=not recurring)
        moved = (was.start, was.end) != (now.start, now.end)
        was_when = f" (was {dates_in_words(was, year=not recurring)})" if moved else ""
        if was.status is not now.status:
            kind = STATUS_KINDS[now.status]
            if was.status is Status.CANCELLED:
                kind = ChangeKind.REINSTATED
            yield kind, f"{label} {_verb(kind)}: {when}{was_when}", False
        elif moved:
            yield ChangeKind.MOVED, f"{label} moved: {when}{was_when}", False
    for was in gone[len(came) :]:
        when = dates_in_words(was, year=not recurring)
        yield ChangeKind.CANCELLED, f"{_label(was, recurring)} cancelled: {when}", False
    for now in came[len(gone) :]:
        when = dates_in_words(now, year=not recurring)
        yield ChangeKind.ADDED, f"{_label(now, recurring)} added: {when}", False


def _verb(kind: ChangeKind) -> str:
    return "now provisional" if kind is ChangeKind.PROVISIONAL else kind.value


def _label(occurrence: Occurrence, recurring: bool) -> str:
    """An occurrence named as people say it: "Time to Talk Day 2027" in a series."""
    return f"{occurrence.title} {occurrence.start.year}" if recurring else occurrence.title


def _summed_up(found: list[Found], title: str) -> list[Found]:
    """Each kind listed date by date up to MAX_LISTED, else summed up in one entry."""
    result: list[Found] = []
    for kind in ChangeKind:
        of_kind = [item for item in found if item[0] is kind]
        if len(of_kind) > MAX_LISTED:
            first = of_kind[0][1].partition(": ")[2]
            result.append(
                (kind, f"{title}: {len(of_kind)} dates {_verb(kind)}, from {first}", False)
            )
        else:
            result += of_kind
    return result


def withdrawn_summary(
    event_id: str, before: EventData | None, settings: CalendarSettings, today: date
) -> str:
    """ "Time to Talk Day withdrawn (next date was Thursday 4 February 2027)"."""
    if before is None:
        return f"{event_id} withdrawn"
    ahead = [o for o in upcoming(before, settings, today) if o.status is not Status.CANCELLED]
    if not ahead:
        return f"{before.title} withdrawn"
    return f"{before.title} withdrawn (next date was {dates_in_words(ahead[0])})"


__all__ = ["describe", "stamp"]
