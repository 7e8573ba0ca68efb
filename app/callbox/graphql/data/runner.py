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


class Sql:
    """Statements on the pool, one pooled connection per statement."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        _announce(query)
        return await self._pool.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        _announce(query)
        return await self._pool.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        _announce(query)
        return await self._pool.fetchval(query, *args)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield SqlTransaction(connection)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A raw pooled connection, for code outside the layer that runs its own statements."""
        async with self._pool.acquire() as connection:
            yield connection
