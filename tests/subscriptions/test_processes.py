"""Fan-out across processes: each process has its own listener; an event ingested by one
reaches subscribers of the other. Process A is served in this test's loop, process B is a
real ``callbox serve`` on the same database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx

from tests.graphql.support import KEYS, NOTIFY_TOKEN, OUR_NUMBER
from tests.subscriptions.support import Live, live_server, live_settings, transport_ws
from tests.support import callbox_process

CONFIG = f"""
[server]
host = "127.0.0.1"

[[receivers]]
name = "notify"
provider = "notify"
default_region = "GB"
our_address = "{OUR_NUMBER}"
auth = {{ bearer = ["{NOTIFY_TOKEN}"] }}

[[graphql.api_keys]]
name = "admin"
key = "{KEYS["admin"]}"
scopes = ["read", "write"]
"""


@contextlib.asynccontextmanager
async def callbox_serve(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """A second Callbox process (``callbox serve``), ready, with its own listener."""
    async with (
        callbox_process(database_url, tmp_path, CONFIG) as server,
        httpx.AsyncClient(timeout=30) as http,
    ):
        yield Live(server.base, http)


async def test_a_subscriber_of_one_process_gets_what_another_process_ingests(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    async with (
        live_server(live_settings(database_url)) as a,
        callbox_serve(database_url, tmp_path) as b,
    ):
        async with transport_ws(a.base) as on_a, transport_ws(b.base) as on_b:
            events_on_a = await on_a.events()
            events_on_b = await on_b.events()

            await b.notify_inbound(text="ingested by B")
            await a.notify_inbound(text="ingested by A")

            for events in (events_on_a, events_on_b):
                bodies = [e["messageEvents"]["message"]["body"] for e in await events.take(2)]
                assert bodies == ["ingested by B", "ingested by A"]
            # One log, one order: both processes hand out the same cursors.
            await b.notify_inbound(text="again")
            cursor_a = (await events_on_a.next())["messageEvents"]["cursor"]
            cursor_b = (await events_on_b.next())["messageEvents"]["cursor"]
            assert cursor_a == cursor_b

        # A cursor from one process resumes on the other.
        await a.notify_inbound(text="missed")
        async with transport_ws(b.base) as on_b:
            resumed = await on_b.events(after=cursor_a, settle=0)
            assert (await resumed.next())["messageEvents"]["message"]["body"] == "missed"
