"""Record an outbound message the sending application tells us about (recordOutboundMessage).

The same identity as receipts use, ``(receiver, 'OUTBOUND', provider_message_id)``, so the
record and the provider's receipts land on one row whichever comes first:

- record first: the message is created ``PENDING``; receipts then take the status over by
  the usual precedence (app/callbox/ingest/apply.py);
- receipt first: the record only fills what is still missing (addresses, body, reference,
  sent-at, metadata keys) and never touches the status the receipts set.

Once both addresses are known the message joins the conversation of (channel, our address,
their address) through ingest's own SQL function, in the same transaction as the upsert, so a
receipt racing with the record cannot make the message join twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callbox.graphql.data.rows import RecordedMessage
from callbox.graphql.data.runner import Sql

_UPSERT = """
INSERT INTO callbox_message AS m (
    provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
    status, reference, created_at, sent_at, updated_at, occurred_at, metadata, is_test,
    conversation
) VALUES (
    $1, $2, $3, 'OUTBOUND', $4::text, $5::text, $6::text, $7, 'PENDING', $8, $9::timestamptz,
    $10::timestamptz, $9::timestamptz, COALESCE($10::timestamptz, $9::timestamptz), $11::jsonb,
    false,
    callbox_find_conversation($4::text, $5::text, $6::text)
)
ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
    sender = COALESCE(m.sender, excluded.sender),
    recipient = COALESCE(m.recipient, excluded.recipient),
    body = COALESCE(m.body, excluded.body),
    reference = COALESCE(m.reference, excluded.reference),
    sent_at = COALESCE(m.sent_at, excluded.sent_at),
    metadata = excluded.metadata || m.metadata,
    updated_at = excluded.updated_at
RETURNING id, conversation, sender, recipient, channel, occurred_at, (xmax = 0) AS created
"""

# Ingest's own thread rule (migrations/callbox_2026_11_22t16_00_00_000000.py and
# ..._22t22_00_...): one conversation per (channel, our address, their address), its last
# activity, last message and count following its messages. A new message is inserted into
# its conversation when that exists (the upsert looks it up) and only counted in it; one that
# starts a conversation, or an existing message completed now, joins it afterwards.
_COUNT_IN_CONVERSATION = "SELECT callbox_count_in_conversation($1, $2, $3)"
_JOIN_CONVERSATION = "SELECT callbox_join_conversation($1, $2, $3, $4, $5)"

# For live subscriptions: the event row (its address: the other party, as for receipts),
# and a wake-up for listeners (sent after commit).
_EMIT_RECORDED = """
SELECT callbox_emit_event('RECORDED', $1, 'OUTBOUND', $2, NULL, $3, NULL, $4),
       pg_notify('callbox_events', 'recorded')
"""


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    """Addresses already normalised; ``sender`` already defaulted to our address."""

    receiver: str
    provider: str
    provider_message_id: str
    channel: str
    sender: str | None
    recipient: str
    body: str | None
    reference: str | None
    sent_at: datetime | None
    recorded_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


async def record_outbound(sql: Sql, record: OutboundRecord) -> RecordedMessage:
    async with sql.transaction() as transaction:
        row = await transaction.fetchrow(
            _UPSERT,
            record.provider,
            record.receiver,
            record.provider_message_id,
            record.channel,
            record.sender,
            record.recipient,
            record.body,
            record.reference,
            record.recorded_at,
            record.sent_at,
            json.dumps(record.metadata),
        )
        assert row is not None
        conversation = row["conversation"]
        if row["created"] and conversation is not None:
            await transaction.execute(
                _COUNT_IN_CONVERSATION, row["id"], conversation, row["occurred_at"]
            )
        elif conversation is None and row["sender"] and row["recipient"]:
            conversation = await transaction.fetchval(
                _JOIN_CONVERSATION,
                row["id"],
                row["channel"],
                row["sender"],
                row["recipient"],
                row["occurred_at"],
            )
        await transaction.execute(
            _EMIT_RECORDED, record.receiver, row["id"], conversation, row["recipient"]
        )
    return RecordedMessage(message_id=row["id"], created=row["created"])
