"""Subscribers with the same document, variables and API key share one execution of each
event (callbox.graphql.fanout), each still gets its own frame id, and a key's confinement
keeps its subscribers in a group of their own."""

from __future__ import annotations

import asyncio
import contextlib

import websockets

from callbox.graphql.fanout import FanOutStats
from tests.subscriptions.support import PROTOCOL, Live, transport_ws, websocket_url
from tests.subscriptions.test_limits import CONVERSATION_UPDATED

OTHER_SELECTION = "subscription { messageEvents { cursor kind message { body } } }"


async def test_identical_subscribers_share_one_execution_per_event(live: Live) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(transport_ws(live.base)) for _ in range(4)]
        # Four connections, and a second subscription (id "2") on the first one.
        same = [await client.events(settle=0) for client in clients]
        same.append(await clients[0].events(settle=0))
        other = await clients[1].subscribe(OTHER_SELECTION)
        await asyncio.sleep(0.5)
        assert [subscription.id for subscription in same] == ["1", "1", "1", "1", "2"]
        before = FanOutStats.executions

        await live.notify_inbound(sender="07700900123", text="one for all")
        await live.notify_inbound(sender="07700900124", text="and another")

        received = [await subscription.take(2) for subscription in same]
        bodies = [[event["messageEvents"]["message"]["body"] for event in got] for got in received]
        assert bodies == [["one for all", "and another"]] * 5
        assert all(got == received[0] for got in received)  # the same payload, cursors too
        other_events = await other.take(2)
        assert [event["messageEvents"]["message"] for event in other_events] == [
            {"body": "one for all"},
            {"body": "and another"},
        ]
        cursor = received[0][0]["messageEvents"]["cursor"]
        assert other_events[0]["messageEvents"]["cursor"] == cursor
        # Two events, two groups (the five identical subscriptions, the other selection).
        assert FanOutStats.executions - before == 4
        await asyncio.gather(*(subscription.silent_for(0.3) for subscription in same))


async def test_a_confined_key_is_a_group_of_its_own(live: Live) -> None:
    async with (
        transport_ws(live.base) as admin,
        transport_ws(live.base) as admin_too,
        transport_ws(live.base, "esendex-only") as confined,
        transport_ws(live.base, "esendex-only") as confined_too,
    ):
        everything = [await admin.events(settle=0), await admin_too.events(settle=0)]
        esendex = [await confined.events(settle=0), await confined_too.events(settle=0)]
        await asyncio.sleep(0.5)
        before = FanOutStats.executions

        await live.notify_inbound(text="not for the confined key")
        await live.esendex_inbound(text="for both keys")

        for subscription in everything:
            got = [event["messageEvents"] for event in await subscription.take(2)]
            assert [event["receiver"] for event in got] == ["notify", "esendex"]
        for subscription in esendex:
            got = (await subscription.next())["messageEvents"]
            assert got["receiver"] == "esendex"
            assert got["message"]["body"] == "for both keys"
        await asyncio.gather(*(subscription.silent_for(0.5) for subscription in esendex))
        # The notify event once (the unconfined group), the esendex event once per key:
        # the confined key's subscribers never take the unconfined group's result.
        assert FanOutStats.executions - before == 3


async def test_followers_of_one_conversation_share_its_read_and_execution(live: Live) -> None:
    await live.notify_inbound(sender="07700900001", text="one")
    found = await live.graphql("{ conversations(first: 1) { edges { node { id } } } }")
    followed = found["data"]["conversations"]["edges"][0]["node"]["id"]
    async with transport_ws(live.base) as first, transport_ws(live.base) as second:
        updates = [
            await first.subscribe(CONVERSATION_UPDATED, {"id": followed}),
            await second.subscribe(CONVERSATION_UPDATED, {"id": followed}),
        ]
        # A second operation on the socket: once it has an event, both have executed theirs.
        events = await first.events(settle=0.5)
        before = FanOutStats.executions

        await live.notify_inbound(sender="07700900001", text="two")

        for subscription in updates:
            update = (await subscription.next())["conversationUpdated"]
            assert update == {"id": followed, "messageCount": 2, "lastMessage": {"body": "two"}}
        await events.next()
        # One execution for both followers, one for the messageEvents subscription.
        assert FanOutStats.executions - before == 2


async def test_per_message_deflate_is_not_negotiated(live: Live) -> None:
    # A browser always offers it; the server declines (callbox.serve_limits).
    async with websockets.connect(
        websocket_url(live.base),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        compression="deflate",
    ) as socket:
        assert socket.request is not None and socket.response is not None
        assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in socket.response.headers
