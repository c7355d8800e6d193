"""Fetching from a real partner server on 127.0.0.1 (loopback allowed for it alone):
conditional requests, limits, broken feeds, and last good copies kept byte for byte."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from conftest import WAITING
from partner_feeds_support import source
from partner_server_support import (
    BOMB_BYTES,
    LAST_MODIFIED,
    PartnerServer,
    feed,
    loopback_settings,
    partner,
)

from calendar_service import __version__
from calendar_service.fetch_store import FetchStore, SourceStatus
from calendar_service.fetching import FetchLimits, fetch_all
from calendar_service.partner_feeds import FeedRejected, check_feed
from calendar_service.partner_sources import SourceConfig
from calendar_service.settings import ServiceSettings

pytestmark = WAITING  # one worker runs the waiting modules in a row: conftest

__all__ = ["partner"]  # the fixture, used by name
QUICK = FetchLimits(connect_timeout=2, total_timeout=1.0, max_download_bytes=100_000)


def fetch_one(
    source: SourceConfig, tmp_path: Path, limits: FetchLimits = QUICK, **settings: object
) -> tuple[SourceStatus, FetchStore]:
    store = FetchStore(tmp_path / "fetched")
    configured = loopback_settings(tmp_path).with_options(**settings)
    [status] = fetch_all([source], store, configured, limits=limits)
    return status, store


def test_a_feed_is_kept_as_served_with_its_status(partner: PartnerServer, tmp_path: Path) -> None:
    status, store = fetch_one(
        partner.source("/feed/normal.ics"), tmp_path, base_url="https://calendar.example"
    )
    assert status.ok and status.events == 2
    assert store.last_good("partner") == feed("normal.ics")
    assert status.last_modified == LAST_MODIFIED and status.etag
    saved = json.loads((tmp_path / "fetched" / "partner.json").read_text())
    assert SourceStatus.from_json(saved) == status
    [(_, headers)] = partner.requests
    assert headers["User-Agent"] == f"calendar-service/{__version__} (+https://calendar.example)"
    assert headers["Accept-Encoding"] == "gzip"
    assert "If-None-Match" not in headers


def test_an_unchanged_feed_costs_a_304_and_a_changed_one_replaces_the_copy(
    partner: PartnerServer, tmp_path: Path
) -> None:
    source = partner.source("/feed/normal.ics")
    first, store = fetch_one(source, tmp_path)
    second, _ = fetch_one(source, tmp_path)
    assert partner.requests[1][1]["If-None-Match"] == first.etag
    assert partner.requests[1][1]["If-Modified-Since"] == LAST_MODIFIED
    assert second.ok and (second.sha256, second.events, second.etag) == (
        first.sha256,
        first.events,
        first.etag,
    )
    assert store.last_good("partner") == feed("normal.ics")

    partner.bodies["normal.ics"] = feed("normal-changed.ics")
    third, _ = fetch_one(source, tmp_path)
    assert third.ok and third.events == 1 and third.etag != first.etag
    assert store.last_good("partner") == feed("normal-changed.ics")


def test_validators_of_another_url_are_not_sent(partner: PartnerServer, tmp_path: Path) -> None:
    fetch_one(partner.source("/feed/normal.ics"), tmp_path)
    status, store = fetch_one(partner.source("/feed/normal-changed.ics"), tmp_path)
    assert "If-None-Match" not in partner.requests[1][1]
    assert status.ok and store.last_good("partner") == feed("normal-changed.ics")


def test_a_gzipped_feed_is_kept_decompressed(partner: PartnerServer, tmp_path: Path) -> None:
    status, store = fetch_one(partner.source("/gzipped"), tmp_path)
    assert status.ok and store.last_good("partner") == feed("normal.ics")


# Each way a fetch fails, and the words its status gives for it.
FAILURES = {
    "/feed/removed.ics": "HTTP 404",
    "/slow": "took more than 1 s",
    "/silent": "timed out",
    "/oversized?bytes=6000000": "6,000,000 bytes, more than the 100,000 allowed",
    "/oversized?bytes=6000000&undeclared": "more than the 100,000 bytes allowed",
    "/bomb": "more than 10,000,000 bytes once decompressed",
    "/brotli": "an encoding not asked for: 'br'",
    "/loop/0": "more than 5 redirects",
    "/feed/malformed.ics": "",  # whatever the importer's check says
}


@pytest.mark.parametrize("path", FAILURES)
def test_a_failed_fetch_keeps_the_last_good_copy_byte_for_byte(
    path: str, partner: PartnerServer, tmp_path: Path
) -> None:
    good, store = fetch_one(partner.source("/feed/normal.ics"), tmp_path)
    copy = tmp_path / "fetched" / "partner.ics"
    before = copy.stat()
    limits = FetchLimits(connect_timeout=2, total_timeout=1.0, max_download_bytes=100_000)
    if path == "/bomb":
        limits = FetchLimits()  # the real limits: the bomb is small as sent
    status, _ = fetch_one(partner.source(path), tmp_path, limits)
    assert status.last_error is not None and FAILURES[path] in status.last_error
    assert not status.ok
    assert copy.read_bytes() == feed("normal.ics")
    assert copy.stat().st_ino == before.st_ino  # not even rewritten
    assert (status.last_success, status.events, status.sha256) == (
        good.last_success,
        good.events,
        good.sha256,
    )
    assert store.status("partner") == status
    assert sorted(item.name for item in copy.parent.iterdir()) == [
        ".lock",
        "partner.ics",
        "partner.json",
    ]  # no temporary file left behind


def test_endless_redirects_stop_after_five_hops(partner: PartnerServer, tmp_path: Path) -> None:
    fetch_one(partner.source("/loop/0"), tmp_path)
    assert partner.hits("/loop/0") + sum(partner.hits(f"/loop/{n}") for n in range(1, 9)) == 6


def test_a_gzip_bomb_stops_at_the_limit_without_unfolding(
    partner: PartnerServer, tmp_path: Path
) -> None:
    limit = 1_000_000
    limits = FetchLimits(max_feed_bytes=limit)
    tracemalloc.start()
    try:
        status, _ = fetch_one(partner.source("/bomb"), tmp_path, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status.last_error is not None and "once decompressed" in status.last_error
    # The bomb is BOMB_BYTES (200 MB) of zeros; what was held stayed near the limit.
    assert peak < 8 * limit < BOMB_BYTES


@pytest.mark.parametrize("name", ["malformed.ics", "non-utf8.ics", "duplicate-uids.ics"])
def test_a_doubtful_feed_is_kept_exactly_when_the_importer_takes_it(
    name: str, partner: PartnerServer, tmp_path: Path
) -> None:
    """The fetcher adds no judgement of its own: the importer's check decides."""
    source = partner.source(f"/feed/{name}")
    try:
        expected: int | str = check_feed(feed(name), source)
    except FeedRejected as exc:
        expected = str(exc)
    status, store = fetch_one(source, tmp_path)
    if isinstance(expected, int):
        assert status.ok and status.events == expected
        assert store.last_good("partner") == feed(name)
    else:
        shown = " ".join(expected.split())[:100]  # statuses keep messages short, on one line
        assert status.last_error is not None and status.last_error.startswith(shown)
        assert store.last_good("partner") is None


def test_one_bad_source_never_blocks_the_others(partner: PartnerServer, tmp_path: Path) -> None:
    sources = [
        partner.source("/silent", "silent"),
        partner.source("/feed/malformed.ics", "malformed"),
        partner.source("/feed/normal.ics", "normal"),
        source(id="refused", url="https://10.0.0.1/feed.ics"),
    ]
    store = FetchStore(tmp_path / "fetched")
    statuses = fetch_all(sources, store, loopback_settings(tmp_path), limits=QUICK)
    assert [status.id for status in statuses] == ["silent", "malformed", "normal", "refused"]
    assert [status.ok for status in statuses] == [False, False, True, False]
    assert store.last_good("normal") == feed("normal.ics")


def test_the_default_configuration_refuses_even_the_test_server(
    partner: PartnerServer, tmp_path: Path
) -> None:
    store = FetchStore(tmp_path / "fetched")
    settings = ServiceSettings(data_dir=tmp_path, fetched_dir=tmp_path / "fetched")
    [status] = fetch_all([partner.source("/feed/normal.ics")], store, settings)
    assert status.last_error is not None and "a loopback address: refused" in status.last_error
    assert partner.requests == []


def test_the_same_bytes_again_leave_the_copy_untouched(
    partner: PartnerServer, tmp_path: Path
) -> None:
    """A server without validators sends the whole feed each time: nothing to rebuild."""
    first, _ = fetch_one(partner.source("/gzipped"), tmp_path)
    copy = tmp_path / "fetched" / "partner.ics"
    before = copy.stat()
    second, _ = fetch_one(partner.source("/gzipped"), tmp_path)
    assert "If-None-Match" not in partner.requests[1][1]  # it gave no ETag to send back
    assert second.ok and second.sha256 == first.sha256
    assert second.last_success != first.last_success
    assert (copy.stat().st_ino, copy.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
