"""What is never fetched: schemes, and addresses that are not public, however they are reached.

Host names are answered by an injected resolver and every connection the process attempts
is recorded (an audit hook): a refusal must happen before any traffic, so none leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from partner_feeds_support import SOURCE_FIELDS, source
from partner_server_support import PartnerServer, connections, feed, loopback_settings, partner

from calendar_service.addresses import address_problem
from calendar_service.fetch_store import FetchStore, SourceStatus
from calendar_service.fetching import fetch_all
from calendar_service.partner_sources import SourceConfig
from calendar_service.settings import ServiceSettings

__all__ = ["partner"]

# Each address a feed must never come from, and the words of its refusal.
REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "169.254.169.254": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
    "100.100.100.200": "cloud metadata",
    "100.64.0.1": "not a public address",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "private",  # reserved for future use; Python counts it private too
    "::ffff:127.0.0.1": "IPv6 form of 127.0.0.1: a loopback",
    "::ffff:10.0.0.1": "IPv6 form of 10.0.0.1: a private",
    "::ffff:169.254.169.254": "IPv6 form of 169.254.169.254: a cloud metadata",
    "::127.0.0.1": "IPv6 form of 127.0.0.1: a loopback",  # IPv4-compatible
    "::8.8.8.8": "IPv4-compatible",
    "64:ff9b::a9fe:a9fe": "IPv6 form of 169.254.169.254",  # NAT64
    "64:ff9b:1::1": "local-use NAT64",
    "2002:a00:1::1": "IPv6 form of 10.0.0.1",  # 6to4
    "2001::1": "private",  # Teredo
}
PUBLIC = ["93.184.215.14", "2606:4700::6810:84e5", "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"]


class Resolver:
    """Answers every name with `answers`, one list per call (the last repeats); counts calls."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


def default_settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(data_dir=tmp_path / "data", fetched_dir=tmp_path / "fetched")


def fetch(
    url: str, tmp_path: Path, resolver: Resolver, settings: ServiceSettings | None = None
) -> tuple[SourceStatus, list[tuple[str, int]]]:
    with connections() as seen:
        [status] = fetch_all(
            [source(id="partner", url=url, allow_http=True)],
            FetchStore(tmp_path / "fetched"),
            settings or default_settings(tmp_path),
            resolver=resolver,
        )
    return status, seen


@pytest.mark.parametrize(("address", "words"), REFUSED.items())
def test_an_address_that_is_not_public_is_refused(address: str, words: str) -> None:
    problem = address_problem(address)
    assert problem is not None and words in problem


@pytest.mark.parametrize("address", PUBLIC)
def test_a_public_address_is_allowed(address: str) -> None:
    assert address_problem(address) is None


def test_only_loopback_is_let_through_for_tests() -> None:
    assert address_problem("127.0.0.1", allow_loopback=True) is None
    assert address_problem("::ffff:127.0.0.1", allow_loopback=True) is None
    for address in ("10.0.0.1", "169.254.169.254", "0.0.0.0", "::ffff:10.0.0.1"):
        assert address_problem(address, allow_loopback=True) is not None


@pytest.mark.parametrize(("address", "words"), REFUSED.items())
def test_a_host_resolving_to_such_an_address_is_never_connected_to(
    address: str, words: str, tmp_path: Path
) -> None:
    status, seen = fetch("https://partner.example/feed.ics", tmp_path, Resolver([address]))
    assert status.last_error is not None and words in status.last_error
    assert f"partner.example resolves to {address}" in status.last_error
    assert seen == []


@pytest.mark.parametrize("address", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"])
def test_an_address_written_in_the_url_is_checked_too(address: str, tmp_path: Path) -> None:
    resolver = Resolver(["93.184.215.14"])  # never asked: the URL names the address itself
    status, seen = fetch(f"https://{address}/feed.ics", tmp_path, resolver)
    assert status.last_error is not None and "refused" in status.last_error
    assert seen == []


def test_one_private_answer_among_public_ones_refuses_the_host(tmp_path: Path) -> None:
    """A DNS answer that mixes a public address with a private one is refused whole."""
    status, seen = fetch(
        "https://partner.example/feed.ics", tmp_path, Resolver(["93.184.215.14", "10.0.0.7"])
    )
    assert (
        status.last_error is not None
        and "10.0.0.7, which is a private address" in status.last_error
    )
    assert seen == []


@pytest.mark.parametrize(
    "url",
    ["http://partner.example/feed.ics", "ftp://partner.example/feed.ics", "file:///etc/passwd"],
)
def test_only_https_unless_the_source_allows_http(url: str, tmp_path: Path) -> None:
    """The sources file refuses these already; the fetcher checks again, whatever it is given."""
    with pytest.raises(ValueError, match="url"):
        source(url=url)
    unchecked = SourceConfig.model_construct(**{**SOURCE_FIELDS, "id": "partner", "url": url})
    with connections() as seen:
        [status] = fetch_all(
            [unchecked],
            FetchStore(tmp_path / "fetched"),
            default_settings(tmp_path),
            resolver=Resolver(["93.184.215.14"]),
        )
    assert status.last_error is not None and "is refused; only https" in status.last_error
    assert seen == []


def test_credentials_in_a_url_are_refused(tmp_path: Path) -> None:
    status, seen = fetch("https://user:secret@partner.example/", tmp_path, Resolver(["8.8.8.8"]))
    assert status.last_error is not None and "credentials" in status.last_error
    assert "secret" not in status.last_error and seen == []


# Redirect targets the partner server may send: each hop is checked like the first. The
# server itself is on loopback, so loopback is allowed here and only here (see below).
REDIRECTS = {
    "http://10.0.0.1/feed.ics": "10.0.0.1 is a private address",
    "http://169.254.169.254/latest/meta-data/": "a cloud metadata address",
    "http://[fd00:ec2::254]/latest/meta-data/": "a cloud metadata address",
    "http://[fe80::1]/": "a link-local address",
    "http://[::ffff:10.0.0.1]/": "an IPv6 form of 10.0.0.1",
    "http://[::ffff:169.254.169.254]/": "an IPv6 form of 169.254.169.254",
    "http://internal.partner.example/": "192.168.0.10, which is a private address",
    "file:///etc/passwd": "the scheme 'file' is refused",
}


@pytest.mark.parametrize(("target", "words"), REDIRECTS.items())
def test_a_redirect_to_a_refused_address_is_not_followed(
    target: str, words: str, partner: PartnerServer, tmp_path: Path
) -> None:
    resolver = Resolver(["192.168.0.10"])  # for internal.partner.example
    url = f"{partner.url}/redirect?to={quote(target, safe='')}"
    status, seen = fetch(url, tmp_path, resolver, loopback_settings(tmp_path))
    assert status.last_error is not None and words in status.last_error
    port = int(partner.url.rsplit(":", 1)[1])
    assert seen == [("127.0.0.1", port)]  # the partner server, and nothing after it


def test_a_host_that_rebinds_is_connected_to_at_the_address_checked(
    partner: PartnerServer, tmp_path: Path
) -> None:
    """DNS rebinding: the name answers an allowed address first, then a private one.

    The connection goes to the address that was checked, never to a second answer; the
    Host header still names the host. A later hop asks again, and is refused.
    """
    port = int(partner.url.rsplit(":", 1)[1])
    url = f"http://partner.example:{port}/feed/normal.ics"
    resolver = Resolver(["127.0.0.1"], ["10.0.0.9"])
    status, seen = fetch(url, tmp_path, resolver, loopback_settings(tmp_path))
    assert status.ok and resolver.asked == ["partner.example"]
    assert seen == [("127.0.0.1", port)]
    assert partner.requests[-1][1]["Host"] == f"partner.example:{port}"
    assert FetchStore(tmp_path / "fetched").last_good("partner") == feed("normal.ics")

    resolver = Resolver(["127.0.0.1"], ["10.0.0.9"])
    status, seen = fetch(
        f"http://partner.example:{port}/redirect?to={quote(url, safe='')}",
        tmp_path,
        resolver,
        loopback_settings(tmp_path),
    )
    assert (
        status.last_error is not None
        and "10.0.0.9, which is a private address" in status.last_error
    )
    assert resolver.asked == ["partner.example", "partner.example"]
    assert seen == [("127.0.0.1", port)]
