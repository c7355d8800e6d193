"""Which network addresses a partner feed may be fetched from: public ones only."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A host name and port to the addresses it resolves to (tests inject their own).
Resolver = Callable[[str, int], Sequence[str]]

# Cloud instance-metadata services: credentials live there. Most are link-local or private
# anyway; named so that the refusal says what was at stake.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052) reaches
# the IPv4 address it embeds, so it is judged as that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use, never public
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host`, in its order, each once."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def is_ip_address(host: str) -> bool:
    """Whether a URL's host is an address itself rather than a name to resolve."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_problem(text: str, *, allow_loopback: bool = False) -> str | None:
    """Why a feed may not be fetched from this address, or None for a public address.

    Refused: loopback (unless `allow_loopback`, for tests of a local server), private,
    link-local, multicast, reserved, unspecified, shared (carrier NAT), cloud metadata, and
    every IPv6 form that embeds one of those (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
    """
    try:
        address: IPAddress = ipaddress.ip_address(text.split("%", 1)[0])  # no zone index
    except ValueError:
        return f"{text!r} is not an IP address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            problem = address_problem(str(embedded), allow_loopback=allow_loopback)
            if problem is not None:
                return f"an IPv6 form of {embedded}: {problem}"
            if address in _NAT64 or address.ipv4_mapped is not None:
                return None  # the public IPv4 address it stands for
            return "an IPv4-compatible IPv6 address (deprecated, reserved)"
        if address in _LOCAL_NAT64:
            return "a local-use NAT64 address"
    return _kind_problem(address, allow_loopback)


def _kind_problem(address: IPAddress, allow_loopback: bool) -> str | None:
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_link_local, "a link-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((message for refused, message in checks if refused), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
