"""The ingest pipeline: parse, store the raw request with its parsed events (group commit),
answer 200 once that is committed, and apply the events behind the answer
(:mod:`callbox.store.applier`). With ``[ingest] acknowledge = "applied"`` the answer waits
until they are applied too.

A payload that cannot be parsed is stored as rejected in its own short transaction and
answered 400 with the reason, so it can be reprocessed once the cause is fixed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from callbox.model.vocabulary import NotificationState
from callbox.providers.base import PayloadRejected, split_notes
from callbox.store import Store
from callbox.store.apply import encode_events
from callbox.store.faults import faults_as_unavailable
from callbox.store.raw_requests import RawRequest, store_rejected
from callbox.store.writer import VALUE_REFUSED

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status_code: int
    state: NotificationState | None
    reason: str | None = None
    notification_id: int | None = None
    applied: int = 0
    duplicates: int = 0


OUTCOME_STATE = "callbox_ingest_outcome"
"""The receiver handler leaves its outcome in the request's scope state under this key (for
the callback log line and metrics, which ops reads after the answer)."""


def remember_outcome(scope_state: dict[str, Any], outcome: IngestOutcome) -> None:
    """Called by the receiver handler; costs one dict assignment."""
    scope_state[OUTCOME_STATE] = outcome


def outcome_of(scope_state: dict[str, Any]) -> IngestOutcome | None:
    outcome: IngestOutcome | None = scope_state.get(OUTCOME_STATE)
    return outcome


async def ingest(store: Store, raw: RawRequest) -> IngestOutcome:
    """Store one request (and with ``acknowledge = "applied"`` apply it); the outcome says
    how to answer the provider.

    Raises:
        DatabaseUnavailable: a database fault; whether the request was stored is not
            confirmed: answer 503 so the provider retries (a stored one is then a duplicate).
    """
    try:
        # A provider's note of what it does not apply is stored as the request's reason.
        events, note = split_notes(raw.receiver.parse(raw.for_provider()))
        events_json = encode_events(events)
    except PayloadRejected as rejection:
        return await reject(store, raw, rejection.reason, status_code=400)
    except Exception as error:
        # A bug in a provider module: keep the request for `callbox reprocess`, and answer
        # 500 so the provider retries rather than believing it was handled. The log line
        # names the provider and the exception's type only: its message and traceback quote
        # payload values (phone numbers, texts), which never go to the log.
        logger.error(
            "provider %s failed to parse a request on receiver %s: %s (stored as rejected)",
            raw.receiver.provider.name,
            raw.receiver.name,
            type(error).__name__,
        )
        return await reject(
            store, raw, "internal error while parsing; stored for reprocessing", status_code=500
        )
    try:
        with faults_as_unavailable():
            row = await store.writer.write(raw.to_item(events_json, note))
    except VALUE_REFUSED as error:
        # A value Postgres refuses (e.g. an impossible date): the request is kept, rejected.
        return await reject(store, raw, f"value refused by the database: {error}", status_code=400)
    state = NotificationState(row.state)
    if state is not NotificationState.PENDING:  # nothing to apply
        return IngestOutcome(200, state, None, row.notification_id)
    if store.acknowledge != "applied":
        store.applier.submit(row.notification_id)
        return IngestOutcome(200, state, None, row.notification_id)
    with faults_as_unavailable():
        applied = await store.applier.applied(row.notification_id)
    if applied.state == NotificationState.FAILED:
        # Stored, and kept FAILED with the reason for `callbox reprocess`: the provider's
        # retry would fail the same way.
        return IngestOutcome(400, NotificationState.FAILED, applied.reason, row.notification_id)
    return IngestOutcome(
        200,
        NotificationState(applied.state),
        None,
        row.notification_id,
        applied=applied.applied,
        duplicates=applied.duplicates,
    )


async def reject(store: Store, raw: RawRequest, reason: str, *, status_code: int) -> IngestOutcome:
    """Keep the request as rejected; the answer is ``status_code`` with the reason."""
    notification_id = await store_rejected(store, raw, reason)
    return IngestOutcome(status_code, NotificationState.REJECTED, reason, notification_id)
