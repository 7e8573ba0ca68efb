"""Embedding test helpers: any ASGI app served by uvicorn in this event loop, and what a host
app is expected to keep (its logging configuration) whether Callbox is in it or not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import uvicorn

from callbox.settings import GraphQL, Settings
from tests.graphql.support import api_keys, receivers
from tests.subscriptions.support import Live
from tests.support import free_port, settings_for

PREFIX = "/callbox"


def embedded_settings(database_url: str) -> Settings:
    """The GraphQL test receivers and keys on the session database."""
    return settings_for(database_url, receivers(), graphql=GraphQL(api_keys=api_keys()))


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, *, access_log: bool = False) -> AsyncIterator[str]:
    """``app`` under uvicorn (HTTP and WebSockets, lifespan on); yields its base URL.

    uvicorn is told to leave logging alone (``log_config=None``), so a test sees only what the
    host app and Callbox do to it. Its access log is off unless asked for (see
    :func:`access_log_lines`).
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        ws="websockets-sansio",
        log_config=None,
        access_log=access_log,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if task.done():
            task.result()
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def access_log_lines() -> Iterator[list[str]]:
    """The lines of uvicorn's access log (``uvicorn.access``, as a server configured to print
    it would), while the block runs."""

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    logger = logging.getLogger("uvicorn.access")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.asynccontextmanager
async def live_callbox(base: str) -> AsyncIterator[Live]:
    """The subscription tests' client, pointed at Callbox under ``PREFIX``."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield Live(base + PREFIX, http)


def logging_snapshot() -> dict[str, Any]:
    """The logging configuration of this process: every logger's level, handlers (by kind and
    level), filters and propagation, and the global ``disable`` level. The server's own loggers
    (``uvicorn.*``, configured by the test server) are left out."""

    def describe(logger: logging.Logger) -> tuple[Any, ...]:
        return (
            logger.level,
            tuple((type(handler).__name__, handler.level) for handler in logger.handlers),
            tuple(type(item).__name__ for item in logger.filters),
            logger.propagate,
            logger.disabled,
        )

    manager = logging.Logger.manager
    named = {
        name: describe(logger)
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and not name.startswith("uvicorn")
    }
    return {"<root>": describe(logging.getLogger()), "<disable>": manager.disable, **named}


UNCONFIGURED = (logging.NOTSET, (), (), True, False)


def assert_same_logging(without_callbox: dict[str, Any], with_callbox: dict[str, Any]) -> None:
    """The host's logging is as it is without Callbox; loggers only Callbox's run made (its
    own, its libraries') are unconfigured: their records go to the host's root handlers."""
    for name, described in without_callbox.items():
        found = with_callbox.get(name)
        assert found == described, f"logging of {name!r}: {found} (without Callbox: {described})"
    for name in with_callbox.keys() - without_callbox.keys():
        assert with_callbox[name] == UNCONFIGURED, f"logger {name!r} was configured"
