"""Facts about a request the ingest path needs: client address, headers fit to store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection

from callbox.settings import IPNetwork
from callbox.web.client_address import resolve_client_address

TRUSTED_PROXIES_STATE = "callbox_trusted_proxies"


def peer_address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    # A unix-socket or unusual server may report anything; the column holds 64 characters.
    return client[0][:64] if client else "unknown"


def client_address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Resolved once per request and cached in the scope's state."""
    cached: str | None = connection.state.get("callbox_client_address")
    if cached is not None:
        return cached
    trusted: tuple[IPNetwork, ...] = connection.app.state.get(TRUSTED_PROXIES_STATE, ())
    address = resolve_client_address(
        peer_address_of(connection), connection.headers.get("x-forwarded-for"), trusted
    )
    connection.state["callbox_client_address"] = address
    return address


def storable_headers(
    raw_headers: Iterable[tuple[bytes, bytes]], secret_names: frozenset[str]
) -> dict[str, str]:
    """Headers minus secrets, repeated names joined with ', ' as HTTP allows."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in secret_names:
            continue
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
