"""The named feeds' JSON made the fast way is the plain rendering's, byte for byte.

The export renders each occurrence's JSON once and embeds those bytes in every named feed
that includes it (web/shapes.py's OccurrenceFragments); the live service renders each feed
alone. Both must give the same bytes, and the add-to-calendar links in them must be the
ones strftime and urllib's quote give (the formula they were built with before).
Datasets: tests/datasets/partnership-2026 and benchmarks/generate.py's events.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from conftest import BUNDLED_DATA, ROOT

from calendar_service import links
from calendar_service.compiling import Catalog, compile_catalog
from calendar_service.loading import load
from calendar_service.model import Occurrence
from calendar_service.web.feeds import feed_occurrences_body
from calendar_service.web.service import Published
from calendar_service.web.shapes import OccurrenceFragments

TODAY = date(2026, 11, 20)
GENERATED_EVENTS = 400
BASE_URL = "https://calendar.example.test"  # the generated settings name none


def _generated(folder: Path) -> Path:
    """benchmarks/generate.py's data, as the benchmarks write it."""
    generate = importlib.import_module("benchmarks.generate")
    generate.write(folder, generate.events(GENERATED_EVENTS, generate.DEFAULT_SEED, TODAY))
    return folder


@pytest.fixture(scope="module", params=["partnership-2026", "generated"])
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    if request.param == "generated":
        monkeypatch = pytest.MonkeyPatch()
        monkeypatch.syspath_prepend(str(ROOT))
        try:
            data = _generated(tmp_path_factory.mktemp("generated") / "data")
        finally:
            monkeypatch.undo()
    else:
        data = BUNDLED_DATA
    return compile_catalog(load(data, today=TODAY), base_url=BASE_URL, today=TODAY)


def test_every_named_feed_from_shared_occurrences_is_its_plain_rendering(catalog: Catalog) -> None:
    plain_snapshot, shared_snapshot = Published(catalog), Published(catalog)
    rendered = OccurrenceFragments(catalog, shared_snapshot.derived)
    # The smallest feeds first, so that the whole feed is made mostly of occurrences
    # another feed rendered before it.
    names = sorted(catalog.feeds, key=lambda name: name == "all")
    assert names[-1] == "all" and len(names) > 2
    for name in names:
        feed = catalog.feeds[name]
        shared = feed_occurrences_body(shared_snapshot, feed, rendered)
        alone = feed_occurrences_body(plain_snapshot, feed)
        assert shared == alone, name
        assert orjson.loads(shared)["count"] > 0, name


def _google_reference(add: links.AddLinks, occurrence: Occurrence) -> str:
    """Google's link as strftime and quote make it (links.py before the fast path)."""
    if occurrence.all_day:
        dates = f"{occurrence.start:%Y%m%d}/{occurrence.end:%Y%m%d}"
    else:
        assert isinstance(occurrence.start, datetime) and isinstance(occurrence.end, datetime)
        start, end = occurrence.start.astimezone(UTC), occurrence.end.astimezone(UTC)
        dates = f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    title = quote(occurrence.title, safe="")
    return (
        f"{links.GOOGLE_TEMPLATE}?action=TEMPLATE&text={title}"
        f"&dates={quote(dates, safe='')}{add.google_rest}"
    )


def _outlook_reference(
    add: links.AddLinks, occurrence: Occurrence, account: links.OutlookAccount
) -> str:
    """Outlook's link as strftime and quote make it (links.py before the fast path)."""
    if occurrence.all_day:
        start, end = f"{occurrence.start:%Y-%m-%d}", f"{occurrence.end:%Y-%m-%d}"
    else:
        assert isinstance(occurrence.start, datetime) and isinstance(occurrence.end, datetime)
        first, last = occurrence.start.astimezone(UTC), occurrence.end.astimezone(UTC)
        start, end = f"{first:%Y-%m-%dT%H:%M:%SZ}", f"{last:%Y-%m-%dT%H:%M:%SZ}"
    return (
        f"{links.OUTLOOK_HOSTS[account]}{links.OUTLOOK_COMPOSE}"
        "?path=%2Fcalendar%2Faction%2Fcompose&rru=addevent"
        f"&subject={quote(occurrence.title, safe='')}"
        f"&startdt={quote(start, safe='')}&enddt={quote(end, safe='')}"
        f"&allday={'true' if occurrence.all_day else 'false'}{add.outlook_rest}"
    )


def test_add_links_are_the_strftime_and_quote_formula(catalog: Catalog) -> None:
    adds: dict[str, links.AddLinks] = {}
    seen = {"all-day": 0, "timed": 0, "own title": 0}
    for occurrence in catalog.index.occurrences:
        event = catalog.events[occurrence.event_id].event.data
        add = adds.get(event.id)
        if add is None:
            add = adds[event.id] = links.AddLinks.of(
                event, catalog.identity, catalog.settings.timezone
            )
        google = _google_reference(add, occurrence)
        work = _outlook_reference(add, occurrence, "work")
        assert add.google(occurrence) == google
        assert add.outlook(occurrence) == work
        assert add.outlook(occurrence, "personal") == _outlook_reference(
            add, occurrence, "personal"
        )
        assert add.both(occurrence) == (google, work)
        seen["all-day" if occurrence.all_day else "timed"] += 1
        seen["own title"] += occurrence.title != event.title
    assert seen["all-day"] and seen["timed"], seen
