"""Deleting event rows past the replay window.

Cursors older than ``[subscriptions] replay_days`` are refused (``CURSOR_EXPIRED``), so rows
that old are never read again. They are kept one day longer than that, so a transaction that
ran long cannot leave a row older than the window behind a cursor still inside it. Each
process deletes them every ``[subscriptions] purge_interval_minutes``; batches skip rows
another process is deleting, so replicas never wait on each other. ``callbox purge`` can
call :func:`purge_expired_events` too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callbox.db.connection import Connection

MARGIN = timedelta(days=1)
BATCH_SIZE = 5000

_DELETE_BATCH = """
DELETE FROM callbox_event WHERE id IN (
    SELECT id FROM callbox_event WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""


def event_purge_cutoff(now: datetime, replay_days: float) -> datetime:
    """Rows stored before this are deleted."""
    return now - timedelta(days=replay_days) - MARGIN


async def purge_expired_events(
    connection: Connection,
    *,
    replay_days: float,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> int:
    """Delete rows past the window (and the margin), a short transaction per batch; the count.

    Example::

        async with pool.acquire() as connection:
            await purge_expired_events(connection, replay_days=settings.subscriptions.replay_days)
    """
    cutoff = event_purge_cutoff(now or datetime.now(UTC), replay_days)
    deleted = 0
    while True:
        status = await connection.execute(_DELETE_BATCH, cutoff, batch_size)
        count = int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"
        deleted += count
        if count < batch_size:
            return deleted
