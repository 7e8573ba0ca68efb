"""Which address a request really came from, believing X-Forwarded-For only from our proxies."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from callbox.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UNKNOWN_ADDRESS = "unknown"


def _parse(value: str) -> IPAddress | None:
    text = value.strip().strip('"')
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "203.0.113.7:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_PEER_CACHE_MAX_CHARS = 64


def _parse_peer(peer: str) -> IPAddress | None:
    """:func:`_parse` of a socket peer, cached: a provider calls from a few addresses (text
    longer than any address is parsed, not cached)."""
    if len(peer) > _PEER_CACHE_MAX_CHARS:
        return _parse(peer)
    return _parse_cached(peer)


_parse_cached = functools.lru_cache(maxsize=4096)(_parse)


def _is_trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def resolve_client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IPNetwork]
) -> str:
    """The socket peer, or, when the peer is a trusted proxy, the right-most untrusted hop.

    A forged ``X-Forwarded-For`` from an untrusted peer is ignored: the peer is the client.
    """
    peer_address = _parse_peer(peer) if peer else None
    if peer_address is None:
        return UNKNOWN_ADDRESS
    if not forwarded_for or not _is_trusted(peer_address, trusted_proxies):
        return str(peer_address)
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # An unparseable hop cannot be trusted, and nothing left of it either.
            return UNKNOWN_ADDRESS
        if not _is_trusted(address, trusted_proxies):
            return str(address)
    # Every hop is one of our proxies: the left-most is as far as we can see.
    first = _parse(hops[0]) if hops else None
    return str(first or peer_address)


def address_in(address: str, networks: Sequence[IPNetwork]) -> bool:
    parsed = _parse(address)
    return parsed is not None and _is_trusted(parsed, networks)
