"""Export keys: a digest of everything an exported file's bytes depend on, for the files
that are costly to make: each event's page and .ics, each named feed's JSON and pages.

An export stores the key beside each such file's hash; the next export links the previous
file without rendering it when the key is the same. So a key must change whenever the bytes
may: a key that misses an input publishes stale bytes.

What an event's page and .ics read (web/views.py `render_event`, `Catalog.event_file`):
- the event itself: its data, the sessions its rule skips, its stamps (`Event.revision`,
  which the compiler also trusts to reuse an event's VEVENTs and occurrences);
- the catalog's context: calendar.yaml's settings (name, vocabularies, zone, feeds...), the
  base URL and UID domain, the day compiled (upcoming dates, the index's horizon), the term
  calendars (a skip is described by their names), the zone's rules;
- the code that renders them: this package's files (templates and assets among them), the
  installed distributions' versions and Python's.
Nothing of another event reaches them; a named feed's JSON reads the same of each event its
filter passes. An event's key also vouches for its occurrences' JSON in the previous
version's named feeds, which a build re-rendering a feed takes from there (export.py).
A page that starts showing more (a related event, the snapshot's version) must add it
here; the incremental export tests compare an export after each kind of edit with one
from nothing.
"""

from __future__ import annotations

import hashlib
import os
import site
import sys
import sysconfig
import zoneinfo
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path

from calendar_service.compiling import Catalog
from calendar_service.digest import Period, digest_occurrences
from calendar_service.entries import EventEntry

PACKAGE = Path(__file__).parent
LIBRARIES = ("purelib", "platlib")  # sysconfig's names of the site-packages folders


@cache
def code_fingerprint() -> str:
    """A digest of the code that renders: this package's files, the distributions installed
    beside it (name and version, from their metadata folders' names) and Python's version.
    Once per process: the code does not change under a running build."""
    digest = hashlib.sha256(sys.version.encode())
    digest.update(package_digest(PACKAGE).encode())
    for name in sorted(_distributions()):
        digest.update(b"\0" + name.encode())
    return digest.hexdigest()


def package_digest(folder: Path) -> str:
    """A digest of every file under `folder` (modules, templates, assets), by path."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(b"\0" + path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _distributions() -> set[str]:
    """The installed distributions' metadata folders (`icalendar-7.0.1.dist-info` and the
    like) in the interpreter's site-packages: not the rest of the import path, which
    changes with the working directory."""
    folders = {*site.getsitepackages(), *(sysconfig.get_paths()[name] for name in LIBRARIES)}
    names: set[str] = set()
    for folder in folders:
        try:
            found = os.listdir(folder)
        except OSError:
            continue
        names.update(name for name in found if name.endswith((".dist-info", ".egg-info")))
    return names


def zone_rules(name: str) -> bytes:
    """The zone's compiled rules as zoneinfo reads them (the system's, else tzdata's)."""
    for folder in zoneinfo.TZPATH:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate.read_bytes()
    try:
        return (resources.files("tzdata.zoneinfo") / name).read_bytes()
    except (ModuleNotFoundError, OSError):
        return name.encode()  # only the name: UTC and the like are built in


def context_digest(catalog: Catalog) -> str:
    """A digest of what every event's page and .ics read from the catalog and the code."""
    settings = catalog.settings
    parts = [
        code_fingerprint(),
        settings.model_dump_json(),
        catalog.identity.base_url,
        catalog.identity.uid_domain,
        catalog.compiled_on.isoformat(),
        catalog.index.start.isoformat(),
        catalog.index.end.isoformat(),
        hashlib.sha256(catalog.timezone).hexdigest(),
        hashlib.sha256(zone_rules(settings.timezone)).hexdigest(),
    ]
    for calendar_id, feed in sorted(catalog.term_feeds.items()):
        parts += [calendar_id, feed.calendar.model_dump_json()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def event_keys(catalog: Catalog, context: str) -> dict[str, str]:
    """Each event's key, by id: its revision within the catalog's `context_digest`."""
    return {
        event_id: _digest(f"{context}\0{event_id}", _revision(entry))
        for event_id, entry in catalog.events.items()
    }


def feed_members(catalog: Catalog) -> dict[str, str]:
    """A digest of the revisions of the events each named feed's filter passes, by name:
    what feed_json_keys and feed_pages_keys read of the events (each written once)."""
    lines: dict[int, str] = {}
    members = {}
    for name, feed in catalog.feeds.items():
        digest = hashlib.sha256()
        for entry in catalog.matching(feed.filter):
            line = lines.get(id(entry))
            if line is None:
                line = lines[id(entry)] = _revision(entry)
            digest.update(line.encode())
        members[name] = digest.hexdigest()
    return members


def feed_json_keys(catalog: Catalog, context: str, members: dict[str, str]) -> dict[str, str]:
    """Each named feed's JSON's key, by name: the revisions of the events its filter passes
    (`members`, from feed_members).

    The JSON lists those events' occurrences over the index's horizon (web/feeds.py
    `feed_occurrences`): an event's occurrences and fields come from its revision and the
    context alone, and which events pass comes from their data and the feed's definition.
    """
    return {name: _digest(f"{context}\0feed {name}.json", members[name]) for name in catalog.feeds}


def feed_pages_keys(catalog: Catalog, around: str, members: dict[str, str]) -> dict[str, str]:
    """Each named feed's pages' key, by name: the RSS, Atom, changes, embed and subscribe
    pages of the feed (export_urls.feed_pages; each page's key adds its URL).

    They read the events the feed's filter passes (`members`), the context, and (`around`,
    from pages_context) of the rest of the catalog (web/syndication.py, web/views.py): the
    change log (a change's link depends on whether its event is still there), the
    withdrawn events, and the catalog's Last-Modified, which dates the pages. All of it is
    in the key, so a new or removed event elsewhere renders every feed's pages again; an
    edited one, only the pages of the feeds it is in. An RSS or Atom feed is dated no later
    than now, so a stamp or change dated in the future dates it by the clock: then the key
    holds the clock too, and the pages are rendered every time.
    """
    return {name: _digest(f"{around}\0feed {name} pages", members[name]) for name in catalog.feeds}


def digest_key(catalog: Catalog, around: str, name: str, month: date) -> str:
    """A named feed's digest of `month`'s key, for each of its forms: the revisions of the
    events of the occurrences it lists (digest.digest_occurrences), and `around` as for the
    feed's pages. An edit to an event with no occurrence starting that month leaves the
    month's digest as it was."""
    feed = catalog.feeds[name]
    listed = digest_occurrences(catalog, feed.filter, Period.month(month))
    events = catalog.events
    listed_events = sorted({occurrence.event_id for occurrence in listed})
    revisions = "".join(_revision(events[event_id]) for event_id in listed_events)
    return _digest(f"{around}\0feed {name} digest {month}", revisions)


def pages_context(catalog: Catalog, context: str) -> str:
    """`around` for feed_pages_keys and digest_key: the context and what a named feed's
    pages read of the rest of the catalog, the clock too when a stamp or change is later
    than now (see feed_pages_keys)."""
    around = f"{context}\0{_catalog_digest(catalog)}"
    now = datetime.now(UTC)
    if _latest_moment(catalog) > now:
        around += f"\0dated by the clock at {now.isoformat()}"
    return around


def page_key(feed_key: str, url: str) -> str:
    """One of a named feed's pages' key: the feed's pages' key and the page's URL."""
    return hashlib.sha256(f"{feed_key}\0{url}".encode()).hexdigest()[:32]


def _catalog_digest(catalog: Catalog) -> str:
    """The change log, the events there are, the withdrawn ones and the Last-Modified."""
    digest = hashlib.sha256(catalog.everything.last_modified.isoformat().encode())
    for change in catalog.changes:
        digest.update(b"\0" + repr(change).encode())  # a dataclass's: every field
    digest.update(b"\0events\0" + "\0".join(sorted(catalog.events)).encode())
    for entry in catalog.withdrawn:
        digest.update(_revision(entry).encode())
    return digest.hexdigest()


def _latest_moment(catalog: Catalog) -> datetime:
    """The latest moment an RSS or Atom feed may be dated by: a stamp or a change."""
    entries = (*catalog.events.values(), *catalog.withdrawn)
    moments = [entry.event.modified for entry in entries]
    moments += [change.at for change in catalog.changes]
    return max(moments, default=datetime.min.replace(tzinfo=UTC))


def _revision(entry: EventEntry) -> str:
    """An event's id and revision (content hash, SEQUENCE, LAST-MODIFIED), as keys read it."""
    content, sequence, modified = entry.event.revision
    return f"\0{entry.event.id}\0{content}\0{sequence}\0{modified.isoformat()}"


def _digest(subject: str, revisions: str) -> str:
    return hashlib.sha256(f"{subject}\0{revisions}".encode()).hexdigest()[:32]
