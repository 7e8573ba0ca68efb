"""A client that stops reading its socket: the server keeps a bounded backlog for it, ends
the subscription with a cursor and closes the connection with a reason, and the client that
resumes from that cursor misses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import asyncpg
import websockets

from tests.graphql.support import KEYS
from tests.subscriptions.support import (
    PROTOCOL,
    live_server,
    live_settings,
    transport_ws,
    websocket_url,
)
from tests.support import event_keys

QUEUE_SIZE = 50
ROUND = 40
"""Events committed together: fewer than the bound, so only slowness can overflow it."""
PADDING = "(SELECT string_agg(md5(random()::text || n || k), '') FROM generate_series(1, 100) k)"
"""SQL for 3,200 random hex digits after each event's number in its address, so that a few
thousand events fill the socket buffers even with per-message compression."""

QUERY = """
subscription Slow($filter: MessageEventFilter, $after: String) {
  messageEvents(filter: $filter, after: $after) { cursor address }
}
"""


OPEN = "callbox_subscriptions_open"
CUT_OFF = "callbox_subscribers_too_slow_total"


async def commit_round(db: asyncpg.Connection, start: int) -> None:
    async with db.transaction():
        await db.execute(
            "INSERT INTO callbox_event (kind, receiver, direction, address)"
            " SELECT 'RECEIVED', 'notify', 'INBOUND', lpad(n::text, 6, '0') || "
            + PADDING
            + " FROM generate_series($1::int, $2::int) AS n ORDER BY n",
            start,
            start + ROUND - 1,
        )
        await db.execute("SELECT pg_notify('callbox_events', '')")


def number(address: str) -> int:
    return int(address[:6])


async def test_a_client_that_stops_reading_is_cut_off_with_a_cursor_and_loses_nothing(
    db: asyncpg.Connection, database_url: str
) -> None:
    # A small receive buffer, and a client library that stops reading the socket after one
    # unread message: the server's sends block once the buffers between them are full.
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    committed = 0
    async with live_server(
        live_settings(database_url, metrics=True, queue_size=QUEUE_SIZE)
    ) as live:
        host, port = live.base.removeprefix("http://").split(":")
        await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
        async with websockets.connect(
            websocket_url(live.base),
            sock=raw,
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            max_queue=1,
            ping_interval=None,
        ) as client:
            auth = {"authorization": f"Bearer {KEYS['admin']}"}
            await client.send(json.dumps({"type": "connection_init", "payload": auth}))
            assert json.loads(await client.recv())["type"] == "connection_ack"
            subscribe = {"query": QUERY, "variables": {"filter": {"receiver": "notify"}}}
            await client.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            await live.metric_reaches(OPEN, 1)

            # The client reads nothing now. Rounds of events go in until the server gives up
            # on the subscriber: that must happen well before the server holds them all.
            while await live.metric(CUT_OFF) == 0:
                assert committed < 20_000, "the server kept a subscriber that reads nothing"
                await commit_round(db, committed)
                committed += ROUND
                await asyncio.sleep(0.02)

            # Reading again: a run of events from the first one, then the error with the
            # cursor of the last one sent, then the close with its reason.
            received: list[int] = []
            last_cursor = ""
            error: dict[str, Any] | None = None
            with contextlib.suppress(websockets.ConnectionClosedError):
                async with asyncio.timeout(30):
                    async for frame in client:
                        message = json.loads(frame)
                        if message["type"] == "next" and "errors" not in message["payload"]:
                            event = message["payload"]["data"]["messageEvents"]
                            received.append(number(event["address"]))
                            last_cursor = event["cursor"]
                        elif message["type"] == "next":
                            error = message["payload"]["errors"][0]
            assert client.close_code == 4008
            assert client.close_reason is not None
            assert client.close_reason.startswith("SUBSCRIBER_TOO_SLOW")
    assert error is not None and error["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW"
    assert received == list(range(len(received)))
    assert 0 < len(received) < committed
    resume, last = await event_keys(database_url, error["extensions"]["cursor"], last_cursor)
    assert resume == last

    async with (
        live_server(live_settings(database_url, queue_size=100_000)) as live,
        transport_ws(live.base) as resumed,
    ):
        rest = await resumed.subscribe(
            QUERY,
            {"filter": {"receiver": "notify"}, "after": error["extensions"]["cursor"]},
        )
        missed = [
            number(event["messageEvents"]["address"])
            for event in await rest.take(committed - len(received))
        ]
        assert missed == list(range(len(received), committed))
        await rest.silent_for(0.3)
