"""A real ``callbox serve`` receiving SIGTERM: each subscription ends with ``SHUTTING_DOWN``
and the cursor of the last event it sent, before the WebSocket is closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx

from tests.subscriptions.support import Live, transport_ws
from tests.subscriptions.test_processes import CONFIG
from tests.support import callbox_process, event_keys


async def test_sigterm_ends_subscriptions_with_shutting_down_and_a_cursor(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    async with (
        callbox_process(database_url, tmp_path, CONFIG) as server,
        httpx.AsyncClient(timeout=30) as http,
    ):
        live = Live(server.base, http)
        async with transport_ws(live.base) as client:
            everything = await client.events()
            notify_only = await client.events({"receiver": "notify"}, settle=0.3)
            await live.notify_inbound(text="before")
            cursors = [
                (await events.next())["messageEvents"]["cursor"]
                for events in (everything, notify_only)
            ]

            stopping = asyncio.create_task(asyncio.to_thread(server.stop))  # SIGTERM
            for events, cursor in zip((everything, notify_only), cursors, strict=True):
                error = await events.error()
                assert error["extensions"]["code"] == "SHUTTING_DOWN", error
                assert "resubscribe" in error["message"]
                resume, last = await event_keys(database_url, error["extensions"]["cursor"], cursor)
                assert resume == last
            code, _ = await asyncio.wait_for(client.closed, 20)
            assert code == 1012  # then uvicorn closes the socket (service restart)
            await stopping
