"""The only way the query layer reaches Postgres: statements on the asyncpg pool, observable.

Every statement goes through :class:`Sql`, so tests can count them (``observe_statements``)
and prove that a page of objects with their related objects costs a fixed number of queries.
Reads take a pooled connection each, so DataLoaders batching in parallel do not queue on one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg

from callbox.db.connection import Connection, Pool
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
        """One statement on a pooled connection, database errors as asyncpg raises them."""
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            return await getattr(connection, method)(query, *args, timeout=self._timeout)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Writes (mutations): the pool's statement limit, the acquire limit, faults mapped."""
        with _database_errors():
            async with (
                self._pool.acquire(timeout=self._acquire_timeout) as connection,
                connection.transaction(),
            ):
                yield SqlTransaction(connection)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A raw pooled connection, for code outside the layer that runs its own statements."""
        with _database_errors():
            async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                yield connection
