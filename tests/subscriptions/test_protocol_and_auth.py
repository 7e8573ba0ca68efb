"""graphql-transport-ws only; the API key is checked at connection_init; the protocol's
close codes; the development instance's loopback rule; limits per connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest

from callbox.events.position import EventPosition
from callbox.sealing import Sealer
from callbox.settings import GraphQL
from tests.graphql.support import KEYS
from tests.subscriptions.support import (
    MESSAGE_EVENTS,
    Live,
    live_server,
    live_settings,
    refused,
    transport_ws,
)
from tests.support import instance_sealer, served

INIT = {"type": "connection_init", "payload": {"authorization": f"Bearer {KEYS['admin']}"}}


async def test_the_legacy_graphql_ws_protocol_is_refused(live: Live) -> None:
    code, reason = await refused(live.base, None, subprotocols=["graphql-ws"])
    assert (code, reason) == (4406, "Subprotocol not acceptable")
    code, _ = await refused(live.base, None, subprotocols=[])
    assert code == 4406


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, 'an API key is required: {"authorization": "Bearer <API key>"}'),
        ({}, 'an API key is required: {"authorization": "Bearer <API key>"}'),
        ({"authorization": "Bearer not-a-key-0123456789"}, "unknown API key"),
        ({"authorization": f"Basic {KEYS['admin']}"}, 'authorization: use "Bearer <API key>"'),
        ({"authorization": ["Bearer", KEYS["admin"]]}, 'authorization: use "Bearer <API key>"'),
        (
            {"authorization": f"Bearer {KEYS['writer']}"},
            "this API key does not have the read scope",
        ),
    ],
)
async def test_connection_init_without_a_readable_key_is_closed_4403(
    live: Live, payload: dict[str, object] | None, reason: str
) -> None:
    first: dict[str, object] = {"type": "connection_init"}
    if payload is not None:
        first["payload"] = payload
    assert await refused(live.base, first) == (4403, reason)


async def test_a_key_in_the_handshake_headers_is_not_enough(live: Live) -> None:
    """The key goes in connection_init; a handshake header alone does not sign in."""
    code, _ = await refused(
        live.base,
        {"type": "connection_init"},
        headers={"Authorization": f"Bearer {KEYS['admin']}"},
    )
    assert code == 4403


async def test_subscribe_before_connection_init_is_closed_4401(live: Live) -> None:
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": MESSAGE_EVENTS}}
    assert await refused(live.base, subscribe) == (4401, "Unauthorized")


async def test_a_second_connection_init_is_closed_4429(live: Live) -> None:
    async with transport_ws(live.base) as client:
        await client.send(INIT)
        code, _ = await client.closed
        assert code == 4429


async def test_no_connection_init_in_time_is_closed_4408(db: object, database_url: str) -> None:
    settings = live_settings(database_url, connection_init_timeout_seconds=0.3)
    async with live_server(settings) as live:
        assert await refused(live.base, None) == (4408, "Connection initialisation timeout")


async def test_a_connection_holds_at_most_max_per_connection_subscriptions(
    db: object, database_url: str
) -> None:
    settings = live_settings(database_url, max_per_connection=2)
    async with live_server(settings) as live, transport_ws(live.base) as client:
        await client.events()
        second = await client.events()
        third = await client.events()
        assert (await third.error())["message"] == "Subscription limit reached"
        await second.complete()
        fourth = await client.events()
        await live.notify_inbound(text="room again")
        assert (await fourth.next())["messageEvents"]["message"]["body"] == "room again"


async def test_a_development_instance_without_keys_is_open_on_loopback_only(
    db: object, database_url: str
) -> None:
    settings = live_settings(database_url)
    settings = msgspec.structs.replace(
        settings,
        development=True,
        graphql=GraphQL(),
        server=msgspec.structs.replace(settings.server, trusted_proxies=["127.0.0.1"]),
    )
    async with served(settings, websockets=True) as base:
        async with transport_ws(base, None) as client:  # loopback, no key: accepted
            subscription = await client.events()
            await subscription.complete()
        code, reason = await refused(
            base, {"type": "connection_init"}, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert code == 4403
        assert "loopback" in reason


async def test_subscriptions_are_not_served_over_http(live: Live) -> None:
    document = await live.graphql(MESSAGE_EVENTS)
    assert document == {
        "data": None,
        "errors": [
            {
                "message": "subscriptions are served over WebSocket (graphql-transport-ws)"
                " at /graphql",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ],
    }


def _cursor(kind: str, sealer: Sealer) -> str:
    if kind == "unreadable":
        return "bm90LWEtY3Vyc29y"  # "not-a-cursor"
    if kind == "future":  # a transaction id this database has not handed out
        return EventPosition(2**60, 1, datetime.now(UTC)).cursor(sealer)
    return EventPosition(1, 1, datetime.now(UTC) - timedelta(days=30)).cursor(sealer)


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("unreadable", "BAD_USER_INPUT", "after: not a cursor of a subscription event"),
        ("future", "BAD_USER_INPUT", "after: this cursor is not from this database"),
        ("old", "CURSOR_EXPIRED", "after: this cursor is older than the replay window (7 days)"),
    ],
)
async def test_a_bad_cursor_is_refused_with_a_reason(
    live: Live, db: asyncpg.Connection, kind: str, code: str, message: str
) -> None:
    cursor = _cursor(kind, await instance_sealer(db))
    async with transport_ws(live.base) as client:
        subscription = await client.events(after=cursor, settle=0)
        error = await subscription.error()
        assert error["message"].startswith(message), error
        assert error["extensions"]["code"] == code
