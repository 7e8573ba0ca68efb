"""Start and stop what Callbox needs at run time: database, migrations, connection pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from callbox.db.connection import Pool
from callbox.db.engine import DB, configure_engine
from callbox.db.pool import PooledConnection
from callbox.db.reach import naming_connect_failures
from callbox.events.hub import EventHub
from callbox.receivers import ReadyReceiver, prepare_receiver
from callbox.settings import Database, IPNetwork, Settings, parse_network
from callbox.store import Store
from callbox.store.applier import Applier
from callbox.store.faults import StoreLimits
from callbox.store.instance_key import InstanceKey
from callbox.store.migrate import run_migrations
from callbox.store.writer import IngestWriter

logger = logging.getLogger(__name__)


@dataclass
class CallboxRuntime:
    """Settings made ready: receivers with resolved secrets, and the database once started."""

    settings: Settings
    receivers: list[ReadyReceiver]
    trusted_proxies: tuple[IPNetwork, ...]
    events: EventHub
    """Live subscriptions: the NOTIFY listener and fan-out (run by the app's lifespan, after
    the database's; command-line tools have none running)."""
    database_url: str | None = None
    store: Store | None = None
    """Set while the database is up; handlers get it by dependency injection."""

    @property
    def pool(self) -> Pool | None:
        pool: Pool | None = DB.pool
        return pool

    def store_provider(self) -> Callable[[], Store | None]:
        """The dependency provider of ``store`` (``None`` while the database is not up).

        A plain function, not a bound method: Litestar deep-copies routers, and with them
        the providers' bound objects.
        """

        def running_store() -> Store | None:
            return self.store

        return running_store

    @classmethod
    def from_settings(cls, settings: Settings) -> CallboxRuntime:
        return cls(
            settings=settings,
            receivers=[
                prepare_receiver(receiver, index)
                for index, receiver in enumerate(settings.receivers)
            ],
            trusted_proxies=tuple(
                parse_network(entry) for entry in settings.server.trusted_proxies
            ),
            events=EventHub(settings.subscriptions),
        )


def store_limits(settings: Database) -> StoreLimits:
    return StoreLimits(
        statement_timeout=settings.statement_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        acquire_timeout=settings.acquire_timeout_seconds,
        callback_timeout=settings.callback_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def database_lifespan(runtime: CallboxRuntime) -> AsyncIterator[None]:
    """Embedded Postgres when no URL is set, migrations under a lock, then the pool."""
    settings = runtime.settings.database
    embedded = None
    url = settings.url
    if url is None:
        from callbox.db.embedded import start_embedded_postgres

        # The cluster lives in a subdirectory so the data dir can hold other things later.
        embedded = await asyncio.to_thread(
            start_embedded_postgres, Path(settings.data_dir) / "postgres"
        )
        url = embedded.url
        logger.warning(
            "no database URL configured: using embedded PostgreSQL in %s", settings.data_dir
        )
    runtime.database_url = url
    try:
        if settings.migrate_on_start:
            await run_migrations(url, connect_timeout=settings.connect_timeout_seconds)
        configure_engine(url)
        limits = store_limits(settings)
        with naming_connect_failures(url):  # a database out of reach at start: one line
            await DB.start_connection_pool(
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                # Every statement on the pool is bounded (asyncpg cancels it on the server),
                # and so is opening a connection: a frozen database is an error, not a hang.
                command_timeout=limits.statement_timeout,
                timeout=settings.connect_timeout_seconds,
                # Released without asyncpg's reset round trip unless needed (callbox.db.pool).
                connection_class=PooledConnection,
            )
        assert DB.pool is not None
        writer = IngestWriter(DB.pool, acquire_timeout=limits.acquire_timeout)
        ingest = runtime.settings.ingest
        applier = Applier(
            DB.pool,
            max_batch=ingest.apply_batch,
            claim_after_seconds=ingest.claim_after_seconds,
            backlog_alert=ingest.backlog_alert,
            acquire_timeout=limits.acquire_timeout,
        )
        await writer.start()
        await applier.start()
        key = InstanceKey(DB.pool, limits.acquire_timeout)
        await key.read_early()
        runtime.store = Store(DB.pool, writer, applier, key, limits, ingest.acknowledge)
        try:
            yield
        finally:
            runtime.store = None
            await writer.stop()
            await applier.stop()
            await DB.close_connection_pool()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
