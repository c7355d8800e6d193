"""Write the precomputable public surface as static files, byte-identical to `serve`."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

import orjson

from calendar_service.compiling import Catalog
from calendar_service.export_fragments import occurrences_in
from calendar_service.export_held import Held, held_files
from calendar_service.export_storage import (
    brotli_copy,
    compressible,
    compression,
    gzip_copy,
    reuse,
    siblings,
    write_new,
)
from calendar_service.export_urls import (
    event_urls,
    file_path,
    shared_urls,
)
from calendar_service.export_urls import urls as urls  # the export's URLs, for its callers
from calendar_service.publishing import MANIFEST, Listed, OpenFolders, PreviousExport, Publication
from calendar_service.publishing import ExportError as ExportError  # raised by build_site
from calendar_service.reloading import collection_paused
from calendar_service.settings import ServiceSettings
from calendar_service.web.feeds import feed_chosen
from calendar_service.web.service import CalendarService
from calendar_service.web.shapes import OccurrenceFragments

NGINX_ETAGS = "nginx-etags.conf"
URLS_PER_JOB = 250  # a worker takes this many URLs at a time: large feeds spread out


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
    # An event's page or .ics: the digest of its inputs (export_keys.py). When the next
    # build's is the same, it links this file without rendering it.
    key: str | None = None
    # "written" (new bytes, compressed), or the previous version's same bytes "linked" (the
    # same file) or "copied" (re-dated): a fact of this build, not of the file.
    stored: str = "written"

    def listed(self) -> dict[str, object]:
        """Its entry in the manifest."""
        return {name: getattr(self, name) for name in MANIFEST_FIELDS}


MANIFEST_FIELDS = tuple(name for name in ExportedFile.__dataclass_fields__ if name != "stored")


@dataclass(frozen=True, slots=True)
class _Build:
    """What every worker of one build reads: set before the workers fork."""

    service: CalendarService
    directory: Path
    previous: PreviousExport | None
    held: dict[str, Held]  # see held_files
    made: OpenFolders  # the new version's folders, made and open (see _reuse)
    brotli_shared: int  # the quality of shared files' brotli copies (export_storage)


_BUILD: _Build | None = None


def _target(build: _Build, url: str, relative: str | None = None) -> tuple[str, str]:
    """A URL's path in the export (`relative`, if known) and its file in the new version,
    its folder made."""
    relative = file_path(url) if relative is None else relative
    if ".." in relative.split("/"):
        raise ExportError(f"{url[:200]!r} is not a path inside the export")
    build.made(relative.rpartition("/")[0])
    return relative, os.path.join(build.directory, relative)


@lru_cache(maxsize=4096)
def _moment(http_date: str) -> float:
    """A Last-Modified as a file's date, each parsed once, not for each of 20,000 files:
    every page has the catalog's, each .ics its event's (generated data: 2 in all)."""
    return parsedate_to_datetime(http_date).timestamp()


def _reuse(build: _Build, relative: str, stored_in: tuple[str, ...], mtime: float) -> str | None:
    """export_storage.reuse between the previous version and this build's."""
    return reuse(build.previous, build.made, relative, stored_in, mtime)


def _unrendered(build: _Build, url: str, held: Held) -> ExportedFile | None:
    """The previous version's file of `url` again, when it was made from the same inputs:
    its entry, dated as a render would be, its files linked (or copied when re-dated)."""
    if build.previous is None:
        return None
    relative = file_path(url)
    listed: Listed | None = build.previous.unchanged(relative, url, held.key)
    if listed is None:
        return None
    _target(build, url, relative)
    last_modified = listed.last_modified if held.last_modified is None else held.last_modified()
    mtime = _moment(last_modified)
    stored = _reuse(build, relative, siblings(listed.content_type), mtime)
    if stored is None:
        return None
    return ExportedFile(
        path=relative,
        url=url,
        size=listed.size,
        sha256=listed.sha256,
        content_type=listed.content_type,
        etag=listed.etag,
        last_modified=last_modified,
        key=held.key,
        stored=stored,
    )


def _publish(
    build: _Build,
    url: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    key: str | None = None,
) -> ExportedFile:
    """Write one URL's body, with .gz and .br siblings for text, dated as served; files whose
    bytes the previous version holds are linked from it instead."""
    if status != 200:
        raise ExportError(f"{url}: the service answered {status}")
    relative, target = _target(build, url)
    last_modified = headers["last-modified"]
    mtime = _moment(last_modified)
    content_type = headers["content-type"]
    sha256 = hashlib.sha256(body).hexdigest()
    stored_in = siblings(content_type)
    stored = None
    if build.previous is not None and build.previous.same_file(relative, sha256):
        stored = _reuse(build, relative, stored_in, mtime)
    if stored is None:
        stored = "written"
        write_new(target, body, mtime)
        if compressible(content_type):
            write_new(f"{target}.gz", gzip_copy(body), mtime)
            write_new(f"{target}.br", brotli_copy(body, url, build.brotli_shared), mtime)
    return ExportedFile(
        path=relative,
        url=url,
        size=len(body),
        sha256=sha256,
        content_type=content_type,
        etag=headers["etag"],
        last_modified=last_modified,
        key=key,
        stored=stored,
    )


def _render_feed_occurrences(build: _Build, rendered: OccurrenceFragments) -> list[str]:
    """Render once the occurrences of each named feed's JSON this build must render: the
    feeds share most of them (each is in the whole feed), and rendering each feed's apart
    would render them again. An occurrence of an event whose inputs did not change is taken
    from the previous version's file instead: the feed with the most first, so that the
    others' are mostly there already (one previous file read, not one a feed).

    The URLs of the feeds' JSON rendered for, the largest first.
    """
    catalog = build.service.snapshot.catalog
    site = catalog.identity.urls
    previous, reusable = build.previous, None
    to_render = []
    for name, feed in catalog.feeds.items():
        url = site.named_feed(name, ".json")
        key = build.held[url].key
        if previous is not None and previous.unchanged(file_path(url), url, key):
            continue  # linked from the previous version, not rendered
        to_render.append((url, feed_chosen(catalog, feed)))
    to_render.sort(key=lambda item: -len(item[1]))
    for url, chosen in to_render:
        if previous is not None:
            reusable = _unchanged_events(build, previous) if reusable is None else reusable
            wanted = [item for item in chosen if item.event_id in reusable and item not in rendered]
            if wanted:
                rendered.adopt(_previous_occurrences(previous, file_path(url)), wanted)
        for occurrence in chosen:
            rendered(occurrence)
    return [url for url, _chosen in to_render]


def _unchanged_events(build: _Build, previous: PreviousExport) -> set[str]:
    """The events whose page the previous version lists made from the same inputs: their
    occurrences' JSON there is what rendering them gives now (the same revision, context
    and code: export_keys.py), whichever build of that version wrote the feed's file."""
    site = build.service.snapshot.catalog.identity.urls
    unchanged = set()
    for event_id in build.service.snapshot.catalog.events:
        url = site.event(event_id)
        if previous.unchanged(file_path(url), url, build.held[url].key) is not None:
            unchanged.add(event_id)
    return unchanged


def _previous_occurrences(previous: PreviousExport, relative: str) -> dict[str, bytes]:
    """The occurrences' JSON in the previous version's named feed's JSON at `relative`, by
    id: nothing unless the manifest lists it and it is a plain file."""
    if relative not in previous.entries or previous.plain_files(relative, ("",)) is None:
        return {}
    try:
        with open(previous.path(relative), "rb") as handle:
            return occurrences_in(handle.read())
    except OSError:
        return {}


def _rendered(build: _Build, url: str, held: Held) -> ExportedFile | None:
    """Publish what the route's function renders, with the headers it answers with."""
    rendered = None if held.render is None else held.render()
    if rendered is None:
        return None
    headers = {
        "content-type": rendered.content_type,
        "etag": rendered.etag,
        "last-modified": rendered.http_date,
    }
    return _publish(build, url, 200, headers, rendered.body, held.key)


async def _export_urls(build: _Build, chosen: list[str]) -> list[ExportedFile]:
    """Ask the application for each URL (or its route's function) and publish its bytes."""
    files = []
    async with build.service.client as client:
        for url in chosen:
            held = build.held.get(url)
            if held is not None:
                made = _unrendered(build, url, held) or _rendered(build, url, held)
                if made is not None:
                    files.append(made)
                    continue
            response = await client.get(url, headers={"Accept-Encoding": "identity"})
            status, headers, body = response.status_code, dict(response.headers), response.content
            key = None if held is None else held.key
            files.append(_publish(build, url, status, headers, body, key))
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


def _jobs(build: _Build, catalog: Catalog) -> tuple[list[str], list[list[str]]]:
    """The build's work: the named feeds' JSON, which the process that renders their shared
    occurrences publishes (see _export), and the rest in jobs for the workers, the costliest
    first so that they finish together: each shared URL alone (the feeds' .ics, up to 10 MB
    at 10,000 events), then the events' files URLS_PER_JOB at a time."""
    site = catalog.identity.urls
    feeds_json = [site.named_feed(name, ".json") for name in catalog.feeds]
    shared = sorted(set(shared_urls(catalog)) - set(feeds_json), key=_costliest_first)
    events = list(event_urls(catalog))
    batches = [events[at : at + URLS_PER_JOB] for at in range(0, len(events), URLS_PER_JOB)]
    return feeds_json, [[url] for url in shared] + batches


def _costliest_first(url: str) -> tuple[bool, str]:
    return not url.endswith(".ics"), url


def _export(
    build: _Build,
    rendered: OccurrenceFragments,
    feeds_json: list[str],
    jobs: list[list[str]],
    workers: int,
) -> list[ExportedFile]:
    """Publish every URL: `workers` forked processes begin the jobs while this one renders
    the named feeds' occurrences into `rendered` (0.5 s at 10,000 events: no core waits for
    it), then as many more, forked with them, publish the feeds' JSON, the largest first.
    With one worker, everything here in turn."""
    global _BUILD
    _BUILD = build
    try:
        if workers <= 1:
            _render_feed_occurrences(build, rendered)
            return _export_job(feeds_json + [url for job in jobs for url in job])
        # The application, and the modules its client imports, made once here rather than in
        # each worker (a quarter of a second of CPU each).
        build.service.app()
        importlib.import_module("httpx")
        forking = multiprocessing.get_context("fork")
        with forking.Pool(workers) as pool:
            theirs = pool.imap_unordered(_export_job, jobs)  # begun at once, in the workers
            largest = _render_feed_occurrences(build, rendered)
            feeds = largest + [url for url in feeds_json if url not in largest]
            with forking.Pool(workers) as feeds_pool:
                files = feeds_pool.map(_export_job, [[url] for url in feeds], chunksize=1)
            return [item for done in [*files, *theirs] for item in done]
    finally:
        _BUILD = None
        build.made.close()
        if build.previous is not None:
            build.previous.close()


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
    # What is read and made before the workers fork lives on through the build: kept out
    # of the collector's sight (the previous manifest's 20,000 entries, the snapshot, the
    # keys), as a snapshot's build is, and frozen so for the workers.
    with collection_paused():
        # First: a refused output costs no compiling.
        compressed_as = compression(settings.export_brotli_quality)
        publication = Publication.begin(out, compressed_as)
        try:
            clock = (lambda: today) if today else None
            service = CalendarService.open(settings, today=clock, compressed=False)
            catalog = service.snapshot.catalog
            rendered = OccurrenceFragments(catalog, service.snapshot.derived)
            held = held_files(service.snapshot, rendered)
            made = OpenFolders(publication.directory, make=True)
            build = _Build(
                service,
                publication.directory,
                publication.previous,
                held,
                made,
                settings.export_brotli_quality,
            )
            feeds_json, jobs = _jobs(build, catalog)
        except BaseException:
            publication.abandon()
            raise
    try:
        files = _export(build, rendered, feeds_json, jobs, workers or _workers())
        files.sort(key=lambda item: item.path)
        manifest = {
            "version": catalog.version,
            "compiled_on": catalog.compiled_on.isoformat(),
            "compression": compressed_as,
            "files": [item.listed() for item in files],
        }
        # orjson: json's indented output is written in Python, 0.1 s at 20,000 files.
        text = orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
        now = time.time()
        write_new(publication.directory / NGINX_ETAGS, nginx_etags(files).encode(), now)
        write_new(publication.directory / MANIFEST, text, now)
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
