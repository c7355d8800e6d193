"""HTTPS through the pinned connection: the host name still speaks for the server (SNI, the
certificate check, the Host header) while the connection goes to the address checked; and a
resolver that never answers is given up on."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from partner_feeds_support import source as make_source
from partner_server_support import (
    TLS_HOST,
    Certificates,
    TlsPartner,
    certificates,
    connections,
    feed,
    loopback_settings,
    tls_partner,
)

from calendar_service.fetch_store import FetchStore
from calendar_service.fetching import FetchLimits, fetch_all

__all__ = ["certificates", "tls_partner"]


def fetch_https(
    host: str, server: TlsPartner, tmp_path: Path
) -> tuple[str | None, list[tuple[str, int]]]:
    port = int(server.server.url.rsplit(":", 1)[1])
    source = make_source(id="partner", url=f"https://{host}:{port}/feed/normal.ics")
    with connections() as seen:
        [status] = fetch_all(
            [source],
            FetchStore(tmp_path / "fetched"),
            loopback_settings(tmp_path),
            resolver=lambda name, _port: ["127.0.0.1"],
        )
    return status.last_error, seen


@pytest.fixture
def trusted(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the tests' authority as a system would (httpx reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.authority))


def test_https_to_the_pinned_address_keeps_the_host_name(
    trusted: None, tls_partner: TlsPartner, tmp_path: Path
) -> None:
    error, seen = fetch_https(TLS_HOST, tls_partner, tmp_path)
    assert error is None
    assert [address for address, _ in seen] == ["127.0.0.1"]
    assert tls_partner.names == [TLS_HOST]  # SNI named the host, not the address
    port = tls_partner.server.url.rsplit(":", 1)[1]
    assert tls_partner.server.requests[0][1]["Host"] == f"{TLS_HOST}:{port}"
    assert FetchStore(tmp_path / "fetched").last_good("partner") == feed("normal.ics")


def test_a_certificate_for_another_name_is_refused(
    trusted: None, tls_partner: TlsPartner, tmp_path: Path
) -> None:
    """A name resolving to the server does not make its certificate good for that name."""
    error, _ = fetch_https("impostor.example", tls_partner, tmp_path)
    assert error is not None and "certificate" in error.lower()
    assert tls_partner.server.requests == []


def test_an_untrusted_certificate_is_refused(tls_partner: TlsPartner, tmp_path: Path) -> None:
    error, _ = fetch_https(TLS_HOST, tls_partner, tmp_path)
    assert error is not None and "certificate" in error.lower()
    assert tls_partner.server.requests == []


def test_a_resolver_that_never_answers_is_given_up_on(tmp_path: Path) -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> Sequence[str]:
        release.wait(30)
        return ["93.184.215.14"]

    source = make_source(id="partner", url="https://partner.example/feed.ics")
    try:
        with connections() as seen:
            [status] = fetch_all(
                [source],
                FetchStore(tmp_path / "fetched"),
                loopback_settings(tmp_path),
                resolver=stuck,
                limits=FetchLimits(connect_timeout=0.2),
            )
    finally:
        release.set()
    assert status.last_error == "partner.example: no DNS answer within 0.2 s"
    assert seen == []
