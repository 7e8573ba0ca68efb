"""Callbox's start and stop around a host's: the ASGI lifespan relay of ``CallboxMiddleware``,
failures reported as ``lifespan.startup.failed``, and ``callbox.lifespan`` for hosts that do
not pass the lifespan on (a mounted app)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import callbox
from callbox.db.engine import DB
from tests.embedding.hosts import Host, starlette_host
from tests.embedding.support import PREFIX, embedded_settings, live_callbox, serve_asgi
from tests.graphql.support import NOTIFY_TOKEN, OUR_NUMBER
from tests.support import free_port, replace_database_url


async def drive_lifespan(app: Any, *, shutdown: bool = True) -> list[dict[str, Any]]:
    """Speak the ASGI lifespan protocol to ``app`` as a server does; returns what it sent."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"].startswith("lifespan.startup."):
            started.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    async with asyncio.timeout(30):
        await started.wait()
        if sent[-1]["type"] == "lifespan.startup.complete" and shutdown:
            await inbox.put({"type": "lifespan.shutdown"})
        try:
            await task
        except Exception:
            # After lifespan.startup.failed an app may raise (Starlette does); servers log it.
            assert sent[-1]["type"] == "lifespan.startup.failed"
    return sent


def unreachable_settings(database_url: str) -> callbox.Settings:
    """Settings whose database refuses connections (nothing listens on the port)."""
    settings = embedded_settings(database_url)
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/callbox"
    return replace_database_url(settings, url)


async def test_callbox_failing_to_start_is_reported_and_the_host_is_not_started(
    database_url: str,
) -> None:
    host = Host()
    sent = await drive_lifespan(starlette_host(host, unreachable_settings(database_url)))
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    assert sent[0]["message"].startswith("Callbox: ")
    assert host.events == []
    assert DB.pool is None


async def test_a_host_failing_to_start_stops_callbox(database_url: str) -> None:
    @contextlib.asynccontextmanager
    async def failing(_: object) -> AsyncIterator[None]:
        assert DB.pool is not None, "Callbox starts first"
        raise RuntimeError("the host's own start failed")
        yield

    app = callbox.CallboxMiddleware(
        Starlette(lifespan=failing), settings=embedded_settings(database_url)
    )
    sent = await drive_lifespan(app)
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    assert "the host's own start failed" in sent[0]["message"]
    assert DB.pool is None


async def test_an_app_without_lifespan_support_is_left_alone(database_url: str) -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "this app does not speak the lifespan protocol"

    app = callbox.CallboxMiddleware(plain, settings=embedded_settings(database_url))
    sent = await drive_lifespan(app)
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert DB.pool is None


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    """A host app that answers 404 to everything (and, unlike frameworks, writes no scope)."""
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class ScopeState:
    """Gives requests the lifespan ``state`` a server would (httpx's transport has none)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = {"host_object": object()}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app({**scope, "state": dict(self.state)}, receive, send)


class ScopeWitness:
    """Outside the middleware: records the scope and state it passes in, to compare after."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.changed: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        before = dict(scope)
        state_before = dict(scope.get("state", {}))
        await self.app(scope, receive, send)
        if dict(scope) != before or dict(scope.get("state", {})) != state_before:
            self.changed.append(scope["path"])


async def test_the_host_scope_is_never_changed_and_callbox_lifespan_runs_it(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = embedded_settings(database_url)
    witness = ScopeWitness(callbox.CallboxMiddleware(not_found, settings=settings))
    transport = httpx.ASGITransport(app=ScopeState(witness))
    async with (
        callbox.lifespan(settings),
        httpx.AsyncClient(transport=transport, base_url="http://host") as http,
    ):
        response = await http.post(
            f"{PREFIX}/hooks/notify",
            json={
                "id": "embedded-1",
                "source_number": "07700900123",
                "destination_number": OUR_NUMBER,
                "message": "through ASGI",
                "date_received": "2026-11-20T10:00:00.000000Z",
            },
            headers={"Authorization": f"Bearer {NOTIFY_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        assert (await http.get("/elsewhere")).status_code == 404
    assert witness.changed == []
    assert await db.fetchval("SELECT body FROM callbox_message") == "through ASGI"
    assert DB.pool is None


async def test_a_mounted_callbox_is_started_by_callbox_lifespan(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Starlette does not pass the lifespan to mounted apps: the host's own lifespan runs
    Callbox with ``callbox.lifespan``."""
    settings = embedded_settings(database_url)

    @contextlib.asynccontextmanager
    async def host_lifespan(_: object) -> AsyncIterator[None]:
        async with callbox.lifespan(settings):
            yield

    inner = callbox.CallboxMiddleware(Starlette(), settings=settings, prefix=PREFIX)
    app = Starlette(routes=[Mount("/api", app=inner)], lifespan=host_lifespan)
    async with serve_asgi(app) as base, live_callbox(base + "/api") as live:
        await live.notify_inbound(text="mounted")
        document = await live.graphql("query { messages { edges { node { body } } } }")
        assert document["data"]["messages"]["edges"] == [{"node": {"body": "mounted"}}]
    assert DB.pool is None


async def test_a_second_callbox_in_one_process_is_refused(database_url: str) -> None:
    settings = embedded_settings(database_url)
    other = msgspec.structs.replace(settings, retention=callbox.Retention(raw_days=5))
    async with callbox.lifespan(settings):
        with pytest.raises(RuntimeError, match="one Callbox per process"):
            async with callbox.lifespan(other):
                pass
        async with callbox.lifespan(settings):  # the same one, started once
            assert DB.pool is not None
        assert DB.pool is not None
    assert DB.pool is None
