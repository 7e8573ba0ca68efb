"""Helpers for integration tests: an app on the test database, a cuttable TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from callbox.app import create_app
from callbox.sealing import Sealer
from callbox.serve_limits import PER_MESSAGE_DEFLATE
from callbox.settings import Database, Ingest, Receiver, Server, Settings


@contextlib.contextmanager
def postgres_tmp_dir() -> Iterator[Path]:
    """A fresh directory to hold embedded PostgreSQL data directories, removed afterwards.

    Not below pytest's base temporary directory, whose directories are private (0700): as
    root the embedded server runs as OS user ``pgserver``, which must reach its data
    directory, and Callbox opens no directory above it (``callbox.db.embedded``).
    """
    path = Path(tempfile.mkdtemp(prefix="callbox-pg-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def notify_receipt(message_id: str, **fields: Any) -> bytes:
    """A GOV.UK Notify SMS delivery receipt for ``message_id``; ``fields`` replace its own."""
    receipt = {
        "id": message_id,
        "reference": "ref",
        "to": "+447700900123",
        "status": "delivered",
        "notification_type": "sms",
        "created_at": "2026-11-22T10:00:00.000000Z",
        "completed_at": "2026-11-22T10:00:05.000000Z",
        "sent_at": "2026-11-22T10:00:01.000000Z",
    }
    return json.dumps(receipt | fields).encode()


ACKNOWLEDGE_ENV = "CALLBOX_INGEST__ACKNOWLEDGE"


def settings_for(
    database_url: str,
    receivers: list[Receiver],
    *,
    trusted_proxies: list[str] | None = None,
    **extra: Any,
) -> Settings:
    """Settings for a test app; callbacks are answered once applied unless ``ingest`` says
    otherwise (tests read what a callback did right after posting it)."""
    extra.setdefault("ingest", Ingest(acknowledge="applied"))
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
    litestar_app = create_app(settings)
    app = PeerAddress(litestar_app, peer)
    async with AsyncTestClient(app=app) as client:  # type: ignore[arg-type]
        APPS[client] = litestar_app
        yield client


APPS: weakref.WeakKeyDictionary[AsyncTestClient[Any], Litestar] = weakref.WeakKeyDictionary()
"""The Callbox app behind each client of :func:`callbox_client`."""


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def served(settings: Settings, *, websockets: bool = False) -> AsyncIterator[str]:
    """Callbox under uvicorn in this event loop: requests really run concurrently.

    (The litestar test client runs one request at a time, through a blocking portal.)
    ``websockets``: serve WebSockets too (subscriptions), as ``callbox serve`` does.
    """
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        ws="websockets-sansio" if websockets else "none",
        ws_per_message_deflate=PER_MESSAGE_DEFLATE,  # as callbox serve
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class ProxyThread:
    """A :class:`TcpProxy` serving from an event loop in a thread of its own."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.proxy = TcpProxy(target_host, target_port)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tcp-proxy")
        self.thread.start()

    @property
    def port(self) -> int:
        return self.proxy.port

    def _run(self, step: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(step, self.loop).result(timeout=10)

    def start(self) -> None:
        self._run(self.proxy.start())

    def cut(self) -> None:
        self._run(self.proxy.cut())

    def restore(self) -> None:
        """Start again on the port the app's database URL names (start() reuses it)."""
        port = self.proxy.port
        self.start()
        assert self.proxy.port == port

    def close(self) -> None:
        self.cut()

        async def cancel_pipes() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        self._run(cancel_pipes())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def through_proxy(database_url: str, proxy: ProxyThread) -> str:
    """``database_url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(database_url)
    netloc = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}"))


@contextlib.contextmanager
def database_proxy(database_url: str) -> Iterator[ProxyThread]:
    """A started :class:`ProxyThread` in front of the test database's server (skips the test
    when that server is not reached over TCP); give Callbox :func:`through_proxy`'s URL."""
    parts = urlsplit(database_url)
    if parts.hostname is None or parts.port is None:
        pytest.skip("the test database is not reached over TCP (embedded: unix socket)")
    proxy = ProxyThread(parts.hostname, parts.port)
    try:
        proxy.start()  # before the app starts, so that its migrations get through
        yield proxy
    finally:
        proxy.close()


@dataclass
class CallboxProcess:
    """``python -m callbox serve`` on one port, stoppable and restartable.

    Without a config it is a development instance (on the given database).
    """

    database_url: str
    config: Path | None = None
    port: int = field(default_factory=free_port)
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    """Variables set for the process on top of :func:`callbox_environment`'s."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = callbox_environment(CALLBOX_DATABASE_URL=self.database_url, **self.environment)
        command = [sys.executable, "-m", "callbox"]
        if self.config is not None:
            command += ["--config", str(self.config)]
        command += ["serve", "--port", str(self.port)]
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            if self.log:
                output.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"callbox serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "callbox serve did not become ready in 60 s"
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.asynccontextmanager
async def callbox_process(
    database_url: str, tmp_path: Path, config: str | None = None
) -> AsyncIterator[CallboxProcess]:
    path = None
    if config is not None:
        path = tmp_path / "callbox.toml"
        path.write_text(config)
    server = CallboxProcess(database_url, path, log=tmp_path / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def instance_sealer(db: Any) -> Sealer:
    """The sealer of the instance whose database ``db`` (an asyncpg connection) is."""
    return Sealer(bytes(await db.fetchval("SELECT key FROM callbox_instance_key WHERE id = 1")))


async def graphql_id(db: Any, kind: str, row_id: int) -> str:
    """The id GraphQL shows for row ``row_id`` of ``kind`` (message, conversation,
    notification, opt-out), sealed with the instance key in ``db`` (an asyncpg connection)."""
    from callbox.graphql.data.cursors import CursorKind
    from callbox.graphql.types.ids import to_id

    return str(to_id(await instance_sealer(db), CursorKind(kind), row_id))


async def database_id(db: Any, kind: str, shown: str) -> int:
    """The database id of the row GraphQL shows as ``shown``."""
    from callbox.graphql.data.cursors import CursorKind
    from callbox.graphql.types.ids import parse_id

    return parse_id(await instance_sealer(db), CursorKind(kind), shown, "id")


async def event_keys(database_url: str, *cursors: str) -> list[tuple[int, int]]:
    """The event-log places ``(xid, id)`` that subscription cursors seal."""
    import asyncpg

    from callbox.events.position import parse_cursor

    connection = await asyncpg.connect(database_url)
    try:
        sealer = await instance_sealer(connection)
    finally:
        await connection.close()
    return [parse_cursor(cursor, sealer).key for cursor in cursors]


@dataclass(frozen=True, slots=True)
class CommandRun:
    """What one ``callbox`` command run as a process did."""

    returncode: int
    out: str
    err: str


def callbox_environment(**variables: str) -> dict[str, str]:
    """This process's environment without its ``CALLBOX_`` variables (but for when callbacks
    are answered, see tests/conftest.py), plus ``variables``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_") or k == ACKNOWLEDGE_ENV
    }
    env.update(variables)
    return env


def run_callbox(
    *args: str, env: dict[str, str], terminal: bool = False, timeout: float = 120
) -> CommandRun:
    """``python -m callbox ARGS`` to its end; ``terminal``: its stderr is a terminal (a pty)."""
    command = [sys.executable, "-m", "callbox", *args]
    if not terminal:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return CommandRun(done.returncode, done.stdout, done.stderr)
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=follower)
    finally:
        os.close(follower)
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        out = process.communicate(timeout=timeout)[0]
        reader.join(timeout=10)
    finally:
        os.close(leader)
    return CommandRun(process.returncode, out.decode(), b"".join(chunks).decode())


async def graphql_data(client: Any, query: str, **variables: Any) -> dict[str, Any]:
    """The ``data`` of a GraphQL query through ``client`` (an ASGI test client), asserting
    a 200 without errors."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    assert "errors" not in document, document
    data: dict[str, Any] = document["data"]
    return data


async def store_and_apply(
    connection: asyncpg.Connection, items: list[dict[str, Any]], bodies: list[bytes]
) -> list[asyncpg.Record]:
    """Store callbacks as the ingest writer does (``callbox_accept_batch``), then apply them
    as the applier does (``callbox_apply_pending``): one row per callback, in order, with
    ``state``, ``applied``, ``duplicates`` and ``message_ids``."""
    stored = await connection.fetch(
        "SELECT notification_id FROM callbox_accept_batch($1::jsonb, $2::bytea[]) ORDER BY ordinal",
        json.dumps(items),
        bodies,
    )
    return await connection.fetch(
        "SELECT * FROM callbox_apply_pending($1::bigint[]) ORDER BY notification_id",
        [row["notification_id"] for row in stored],
    )
