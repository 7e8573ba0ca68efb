"""The /graphql endpoint: Strawberry's Litestar controller with Callbox's auth and limits.

POST and GET answer queries (mutations: POST only). GraphiQL is served on GET in
development instances (``[graphql] graphiql`` overrides), from the package's own files
(graphql/ide.py). The guard authenticates before
Strawberry sees the request; errors outside GraphQL execution (401, 413) are answered in
the GraphQL error shape so clients need one error path.

The handlers are redeclared here rather than taken from ``make_graphql_controller``: its
dependencies are inferred from parameter names, which Litestar deprecates (and the tests
run with warnings as errors); here every dependency is marked ``NamedDependency``.

Subscriptions are served on the same path over WebSocket, with the graphql-transport-ws
protocol only; the key comes in ``connection_init`` (see graphql/websocket.py).

An operation that failed as a whole because the database cannot be reached is answered 503
with ``Retry-After`` (its errors say ``DATABASE_UNAVAILABLE``); a partial result stays 200,
as GraphQL over HTTP has it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
from typing import Any, ClassVar

from litestar import MediaType, Request, Response, WebSocket, get, post, websocket
from litestar.background_tasks import BackgroundTasks
from litestar.di import NamedDependency, Provide
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    ServiceUnavailableException,
    ValidationException,
)
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ControllerRouterHandler, Dependencies, ExceptionHandlersMap, Guard
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.litestar.controller import GraphQLController, GraphQLResource
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from callbox.events.hub import EventHub
from callbox.graphql.auth import PRINCIPAL_STATE, ApiKeyring, GraphQLAuth, Principal
from callbox.graphql.context import GraphQLContext, SealerUnavailable, instance_sealer
from callbox.graphql.data import CallboxData, ConnectionQueue, RequestSql
from callbox.graphql.encoding import encode
from callbox.graphql.errors import unavailable_retry_after
from callbox.graphql.ide import GraphiQLPage
from callbox.graphql.limits import MAX_BODY_BYTES, holds_nul
from callbox.graphql.loaders import Loaders
from callbox.graphql.planner import (
    PlannedDocuments,
    plan_operation,
    planned_answer,
    planner_on,
)
from callbox.graphql.schema import CallboxSchema, build_schema
from callbox.graphql.websocket import (
    BoundedWebSocketAdapter,
    CallboxTransportWSHandler,
    SubscriptionContext,
    subscription_context_provider,
)
from callbox.receivers import ReadyReceiver
from callbox.settings import Settings
from callbox.store import Store
from callbox.store.faults import NOT_STARTED_RETRY_AFTER_SECONDS

GRAPHQL_PATH = "/graphql"

_CODES = {
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    413: "REQUEST_TOO_LARGE",
    503: "DATABASE_UNAVAILABLE",  # (the only 503 here: the database connection is not up)
}
_RETRY_AFTER_STATE = "callbox_graphql_retry_after"
"""Per operation of the request: its ``Retry-After`` if the database failed it as a whole."""


def _error_response(_: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    code = _CODES.get(error.status_code, "BAD_REQUEST" if error.status_code < 500 else "ERROR")
    return Response(
        {"errors": [{"message": str(error.detail), "extensions": {"code": code}}]},
        status_code=error.status_code,
        headers=dict(error.headers or {}),
    )


def ide_enabled(settings: Settings) -> bool:
    return settings.on_in_development(settings.graphql.graphiql)


def _sub_response() -> Response[Any]:
    """Where resolvers could set headers or cookies (Strawberry merges it into the answer)."""
    return Response({}, background=BackgroundTasks([]))


def _unavailable_as_503(
    request: Request[Any, Any, Any], response: Response[GraphQLResource | str]
) -> Response[GraphQLResource | str]:
    """503 with ``Retry-After`` when every operation of the request (one, or a batch) failed
    as a whole because the database cannot be reached."""
    outcomes: list[int | None] = request.state.get(_RETRY_AFTER_STATE, [])
    waits = [wait for wait in outcomes if wait is not None]
    if outcomes and len(waits) == len(outcomes) and response.status_code == HTTP_200_OK:
        response.status_code = HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(max(waits))
    return response


class CallboxGraphQLController(GraphQLController[GraphQLContext, None]):
    """Strawberry's view with explicit dependencies; configured by :func:`graphql_controller`."""

    path = GRAPHQL_PATH
    include_in_schema = False
    request_max_body_size = MAX_BODY_BYTES
    exception_handlers: ClassVar[ExceptionHandlersMap] = {HTTPException: _error_response}  # type: ignore[misc]
    # graphql-transport-ws only: the legacy graphql-ws protocol is refused (4406).
    protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
    graphql_transport_ws_handler_class = CallboxTransportWSHandler
    websocket_adapter_class = BoundedWebSocketAdapter  # message sizes checked before parsing
    graphiql: ClassVar[GraphiQLPage | None] = None

    def encode_json(self, data: object) -> str:
        """Every answer's JSON, over HTTP and WebSocket (text: graphql-transport-ws frames
        are text frames)."""
        return encode(data)

    async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[Any]:
        assert self.graphiql is not None  # (only called with graphql_ide set)
        return self.graphiql.render(request)

    @get(raises=[ValidationException, NotFoundException])
    async def handle_http_get(
        self, request: Request[Any, Any, Any], context: NamedDependency[GraphQLContext]
    ) -> Response[GraphQLResource | str]:
        return await self._execute(request, context)

    @post(status_code=HTTP_200_OK)
    async def handle_http_post(
        self, request: Request[Any, Any, Any], context: NamedDependency[GraphQLContext]
    ) -> Response[GraphQLResource | str]:
        planned = await self._planned_shortcut(request, context)
        if planned is not None:
            return planned
        return await self._execute(request, context)

    async def _execute(
        self, request: Request[Any, Any, Any], context: GraphQLContext
    ) -> Response[GraphQLResource | str]:
        """Strawberry's way: the root value is ``None``; resolvers may set headers or
        cookies on the context's response, merged into the answer."""
        assert context.response is not None  # (the context provider makes one)
        self.temporal_response = context.response
        answer = await self.execute_request(request=request, context=context, root_value=None)
        return _unavailable_as_503(request, answer)

    async def _planned_shortcut(
        self, request: Request[Any, Any, Any], context: GraphQLContext
    ) -> Response[Any] | None:
        """The answer of the read planner to a query document it has answered before
        (graphql/planner/extension.py), without Strawberry's request processing: by the
        plan it made for the same body and visibility, else planned anew. ``None`` for
        anything else: a batch, another content type, an unknown document, variables the
        planner does not take (the full way answers those, errors included)."""
        schema = self.schema
        if not isinstance(schema, CallboxSchema) or schema.planned_documents is None:
            return None
        documents = schema.planned_documents
        if not planner_on() or request.content_type[0] != "application/json":
            return None
        accept = request.headers.get("accept", "")
        if "text/event-stream" in accept or "multipart/" in accept:
            return None
        body = await request.body()
        visibility = context.principal.visibility
        kept = documents.plan_for(body, visibility)
        if kept is not None:
            answer = await planned_answer(context, lambda: kept)
            data = answer[0] if answer is not None else None
        else:
            data = await _plan_anew(schema, documents, body, context)
        if data is None:
            return None
        documents.shortcuts += 1
        return Response(
            self.encode_json({"data": data}).encode(),
            status_code=HTTP_200_OK,
            media_type=MediaType.JSON,
        )

    async def process_result(
        self, request: Request[Any, Any, Any], result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        request.state.setdefault(_RETRY_AFTER_STATE, []).append(unavailable_retry_after(result))
        return await super().process_result(request, result)

    @websocket()
    async def websocket_endpoint(
        self, socket: WebSocket[Any, Any, Any], context_ws: NamedDependency[SubscriptionContext]
    ) -> None:
        await self.run(request=socket, context=context_ws, root_value=None)


async def _plan_anew(
    schema: CallboxSchema, documents: PlannedDocuments, body: bytes, context: GraphQLContext
) -> dict[str, Any] | None:
    """The planner's answer to a body it has no plan for, when it knows the document."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("extensions"):
        return None
    query, variables = payload.get("query"), payload.get("variables")
    operation_name = payload.get("operationName")
    if (
        not isinstance(query, str)
        or not isinstance(variables, dict | None)
        or not isinstance(operation_name, str | None)
    ):
        return None
    document = documents.get(query, operation_name)
    if document is None or holds_nul(variables):
        return None
    answer = await planned_answer(
        context, lambda: plan_operation(schema, document, variables, operation_name, context)
    )
    if answer is None:
        return None
    data, plan = answer
    documents.keep_plan(body, context.principal.visibility, plan)
    documents.replans += 1
    return data


def _context_provider(
    receivers: list[ReadyReceiver], queue: ConnectionQueue
) -> Callable[..., AsyncGenerator[GraphQLContext, None]]:
    """The ``context`` dependency: the query layer bound to the guard's principal, on one
    pooled connection for the whole request, handed back once the handler has answered
    (or failed, or was cancelled: Litestar ends the generator either way)."""

    async def context(
        request: Request[Any, Any, Any], store: NamedDependency[Store | None]
    ) -> AsyncGenerator[GraphQLContext, None]:
        principal: Principal = request.state[PRINCIPAL_STATE]
        if store is None:
            raise ServiceUnavailableException(
                "the database is unavailable (Callbox is starting or stopping); retry shortly",
                headers={"Retry-After": str(NOT_STARTED_RETRY_AFTER_SECONDS)},
            )
        try:
            sealer = await instance_sealer(store)
        except SealerUnavailable as error:
            raise ServiceUnavailableException(
                str(error), headers={"Retry-After": str(NOT_STARTED_RETRY_AFTER_SECONDS)}
            ) from None
        sql = RequestSql(
            store.pool, store.limits.read_timeout, store.limits.acquire_timeout, queue=queue
        )
        data = CallboxData(sql, principal.visibility, receivers)
        try:
            yield GraphQLContext(
                request=request,
                response=_sub_response(),
                principal=principal,
                data=data,
                loaders=Loaders(data),
                sealer=sealer,
            )
        finally:
            await sql.close()

    return context


def graphql_routes(
    settings: Settings,
    receivers: list[ReadyReceiver],
    events: EventHub,
    running_store: Callable[[], Store | None],
) -> list[ControllerRouterHandler]:
    """The controller serving ``/graphql`` for these settings and receivers (the store,
    ``None`` while the database is down: 503, is injected as the ``store`` dependency), and
    the route of GraphiQL's files when it is on.

    Raises:
        ConfigError: an API key's secret cannot be resolved (``env:`` variable unset…).
    """
    ide = ide_enabled(settings)
    graphiql = GraphiQLPage() if ide else None
    keyring = ApiKeyring.from_settings(settings)
    auth = GraphQLAuth(keyring, development=settings.development, ide=ide)
    guards: list[Guard] = [auth.guard]
    subscriptions = settings.subscriptions
    dependencies: Dependencies = {
        "store": Provide(running_store, sync_to_thread=False),
        "context": Provide(
            _context_provider(receivers, ConnectionQueue(settings.database.pool_max_size))
        ),
        "context_ws": Provide(subscription_context_provider(events, auth, receivers)),
    }
    controller = type(
        "CallboxGraphQLController",
        (CallboxGraphQLController,),
        {
            "schema": build_schema(
                introspection=settings.graphql.introspection, planner=settings.graphql.planner
            ),
            "graphql_ide": "graphiql" if ide else None,
            "graphiql": graphiql,
            "allow_queries_via_get": True,
            "guards": guards,
            "dependencies": dependencies,
            "connection_init_wait_timeout": timedelta(
                seconds=subscriptions.connection_init_timeout_seconds
            ),
            "max_subscriptions_per_connection": subscriptions.max_per_connection,
            "allowed_origins": normalize_allowed_origins(subscriptions.allowed_origins),
        },
    )
    return [controller, *(graphiql.routes(GRAPHQL_PATH) if graphiql else [])]
