"""The instance key (:mod:`callbox.sealing`): read from the database, made on first use.

Every replica sharing the database reads the same row, so all of them seal ids and cursors
alike. Two replicas starting together may both insert; the primary key keeps the first and
both read that one back. The key is read on start when it can be, and otherwise on first
use, so a server started before ``callbox migrate`` (its readiness check says so) works once
the table exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncpg

from callbox.db.connection import Pool
from callbox.sealing import KEY_BYTES, Sealer, sealer_for
from callbox.store.faults import DatabaseUnavailable, faults_as_unavailable

_READ = "SELECT key FROM callbox_instance_key WHERE id = 1"
_MAKE = "INSERT INTO callbox_instance_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING"


class SchemaNotMigrated(Exception):
    """The instance key's table does not exist yet: ``callbox migrate`` has not run."""


class InstanceKey:
    """The instance's :class:`Sealer`, read (or made) once and kept."""

    def __init__(self, pool: Pool, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._sealer: Sealer | None = None
        self._lock = asyncio.Lock()

    async def sealer(self) -> Sealer:
        """Raises:
        DatabaseUnavailable: a database fault (nothing kept; the next call tries again).
        SchemaNotMigrated: the table is missing.
        """
        if self._sealer is None:
            async with self._lock:
                if self._sealer is None:
                    self._sealer = sealer_for(await self._read_or_make())
        return self._sealer

    async def read_early(self) -> None:
        """Read the key now if the database allows (on start, so a request never waits
        for it); if not, the first request that needs it tries again."""
        with contextlib.suppress(DatabaseUnavailable, SchemaNotMigrated):
            await self.sealer()

    async def _read_or_make(self) -> bytes:
        with faults_as_unavailable():
            try:
                async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                    key: bytes | None = await connection.fetchval(_READ)
                    if key is None:
                        await connection.execute(_MAKE, secrets.token_bytes(KEY_BYTES))
                        key = await connection.fetchval(_READ)
            except asyncpg.UndefinedTableError:
                raise SchemaNotMigrated(
                    "the database schema is not migrated: run `callbox migrate`"
                ) from None
        assert key is not None
        return bytes(key)
