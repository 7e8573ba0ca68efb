"""Re-run normalisation from stored raw requests (``callbox reprocess``).

Idempotent: events already applied are recognised by their dedupe keys and skipped, so
reprocessing accepted notifications changes nothing and rejected ones apply at most once.

A run over a receiver's notifications stops only when the database is out of reach: a row that
cannot be reprocessed for any other reason (a value Postgres refuses, a parser bug) is reported
as ``failed``, left as it was, and the run goes on with the next one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from callbox.db.connection import Connection, Pool
from callbox.model.vocabulary import NotificationState
from callbox.providers.base import InboundRequest, PayloadRejected, split_notes
from callbox.receivers import ReadyReceiver
from callbox.store.apply import apply_events, encode_events
from callbox.store.faults import fault_kind
from callbox.store.writer import VALUE_REFUSED


@dataclass(frozen=True, slots=True)
class ReprocessOutcome:
    notification_id: int
    state: NotificationState
    reason: str | None
    """Why it is rejected, or what the provider did not apply (its note), or why it could
    not be reprocessed (``failed``)."""
    applied: int
    failed: bool = False
    """Could not be reprocessed (``reason`` says why); the stored row is as it was."""


_SELECT = """
SELECT id, receiver, method, content_type, headers, body, query_string, received_at, state
FROM callbox_notification WHERE id = $1 FOR UPDATE
"""

_UPDATE = """
WITH applied AS (  -- applied here: nothing is left for an applier
    DELETE FROM callbox_pending_apply WHERE notification = $1
)
UPDATE callbox_notification
SET state = $2, reason = $3, event_count = $4, processed_at = now()
WHERE id = $1
"""


async def reprocess_notification(
    connection: Connection, receiver: ReadyReceiver, notification_id: int
) -> ReprocessOutcome:
    """Parse the stored body again and apply what is new, in one transaction."""
    async with connection.transaction():
        # One application at a time (callbox_lock_apply): no deadlock with the appliers.
        await connection.execute("SELECT callbox_lock_apply()")
        row = await connection.fetchrow(_SELECT, notification_id)
        if row is None:
            raise LookupError(f"no notification {notification_id}")
        if row["body"] is None:
            reason = "body was not stored (over the size limit); cannot reprocess"
            return ReprocessOutcome(notification_id, NotificationState(row["state"]), reason, 0)
        request = InboundRequest.from_stored(
            row["method"],
            row["content_type"],
            json.loads(row["headers"]),
            bytes(row["body"]),
            row["query_string"],
        )
        try:
            events, note = split_notes(receiver.parse(request))
            events_json = encode_events(events)
        except PayloadRejected as rejection:
            if row["state"] != NotificationState.REJECTED.value:
                # Its events were applied when it arrived; a receiver setting changed since
                # must not turn an accepted request into a rejected one.
                return ReprocessOutcome(
                    notification_id, NotificationState(row["state"]), rejection.reason, 0
                )
            await connection.execute(
                _UPDATE, notification_id, NotificationState.REJECTED.value, rejection.reason, 0
            )
            return ReprocessOutcome(
                notification_id, NotificationState.REJECTED, rejection.reason, 0
            )
        result = await apply_events(
            connection,
            receiver=receiver.name,
            provider=receiver.provider.name,
            notification_id=notification_id,
            received_at=row["received_at"],
            our_address=receiver.context.our_address,
            events_json=events_json,
        )
        if (
            result.applied
            or not result.duplicates
            or row["state"] == NotificationState.ACCEPTED.value
        ):
            # As at ingest: a duplicate only when every event was known (a request with no
            # events to apply, a provider's note alone, is accepted).
            state = NotificationState.ACCEPTED
        else:
            state = NotificationState.DUPLICATE
        await connection.execute(_UPDATE, notification_id, state.value, note, len(events))
        if result.applied:
            # Live subscriptions: wake the listeners (after commit) for the events just applied.
            await connection.execute("SELECT pg_notify('callbox_events', 'reprocessed')")
        return ReprocessOutcome(notification_id, state, note, result.applied)


async def reprocess_receiver(
    pool: Pool,
    receiver: ReadyReceiver,
    *,
    include_accepted: bool,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReprocessOutcome]:
    """Reprocess a receiver's rejected and failed notifications (or all), oldest first."""
    condition = "" if include_accepted else " AND state IN ('REJECTED', 'FAILED')"
    async with pool.acquire() as connection:
        ids = [
            row["id"]
            for row in await connection.fetch(
                f"SELECT id FROM callbox_notification WHERE receiver = $1{condition} ORDER BY id",
                receiver.name,
            )
        ]
    outcomes = []
    async with pool.acquire() as connection:
        for done, notification_id in enumerate(ids, start=1):
            try:
                outcome = await reprocess_notification(connection, receiver, notification_id)
            except Exception as error:
                if fault_kind(error) is not None:
                    # The database is out of reach: every later row would fail the same way.
                    raise
                outcome = await _failed(connection, notification_id, error)
            outcomes.append(outcome)
            if progress is not None:
                progress(done, len(ids))
    return outcomes


async def _failed(
    connection: Connection, notification_id: int, error: Exception
) -> ReprocessOutcome:
    """The outcome for a row that could not be reprocessed (its transaction rolled back)."""
    if isinstance(error, VALUE_REFUSED):
        reason = f"value refused by the database: {error}"
    else:
        reason = f"cannot reprocess: {type(error).__name__}: {error}"
    state = await connection.fetchval(
        "SELECT state FROM callbox_notification WHERE id = $1", notification_id
    )
    stored = NotificationState(state) if state is not None else NotificationState.REJECTED
    return ReprocessOutcome(notification_id, stored, reason, 0, failed=True)
