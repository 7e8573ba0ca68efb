"""Issue 19 item 2: a GraphQL request runs all its statements on one pooled connection,
taken at its first statement and handed back once the answer is ready, also after an error
or a cancellation; sibling fields, which graphql-core resolves concurrently, take turns on
it. The read limits stay: the acquire limit, answered the same way as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from callbox.app import create_app
from callbox.db.pool import PooledConnection
from callbox.graphql.data import (
    ConnectionQueue,
    RequestSql,
    observe_acquisitions,
    observe_statements,
)
from callbox.graphql.errors import DatabaseTimeout, DatabaseUnavailable
from callbox.settings import Settings
from tests.faults.support import ADMIN, fault_settings
from tests.graphql.support import Api
from tests.graphql.test_batching import BULK, PAGE

pytestmark = pytest.mark.usefixtures("db")

MESSAGES = "{ messages(first: 5) { totalCount nodes { id } } }"
RESET_QUERY = "SELECT pg_advisory_unlock_all()"


async def test_a_request_runs_every_statement_on_one_connection(
    api: Api, db: asyncpg.Connection
) -> None:
    """The page of test_batching: three root fields, a count beside its page and loaders at
    every level ask for statements at the same time; each waits its turn on the request's
    connection and gets its own answer (asyncpg refuses a second statement on a busy one)."""
    await db.execute(BULK)
    with observe_statements() as statements, observe_acquisitions() as taken:
        data = await api.query(PAGE, {"first": 20})
    assert len(statements) >= 8, statements
    assert len(taken) == 1
    edges = data["messages"]["edges"]
    assert data["messages"]["totalCount"] == 180 and len(edges) == 20
    assert all(len(edge["node"]["events"]) == 2 for edge in edges)
    assert all(edge["node"]["conversation"]["messages"]["totalCount"] == 3 for edge in edges)
    assert len(data["conversations"]["nodes"]) == 20
    assert data["stats"]["total"] == 180

    # A request that runs no statement takes no connection.
    with observe_acquisitions() as taken:
        assert await api.query("{ receivers { name } }")
    assert taken == []


async def test_a_released_read_connection_costs_no_reset_statement(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    """asyncpg's default pool ends every use with its reset statement; Callbox's pool sends
    nothing: the last statement a read connection ran is the read's own."""
    await db.execute(BULK)
    await api.query(MESSAGES)
    name = database_url.rsplit("/", 1)[1]
    last = await db.fetch(
        "SELECT query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'",
        name,
    )
    assert any("callbox_message" in row["query"] for row in last), last
    assert not [row for row in last if RESET_QUERY in row["query"]], last

    # (The check can fail: asyncpg's own pool leaves its reset as the last statement.)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
        query = await db.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
        assert RESET_QUERY in query
    finally:
        await pool.close()


def one_connection(database_url: str, **database: object) -> Settings:
    return fault_settings(database_url, pool_min_size=1, pool_max_size=1, **database)


async def test_the_connection_goes_back_when_a_request_is_cancelled(
    db: asyncpg.Connection, database_url: str
) -> None:
    """A request cancelled while its statement waits on a lock hands its connection back:
    the pool has one, and the next request gets it."""
    app = create_app(one_connection(database_url, acquire_timeout_seconds=2))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://callbox", timeout=10) as http,
    ):
        assert (await http.post("/graphql", json={"query": MESSAGES}, headers=ADMIN)).is_success
        async with db.transaction():
            await db.execute("LOCK TABLE callbox_message IN ACCESS EXCLUSIVE MODE")
            stuck = asyncio.create_task(
                http.post("/graphql", json={"query": MESSAGES}, headers=ADMIN)
            )
            await asyncio.sleep(0.5)  # its statement is waiting on the lock
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
        response = await http.post("/graphql", json={"query": MESSAGES}, headers=ADMIN)
        assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_the_connection_goes_back_after_errors(database_url: str) -> None:
    """A request whose fields failed (bad input beside a statement that ran) hands its
    connection back: with a pool of one, the requests after it are answered."""
    app = create_app(one_connection(database_url, acquire_timeout_seconds=2))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    failing = '{ messages(first: 5) { nodes { id } } message(id: "not an id") { id } }'
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://callbox", timeout=10) as http,
    ):
        for _ in range(3):
            response = await http.post("/graphql", json={"query": failing}, headers=ADMIN)
            document = response.json()
            assert document["data"] == {"messages": {"nodes": []}, "message": None}, document
            assert [e["path"] for e in document["errors"]] == [["message"]], document
        response = await http.post("/graphql", json={"query": MESSAGES}, headers=ADMIN)
        assert "errors" not in response.json(), response.text


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
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


async def test_without_a_connection_in_time_every_statement_fails_at_once(
    pool: asyncpg.Pool,
) -> None:
    """The acquire limit is waited once per request: its statements then fail the same way
    at once (DATABASE_TIMEOUT) instead of each waiting the limit in turn."""
    sql = RequestSql(pool, timeout=5, acquire_timeout=0.3)
    async with pool.acquire():  # the pool's only connection is taken
        started = time.monotonic()
        with pytest.raises(DatabaseTimeout):
            await sql.fetchval("SELECT 1")
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(DatabaseTimeout):
                await sql.fetchval("SELECT 1")
        later = time.monotonic() - started
    await sql.close()
    assert first >= 0.3 and later < 0.3, (first, later)
    later_request = RequestSql(pool, timeout=5, acquire_timeout=1)
    assert await later_request.fetchval("SELECT 2") == 2  # (a later request is not refused)
    await later_request.close()


async def test_a_broken_connection_is_replaced_within_the_request(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    sql = RequestSql(pool, timeout=5, acquire_timeout=2)
    first = await sql.fetchval("SELECT pg_backend_pid()")
    await db.execute("SELECT pg_terminate_backend($1)", first)
    with pytest.raises(DatabaseUnavailable):
        await sql.fetchval("SELECT 1")
    second = await sql.fetchval("SELECT pg_backend_pid()")
    assert second != first
    await sql.close()
    async with pool.acquire(timeout=1) as connection:  # handed back
        assert await connection.fetchval("SELECT pg_backend_pid()") == second


async def test_closing_waits_for_the_running_statement(pool: asyncpg.Pool) -> None:
    """A statement still running when the request ends (a straggler) finishes before the
    connection goes back; a statement asked for after that is refused."""
    sql = RequestSql(pool, timeout=5, acquire_timeout=2)
    running = asyncio.create_task(sql.fetchval("SELECT pg_sleep(0.3)::text || 'done'"))
    await asyncio.sleep(0.1)
    await sql.close()
    assert running.done() and running.result() == "done"
    with pytest.raises(RuntimeError):
        await sql.fetchval("SELECT 1")
    async with pool.acquire(timeout=1) as connection:
        assert await connection.fetchval("SELECT 1") == 1


async def test_requests_queue_for_connections_in_arrival_order(pool: asyncpg.Pool) -> None:
    """Requests waiting for the pool's one connection get it in the order they asked; a
    wait that outlasts the acquire limit fails (DATABASE_TIMEOUT) and leaves its place; a
    request's place is given back when it ends, whatever happened to it.

    (What the queue is for, a newcomer taking a connection handed back before the waiter
    woken for it runs, depends on the event loop's timing and is not reproduced here: the
    order below holds without the queue too. What fails without it done right is the
    bookkeeping: a place not given back hangs the waiters, one given twice unlocks it.
    The tail latency it removes is measured in docs/benchmarks.md.)"""
    queue = ConnectionQueue(1)
    holder = RequestSql(pool, timeout=5, acquire_timeout=5, queue=queue)
    await holder.fetchval("SELECT 1")
    impatient = RequestSql(pool, timeout=5, acquire_timeout=0.2, queue=queue)
    with pytest.raises(DatabaseTimeout):
        await impatient.fetchval("SELECT 1")
    await impatient.close()
    order: list[int] = []

    async def ask(number: int) -> None:
        sql = RequestSql(pool, timeout=5, acquire_timeout=5, queue=queue)
        try:
            await sql.fetchval("SELECT pg_sleep(0.01)")
            order.append(number)
        finally:
            await sql.close()

    waiting = []
    for number in range(6):
        waiting.append(asyncio.create_task(ask(number)))
        await asyncio.sleep(0.01)  # each asks after the one before
    await holder.close()
    await asyncio.wait_for(asyncio.gather(*waiting), 10)
    assert order == list(range(6))
    assert not queue.locked()  # every place given back, none given twice
    async with pool.acquire(timeout=1) as connection:  # and the connection is in the pool
        assert await connection.fetchval("SELECT 1") == 1
