"""Apply normalised events to the model: one SQL function call per callback.

The writes happen in the ``callbox_ingest`` / ``callbox_apply_events`` SQL functions (one
file each in ``store/sql/``), so a callback costs one round trip. Rules they enforce:

- each event applies once per receiver: its dedupe key is claimed in a unique index first,
  so retries and concurrent identical deliveries change nothing;
- a message's current status never leaves a final status (DELIVERED, FAILED) for a
  non-final one, and between two statuses of the same finality the later provider
  timestamp wins (``callbox_status_takes_over``); the history keeps every event whatever
  its order;
- a receipt for an unknown message creates it with what is known; later events complete it;
- messages join the conversation of (channel, our address, their address) once both are
  known; an inbound reply to one of our messages joins that message's conversation
  (``callbox_thread_message``);
- opt-out pushes and keyword replies (``callbox_keyword_action``) go to the opt-out ledger
  (``callbox_record_opt_out``); an opt-out that names only a message takes its recipient;
- the parts of a long inbound message delivered in several callbacks wait in
  ``callbox_message_part`` until all are in, then become one message
  (``callbox_apply_inbound_part``);
- only a report of kind STATUS changes a message's status; deferrals, opens, clicks,
  complaints and unsubscribes are kept in its history, and opens and clicks set its
  ``opened_at`` / ``clicked_at`` (the first one reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from callbox.db.connection import Connection
from callbox.model.vocabulary import OptOutAction
from callbox.providers.base import (
    Event,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    StatusReported,
)

_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class ApplyResult:
    applied: int
    duplicates: int
    message_ids: list[int]


def _event_document(event: Event) -> dict[str, Any]:
    match event:
        case StatusReported():
            return {
                "kind": "status",
                "dedupe_key": event.dedupe_key,
                "provider_message_id": event.provider_message_id,
                "channel": event.channel.value,
                "status": event.status.value,
                "provider_status": event.provider_status,
                "failure_reason": event.failure_reason.value if event.failure_reason else None,
                "occurred_at": event.occurred_at,
                "recipient": event.recipient,
                "sender": event.sender,
                "body": event.body,
                "reference": event.reference,
                "created_at": event.created_at,
                "sent_at": event.sent_at,
                "metadata": dict(event.metadata),
                "is_test": event.is_test,
                "report": event.kind.value,
                "bounce_type": event.bounce_type.value if event.bounce_type else None,
                "detail": event.detail,
                "subject": event.subject,
            }
        case MessageReceived():
            return {
                "kind": "inbound",
                "dedupe_key": event.dedupe_key,
                "provider_message_id": event.provider_message_id,
                "channel": event.channel.value,
                "sender": event.sender,
                "recipient": event.recipient,
                "body": event.body,
                "occurred_at": event.occurred_at,
                "provider_status": event.provider_status,
                "in_reply_to": event.in_reply_to,
                "metadata": dict(event.metadata),
                "is_test": event.is_test,
                "part": (
                    {
                        "group": event.part.group,
                        "number": event.part.number,
                        "count": event.part.count,
                    }
                    if event.part is not None
                    else None
                ),
                "subject": event.subject,
            }
        case OptOutReported():
            action = OptOutAction.OPT_IN if event.opted_in else OptOutAction.OPT_OUT
            return {
                "kind": "opt_out",
                "dedupe_key": event.dedupe_key,
                "address": event.address,
                "action": action.value,
                "channel": event.channel.value,
                "source": event.source,
                "text": event.text,
                "occurred_at": event.occurred_at,
                "provider_message_id": event.provider_message_id,
            }


def encode_events(events: list[Event]) -> str:
    """The events as the JSON array the SQL functions read.

    Raises:
        PayloadRejected: a text value holds a NUL character, which Postgres cannot store.
    """
    documents = [_event_document(event) for event in events]
    encoded = _ENCODER.encode(documents).decode()
    if "\\u0000" in encoded:
        for index, document in enumerate(documents):
            for name, value in _text_values(document):
                if "\x00" in value:
                    raise PayloadRejected(
                        f"event {index}: {name} contains a NUL character (\\u0000),"
                        " which cannot be stored"
                    )
    return encoded


def _text_values(document: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in document.items():
        if isinstance(value, str):
            found.append((prefix + key, value))
        elif isinstance(value, dict):
            found.extend(_text_values(value, f"{prefix}{key}."))
    return found


_APPLY_EVENTS = """
SELECT applied, duplicates, message_ids
FROM callbox_apply_events($1, $2, $3, $4, $5, $6::jsonb)
"""


async def apply_events(
    connection: Connection,
    *,
    receiver: str,
    provider: str,
    notification_id: int,
    received_at: Any,
    our_address: str | None,
    events_json: str,
) -> ApplyResult:
    """Apply encoded events (:func:`encode_events`) for an already stored notification."""
    row = await connection.fetchrow(
        _APPLY_EVENTS,
        receiver,
        provider,
        notification_id,
        received_at,
        our_address,
        events_json,
    )
    assert row is not None
    return ApplyResult(row["applied"], row["duplicates"], list(row["message_ids"]))
