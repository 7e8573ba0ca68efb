"""Receiver routes: ``/hooks/<name>`` (and ``/hooks/<name>/<token>`` for URL tokens).

Each receiver gets its own route handler carrying its guard and body limit, so Litestar
does authentication and size checks before the handler runs.

This is the ingest hot path, so per-callback work is kept to what the callback needs: the
receiver's guard is built at start, the store comes from a closure rather than dependency
injection, headers are read from the scope without building Litestar's header multidict, and
answers are ready-made ASGI responses (the 200 is one shared object).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from litestar import Litestar, Request, Response, Router
from litestar.connection import ASGIConnection
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException, InternalServerException
from litestar.handlers import HTTPRouteHandler
from litestar.response.base import ASGIResponse

from callbox.ingest.guards import RECEIVER_OPT, guards_for, receiver_of
from callbox.ingest.pipeline import IngestOutcome, ingest, reject, remember_outcome
from callbox.providers.base import (
    Fetcher,
    SignatureKey,
    SignatureRejected,
    SignedRequest,
    Unreachable,
)
from callbox.receivers import ReadyReceiver
from callbox.store import Store
from callbox.store.faults import (
    NOT_STARTED_RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    FaultKind,
)
from callbox.store.raw_requests import RawRequest
from callbox.web.request_info import (
    client_address_of,
    first_header,
    peer_address_of,
    redact_token,
    storable_headers,
)

if TYPE_CHECKING:
    from litestar.types import ExceptionHandlersMap, HTTPReceiveMessage

logger = logging.getLogger(__name__)

UNAVAILABLE_TEXT = (
    "database unavailable; this request is not confirmed as stored (it may or may not have"
    " been): retry - duplicates are recognised"
)
DRAIN_BYTES = 1024 * 1024
"""Of a body over the receiver's limit, at most this many bytes more are read (and thrown
away) to count what arrived; ``body_size`` of such a request is then a lower bound."""


def _plain(status_code: int, text: str = "", headers: dict[str, str] | None = None) -> ASGIResponse:
    """A plain-text answer, exactly what ``Response(text, media_type="text/plain")`` becomes."""
    return ASGIResponse(
        body=text.encode(), status_code=status_code, media_type="text/plain", headers=headers
    )


_STORED = _plain(200)
"""The answer to a stored callback (and to a probe): an ASGI response is not changed by
being sent, so one serves every callback."""


def _raw_request(
    request: Request[Any, Any, Any], receiver: ReadyReceiver, body: bytes | None, size: int
) -> RawRequest:
    # Proxies repeat the original URL in headers (X-Original-URL, X-Forwarded-Uri...): the
    # URL token is a secret and must not be stored through them, in any encoding.
    token: str | None = request.path_params.get("token")
    headers = storable_headers(request.scope["headers"], receiver.secret_headers, token)
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    if token:
        query_string = redact_token(query_string, token)
    return RawRequest(
        receiver=receiver,
        received_at=datetime.now(UTC),
        peer_address=peer_address_of(request),
        client_address=client_address_of(request),
        method=request.method,
        content_type=first_header(request.scope["headers"], b"content-type"),
        headers=headers,
        body=body,
        body_size=size,
        query_string=query_string,
    )


def callback_handler(
    fetcher: Fetcher, running_store: Callable[[], Store | None]
) -> Callable[..., Awaitable[ASGIResponse]]:
    """The handler of every receiver's callbacks, with the app's :class:`Fetcher` (for the
    signature schemes that fetch keys) and ``running_store`` (the store, ``None`` while the
    database is not up) held by the closure: constants, so they are neither resolved by
    dependency injection on every callback nor copied with the route's opt (Litestar
    deep-copies both, which would leave the copies' clients unclosed)."""

    async def receive_callback(request: Request[Any, Any, Any]) -> ASGIResponse:
        """Take one provider callback: 200 with an empty body only once it is committed."""
        receiver = receiver_of(request.route_handler)
        store = running_store()
        if store is None:
            return _unavailable(NOT_STARTED_RETRY_AFTER_SECONDS)
        verified: tuple[SignedRequest, Sequence[SignatureKey]] | None = None
        try:
            body, size = await _read_body(request, receiver.max_body_bytes)
            if receiver.verifies_signatures:
                if body is None:  # unverifiable, so unauthenticated: nothing is stored
                    return _plain(413, _too_large(receiver))
                signed = signed_request(request, receiver, body)
                try:
                    keys = await receiver.verify(signed, fetcher, lambda: datetime.now(UTC))
                except SignatureRejected as rejection:
                    return _plain(401, rejection.reason)
                except Unreachable as unreachable:  # nothing stored: the provider retries
                    return _cannot_verify(unreachable)
                verified = (signed, keys)
            async with asyncio.timeout(store.limits.callback_timeout):
                if body is None:
                    raw = _raw_request(request, receiver, None, size)
                    outcome = await reject(store, raw, _too_large(receiver), status_code=413)
                else:
                    outcome = await ingest(store, _raw_request(request, receiver, body, size))
        except DatabaseUnavailable as fault:
            return _unavailable(fault.retry_after)
        except TimeoutError:  # the callback's own time limit: the database did not answer
            return _unavailable(DatabaseUnavailable(FaultKind.TIMEOUT).retry_after)
        remember_outcome(request.scope["state"], outcome)  # for the callback log line and metrics
        if verified is not None and outcome.status_code == 200:
            try:
                note = await receiver.after_accepted(*verified, fetcher)
            except Unreachable as unreachable:  # stored; the retry is stored and followed up again
                return _cannot_verify(unreachable, "the request is stored, its follow-up failed")
            if note:
                logger.info("receiver %s: %s", receiver.name, note)
        return _answer(outcome)

    return receive_callback


def _too_large(receiver: ReadyReceiver) -> str:
    return f"body larger than the receiver's limit of {receiver.max_body_bytes} bytes"


def _cannot_verify(unreachable: Unreachable, what: str = "nothing is stored") -> ASGIResponse:
    """503: key material or a follow-up the network failed us on; the provider retries."""
    text = f"{unreachable.reason}; {what}: retry"
    return _plain(503, text, headers={"Retry-After": str(unreachable.retry_after)})


def signed_request(
    request: Request[Any, Any, Any], receiver: ReadyReceiver, body: bytes
) -> SignedRequest:
    """The request as the provider sent it: raw query and body, every header line, and the
    URL as the provider sees it (the receiver's ``public_url``, never the Host header)."""
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    url = ""
    if receiver.public_url is not None:
        token: str | None = request.path_params.get("token")
        url = receiver.public_url + (f"/{token}" if token else "")
        url += f"?{query_string}" if query_string else ""
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return SignedRequest(
        method=request.method,
        url=url,
        headers=headers,
        query_string=query_string,
        body=body,
        content_type=headers.get("content-type", "").split(";", 1)[0].strip().lower(),
    )


def _announces_more_than(request: Request[Any, Any, Any], limit: int) -> bool:
    announced = (first_header(request.scope["headers"], b"content-length") or "").strip()
    if not (announced.isascii() and announced.isdigit()):
        return False  # absent (chunked); the server refuses a malformed one
    # Compared as text first: int() of thousands of digits is refused, and slow.
    return len(announced.lstrip("0")) > len(str(limit)) or int(announced) > limit


async def _read_body(request: Request[Any, Any, Any], limit: int) -> tuple[bytes | None, int]:
    """The body, or ``None`` when it is over ``limit`` (announced or counted), and how many
    bytes arrived: what was read, never the announced length (a client may announce
    anything, ``Content-Length: 9223372036854775808`` included).

    Raises:
        InternalServerException: the client went away before the end of the body.
    """
    too_large = _announces_more_than(request, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = cast("HTTPReceiveMessage", await request.receive())
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        chunk = message.get("body", b"")
        size += len(chunk)
        if not too_large:
            if size > limit:
                too_large = True
                chunks.clear()
            else:
                chunks.append(chunk)
        if not message.get("more_body", False):
            break
        if too_large and size > limit + DRAIN_BYTES:
            break  # enough counted; the server closes the connection after the answer
    return (None, size) if too_large else (b"".join(chunks), size)


def _answer(outcome: IngestOutcome) -> ASGIResponse:
    if outcome.status_code == 200:
        return _STORED
    return _plain(outcome.status_code, outcome.reason or "rejected")


def _unavailable(retry_after: int) -> ASGIResponse:
    """503: the provider retries after ``retry_after`` seconds (by the kind of fault,
    ``callbox.store.faults.RETRY_AFTER_SECONDS``). Whether the request was committed before
    the fault is not known, so the answer does not claim either; a retry of a stored request
    is recognised as a duplicate."""
    return _plain(503, UNAVAILABLE_TEXT, headers={"Retry-After": str(retry_after)})


async def probe_receiver() -> ASGIResponse:
    """Providers probe their callback URL with HEAD before using it."""
    return _STORED


def _as_plain_text(_: Request[Any, Any, Any], error: HTTPException) -> Response[str]:
    return Response(
        str(error.detail),
        status_code=error.status_code,
        media_type="text/plain",
        headers=dict(error.headers or {}),
    )


class ReceiverRouteHandler(HTTPRouteHandler):
    """A receiver's route handler. Its guard (:func:`callbox.ingest.guards.guards_for`)
    holds the receiver and never reads the handler, so the handler is passed as it is:
    Litestar's own ``authorize_connection`` gives each guard a copy of it, which costs more
    per callback than the checks themselves."""

    _exception_handlers: ExceptionHandlersMap | None = None

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]  # (guards here are async)

    def on_registration(self, app: Litestar) -> None:
        super().on_registration(app)
        self._exception_handlers = super().resolve_exception_handlers()

    def resolve_exception_handlers(self) -> ExceptionHandlersMap:
        """The handlers of this route and the layers above it, gathered once it is registered
        (Litestar gathers them again for every request)."""
        if self._exception_handlers is not None:
            return self._exception_handlers
        return super().resolve_exception_handlers()


def receiver_paths(receiver: ReadyReceiver) -> list[str]:
    base = f"/hooks/{receiver.name}"
    return [base, base + "/{token:str}"] if receiver.url_tokens else [base]


def receiver_handlers(
    receiver: ReadyReceiver, receive_callback: Callable[..., Awaitable[ASGIResponse]]
) -> list[HTTPRouteHandler]:
    methods = [HttpMethod(method) for method in sorted(receiver.provider.methods)]
    opt = {RECEIVER_OPT: receiver}
    guards = guards_for(receiver)
    paths = receiver_paths(receiver)
    return [
        ReceiverRouteHandler(
            paths,
            http_method=methods,
            guards=guards,
            opt=opt,
            name=f"callbox-receiver-{receiver.name}",
            request_max_body_size=receiver.max_body_bytes,
        )(receive_callback),
        ReceiverRouteHandler(
            paths,
            http_method=[HttpMethod.HEAD],
            guards=guards,
            opt=opt,
            name=f"callbox-receiver-{receiver.name}-probe",
        )(probe_receiver),
    ]


def receivers_router(
    receivers: list[ReadyReceiver],
    running_store: Callable[[], Store | None],
    fetcher: Fetcher,
) -> Router:
    """Every receiver's routes; ``running_store`` gives the store (``None`` while the
    database is not up); ``fetcher`` makes the HTTPS requests signature schemes ask for
    (``callbox.ingest.fetcher``)."""
    receive_callback = callback_handler(fetcher, running_store)
    handlers = [
        handler
        for receiver in receivers
        for handler in receiver_handlers(receiver, receive_callback)
    ]
    return Router(
        path="/",
        route_handlers=handlers,
        exception_handlers={HTTPException: _as_plain_text},
        include_in_schema=False,
    )
