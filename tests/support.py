"""Helpers for integration tests: an app on the test database, a cuttable TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from callbox.app import create_app
from callbox.settings import Database, Receiver, Server, Settings


def settings_for(
    database_url: str,
    receivers: list[Receiver],
    *,
    trusted_proxies: list[str] | None = None,
    **extra: Any,
) -> Settings:
    return Settings(
        receivers=receivers,
        database=Database(url=database_url, migrate_on_start=True, pool_min_size=1),
        server=Server(trusted_proxies=trusted_proxies or []),
        **extra,
    )


class PeerAddress:
    """ASGI wrapper that presents requests as coming from ``host`` (the socket peer)."""

    def __init__(self, app: ASGIApp, host: str) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (self.host, 50000)}  # type: ignore[assignment]
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def callbox_client(
    settings: Settings, *, peer: str = "127.0.0.1"
) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client speaking HTTP to Callbox through the whole ASGI stack, lifespan included."""
    app = PeerAddress(create_app(settings), peer)
    async with AsyncTestClient(app=app) as client:  # type: ignore[arg-type]
        yield client


def replace_database_url(settings: Settings, url: str) -> Settings:
    return msgspec.structs.replace(
        settings, database=msgspec.structs.replace(settings.database, url=url)
    )


class TcpProxy:
    """A loopback TCP proxy in front of Postgres that a test can cut and restore.

    Cutting closes every open connection and refuses new ones: to Callbox this is the
    database going away, which is what the 503 tests need without stopping a shared server.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links.update({writer, upstream_writer})

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
