"""Write the precomputable public surface as static files, byte-identical to `serve`."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import brotli
import httpx

from calendar_service.compiling import Catalog
from calendar_service.digest import DigestFormat
from calendar_service.errors import CalendarServiceError
from calendar_service.query import Filter
from calendar_service.settings import ServiceSettings
from calendar_service.urls import FeedSuffix
from calendar_service.web.pages import ASSETS, CATEGORIES_CSS
from calendar_service.web.service import CalendarService

MANIFEST = "manifest.json"
DIGEST_MONTHS = 3  # this month's digest and the next two: a newsletter's reach
# The PDF is left to the live service: rendering it is slow, and it does not compress.
EXPORTED_DIGESTS = (DigestFormat.HTML, DigestFormat.TEXT, DigestFormat.MARKDOWN)
NGINX_ETAGS = "nginx-etags.conf"
BROTLI_BEST_UP_TO = 256_000  # bytes
COMPRESSED_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/rss+xml",
    "application/atom+xml",
)


class ExportError(CalendarServiceError):
    """The live application refused a URL the export needs; nothing was published."""


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


def _write(path: Path, body: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    # A link left where the temporary file goes would be followed by a plain open: remove
    # whatever is there and create the file afresh, exclusively.
    temporary.unlink(missing_ok=True)
    with temporary.open("xb") as handle:
        handle.write(body)
    os.utime(temporary, (mtime, mtime))
    temporary.replace(path)


def _publish(out: Path, url: str, response: httpx.Response) -> ExportedFile:
    """Write one URL's body, with .gz and .br siblings for text, dated as served."""
    body = response.content
    last_modified = response.headers["last-modified"]
    mtime = parsedate_to_datetime(last_modified).timestamp()
    relative = file_path(url)
    target = out / relative
    _write(target, body, mtime)
    content_type = response.headers["content-type"]
    if _compressible(content_type):
        # Fixed settings and no timestamps: the same input gives the same bytes anywhere.
        _write(target.with_name(target.name + ".gz"), gzip.compress(body, 9, mtime=0), mtime)
        _write(target.with_name(target.name + ".br"), _brotli(body), mtime)
    return ExportedFile(
        path=relative,
        url=url,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type=content_type,
        etag=response.headers["etag"],
        last_modified=last_modified,
    )


def _inside(out: Path, relative: str) -> Path:
    """`out / relative`, refused unless it stays inside `out` once every link is followed.

    The manifest is a file in the output directory, so anything may have written it; a path
    in it, or a symbolic link under `out`, must never lead a build to touch another file.
    """
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or not candidate.parts:
        raise ExportError(f"{MANIFEST} in the output directory lists {relative[:200]!r}")
    target = out / candidate
    if not target.resolve().is_relative_to(out.resolve()):
        raise ExportError(f"{relative[:200]!r} leads outside the output directory")
    return target


def _previous_files(out: Path) -> list[Path]:
    """What an earlier export listed (with siblings), every path checked to be inside `out`."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        return []
    problem = f"{MANIFEST} in the output directory is not one this command wrote"
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))
        paths = [item["path"] for item in listed["files"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise ExportError(f"{problem}; remove it or choose another directory") from exc
    if not all(isinstance(path, str) for path in paths):
        raise ExportError(f"{problem}; remove it or choose another directory")
    return [_inside(out, path + suffix) for path in paths for suffix in ("", ".gz", ".br")]


def _clear_previous(previous: list[Path]) -> None:
    """Remove what an earlier export listed, so no stale file outlives its event."""
    for path in previous:
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)


async def _fetch_all(service: CalendarService) -> list[tuple[str, httpx.Response]]:
    async with service.client as client:
        return [
            (url, await client.get(url, headers={"Accept-Encoding": "identity"}))
            for url in urls(service.snapshot.catalog)
        ]


def build_site(
    settings: ServiceSettings, out: Path, today: date | None = None
) -> list[ExportedFile]:
    """Export every precomputable URL by asking the real application for it."""
    settings = settings.with_options(watch=False)
    service = CalendarService.open(settings, today=(lambda: today) if today is not None else None)
    catalog = service.snapshot.catalog
    responses = asyncio.run(_fetch_all(service))
    for url, response in responses:  # all or nothing: check before touching OUT_DIR
        if response.status_code != 200:
            raise ExportError(f"{url}: the service answered {response.status_code}")
    out.mkdir(parents=True, exist_ok=True)
    # Every path is checked before the first file is removed or written: all or nothing.
    previous = _previous_files(out)
    for url, _response in responses:
        _inside(out, file_path(url))
    _clear_previous(previous)
    # zlib and brotli release the GIL: compressing on every core halves a large export.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        files = list(pool.map(lambda item: _publish(out, *item), responses))
    files.sort(key=lambda item: item.path)
    manifest = {
        "version": catalog.version,
        "compiled_on": catalog.compiled_on.isoformat(),
        "files": [
            {
                "path": item.path,
                "url": item.url,
                "size": item.size,
                "sha256": item.sha256,
                "content_type": item.content_type,
                "etag": item.etag,
                "last_modified": item.last_modified,
            }
            for item in files
        ],
    }
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    _write(_inside(out, NGINX_ETAGS), nginx_etags(files).encode(), time.time())
    _write(_inside(out, MANIFEST), text.encode(), time.time())  # last: lists what is there
    return files


def _brotli(body: bytes) -> bytes:
    """Brotli at its best for pages; large feeds at quality 9, 60 times faster, 15% larger."""
    compressed: bytes = brotli.compress(body, quality=11 if len(body) <= BROTLI_BEST_UP_TO else 9)
    return compressed


def nginx_etags(files: list[ExportedFile]) -> str:
    """An nginx `map` body giving each exported URL its ETag, so nginx sends ours."""
    lines = ["# Written by `calendar-service build`; included by deploy/nginx.conf."]
    for item in files:
        lines.append(f"\"{item.url}\" '{item.etag}';")
    return "\n".join(lines) + "\n"
