"""Litestar guards, one per auth scheme, run in the order ip_allow, url_token, basic, bearer.

Each is added to a receiver's route only when the receiver lists that scheme, so all listed
schemes must pass. They are ``async`` although they never wait: Litestar runs synchronous
guards in a worker thread, which costs more than the check itself. Failures raise
Litestar's exceptions with a short reason; the receivers' exception handler turns them into
plain-text 401/403 answers.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from callbox.receivers import ReadyReceiver
from callbox.secrets import any_matches
from callbox.web.client_address import address_in
from callbox.web.request_info import client_address_of

RECEIVER_OPT = "callbox_receiver"
REALM = "callbox"
_BASIC_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
_BEARER_CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
_BEARER_INVALID = {"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'}
_URL_TOKEN_CHALLENGE = {"WWW-Authenticate": f'URL-Token realm="{REALM}"'}
"""Every 401 carries a challenge (RFC 9110 15.5.2). The URL token is not an HTTP scheme: its
challenge only says a token in the path is what is missing."""


def receiver_of(handler: BaseRouteHandler) -> ReadyReceiver:
    receiver: ReadyReceiver = handler.opt[RECEIVER_OPT]
    return receiver


async def ip_allow_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse clients outside the receiver's allow-list.

    Raises:
        PermissionDeniedException: the client address is not allowed (403).
    """
    client = client_address_of(connection)
    if not address_in(client, receiver_of(handler).ip_allow):
        raise PermissionDeniedException(f"client address {client} is not allowed")


async def url_token_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Require one of the secret path segments, ``/hooks/<name>/<token>``.

    Raises:
        NotAuthorizedException: the token is missing or wrong (401 with a challenge).
    """
    token = connection.path_params.get("token")
    if not token:
        raise NotAuthorizedException("missing URL token", headers=_URL_TOKEN_CHALLENGE)
    if not any_matches(receiver_of(handler).url_tokens, token):
        raise NotAuthorizedException("wrong URL token", headers=_URL_TOKEN_CHALLENGE)


def _authorization(connection: ASGIConnection[Any, Any, Any, Any], scheme: str) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    given_scheme, _, credentials = header.strip().partition(" ")
    if given_scheme.lower() != scheme.lower():
        return None
    return credentials.strip()


async def basic_auth_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
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
    if not any_matches(receiver_of(handler).basic, decoded):
        raise NotAuthorizedException("wrong basic credentials", headers=_BASIC_CHALLENGE)


async def bearer_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Require ``Authorization: Bearer <token>`` with one of the receiver's tokens.

    Raises:
        NotAuthorizedException: the token is missing or wrong (401 with a challenge).
    """
    token = _authorization(connection, "Bearer")
    if not token:
        raise NotAuthorizedException("missing bearer token", headers=_BEARER_CHALLENGE)
    if not any_matches(receiver_of(handler).bearer, token):
        raise NotAuthorizedException("wrong bearer token", headers=_BEARER_INVALID)


def guards_for(receiver: ReadyReceiver) -> list[Guard]:
    guards: list[Guard] = []
    if receiver.ip_allow:
        guards.append(ip_allow_guard)
    if receiver.url_tokens:
        guards.append(url_token_guard)
    if receiver.basic:
        guards.append(basic_auth_guard)
    if receiver.bearer:
        guards.append(bearer_guard)
    return guards
