"""The in-process purge: every ``[retention] purge_interval_minutes``, on one replica only.

Every replica runs the timer; at each tick one pooled connection tries the purge advisory
lock, and only the replica that gets it purges (``callbox purge`` takes the same lock). A
replica that dies mid-purge loses its session and with it the lock; the batches it had
committed stay done and the next run carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from callbox.db.periodic import run_every
from callbox.runtime import CallboxRuntime
from callbox.store.purge import PurgeReport, purge, purge_lock
from callbox.store.retention import RetentionPolicy

logger = logging.getLogger(__name__)


class PurgeJob:
    def __init__(
        self,
        runtime: CallboxRuntime,
        policies: list[RetentionPolicy],
        *,
        interval_seconds: float,
        batch_size: int,
    ) -> None:
        self.runtime = runtime
        self.policies = policies
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size

    async def run_once(self) -> PurgeReport | None:
        """Purge if no other replica is purging; ``None`` when the lock was taken."""
        pool = self.runtime.pool
        if pool is None:
            return None
        async with pool.acquire() as connection, purge_lock(connection) as locked:
            if not locked:
                logger.debug("purge skipped: another replica is purging")
                return None
            report = await purge(connection, self.policies, batch_size=self.batch_size)
        logger.info(
            "purge done: %d raw requests, %d messages, %d conversations",
            report.raw_requests,
            report.messages,
            report.conversations,
            extra={
                "callbox_event": "purge",
                "raw_requests": report.raw_requests,
                "messages": report.messages,
                "conversations": report.conversations,
            },
        )
        return report

    async def run_forever(self) -> None:
        await run_every(self.interval_seconds, self.run_once, what="purge")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run_forever(), name="callbox-purge-job")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
