"""API keys for the GraphQL endpoint: ``Authorization: Bearer <key>``, checked by a guard.

A WebSocket (subscriptions) gives its key in its ``connection_init`` message instead, checked
by :meth:`GraphQLAuth.principal_for_connection_init` with the same rules. Keys come from
``[[graphql.api_keys]]``; each is kept only as a SHA-256 digest and compared
in constant time against every configured key. A key has scopes (``read`` for queries,
``write`` for mutations) and may be confined to some receivers. A development instance with
no keys configured lets key-less requests in from loopback only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from callbox.graphql.data.visibility import Visibility
from callbox.secrets import SecretDigest, SecretError, resolve_secret
from callbox.settings import ApiKey, ConfigError, Settings
from callbox.web.request_info import client_address_of

PRINCIPAL_STATE = "callbox_graphql_principal"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="callbox"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the key's name, its scopes and what it may see."""

    name: str
    scopes: frozenset[str]
    visibility: Visibility

    def can(self, scope: str) -> bool:
        return scope in self.scopes


DEVELOPMENT = Principal(
    "development (no key, loopback)", frozenset({"read", "write"}), Visibility()
)
IDE_PAGE = Principal("GraphiQL page", frozenset(), Visibility.only(()))
"""Loading the IDE's HTML needs no key (the browser cannot send one); it can read nothing."""


@dataclass(frozen=True, slots=True)
class _Key:
    settings: ApiKey
    digest: SecretDigest

    def principal(self) -> Principal:
        receivers = self.settings.receivers
        return Principal(
            name=self.settings.name,
            scopes=frozenset(self.settings.scopes),
            visibility=Visibility() if receivers is None else Visibility.only(receivers),
        )


class ApiKeyring:
    def __init__(self, keys: Sequence[_Key]) -> None:
        self._keys = tuple(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeyring:
        """Resolve every key now (``env:`` keys are read at start); ConfigError names it."""
        keys = []
        for index, key in enumerate(settings.graphql.api_keys):
            try:
                keys.append(_Key(key, resolve_secret(key.key)))
            except SecretError as error:
                raise ConfigError(f"graphql.api_keys[{index}].key: {error}") from None
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def identify(self, presented: str) -> Principal | None:
        """The key matching ``presented``; every key is compared, whichever matches."""
        found: _Key | None = None
        for key in self._keys:
            if key.digest.matches(presented) and found is None:
                found = key
        return found.principal() if found is not None else None


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class GraphQLAuth:
    """The guard of /graphql: puts a :class:`Principal` in the request state, or answers 401."""

    def __init__(self, keyring: ApiKeyring, *, development: bool, ide: bool) -> None:
        self.keyring = keyring
        self.open_on_loopback = development and not keyring
        self.ide = ide

    def principal_for(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
        header = connection.headers.get("authorization")
        if header:
            return self._bearer(
                header, malformed="use Authorization: Bearer <API key>", headers=_CHALLENGE
            )
        if self.open_on_loopback and _is_loopback(client_address_of(connection)):
            return DEVELOPMENT
        if self.ide and self._is_ide_page(connection):
            return IDE_PAGE
        detail = "an API key is required: Authorization: Bearer <API key>"
        if self.open_on_loopback:
            detail += " (a development instance without keys is open on loopback only)"
        raise NotAuthorizedException(detail, headers=_CHALLENGE)

    def _bearer(
        self, value: str, *, malformed: str, headers: dict[str, str] | None = None
    ) -> Principal:
        """The key in ``Bearer <key>`` (a header, or a connection_init payload)."""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(malformed, headers=headers)
        principal = self.keyring.identify(token.strip())
        if principal is None:
            raise NotAuthorizedException("unknown API key", headers=headers)
        return principal

    @staticmethod
    def _is_ide_page(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        accept = connection.headers.get("accept", "")
        return (
            connection.scope.get("method") == "GET"
            and "query" not in connection.query_params
            and ("text/html" in accept or "*/*" in accept)
        )

    def principal_for_connection_init(
        self, payload: dict[str, object], connection: ASGIConnection[Any, Any, Any, Any]
    ) -> Principal:
        """A WebSocket's key, from its ``connection_init`` payload (``{"authorization":
        "Bearer <key>"}``): the same rules as the header's, loopback rule included."""
        value = payload.get("authorization", payload.get("Authorization"))
        if value is not None:
            malformed = 'authorization: use "Bearer <API key>"'
            if not isinstance(value, str):
                raise NotAuthorizedException(malformed)
            return self._bearer(value, malformed=malformed)
        if self.open_on_loopback and _is_loopback(client_address_of(connection)):
            return DEVELOPMENT
        detail = 'an API key is required: {"authorization": "Bearer <API key>"}'
        if self.open_on_loopback:
            detail = "an API key is required (development instances: loopback only)"
        raise NotAuthorizedException(detail)

    async def guard(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        """``async`` although it never waits: Litestar runs a synchronous guard in a worker
        thread, which costs more than the check itself (every GraphQL request)."""
        if connection.scope["type"] == ScopeType.WEBSOCKET:
            return  # a WebSocket gives its key in connection_init (graphql/websocket.py)
        connection.state[PRINCIPAL_STATE] = self.principal_for(connection)
