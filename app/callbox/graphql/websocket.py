"""GraphQL over WebSocket: graphql-transport-ws only, the API key checked at connection_init.

The legacy ``graphql-ws`` protocol (subscriptions-transport-ws) is not offered: a client that
asks only for it is accepted and closed at once with 4406 (Subprotocol not acceptable).

- The handshake needs no key (a browser cannot send headers on a WebSocket); the socket
  can do nothing until its ``connection_init`` is accepted.
- ``connection_init`` carries the key: ``{"type": "connection_init", "payload":
  {"authorization": "Bearer <key>"}}``. An unknown key, a missing one, or a key without the
  ``read`` scope closes the socket with 4403 and a reason; a development instance without
  keys takes key-less sockets from loopback only, as over HTTP.
- No ``connection_init`` within ``[subscriptions] connection_init_timeout_seconds``: 4408.
  A ``subscribe`` before the acknowledgement: 4401. More than ``max_per_connection``
  subscriptions at once: that subscription is answered with an error.
- A subscription that falls more than ``[subscriptions] queue_size`` events behind (the
  client reads more slowly than events come) is ended with ``SUBSCRIBER_TOO_SLOW`` and its
  cursor, then the connection is closed with 4008 and a reason: the process holds a bounded
  backlog per subscriber, never a growing one.

Statements run for subscriptions (what events point at, fields resolved per event) go
through :class:`OutageTolerantSql`: while the database is out of reach they wait for it, for
at most ``[subscriptions] outage_grace_seconds``, so a short outage is invisible.

The context lives as long as the connection: it is bound to the key once accepted, and its
DataLoaders do not cache (every event is resolved against rows as they are then).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import suppress
from typing import Any

from litestar import WebSocket
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect, WebSocketException
from strawberry.extensions import SchemaExtension
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.litestar.controller import LitestarWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)
from strawberry.types.graphql import OperationType

from callbox.db.connection import Pool
from callbox.events.hub import EventHub
from callbox.graphql.auth import GraphQLAuth, Principal
from callbox.graphql.context import GraphQLContext, SealerUnavailable, instance_sealer
from callbox.graphql.data import CallboxData, Sql, Visibility
from callbox.graphql.fanout import EncodedData, next_frame
from callbox.graphql.limits import (
    MAX_CONNECTION_INIT_CHARS,
    MAX_WEBSOCKET_MESSAGE_CHARS,
    MESSAGE_TOO_BIG,
)
from callbox.graphql.loaders import Loaders
from callbox.receivers import ReadyReceiver
from callbox.store import Store
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError

FORBIDDEN = 4403
TOO_SLOW = 4008
"""Close code for a connection whose client fell behind (application range: clients such as
graphql-ws reconnect after it)."""
_MAX_REASON = 120  # a close reason is at most 123 bytes

NOT_SIGNED_IN = Principal("connection not initialised", frozenset(), Visibility.only(()))
"""Until connection_init is accepted: no scope, no receiver (and no subscribe is allowed)."""


class OutageTolerantSql(Sql):
    """Statements on the pool that, while the database is out of reach, wait for it and run
    again (:meth:`EventHub.outlast`); past the outage grace, ``LIVE_UPDATES_INTERRUPTED``.
    The read limits still apply to each attempt."""

    def __init__(
        self,
        pool: Pool,
        hub: EventHub,
        timeout: float | None = None,
        acquire_timeout: float | None = None,
    ) -> None:
        super().__init__(pool, timeout, acquire_timeout)
        self._hub = hub

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        return await self._hub.outlast(functools.partial(Sql._run, self, method, query, *args))


class QueryLayerFactory:
    """The query layer bound to a key, for a connection's key once it is known.

    (A plain class: Litestar's signature model inspects the fields of dependencies that are
    structs or dataclasses, and the receivers' types are not for it.)
    """

    def __init__(self, sql: Sql, receivers: list[ReadyReceiver]) -> None:
        self.sql = sql
        self._receivers = receivers

    def for_principal(self, principal: Principal) -> CallboxData:
        return CallboxData(self.sql, principal.visibility, self._receivers)


class SubscriptionContext(GraphQLContext, kw_only=True):
    """The context of a WebSocket connection and of every operation on it."""

    hub: EventHub
    auth: GraphQLAuth
    query_layer: QueryLayerFactory
    connection_params: dict[str, object] | None = None
    """The connection_init payload (Strawberry sets it)."""
    close_reason: str | None = None
    """Set when an operation ended because the client fell behind: the connection is closed
    with :data:`TOO_SLOW` and this reason once that operation has sent its error."""

    @property
    def sql(self) -> Sql:
        """Unconfined: only for what every subscriber shares, cut to each key afterwards."""
        return self.query_layer.sql

    def sign_in(self, principal: Principal) -> None:
        self.principal = principal
        self.data = self.query_layer.for_principal(principal)
        self.loaders = Loaders(self.data, cache=False)


def subscription_context_provider(
    hub: EventHub, auth: GraphQLAuth, receivers: list[ReadyReceiver]
) -> Callable[..., Awaitable[SubscriptionContext]]:
    """The ``context_ws`` dependency: a context not yet bound to any key."""

    async def context_ws(
        socket: WebSocket[Any, Any, Any], store: NamedDependency[Store | None]
    ) -> SubscriptionContext:
        if store is None:
            raise WebSocketException(detail="database unavailable; retry later")
        try:
            sealer = await instance_sealer(store)
        except SealerUnavailable as error:
            raise WebSocketException(detail=str(error)) from None
        query_layer = QueryLayerFactory(
            OutageTolerantSql(
                store.pool, hub, store.limits.read_timeout, store.limits.acquire_timeout
            ),
            receivers,
        )
        data = query_layer.for_principal(NOT_SIGNED_IN)
        return SubscriptionContext(
            websocket=socket,
            principal=NOT_SIGNED_IN,
            data=data,
            loaders=Loaders(data, cache=False),
            sealer=sealer,
            hub=hub,
            auth=auth,
            query_layer=query_layer,
        )

    return context_ws


class BoundedWebSocketAdapter(LitestarWebSocketAdapter):
    """Strawberry's Litestar adapter with message sizes checked before a message is parsed:
    the first (``connection_init``, before any key is known) at most
    :data:`MAX_CONNECTION_INIT_CHARS`, every other at most :data:`MAX_WEBSOCKET_MESSAGE_CHARS`.
    A longer one closes the socket with 1009 (message too big)."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        limit = MAX_CONNECTION_INIT_CHARS
        try:
            while self.ws.connection_state != "disconnect":
                text = await self.ws.receive_text()
                if text == "":  # Litestar's text of a binary message
                    raise NonTextMessageReceived
                if len(text) > limit:
                    what = "connection_init" if limit == MAX_CONNECTION_INIT_CHARS else "message"
                    await self.close(MESSAGE_TOO_BIG, f"{what} longer than {limit} characters")
                    return
                limit = MAX_WEBSOCKET_MESSAGE_CHARS
                try:
                    yield self.view.decode_json(text)
                except json.JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except WebSocketDisconnect:
            pass


class CallboxTransportWSHandler(BaseGraphQLTransportWSHandler[GraphQLContext, None]):
    """Strawberry's graphql-transport-ws handler, with the key checked at connection_init.

    Its context is always a :class:`SubscriptionContext` (the controller's ``context_ws``).
    """

    @property
    def connection_context(self) -> SubscriptionContext:
        assert isinstance(self.context, SubscriptionContext)
        return self.context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out or self.connection_init_received:
            await super().handle_connection_init(message)  # Strawberry closes (4429)
            return
        payload = message.get("payload")
        if payload is None:
            payload = {}  # the protocol allows no payload, or null
        if isinstance(payload, dict):
            try:
                principal = self._principal(payload)
            except NotAuthorizedException as refusal:
                await self._refuse(str(refusal.detail))
                return
            self.connection_context.sign_in(principal)
        await super().handle_connection_init({"type": "connection_init", "payload": payload})

    def _principal(self, payload: dict[str, object]) -> Principal:
        context = self.connection_context
        assert context.websocket is not None
        principal = context.auth.principal_for_connection_init(payload, context.websocket)
        if not principal.can("read"):
            raise NotAuthorizedException("this API key does not have the read scope")
        return principal

    async def run_operation(self, operation: Operation[GraphQLContext, None]) -> None:
        await super().run_operation(operation)
        reason = self.connection_context.close_reason
        if reason is not None:
            with suppress(WebSocketDisconnect, OSError):  # already gone
                await self.websocket.close(code=TOO_SLOW, reason=reason[:_MAX_REASON])

    async def send_message(self, message: Message) -> None:
        """A ``next`` whose payload the subscription's group has encoded already
        (:mod:`callbox.graphql.fanout`) is sent as that text with this operation's id
        around it; any other message as Strawberry sends it."""
        if message["type"] == "next":
            payload = message["payload"]
            data = payload.get("data")
            if isinstance(data, EncodedData) and len(payload) == 1:
                try:
                    await self._socket.send_data(next_frame(message["id"], data))
                except WebSocketDisconnect as error:
                    raise WebSocketDisconnected from error
                return
        await super().send_message(message)

    @property
    def _socket(self) -> WebSocket[Any, Any, Any]:
        adapter = self.websocket
        assert isinstance(adapter, LitestarWebSocketAdapter)
        return adapter.ws

    async def _refuse(self, reason: str) -> None:
        self.connection_init_received = True
        if self.connection_init_timeout_task is not None:
            self.connection_init_timeout_task.cancel()
        await self.websocket.close(code=FORBIDDEN, reason=reason[:_MAX_REASON])


class SubscriptionsOverWebSocketOnly(SchemaExtension):
    """Answer a subscription sent over HTTP with a clear error (Strawberry would run it as a
    query, whose subscription fields resolve to nothing)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION and not isinstance(
            context.context, SubscriptionContext
        ):
            error = GraphQLError(
                "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql",
                extensions={"code": "BAD_REQUEST"},
            )
            context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
