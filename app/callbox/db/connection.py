"""The connection type the SQL helpers accept: a plain or a pooled asyncpg connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    PoolConnection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
else:  # asyncpg's classes are not subscriptable at run time
    from asyncpg import Connection, Pool
    from asyncpg.pool import PoolConnectionProxy as PoolConnection

__all__ = ["Connection", "Pool", "PoolConnection"]
