"""recordOutboundMessage racing its receipt on a real server: one message, one thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import uvicorn

from callbox.app import create_app
from callbox.settings import GraphQL
from tests.graphql.support import KEYS, NOTIFY_TOKEN, api_keys, receivers
from tests.support import settings_for


@contextlib.asynccontextmanager
async def serve(database_url: str) -> AsyncIterator[str]:
    """Callbox under uvicorn in this event loop, so requests really run concurrently."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(database_url, receivers(), graphql=GraphQL(api_keys=api_keys()))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


RECORD = """mutation($input: RecordOutboundMessageInput!) {
    recordOutboundMessage(input: $input) { created } }"""


async def test_record_and_receipt_at_the_same_time(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBOX_TEST_ESENDEX_KEY", KEYS["esendex-only"])
    count = 25
    async with serve(database_url) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def record(n: int) -> None:
            response = await client.post(
                "/graphql",
                json={
                    "query": RECORD,
                    "variables": {
                        "input": {
                            "receiver": "notify",
                            "providerMessageId": f"race-{n}",
                            "to": f"0770090{n:04d}",
                            "body": f"message {n}",
                        }
                    },
                },
                headers={"Authorization": f"Bearer {KEYS['admin']}"},
            )
            assert response.status_code == 200 and "errors" not in response.json()

        async def receipt(n: int) -> None:
            body = {
                "id": f"race-{n}",
                "to": f"0770090{n:04d}",
                "status": "delivered",
                "notification_type": "sms",
                "created_at": "2026-11-20T10:00:00.000000Z",
                "completed_at": "2026-11-20T10:00:05.000000Z",
            }
            response = await client.post(
                "/hooks/notify",
                content=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {NOTIFY_TOKEN}",
                    "Content-Type": "application/json",
                },
            )
            assert response.status_code == 200

        await asyncio.gather(*(f(n) for n in range(count) for f in (record, receipt)))
    rows = await db.fetch(
        "SELECT m.status, m.body, c.message_count FROM callbox_message m"
        " JOIN callbox_conversation c ON c.id = m.conversation"
    )
    assert len(rows) == count
    assert {(row["status"], row["message_count"]) for row in rows} == {("DELIVERED", 1)}
    assert all(row["body"] for row in rows)
    assert await db.fetchval("SELECT count(*) FROM callbox_conversation") == count
