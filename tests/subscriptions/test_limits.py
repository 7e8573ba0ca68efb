"""Browser origins, the slow-consumer bound, and conversationUpdated."""

from __future__ import annotations

import json

import asyncpg
import pytest
import websockets

from callbox.settings import ConfigError, settings_from_mapping
from tests.subscriptions.support import (
    PROTOCOL,
    Live,
    live_server,
    live_settings,
    transport_ws,
    websocket_url,
)
from tests.support import event_keys, graphql_id


async def handshake(base: str, origin: str | None) -> bool:
    """Whether a WebSocket with this Origin header gets through to connection_ack."""
    headers = {"Origin": origin} if origin else None
    try:
        async with websockets.connect(
            websocket_url(base),
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            return json.loads(await socket.recv())["type"] == "connection_ack"
    except (websockets.InvalidStatus, websockets.ConnectionClosed):
        return False


async def test_only_allowed_browser_origins_may_open_a_socket(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = live_settings(database_url, allowed_origins=["https://app.example.com"])
    settings = settings_from_mapping(  # a development instance: key-less sockets on loopback
        {
            "development": True,
            "database": {"url": database_url, "pool_min_size": 1},
            "subscriptions": {"allowed_origins": list(settings.subscriptions.allowed_origins)},
        }
    )
    async with live_server(settings) as live:
        assert await handshake(live.base, None)  # not a browser: no Origin
        assert await handshake(live.base, live.base)  # same origin
        assert await handshake(live.base, "https://app.example.com")
        assert not await handshake(live.base, "https://evil.example")


def test_an_allowed_origin_must_be_an_origin() -> None:
    with pytest.raises(ConfigError, match="allowed_origins"):
        settings_from_mapping({"subscriptions": {"allowed_origins": ["https://a.example/path"]}})


async def test_a_subscriber_falling_behind_its_bound_is_ended_with_a_cursor(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Six events committed together reach a subscriber whose bound is five: it cannot hold
    them, so it is ended (SUBSCRIBER_TOO_SLOW) with the cursor it had reached; resuming from
    that cursor, with a larger bound, gets all six."""
    async with (
        live_server(live_settings(database_url, queue_size=5)) as live,
        transport_ws(live.base) as client,
    ):
        events = await client.events({"receiver": "notify"})
        await live.notify_inbound(text="first")
        cursor = (await events.next())["messageEvents"]["cursor"]
        async with db.transaction():
            for index in range(6):
                await db.execute(
                    "INSERT INTO callbox_event (kind, receiver, direction, address)"
                    " VALUES ('RECEIVED', 'notify', 'INBOUND', $1)",
                    f"+4477009{index:05d}",
                )
            await db.execute("SELECT pg_notify('callbox_events', '')")
        error = await events.error()
        assert error["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW"
        assert "fell more than 5 events behind" in error["message"]
        # The same place (its time part says when that place was known to be current).
        resume, last = await event_keys(database_url, error["extensions"]["cursor"], cursor)
        assert resume == last
    async with (
        live_server(live_settings(database_url, queue_size=100)) as live,
        transport_ws(live.base) as client,
    ):
        resumed = await client.events({"receiver": "notify"}, after=cursor, settle=0)
        addresses = [event["messageEvents"]["address"] for event in await resumed.take(6)]
        assert addresses == [f"+4477009{index:05d}" for index in range(6)]


CONVERSATION_UPDATED = """
subscription Updated($id: ID!) {
  conversationUpdated(id: $id) { id messageCount lastMessage { body } }
}
"""


async def test_conversation_updated_follows_one_conversation(
    live: Live, db: asyncpg.Connection
) -> None:
    await live.notify_inbound(sender="07700900001", text="one")
    await live.notify_inbound(sender="07700900002", text="other")
    found = await live.graphql(
        "{ conversations(first: 10) { edges { node { id theirAddress } } } }"
    )
    ids = {
        edge["node"]["theirAddress"]: edge["node"]["id"]
        for edge in found["data"]["conversations"]["edges"]
    }
    followed = ids["+447700900001"]
    async with transport_ws(live.base) as client:
        updates = await client.subscribe(CONVERSATION_UPDATED, {"id": followed})
        await client.events(settle=0.3)  # a second operation on the socket, so it has started
        await live.notify_inbound(sender="07700900002", text="not this one")
        await live.notify_inbound(sender="07700900001", text="two")
        update = (await updates.next())["conversationUpdated"]
        assert update == {"id": followed, "messageCount": 2, "lastMessage": {"body": "two"}}
        await updates.silent_for(0.3)

        unknown = await graphql_id(db, "conversation", 999999)
        missing = await client.subscribe(CONVERSATION_UPDATED, {"id": unknown})
        assert (await missing.error())["message"] == f"no conversation {unknown}"
        confined = await client.subscribe(CONVERSATION_UPDATED, {"id": followed})
        await confined.complete()
    async with transport_ws(live.base, "esendex-only") as client:
        hidden = await client.subscribe(CONVERSATION_UPDATED, {"id": followed})
        assert (await hidden.error())["message"] == f"no conversation {followed}"
