"""The compressed bodies the service sends and the export stores read back as the body."""

from __future__ import annotations

import asyncio
import gzip
import json
import platform
from datetime import date
from pathlib import Path

import brotli
import httpx
import pytest
from conftest import DATASETS
from hypothesis import given
from hypothesis import strategies as st

import calendar_service
from calendar_service.compression import IDENTITY, brotli_body, gzip_body
from calendar_service.export import build_site
from calendar_service.settings import ServiceSettings
from calendar_service.web.service import CalendarService

BASE_URL = "https://calendar.example.test"


@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=9))
def test_gzip_is_a_gzip_member_of_the_body_without_a_date(body: bytes, level: int) -> None:
    made = gzip_body(body, level)
    assert gzip.decompress(made) == body  # the standard library's reader
    assert made[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no name or other extra field
    assert made[4:8] == b"\x00\x00\x00\x00"  # no modification time: the same bytes each time
    assert gzip_body(body, level) == made


@given(st.binary(max_size=4096), st.integers(min_value=0, max_value=11))
def test_brotli_reads_back_as_the_body(body: bytes, quality: int) -> None:
    assert brotli.decompress(brotli_body(body, quality)) == body


def test_text_compresses_as_well_at_level_9_as_with_the_standard_library() -> None:
    # zlib-ng's bytes differ from zlib's, their size must not: real text (this package's
    # modules, 660 KB) within 1% (measured: 0.02% larger).
    package = Path(calendar_service.__file__).parent
    body = b"".join(path.read_bytes() for path in sorted(package.rglob("*.py")))
    ours, theirs = len(gzip_body(body, 9)), len(gzip.compress(body, 9, mtime=0))
    assert ours <= theirs * 1.01


def test_the_identity_names_the_libraries_and_the_processor() -> None:
    assert IDENTITY.startswith("zlib-ng ")
    assert f"brotli {brotli.__version__}" in IDENTITY
    assert IDENTITY.endswith(platform.machine())


@pytest.mark.parametrize("compressed", [True, False])
def test_a_service_without_gzip_copies_sends_its_feeds_as_they_are(compressed: bool) -> None:
    # The export opens its service so (it compresses what it writes its own way): a client
    # that takes gzip then gets the plain bytes, never an empty gzip body.
    settings = ServiceSettings(data_dir=DATASETS / "online-and-in-person", base_url=BASE_URL)
    service = CalendarService.open(settings, compressed=compressed)

    async def fetch() -> httpx.Response:
        async with service.client as client:
            return await client.get("/calendar.ics", headers={"Accept-Encoding": "gzip"})

    response = asyncio.run(fetch())
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == ("gzip" if compressed else None)
    assert response.content.startswith(b"BEGIN:VCALENDAR")  # httpx decodes the gzip


@pytest.mark.parametrize("quality", [None, 9])
def test_an_export_compresses_each_file_at_its_levels(tmp_path: Path, quality: int | None) -> None:
    # The other export tests lower the shared files' quality (export_support.BROTLI_QUALITY);
    # here the default, 11, and a setting: every .br and .gz is the body at the level
    # export_storage gives its kind of file, and the manifest names them.
    options = {} if quality is None else {"export_brotli_quality": quality}
    settings = ServiceSettings(
        data_dir=DATASETS / "series-until-in-summer", base_url=BASE_URL, **options
    )
    files = build_site(settings, tmp_path / "site", today=date(2026, 3, 1), workers=1)
    shared = 11 if quality is None else quality
    manifest = json.loads((tmp_path / "site" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["compression"].endswith(f"brotli {shared} (5 an event's), 5 above")
    kinds = set()
    for item in files:
        body = (tmp_path / "site" / item.path).read_bytes()
        if not (tmp_path / "site" / (item.path + ".br")).exists():
            assert not item.content_type.startswith(("text/", "application/json"))
            continue
        large, own = len(body) > 64_000, item.url.startswith("/events/")
        kinds.add((large, own))
        expected = 5 if large or own else shared
        assert (tmp_path / "site" / (item.path + ".br")).read_bytes() == brotli.compress(
            body, quality=expected
        ), item.path
        gzipped = (tmp_path / "site" / (item.path + ".gz")).read_bytes()
        assert gzipped == gzip_body(body, 6 if large else 9), item.path
    assert {(False, True), (False, False)} <= kinds  # an event's files and shared ones
