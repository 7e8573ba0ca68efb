"""Issue 19 item 2: Callbox's pool hands a connection back without asyncpg's reset round
trip, except a connection that took session state (callbox.db.pool): a purge lock or a
``LISTEN`` left behind by one user must not reach the next, here or on another replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from callbox.db.pool import PooledConnection
from callbox.store.purge import PURGE_LOCK_KEY, purge_lock, release_purge_lock, try_purge_lock

RESET_QUERY = "SELECT pg_advisory_unlock_all()"
LAST_QUERY = "SELECT query FROM pg_stat_activity WHERE pid = $1"
ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Callbox's kind of pool, with one connection: every user gets the same one."""
    created = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, connection_class=PooledConnection
    )
    try:
        yield created
    finally:
        try:
            await asyncio.wait_for(created.close(), 10)  # a connection left out: no hang
        except TimeoutError:
            created.terminate()
            raise


async def backend(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as connection:
        pid: int = await connection.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_a_plain_use_is_handed_back_without_a_statement(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    pid = await backend(pool)
    async with pool.acquire() as connection:
        await connection.fetchval("SELECT 'plain use'")
    assert await db.fetchval(LAST_QUERY, pid) == "SELECT 'plain use'"
    assert await backend(pool) == pid  # (and it is the pool's connection, kept)


async def test_a_purge_lock_left_behind_is_released_with_the_connection(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    """As when the purge's own release failed: the next user of the connection does not
    hold the lock, and another replica can take it."""
    pid = await backend(pool)
    async with pool.acquire() as connection:
        assert await try_purge_lock(connection)
        assert await db.fetchval(ADVISORY_LOCKS, pid) == 1
    assert RESET_QUERY in await db.fetchval(LAST_QUERY, pid)
    assert await db.fetchval(ADVISORY_LOCKS, pid) == 0
    assert await try_purge_lock(db)
    await release_purge_lock(db)

    # The full reset was for that use only: the next plain use sends nothing on release.
    async with pool.acquire() as connection:
        await connection.fetchval("SELECT 'after the purge'")
    assert await db.fetchval(LAST_QUERY, pid) == "SELECT 'after the purge'"

    # The purge's own path, released normally, leaves nothing either.
    async with pool.acquire() as connection, purge_lock(connection) as locked:
        assert locked
    assert await db.fetchval(ADVISORY_LOCKS, pid) == 0
    assert await db.fetchval("SELECT pg_try_advisory_lock($1)", PURGE_LOCK_KEY)
    await db.execute("SELECT pg_advisory_unlock($1)", PURGE_LOCK_KEY)


async def test_a_listen_left_behind_is_unlistened_with_the_connection(
    pool: asyncpg.Pool,
) -> None:
    with pytest.warns(asyncpg.InterfaceWarning, match="active notification listener"):
        async with pool.acquire() as connection:
            await connection.add_listener("callbox_pool_test", lambda *_: None)
            assert await connection.fetch("SELECT pg_listening_channels()")
    async with pool.acquire() as connection:
        assert await connection.fetch("SELECT pg_listening_channels()") == []
