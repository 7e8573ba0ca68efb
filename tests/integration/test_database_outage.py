"""The database goes away mid-run: Callbox answers 503 with Retry-After and acknowledges
nothing (without claiming that nothing was stored), then recovers by itself once the
database is back, and the provider's retry is stored exactly once.

The app reaches Postgres through a :class:`TcpProxy`; cutting it closes the pool's open
connections (which the pool still holds) and refuses new ones, like a database restart.

Litestar's test client runs the app on an event loop in a thread of its own and blocks the
test's loop for the whole of each call (and of the lifespan's start), so a proxy on the
test's loop would never get to serve the app: the proxy runs on a third loop, in its own
thread, driven through :class:`ProxyThread`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from callbox.settings import Auth, Receiver, Settings
from tests.support import ProxyThread, callbox_client, database_proxy, settings_for, through_proxy

TOKEN = "notify-outage-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
FIRST_ID = "11111111-0000-4000-8000-000000000001"
SECOND_ID = "22222222-0000-4000-8000-000000000002"


def receipt(notification_id: str) -> bytes:
    return json.dumps(
        {
            "id": notification_id,
            "reference": None,
            "to": "+447700900123",
            "status": "delivered",
            "notification_type": "sms",
            "created_at": "2026-11-22T10:00:00.000000Z",
            "completed_at": "2026-11-22T10:00:05.000000Z",
            "sent_at": "2026-11-22T10:00:01.000000Z",
        }
    ).encode()


@pytest.fixture
def proxy(database_url: str) -> Iterator[ProxyThread]:
    with database_proxy(database_url) as proxy:
        yield proxy


def outage_settings(database_url: str, proxy: ProxyThread) -> Settings:
    receiver = Receiver(
        name="notify", provider="notify", auth=Auth(bearer=[TOKEN]), default_region="GB"
    )
    return settings_for(through_proxy(database_url, proxy), [receiver])


async def post(client: httpx.AsyncClient, notification_id: str) -> httpx.Response:
    return await client.post("/hooks/notify", content=receipt(notification_id), headers=HEADERS)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    # A refused or lost connection (a restart, a failover): retry soon (issue 16, item 16).
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("text/plain")
    assert "database unavailable" in response.text
    # A connection can die after the commit and before the answer: the 503 must not claim
    # that nothing was stored (issue 16, item 15).
    assert "nothing was stored" not in response.text
    assert "not confirmed" in response.text and "duplicates are recognised" in response.text


async def test_database_outage_is_503_then_recovers_and_stores_once(
    db: asyncpg.Connection, database_url: str, proxy: ProxyThread
) -> None:
    async with callbox_client(outage_settings(database_url, proxy)) as client:
        assert (await post(client, FIRST_ID)).status_code == 200

        proxy.cut()
        # The pool still holds the connection the first callback used: it is dead now.
        assert_unavailable(await post(client, SECOND_ID))
        # And again, now that the pool must open a new connection and is refused.
        assert_unavailable(await post(client, SECOND_ID))
        assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1
        assert (
            await db.fetchval(
                "SELECT count(*) FROM callbox_message WHERE provider_message_id = $1", SECOND_ID
            )
            == 0
        )

        proxy.restore()
        retried = await post(client, SECOND_ID)
        assert retried.status_code == 200, retried.text
        assert (await post(client, FIRST_ID)).status_code == 200

    messages = await db.fetch("SELECT provider_message_id, status FROM callbox_message ORDER BY id")
    assert [tuple(row) for row in messages] == [(FIRST_ID, "DELIVERED"), (SECOND_ID, "DELIVERED")]
    states = await db.fetch("SELECT body, state FROM callbox_notification ORDER BY id")
    assert [(bytes(row["body"]), row["state"]) for row in states] == [
        (receipt(FIRST_ID), "ACCEPTED"),
        (receipt(SECOND_ID), "ACCEPTED"),
        (receipt(FIRST_ID), "DUPLICATE"),
    ]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM callbox_status_event se JOIN callbox_message m"
            " ON m.id = se.message WHERE m.provider_message_id = $1",
            SECOND_ID,
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"[]", HEADERS),
        (b"x" * 2000, HEADERS),
    ],
    ids=["rejected-payload", "oversize"],
)
async def test_rejection_during_outage_is_503_not_a_rejection(
    body: bytes,
    headers: dict[str, str],
    db: asyncpg.Connection,
    database_url: str,
    proxy: ProxyThread,
) -> None:
    """A request that would be stored as REJECTED cannot be stored either: 503, so the
    provider retries, rather than a 400/413 for a request nobody kept."""
    receiver = Receiver(
        name="notify", provider="notify", auth=Auth(bearer=[TOKEN]), max_body_bytes=1000
    )
    settings = settings_for(through_proxy(database_url, proxy), [receiver])
    async with callbox_client(settings) as client:
        proxy.cut()
        assert_unavailable(await client.post("/hooks/notify", content=body, headers=headers))
        proxy.restore()
        after = await client.post("/hooks/notify", content=body, headers=headers)
        assert after.status_code in (400, 413), after.text
    rows = await db.fetch("SELECT state FROM callbox_notification")
    assert [row["state"] for row in rows] == ["REJECTED"]
