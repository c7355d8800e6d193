"""Write the precomputable public surface as static files, byte-identical to `serve`."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path, PurePosixPath

import brotli

from calendar_service.compiling import Catalog
from calendar_service.digest import DigestFormat
from calendar_service.publishing import MANIFEST, PreviousExport, Publication
from calendar_service.publishing import ExportError as ExportError  # raised by build_site
from calendar_service.query import Filter
from calendar_service.settings import ServiceSettings
from calendar_service.urls import FeedSuffix
from calendar_service.web.pages import ASSETS, CATEGORIES_CSS, event_page
from calendar_service.web.responses import Rendered
from calendar_service.web.service import CalendarService, Published

DIGEST_MONTHS = 3  # this month's digest and the next two: a newsletter's reach
# The PDF is left to the live service: rendering it is slow, and it does not compress.
EXPORTED_DIGESTS = (DigestFormat.HTML, DigestFormat.TEXT, DigestFormat.MARKDOWN)
NGINX_ETAGS = "nginx-etags.conf"
# Brotli at its best (quality 11) costs about 4 ms for a 3 KB page: 80 s for the 20,000
# pages and files of 10,000 events, for 16% fewer bytes than quality 5, which takes 0.1 ms.
# So quality 11 for the small files every visitor shares, 5 for each event's own and for
# files over 64 KB (the feeds: 10% larger than at quality 9, in half the time).
BROTLI_BEST_UP_TO = 64_000  # bytes
BROTLI_SHARED, BROTLI_EVENT, BROTLI_LARGE = 11, 5, 5
SIBLINGS = ("", ".gz", ".br")  # a compressible file and its compressed copies
URLS_PER_JOB = 250  # a worker takes this many URLs at a time: large feeds spread out
COMPRESSED_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/rss+xml",
    "application/atom+xml",
)


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One file of the export, as listed in the manifest."""

    path: str
    url: str
    size: int
    sha256: str
    content_type: str
    etag: str
    last_modified: str
    # "written" (new bytes, compressed), or the previous version's same bytes "linked" (the
    # same file) or "copied" (re-dated): a fact of this build, not of the file.
    stored: str = "written"

    def listed(self) -> dict[str, object]:
        """Its entry in the manifest."""
        return {name: getattr(self, name) for name in MANIFEST_FIELDS}


MANIFEST_FIELDS = tuple(name for name in ExportedFile.__dataclass_fields__ if name != "stored")


def urls(catalog: Catalog) -> Iterator[str]:
    """Every URL whose response depends only on the data, the settings and the day."""
    site, everything = catalog.identity.urls, Filter()
    yield from (site.home(), site.calendar(everything), site.subscribe(everything))
    yield from (site.embed(everything), "/version.json")
    yield from (path for path, _name, _kind in ASSETS)
    yield CATEGORIES_CSS
    yield from (site.syndication(everything, "rss"), site.syndication(everything, "atom"))
    yield from (site.changes(), site.api_changes())
    suffixes: tuple[FeedSuffix, ...] = (
        ".ics",
        ".json",
        ".rss",
        ".atom",
        "/changes.atom",
        "/embed",
        "/subscribe",
    )
    months = digest_months(catalog.compiled_on)
    for name in catalog.feeds:
        yield from (site.named_feed(name, suffix) for suffix in suffixes)
        for month in months:
            yield from (site.feed_digest(name, month, form.suffix) for form in EXPORTED_DIGESTS)
    yield from (site.term_feed(calendar_id) for calendar_id in catalog.term_feeds)
    for event_id in catalog.events:
        yield from (site.event(event_id), site.event_ics(event_id))


def digest_months(today: date) -> list[date]:
    """The first days of this month and the next DIGEST_MONTHS - 1."""
    months = [today.replace(day=1)]
    while len(months) < DIGEST_MONTHS:
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    return months


def file_path(url: str) -> str:
    """A URL's file under the export: the path itself, `index.html` for a trailing slash,
    `.json` after an API path (deploy/nginx.conf maps them back)."""
    if url.endswith("/"):
        return url.lstrip("/") + "index.html"
    if url.startswith("/api/"):
        return url.lstrip("/") + ".json"
    return url.lstrip("/")


def _compressible(content_type: str) -> bool:
    return content_type.startswith(COMPRESSED_TYPES)


def _brotli(body: bytes, url: str) -> bytes:
    """Brotli at the quality BROTLI_* give this file (fixed: the same bytes anywhere)."""
    if len(body) > BROTLI_BEST_UP_TO:
        quality = BROTLI_LARGE
    elif url.startswith("/events/"):
        quality = BROTLI_EVENT
    else:
        quality = BROTLI_SHARED
    compressed: bytes = brotli.compress(body, quality=quality)
    return compressed


def _write(path: Path, body: bytes, mtime: float) -> None:
    """A new file in the new version's folder (exclusive: nothing there is followed)."""
    with path.open("xb") as handle:
        handle.write(body)
    os.utime(path, (mtime, mtime))


def _reuse(source: str, target: str, mtime: float) -> str:
    """The previous version's copy of the same bytes, not compressed or written again:
    hard-linked when its date is the same ("linked"), else copied and re-dated ("copied"),
    since the previous version must not change while it is served. (A page's Last-Modified
    is the whole catalog's, so an edit re-dates every page, byte for byte the same.)
    """
    if os.lstat(source).st_mtime == mtime:
        try:
            os.link(source, target, follow_symlinks=False)
            return "linked"
        except OSError:  # another file system, or links not allowed: copy
            pass
    shutil.copyfile(source, target, follow_symlinks=False)
    os.utime(target, (mtime, mtime))
    return "copied"


@dataclass(frozen=True, slots=True)
class _Build:
    """What every worker of one build reads: set before the workers fork."""

    service: CalendarService
    directory: Path
    previous: PreviousExport | None
    held: dict[str, Callable[[], Rendered | None]]  # see _held


_BUILD: _Build | None = None


def _publish(
    build: _Build, url: str, status: int, headers: dict[str, str], body: bytes
) -> ExportedFile:
    """Write one URL's body, with .gz and .br siblings for text, dated as served; files whose
    bytes the previous version holds are linked from it instead."""
    if status != 200:
        raise ExportError(f"{url}: the service answered {status}")
    relative = file_path(url)
    if ".." in PurePosixPath(relative).parts:
        raise ExportError(f"{url[:200]!r} is not a path inside the export")
    last_modified = headers["last-modified"]
    mtime = parsedate_to_datetime(last_modified).timestamp()
    content_type = headers["content-type"]
    sha256 = hashlib.sha256(body).hexdigest()
    siblings = SIBLINGS if _compressible(content_type) else ("",)
    target = build.directory / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    source = build.previous.same_file(relative, sha256, siblings) if build.previous else None
    stored = "written"
    if source is not None:
        for end in siblings:
            stored = _reuse(source + end, f"{target}{end}", mtime)
    else:
        _write(target, body, mtime)
        if _compressible(content_type):
            # Fixed settings and no timestamps: the same input gives the same bytes anywhere.
            _write(Path(f"{target}.gz"), gzip.compress(body, 9, mtime=0), mtime)
            _write(Path(f"{target}.br"), _brotli(body, url), mtime)
    return ExportedFile(
        path=relative,
        url=url,
        size=len(body),
        sha256=sha256,
        content_type=content_type,
        etag=headers["etag"],
        last_modified=last_modified,
        stored=stored,
    )


def _held(snapshot: Published) -> dict[str, Callable[[], Rendered | None]]:
    """Each event's page and .ics by URL, from the functions their routes answer with.

    Half the cost of a large export was the in-process HTTP round trip for these 2 per
    event (1.7 ms against 0.4 ms to render); tests/test_export_nginx.py holds every file
    to the live service's bytes and headers.
    """
    site = snapshot.catalog.identity.urls
    held: dict[str, Callable[[], Rendered | None]] = {}
    for event_id in snapshot.catalog.events:
        held[site.event(event_id)] = partial(event_page, snapshot, event_id)
        held[site.event_ics(event_id)] = partial(snapshot.event_file, event_id)
    return held


async def _export_urls(build: _Build, chosen: list[str]) -> list[ExportedFile]:
    """Ask the application for each URL (or its route's function) and publish its bytes."""
    files = []
    held = build.held
    async with build.service.client as client:
        for url in chosen:
            answer = held.get(url)
            rendered = answer() if answer is not None else None
            if rendered is not None:
                headers = {
                    "content-type": rendered.content_type,
                    "etag": rendered.etag,
                    "last-modified": rendered.http_date,
                }
                files.append(_publish(build, url, 200, headers, rendered.body))
                continue
            response = await client.get(url, headers={"Accept-Encoding": "identity"})
            headers = dict(response.headers)
            files.append(_publish(build, url, response.status_code, headers, response.content))
    return files


def _export_job(chosen: list[str]) -> list[ExportedFile]:
    """One worker's share: the build it forked with, these URLs."""
    assert _BUILD is not None
    return asyncio.run(_export_urls(_BUILD, chosen))


def _workers() -> int:
    """Processes to render and compress in: one per core, forked from the built service.

    Only from a single-threaded process: a fork copies no thread, but may copy a lock one
    held (under pytest-xdist, say), so a threaded caller exports in its own process.
    """
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    return os.cpu_count() or 1


def _export(build: _Build, every: list[str], workers: int) -> list[ExportedFile]:
    global _BUILD
    _BUILD = build
    try:
        if workers <= 1:
            return _export_job(every)
        jobs = [every[start : start + URLS_PER_JOB] for start in range(0, len(every), URLS_PER_JOB)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [item for done in pool.imap_unordered(_export_job, jobs) for item in done]
    finally:
        _BUILD = None


def build_site(
    settings: ServiceSettings,
    out: Path,
    today: date | None = None,
    *,
    workers: int | None = None,
) -> list[ExportedFile]:
    """Export every precomputable URL by asking the real application for it, and publish
    it at `out` (a symbolic link to the new version) only once all of it is written.

    `workers`: processes to render and compress in (default: one per core, see _workers).
    """
    settings = settings.with_options(watch=False)
    publication = Publication.begin(out)  # first: a refused output costs no compiling
    try:
        service = CalendarService.open(settings, today=(lambda: today) if today else None)
        catalog = service.snapshot.catalog
        held = _held(service.snapshot)
        build = _Build(service, publication.directory, publication.previous, held)
        files = _export(build, list(urls(catalog)), workers or _workers())
        files.sort(key=lambda item: item.path)
        manifest = {
            "version": catalog.version,
            "compiled_on": catalog.compiled_on.isoformat(),
            "files": [item.listed() for item in files],
        }
        text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
        now = time.time()
        _write(publication.directory / NGINX_ETAGS, nginx_etags(files).encode(), now)
        _write(publication.directory / MANIFEST, text.encode(), now)
    except BaseException:
        publication.abandon()
        raise
    publication.commit()
    return files


def nginx_etags(files: list[ExportedFile]) -> str:
    """An nginx `map` body giving each exported URL its ETag, so nginx sends ours."""
    lines = ["# Written by `calendar-service build`; included by deploy/nginx.conf."]
    for item in files:
        lines.append(f"\"{item.url}\" '{item.etag}';")
    return "\n".join(lines) + "\n"
