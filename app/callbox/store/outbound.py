"""Record an outbound message the sending application tells us about (recordOutboundMessage).

The write and its rules (identity shared with receipts, what a record may fill in, the
conversation rule, the event for live subscriptions) are the SQL function
``callbox_record_outbound`` (store/sql/callbox_record_outbound.sql): one round trip, one
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callbox.db.connection import Connection


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


@dataclass(frozen=True, slots=True)
class RecordedOutbound:
    message_id: int
    created: bool
    """False: the message was known already (a receipt came first, or a repeated record)."""


_RECORD = """
SELECT message_id, created
FROM callbox_record_outbound($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
"""


async def record_outbound(connection: Connection, record: OutboundRecord) -> RecordedOutbound:
    row = await connection.fetchrow(
        _RECORD,
        record.receiver,
        record.provider,
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
    return RecordedOutbound(message_id=row["message_id"], created=row["created"])
