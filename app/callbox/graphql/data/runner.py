"""The only way the query layer reaches Postgres: statements on the asyncpg pool, observable.

Every statement goes through :class:`Sql`, so tests can count them (``observe_statements``)
and prove that a page of objects with their related objects costs a fixed number of queries.

A GraphQL request over HTTP runs all its statements on one pooled connection
(:class:`RequestSql`): taken at its first statement, handed back when the answer is ready.
A subscription takes a pooled connection per statement (:class:`Sql`): its context lives
as long as the socket, and must not hold a connection while it waits for events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg

from callbox.db.connection import Connection, Pool, PoolConnection
from callbox.graphql.errors import DatabaseTimeout, DatabaseUnavailable
from callbox.store.faults import RETRY_AFTER_SECONDS, FaultKind, fault_kind

StatementListener = Callable[[str], None]
_listeners: list[StatementListener] = []


@contextlib.contextmanager
def observe_statements() -> Iterator[list[str]]:
    """Collect the SQL of every statement the query layer runs while the block is open."""
    seen: list[str] = []
    listener: StatementListener = seen.append
    _listeners.append(listener)
    try:
        yield seen
    finally:
        _listeners.remove(listener)


def _announce(query: str) -> None:
    for listener in _listeners:
        listener(query)


_acquisitions: list[list[None]] = []


@contextlib.contextmanager
def observe_acquisitions() -> Iterator[list[None]]:
    """One entry per connection the query layer takes from the pool while the block is open."""
    seen: list[None] = []
    _acquisitions.append(seen)
    try:
        yield seen
    finally:
        _acquisitions.remove(seen)


@contextlib.asynccontextmanager
async def _pooled(pool: Pool, acquire_timeout: float | None) -> AsyncIterator[Connection]:
    async with pool.acquire(timeout=acquire_timeout) as connection:
        for seen in _acquisitions:
            seen.append(None)
        yield connection


class SqlTransaction:
    """One connection inside a transaction; statements are announced like the pool's."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        _announce(query)
        return await self.connection.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        _announce(query)
        return await self.connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        _announce(query)
        return await self.connection.execute(query, *args)


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    """A database fault during a read as an error the client reads, with its code."""
    try:
        yield
    except Exception as error:
        kind = fault_kind(error)
        if kind is FaultKind.TIMEOUT:
            raise DatabaseTimeout(
                "the database did not answer in time; the read was cancelled: retry, or"
                " narrow the query"
            ) from error
        if kind is not None:
            raise DatabaseUnavailable(
                "the database is unavailable; retry shortly", RETRY_AFTER_SECONDS[kind]
            ) from error
        raise


class Sql:
    """Statements on the pool, one pooled connection per statement.

    Reads are bounded: ``timeout`` per statement (cancelled on the server when exceeded) and
    ``acquire_timeout`` for a pooled connection; a fault is :class:`DatabaseTimeout` or
    :class:`DatabaseUnavailable` (``None``: the pool's own limits).
    """

    def __init__(
        self, pool: Pool, timeout: float | None = None, acquire_timeout: float | None = None
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        self._acquire_timeout = acquire_timeout

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        _announce(query)
        with _database_errors():
            records: list[asyncpg.Record] = await self._run("fetch", query, *args)
            return records

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        _announce(query)
        with _database_errors():
            record: asyncpg.Record | None = await self._run("fetchrow", query, *args)
            return record

    async def fetchval(self, query: str, *args: Any) -> Any:
        _announce(query)
        with _database_errors():
            return await self._run("fetchval", query, *args)

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        """One statement, database errors as asyncpg raises them."""
        async with self._connection() as connection:
            return await getattr(connection, method)(query, *args, timeout=self._timeout)

    def _connection(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """The connection for one statement or block (database errors as raised)."""
        return _pooled(self._pool, self._acquire_timeout)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Writes (mutations): the pool's statement limit, the acquire limit, faults mapped."""
        with _database_errors():
            async with self._connection() as connection, connection.transaction():
                yield SqlTransaction(connection)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A raw connection, for code outside the layer that runs its own statements (no
        statement of this layer may run until the block ends: see :class:`RequestSql`)."""
        with _database_errors():
            async with self._connection() as connection:
                yield connection


class ConnectionQueue(asyncio.Semaphore):
    """The GraphQL requests of one process, in arrival order, for as many connections as
    the pool holds.

    asyncpg's pool is not fair: a connection handed back goes to whichever request asks
    next, not to the one waiting longest, and a waiter that loses that race queues again at
    the end. Under load (64 requests for 10 connections) some requests waited many times
    the median (p95 5x, p99 8x). ``asyncio.Semaphore`` serves its waiters first come, first
    served, so a request takes its turn here and then finds a connection free. Made with
    as many places as the pool has connections.
    """


class RequestSql(Sql):
    """Every statement of one request on one pooled connection.

    The connection is taken at the first statement (a request that runs none takes none),
    within ``acquire_timeout`` as for :class:`Sql`, and handed back by :meth:`close`, which
    the request's owner calls once the answer is ready, whether it succeeded, failed or was
    cancelled. Sibling fields resolve concurrently (graphql-core gathers them), but a
    connection runs one statement at a time: statements take turns on a lock, and so do the
    blocks of :meth:`transaction` and :meth:`connection`, which hold it until they end.

    With a :class:`ConnectionQueue` (the HTTP endpoint's), requests take connections in the
    order they asked for one; the acquire limit covers the wait in the queue and in the pool.
    If no connection can be had within the acquire limit, every later statement of the
    request fails the same way at once, rather than each waiting the limit in turn. A
    connection that broke (the database went away) is handed back and the next statement
    takes another.
    """

    def __init__(
        self,
        pool: Pool,
        timeout: float | None = None,
        acquire_timeout: float | None = None,
        *,
        queue: ConnectionQueue | None = None,
    ) -> None:
        super().__init__(pool, timeout, acquire_timeout)
        self._turn = asyncio.Lock()
        self._queue = queue
        self._queued = False
        self._held: PoolConnection | None = None
        self._refused: BaseException | None = None
        self._closed = False

    @contextlib.asynccontextmanager
    async def _take_turn(self) -> AsyncIterator[Connection]:
        async with self._turn:
            if self._closed:
                raise RuntimeError("the request is over: its connection was handed back")
            if self._refused is not None:
                raise self._refused
            if self._held is None:
                try:
                    async with asyncio.timeout(self._acquire_timeout):
                        if self._queue is not None and not self._queued:
                            await self._queue.acquire()
                            self._queued = True
                        self._held = await self._pool.acquire()
                except Exception as error:
                    self._refused = error
                    raise
                for seen in _acquisitions:
                    seen.append(None)
            connection = self._held
            try:
                yield connection
            finally:
                if _broken(connection):
                    self._held = None
                    await self._pool.release(connection)

    def _connection(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        return self._take_turn()

    async def close(self) -> None:
        """Hand the connection back (if one was taken) once the statement running on it, if
        any, has ended; later statements are refused."""
        self._closed = True
        try:
            await self._turn.acquire()
        except BaseException:
            # Cancelled while a statement still runs on it: the connection cannot go back
            # to the pool as it is; closing it gives its place in the pool back.
            held, self._held = self._held, None
            if held is not None:
                held.terminate()
            self._leave_queue()
            raise
        try:
            held, self._held = self._held, None
            if held is not None:
                await self._pool.release(held)
        finally:
            self._leave_queue()
            self._turn.release()

    def _leave_queue(self) -> None:
        if self._queued:
            assert self._queue is not None  # (queued only with a queue)
            self._queued = False
            self._queue.release()


def _broken(connection: Connection) -> bool:
    try:
        return connection.is_closed()
    except asyncpg.InterfaceError:  # already handed back (the pool closed it)
        return True
