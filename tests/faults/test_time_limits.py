"""Item 2 of issue 16: every statement has a time limit, lower for GraphQL reads than for
ingest, and waiting for a pooled connection has one too; an exceeded limit is a clear error
(503 with Retry-After for a callback, a GraphQL error with a code for a read), not a hang.

A statement is held up for real: the test's own connection locks the table it needs.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from tests.faults.support import ADMIN, assert_unavailable, fault_settings, post_receipt
from tests.support import served

MESSAGES = "{ messages(first: 5) { edges { node { id } } } }"
ID = "33333333-0000-4000-8000-000000000003"


async def graphql(http: httpx.AsyncClient, base: str, query: str) -> dict[str, object]:
    response = await http.post(f"{base}/graphql", json={"query": query}, headers=ADMIN)
    assert response.status_code == 200, response.text
    document: dict[str, object] = response.json()
    return document


async def test_a_held_up_callback_is_503_after_the_statement_limit(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = fault_settings(
        database_url, statement_timeout_seconds=0.5, callback_timeout_seconds=10
    )
    async with served(settings) as base, httpx.AsyncClient(timeout=8) as http:
        async with db.transaction():
            await db.execute("LOCK TABLE callbox_notification IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            response = await post_receipt(http, base, ID, wait=8)
            elapsed = time.monotonic() - started
        assert_unavailable(response, retry_after=30)  # a timeout: not a quick restart
        assert elapsed < 3, elapsed
        # The statement was cancelled on the server: nothing is left running or stored.
        assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0
        assert (await post_receipt(http, base, ID)).status_code == 200


async def test_a_held_up_read_is_a_graphql_error_after_the_read_limit(
    db: asyncpg.Connection, database_url: str
) -> None:
    settings = fault_settings(database_url, read_timeout_seconds=0.5, statement_timeout_seconds=30)
    async with served(settings) as base, httpx.AsyncClient(timeout=8) as http:
        async with db.transaction():
            await db.execute("LOCK TABLE callbox_message IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            document = await graphql(http, base, MESSAGES)
            elapsed = time.monotonic() - started
        assert elapsed < 3, elapsed
        errors = document["errors"]
        assert isinstance(errors, list)
        assert errors[0]["extensions"]["code"] == "DATABASE_TIMEOUT", errors
        assert "retry" in errors[0]["message"]
        assert "errors" not in await graphql(http, base, MESSAGES)


async def test_waiting_for_a_pooled_connection_is_bounded(
    db: asyncpg.Connection, database_url: str
) -> None:
    """The pool's one connection is held by a callback stuck on a lock: a read that needs a
    connection gives up after the acquire limit instead of queueing behind it."""
    settings = fault_settings(
        database_url,
        pool_min_size=1,
        pool_max_size=1,
        acquire_timeout_seconds=0.3,
        statement_timeout_seconds=4,
        callback_timeout_seconds=10,
    )
    async with served(settings) as base, httpx.AsyncClient(timeout=8) as http:
        async with db.transaction():
            await db.execute("LOCK TABLE callbox_notification IN ACCESS EXCLUSIVE MODE")
            stuck = asyncio.create_task(post_receipt(http, base, ID, wait=8))
            await asyncio.sleep(0.3)  # the callback has the connection, waiting on the lock
            started = time.monotonic()
            document = await graphql(http, base, MESSAGES)
            elapsed = time.monotonic() - started
        await stuck
        assert elapsed < 2, elapsed
        errors = document["errors"]
        assert isinstance(errors, list)
        assert errors[0]["extensions"]["code"] == "DATABASE_TIMEOUT", errors
