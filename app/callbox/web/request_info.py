"""Facts about a request the ingest path needs: client address, headers fit to store."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection

from callbox.settings import IPNetwork
from callbox.web.client_address import resolve_client_address

TRUSTED_PROXIES_STATE = "callbox_trusted_proxies"


def peer_address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    # A unix-socket or unusual server may report anything; the column holds 64 characters.
    return client[0][:64] if client else "unknown"


def forwarded_for_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Every ``X-Forwarded-For`` line, in order, as one list (RFC 9110 5.3: repeated lines
    are one comma-separated list). Reading only one line would let a client choose its
    address with a line of its own beside the one our proxy appends."""
    lines = [
        value.decode("latin-1")
        for name, value in connection.scope["headers"]
        if name.lower() == b"x-forwarded-for"
    ]
    return ", ".join(lines) if lines else None


def first_header(raw_headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case), as Litestar's ``headers.get(name)``
    gives it, without building the headers' multidict."""
    for raw_name, raw_value in raw_headers:
        if raw_name.lower() == name:
            return raw_value.decode("latin-1")
    return None


_CLIENT_ADDRESS_STATE = "callbox_client_address"


def client_address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Resolved once per request and cached in the scope's state."""
    scope = connection.scope
    state: dict[str, Any] | None = scope.get("state")
    cached: str | None = state.get(_CLIENT_ADDRESS_STATE) if state is not None else None
    if cached is not None:
        return cached
    trusted: tuple[IPNetwork, ...] = connection.app.state.get(TRUSTED_PROXIES_STATE, ())
    # No proxy to believe: the peer is the client, and X-Forwarded-For is not even read.
    forwarded_for = forwarded_for_of(connection) if trusted else None
    address = resolve_client_address(peer_address_of(connection), forwarded_for, trusted)
    if state is not None:
        state[_CLIENT_ADDRESS_STATE] = address
    return address


MAX_HEADER_VALUE_CHARS = 4096
"""A stored header value longer than this is cut, and says so: ``<first 4096 characters>
[truncated: <length> characters]``."""
MAX_HEADER_NAME_CHARS = 256
MAX_STORED_HEADERS_CHARS = 16384
"""Names plus values stored per request; headers beyond it are dropped, and their names are
listed under the entry ``[dropped]``."""
_MAX_DROPPED_CHARS = 2048
DROPPED_ENTRY = "[dropped]"


def storable_headers(
    raw_headers: Iterable[tuple[bytes, bytes]],
    secret_names: frozenset[str],
    url_token: str | None = None,
) -> dict[str, str]:
    """Headers minus secrets, repeated names joined with ', ' as HTTP allows, ``url_token``
    redacted (:func:`redact_token`, before any value is cut, so no part of it is kept),
    bounded: see :data:`MAX_HEADER_VALUE_CHARS` and :data:`MAX_STORED_HEADERS_CHARS`."""
    headers: dict[str, str] = {}
    total = 0
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in secret_names:
            continue
        value = raw_value.decode("latin-1")
        if url_token:
            value = redact_token(value, url_token)
        total += len(name) + len(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if total <= MAX_STORED_HEADERS_CHARS and all(
        len(value) <= MAX_HEADER_VALUE_CHARS for value in headers.values()
    ):
        return headers
    return _bounded(headers)


def _bounded(headers: dict[str, str]) -> dict[str, str]:
    """The headers cut to the bounds, in order: long values truncated, then what no longer
    fits dropped, with a marker naming what was dropped."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    total = 0
    for full_name, full_value in headers.items():
        name = full_name[:MAX_HEADER_NAME_CHARS]
        value = full_value
        if len(value) > MAX_HEADER_VALUE_CHARS:
            value = f"{value[:MAX_HEADER_VALUE_CHARS]} [truncated: {len(value)} characters]"
        if total + len(name) + len(value) > MAX_STORED_HEADERS_CHARS:
            dropped.append(name)
            continue
        total += len(name) + len(value)
        kept[name] = value
    if dropped:
        listed = f"{len(dropped)} headers: {', '.join(dropped)}"
        if len(listed) > _MAX_DROPPED_CHARS:
            listed = listed[:_MAX_DROPPED_CHARS] + " ..."
        kept[DROPPED_ENTRY] = listed
    return kept


REDACTED = "<redacted>"


def _hex_digit(digit: str) -> str:
    return f"[{digit.upper()}{digit.lower()}]" if digit.isalpha() else digit


@lru_cache(maxsize=64)
def _token_pattern(token: str) -> re.Pattern[str]:
    """The token as it may appear in a URL: any character as itself or percent-encoded (hex
    digits of either case), the ``%`` itself encoded any number of times (``%2565``)."""
    parts = []
    for char in token:
        encoded = char.encode("utf-8")
        byte_forms = [
            f"(?:{re.escape(chr(byte))}|%(?:25)*{_hex_digit(f'{byte:02x}'[0])}"
            f"{_hex_digit(f'{byte:02x}'[1])})"
            for byte in encoded
        ]
        as_bytes = "".join(byte_forms)
        parts.append(as_bytes if len(encoded) == 1 else f"(?:{re.escape(char)}|{as_bytes})")
    return re.compile("".join(parts))


def redact_token(text: str, token: str) -> str:
    """``text`` with every encoding of ``token`` replaced by ``<redacted>`` (the URL token
    is a secret; proxies repeat the original URL in headers, encoded as the client sent it)."""
    if "%" not in text and token not in text:
        return text
    return _token_pattern(token).sub(REDACTED, text)
