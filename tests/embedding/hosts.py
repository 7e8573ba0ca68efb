"""Host applications as their authors would write them, with or without Callbox in them.

Each has its own routes (HTTP and a WebSocket, one of them at ``/graphql``), a middleware that
marks its responses, a lifespan that records its start and stop (and whether Callbox's
database was up then), and its own logging configuration, made at start.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi import WebSocket as FastAPIWebSocket
from litestar import Litestar, get, websocket
from litestar import WebSocket as LitestarWebSocket
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from callbox import CallboxMiddleware, CallboxPlugin, Settings
from callbox.db.engine import DB
from tests.embedding.support import PREFIX

HOST_LOGGER = "host"


class HostLog(logging.Handler):
    """Where the host's logging configuration sends its records."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Host:
    """What the host observed: its lifespan events, its log, the paths its middleware saw."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.log = HostLog()
        self.paths: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(self, _: object) -> AsyncIterator[None]:
        logger = logging.getLogger(HOST_LOGGER)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(self.log)
        self.events.append(("host started", DB.pool is not None))
        logger.info("host started")
        try:
            yield
        finally:
            self.events.append(("host stopped", DB.pool is not None))
            logger.info("host stopped")
            logger.removeHandler(self.log)

    def say(self, what: str) -> str:
        logging.getLogger(HOST_LOGGER).info("%s", what)
        return what


class MarkResponses:
    """The host's ASGI middleware: a header on every HTTP response it passes on; it notes
    the path of each request as it sees it coming in."""

    def __init__(self, app: Any, paths: list[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])

        async def marked(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message["headers"], (b"x-host-middleware", b"yes")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send if scope["type"] != "http" else marked)


def starlette_host(host: Host, settings: Settings | None) -> Any:

    async def home(_: Request) -> PlainTextResponse:
        return PlainTextResponse(host.say("home"))

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"item": int(request.path_params["number"])})

    async def lookalike(_: Request) -> PlainTextResponse:
        return PlainTextResponse("the host's own page")

    async def graphql(_: Request) -> PlainTextResponse:
        return PlainTextResponse("the host's own /graphql")

    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    middleware = [Middleware(MarkResponses, paths=host.paths)]
    if settings is not None:
        middleware.insert(0, Middleware(CallboxMiddleware, settings=settings, prefix=PREFIX))
    return Starlette(
        routes=[
            Route("/", home),
            Route("/items/{number:int}", item),
            Route(f"{PREFIX}es", lookalike),
            Route("/graphql", graphql),
            WebSocketRoute("/echo", echo),
        ],
        middleware=middleware,
        lifespan=host.lifespan,
    )


def fastapi_host(host: Host, settings: Settings | None) -> Any:

    app = FastAPI(lifespan=host.lifespan)

    @app.get("/", response_class=PlainTextResponse)
    async def home() -> str:
        return host.say("home")

    @app.get("/items/{number}")
    async def item(number: int) -> dict[str, int]:
        return {"item": number}

    @app.get(f"{PREFIX}es", response_class=PlainTextResponse)
    async def lookalike() -> str:
        return "the host's own page"

    @app.get("/graphql", response_class=PlainTextResponse)
    async def graphql() -> str:
        return "the host's own /graphql"

    @app.websocket("/echo")
    async def echo(socket: FastAPIWebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    app.add_middleware(MarkResponses, paths=host.paths)
    if settings is not None:
        app.add_middleware(CallboxMiddleware, settings=settings, prefix=PREFIX)
    return app


def litestar_host(host: Host, settings: Settings | None) -> Any:

    @get("/", media_type="text/plain")
    async def home() -> str:
        return host.say("home")

    @get("/items/{number:int}")
    async def item(number: FromPath[int]) -> dict[str, int]:
        return {"item": number}

    @get(f"{PREFIX}es", media_type="text/plain")
    async def lookalike() -> str:
        return "the host's own page"

    @get("/graphql", media_type="text/plain")
    async def graphql() -> str:
        return "the host's own /graphql"

    @websocket("/echo")
    async def echo(socket: LitestarWebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    return Litestar(
        route_handlers=[home, item, lookalike, graphql, echo],
        middleware=[DefineMiddleware(MarkResponses, paths=host.paths)],
        lifespan=[host.lifespan],
        plugins=[CallboxPlugin(settings, prefix=PREFIX)] if settings is not None else [],
    )
