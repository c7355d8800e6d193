"""How the export stores a body: written once with its compressed copies, at fixed settings,
or linked from the previous version where it holds the same bytes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from calendar_service.compression import IDENTITY, brotli_body, gzip_body
from calendar_service.publishing import OpenFolders, PreviousExport

# Brotli at its best (quality 11) costs about 4 ms for a 3 KB page: 80 s for the 20,000
# pages and files of 10,000 events, for 16% fewer bytes than quality 5, which takes 0.1 ms.
# So the best (the setting `export_brotli_quality`, 11 unless lowered) for the small files
# every visitor shares, 5 for each event's own and for files over 64 KB (the feeds: 10%
# larger than at quality 9, in half the time).
BEST_UP_TO = 64_000  # bytes
BROTLI_EVENT, BROTLI_LARGE = 5, 5
# Gzip at 9 up to 64 KB; above, 6 (as the service sends): the three named feeds' JSON an
# edit rewrites at 10,000 events (124 MB) in 0.5 s instead of 1.0 s, 0.9% larger.
GZIP_BEST, GZIP_LARGE = 9, 6


def compression(brotli_shared: int) -> str:
    """The manifest's "compression": a build links the previous version's compressed files
    only when it was compressed the same way (compression.py), else it writes them all again."""
    return (
        f"{IDENTITY}; gzip {GZIP_BEST} up to {BEST_UP_TO:,} bytes, {GZIP_LARGE} above; "
        f"brotli {brotli_shared} ({BROTLI_EVENT} an event's), {BROTLI_LARGE} above"
    )


SIBLINGS = ("", ".gz", ".br")  # a compressible file and its compressed copies
COMPRESSED_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/rss+xml",
    "application/atom+xml",
)


def siblings(content_type: str) -> tuple[str, ...]:
    """The files a body of this type is stored in: itself, and its compressed copies."""
    return SIBLINGS if compressible(content_type) else ("",)


def compressible(content_type: str) -> bool:
    return content_type.startswith(COMPRESSED_TYPES)


def gzip_copy(body: bytes) -> bytes:
    """Gzip at the level GZIP_* give this file (fixed, and no timestamp: the same bytes
    every time, compression.py)."""
    return gzip_body(body, GZIP_LARGE if len(body) > BEST_UP_TO else GZIP_BEST)


def brotli_copy(body: bytes, url: str, shared: int) -> bytes:
    """Brotli at the quality BROTLI_* give this file, or `shared` for a shared one."""
    if len(body) > BEST_UP_TO:
        quality = BROTLI_LARGE
    elif url.startswith("/events/"):
        quality = BROTLI_EVENT
    else:
        quality = shared
    return brotli_body(body, quality)


def write_new(path: Path | str, body: bytes, mtime: float) -> None:
    """A new file in the new version's folder (exclusive: nothing there is followed)."""
    with open(path, "xb") as handle:
        handle.write(body)
    os.utime(path, (mtime, mtime))


def reuse(
    previous: PreviousExport | None,
    made: OpenFolders,
    relative: str,
    siblings: tuple[str, ...],
    mtime: float,
) -> str | None:
    """The `previous` version's copy of the same bytes and its siblings, not compressed or
    written again, in the new version's folders (`made`): hard-linked when its date is the
    same ("linked"), else copied and re-dated ("copied"), since the previous version must
    not change while it is served. (A page's Last-Modified is the whole catalog's, so an
    edit re-dates every page, byte for byte the same.) None, and nothing made, unless all of
    them are plain files.

    Linked by name between the two folders, open (at 10,000 events an edit links 60,000).
    """
    found = None if previous is None else previous.plain_files(relative, siblings)
    if previous is None or found is None:
        return None
    folder, _, name = relative.rpartition("/")
    stored = "linked"
    for end, status in zip(siblings, found, strict=True):
        if status.st_mtime == mtime:
            try:
                source, target = previous.folder(folder), made(folder)
                file = name + end
                os.link(file, file, src_dir_fd=source, dst_dir_fd=target, follow_symlinks=False)
                continue
            except OSError:  # another file system, or links not allowed: copy
                pass
        copy = os.path.join(made.root, relative + end)
        shutil.copyfile(previous.path(relative + end), copy, follow_symlinks=False)
        os.utime(copy, (mtime, mtime))
        stored = "copied"
    return stored
