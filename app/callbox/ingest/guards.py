"""One Litestar guard per receiver: its auth schemes checked in the order ip_allow,
url_token, basic, bearer.

The guard is built once per receiver at start (:func:`guards_for`) with the checks for the
schemes the receiver lists, so all listed schemes must pass and nothing is looked up per
callback. It is ``async`` although it never waits: Litestar runs synchronous guards in a
worker thread, which costs more than the check itself. Failures raise Litestar's exceptions
with a short reason; the receivers' exception handler turns them into plain-text 401/403
answers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from callbox.receivers import ReadyReceiver
from callbox.secrets import any_matches
from callbox.web.client_address import address_in
from callbox.web.request_info import client_address_of, first_header

RECEIVER_OPT = "callbox_receiver"
REALM = "callbox"
_BASIC_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
_BEARER_CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
_BEARER_INVALID = {"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'}
_URL_TOKEN_CHALLENGE = {"WWW-Authenticate": f'URL-Token realm="{REALM}"'}
"""Every 401 carries a challenge (RFC 9110 15.5.2). The URL token is not an HTTP scheme: its
challenge only says a token in the path is what is missing."""

Connection = ASGIConnection[Any, Any, Any, Any]
Check = Callable[[Connection, ReadyReceiver], None]


def receiver_of(handler: BaseRouteHandler) -> ReadyReceiver:
    receiver: ReadyReceiver = handler.opt[RECEIVER_OPT]
    return receiver


def check_ip_allow(connection: Connection, receiver: ReadyReceiver) -> None:
    """Refuse clients outside the receiver's allow-list.

    Raises:
        PermissionDeniedException: the client address is not allowed (403).
    """
    client = client_address_of(connection)
    if not address_in(client, receiver.ip_allow):
        raise PermissionDeniedException(f"client address {client} is not allowed")


def check_url_token(connection: Connection, receiver: ReadyReceiver) -> None:
    """Require one of the secret path segments, ``/hooks/<name>/<token>``.

    Raises:
        NotAuthorizedException: the token is missing or wrong (401 with a challenge).
    """
    token = connection.path_params.get("token")
    if not token:
        raise NotAuthorizedException("missing URL token", headers=_URL_TOKEN_CHALLENGE)
    if not any_matches(receiver.url_tokens, token):
        raise NotAuthorizedException("wrong URL token", headers=_URL_TOKEN_CHALLENGE)


def _authorization(connection: Connection, scheme: str) -> str | None:
    header = first_header(connection.scope["headers"], b"authorization")
    if not header:
        return None
    given_scheme, _, credentials = header.strip().partition(" ")
    if given_scheme.lower() != scheme.lower():
        return None
    return credentials.strip()


def check_basic(connection: Connection, receiver: ReadyReceiver) -> None:
    """Require HTTP basic credentials ``user:password`` from the receiver's list.

    Raises:
        NotAuthorizedException: credentials missing, malformed or wrong (401 with a challenge).
    """
    credentials = _authorization(connection, "Basic")
    if credentials is None:
        raise NotAuthorizedException("missing basic credentials", headers=_BASIC_CHALLENGE)
    try:
        decoded = base64.b64decode(credentials, validate=True)
    except (binascii.Error, ValueError):
        raise NotAuthorizedException(
            "malformed basic credentials", headers=_BASIC_CHALLENGE
        ) from None
    if not any_matches(receiver.basic, decoded):
        raise NotAuthorizedException("wrong basic credentials", headers=_BASIC_CHALLENGE)


def check_bearer(connection: Connection, receiver: ReadyReceiver) -> None:
    """Require ``Authorization: Bearer <token>`` with one of the receiver's tokens.

    Raises:
        NotAuthorizedException: the token is missing or wrong (401 with a challenge).
    """
    token = _authorization(connection, "Bearer")
    if not token:
        raise NotAuthorizedException("missing bearer token", headers=_BEARER_CHALLENGE)
    if not any_matches(receiver.bearer, token):
        raise NotAuthorizedException("wrong bearer token", headers=_BEARER_INVALID)


def checks_for(receiver: ReadyReceiver) -> tuple[Check, ...]:
    """The checks of the schemes ``receiver`` lists, in the order they run."""
    checks: list[Check] = []
    if receiver.ip_allow:
        checks.append(check_ip_allow)
    if receiver.url_tokens:
        checks.append(check_url_token)
    if receiver.basic:
        checks.append(check_basic)
    if receiver.bearer:
        checks.append(check_bearer)
    return tuple(checks)


def guards_for(receiver: ReadyReceiver) -> list[Guard]:
    """The receiver's guard (none for a receiver without auth): its checks, in order, with
    the receiver held by the guard, so the route handler is never consulted."""
    checks = checks_for(receiver)
    if not checks:
        return []

    async def receiver_guard(connection: Connection, _: BaseRouteHandler) -> None:
        for check in checks:
            check(connection, receiver)

    return [receiver_guard]
