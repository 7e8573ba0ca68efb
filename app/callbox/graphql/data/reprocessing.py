"""Re-run a stored notification through its receiver (the reprocessNotification mutation)."""

from __future__ import annotations

from callbox.graphql.data.runner import Sql
from callbox.receivers import ReadyReceiver
from callbox.store.reprocess import ReprocessOutcome, reprocess_notification


async def reprocess(sql: Sql, receiver: ReadyReceiver, notification_id: int) -> ReprocessOutcome:
    """Idempotent: events already applied are skipped (see callbox.store.reprocess)."""
    async with sql.connection() as connection:
        return await reprocess_notification(connection, receiver, notification_id)
