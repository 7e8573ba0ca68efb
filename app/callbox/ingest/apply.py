"""Apply normalised events to the model inside the ingest transaction (plain SQL, one
statement per step, on the transaction's asyncpg connection).

Rules enforced here:
- each event applies once per receiver: its dedupe key is claimed in a unique index first,
  so retries and concurrent identical deliveries change nothing;
- a message's current status never leaves a final status (DELIVERED, FAILED) for a
  non-final one, and between two statuses of the same finality the later provider
  timestamp wins; the history keeps every event whatever its order;
- a receipt for an unknown message creates it with what is known; later events complete it;
- messages join the conversation of (channel, our address, their address) once both are known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from callbox.db.connection import Connection
from callbox.ingest.keywords import keyword_action
from callbox.ingest.receivers import ReadyReceiver
from callbox.model.vocabulary import OptOutAction, Status
from callbox.providers.base import Event, MessageReceived, OptOutReported, StatusReported


@dataclass(frozen=True, slots=True)
class ApplyContext:
    receiver: ReadyReceiver
    notification_id: int
    received_at: datetime


@dataclass(slots=True)
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    message_ids: list[int] | None = None

    def touched(self, message_id: int) -> None:
        if self.message_ids is None:
            self.message_ids = []
        self.message_ids.append(message_id)


_CLAIM_EVENT = """
INSERT INTO callbox_applied_event (receiver, dedupe_key, notification, applied_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (receiver, dedupe_key) DO NOTHING
RETURNING id
"""

# Whether an incoming status replaces the current one (see the module docstring).
_TAKES_OVER = """(CASE
    WHEN m.status IN ('DELIVERED', 'FAILED') AND excluded.status NOT IN ('DELIVERED', 'FAILED')
        THEN false
    WHEN excluded.status IN ('DELIVERED', 'FAILED') AND m.status NOT IN ('DELIVERED', 'FAILED')
        THEN true
    ELSE m.status_occurred_at IS NULL OR excluded.status_occurred_at IS NULL
        OR excluded.status_occurred_at >= m.status_occurred_at
END)"""

_UPSERT_OUTBOUND = f"""
INSERT INTO callbox_message AS m (
    provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
    status, provider_status, failure_reason, reference, status_occurred_at, created_at,
    sent_at, delivered_at, updated_at, occurred_at, metadata, is_test
) VALUES (
    $1, $2, $3, 'OUTBOUND', $4, $5, $6, $7, $8::text, $9, $10, $11, $12::timestamptz,
    COALESCE($13::timestamptz, $16::timestamptz), $14::timestamptz,
    CASE WHEN $8::text = 'DELIVERED' THEN COALESCE($12::timestamptz, $16::timestamptz) END,
    $16::timestamptz, COALESCE($14::timestamptz, $13::timestamptz, $12::timestamptz,
    $16::timestamptz), $15::jsonb, $17
)
ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
    sender = COALESCE(m.sender, excluded.sender),
    recipient = COALESCE(m.recipient, excluded.recipient),
    body = COALESCE(m.body, excluded.body),
    reference = COALESCE(m.reference, excluded.reference),
    sent_at = COALESCE(m.sent_at, excluded.sent_at),
    metadata = m.metadata || excluded.metadata,
    is_test = m.is_test OR excluded.is_test,
    updated_at = excluded.updated_at,
    status = CASE WHEN {_TAKES_OVER} THEN excluded.status ELSE m.status END,
    provider_status = CASE WHEN {_TAKES_OVER}
        THEN excluded.provider_status ELSE m.provider_status END,
    failure_reason = CASE WHEN {_TAKES_OVER}
        THEN excluded.failure_reason ELSE m.failure_reason END,
    delivered_at = CASE WHEN {_TAKES_OVER} AND excluded.status = 'DELIVERED'
        THEN excluded.delivered_at ELSE m.delivered_at END,
    status_occurred_at = CASE WHEN {_TAKES_OVER}
        THEN excluded.status_occurred_at ELSE m.status_occurred_at END
RETURNING id, conversation, sender, recipient, channel, occurred_at
"""

_UPSERT_INBOUND = """
INSERT INTO callbox_message AS m (
    provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
    status, provider_status, status_occurred_at, created_at, updated_at, occurred_at,
    in_reply_to, metadata, is_test
) VALUES (
    $1, $2, $3, 'INBOUND', $4, $5, $6, $7, 'RECEIVED', $8, $9::timestamptz, $11::timestamptz,
    $11::timestamptz, COALESCE($9::timestamptz, $11::timestamptz),
    $10, $12::jsonb, $13
)
ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
    sender = COALESCE(m.sender, excluded.sender),
    recipient = COALESCE(m.recipient, excluded.recipient),
    body = COALESCE(m.body, excluded.body),
    in_reply_to = COALESCE(m.in_reply_to, excluded.in_reply_to),
    metadata = m.metadata || excluded.metadata,
    updated_at = excluded.updated_at
RETURNING id, conversation, sender, recipient, channel, occurred_at
"""

_INSERT_STATUS_EVENT = """
INSERT INTO callbox_status_event (
    message, status, provider_status, failure_reason, occurred_at, received_at, notification,
    is_test
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

_JOIN_CONVERSATION = """
INSERT INTO callbox_conversation AS c (
    channel, our_address, their_address, created_at, last_activity_at, last_message_id,
    message_count
) VALUES ($1, $2, $3, $4, $5, $6, 1)
ON CONFLICT (channel, our_address, their_address) DO UPDATE SET
    message_count = c.message_count + 1,
    last_message_id = CASE WHEN excluded.last_activity_at >= c.last_activity_at
        THEN excluded.last_message_id ELSE c.last_message_id END,
    last_activity_at = GREATEST(c.last_activity_at, excluded.last_activity_at)
RETURNING id
"""

_SET_CONVERSATION = "UPDATE callbox_message SET conversation = $1 WHERE id = $2"

_FIND_OUTBOUND = """
SELECT id, conversation, sender FROM callbox_message
WHERE receiver = $1 AND direction = 'OUTBOUND' AND provider_message_id = $2
"""

_INSERT_OPT_OUT = """
INSERT INTO callbox_opt_out (
    address, action, channel, provider, receiver, source, text, occurred_at, received_at,
    message, notification
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


async def apply_events(
    connection: Connection, context: ApplyContext, events: list[Event]
) -> ApplyResult:
    """Apply each event not seen before, in order; count what was new and what was not."""
    result = ApplyResult()
    receiver = context.receiver
    for event in events:
        claimed = await connection.fetchval(
            _CLAIM_EVENT,
            receiver.name,
            event.dedupe_key,
            context.notification_id,
            context.received_at,
        )
        if claimed is None:
            result.duplicates += 1
            continue
        result.applied += 1
        match event:
            case StatusReported():
                result.touched(await _apply_status(connection, context, event))
            case MessageReceived():
                result.touched(await _apply_inbound(connection, context, event))
            case OptOutReported():
                await _apply_opt_out(connection, context, event)
    return result


async def _apply_status(
    connection: Connection, context: ApplyContext, event: StatusReported
) -> int:
    receiver = context.receiver
    sender = event.sender or receiver.context.our_address
    row = await connection.fetchrow(
        _UPSERT_OUTBOUND,
        receiver.provider.name,
        receiver.name,
        event.provider_message_id,
        event.channel.value,
        sender,
        event.recipient,
        event.body,
        event.status.value,
        event.provider_status,
        event.failure_reason.value if event.failure_reason else None,
        event.reference,
        event.occurred_at,
        event.created_at,
        event.sent_at,
        json.dumps(dict(event.metadata)),
        context.received_at,
        event.is_test,
    )
    assert row is not None
    message_id: int = row["id"]
    await connection.execute(
        _INSERT_STATUS_EVENT,
        message_id,
        event.status.value,
        event.provider_status,
        event.failure_reason.value if event.failure_reason else None,
        event.occurred_at,
        context.received_at,
        context.notification_id,
        event.is_test,
    )
    if row["conversation"] is None and row["sender"] and row["recipient"]:
        await _join_conversation(
            connection, row, our_address=row["sender"], their_address=row["recipient"]
        )
    return message_id


async def _apply_inbound(
    connection: Connection, context: ApplyContext, event: MessageReceived
) -> int:
    receiver = context.receiver
    recipient = event.recipient or receiver.context.our_address
    replied_to = None
    if event.in_reply_to:
        replied_to = await connection.fetchrow(_FIND_OUTBOUND, receiver.name, event.in_reply_to)
        if recipient is None and replied_to is not None:
            recipient = replied_to["sender"]
    row = await connection.fetchrow(
        _UPSERT_INBOUND,
        receiver.provider.name,
        receiver.name,
        event.provider_message_id,
        event.channel.value,
        event.sender,
        recipient,
        event.body,
        event.provider_status,
        event.occurred_at,
        event.in_reply_to,
        context.received_at,
        json.dumps(dict(event.metadata)),
        event.is_test,
    )
    assert row is not None
    message_id: int = row["id"]
    await connection.execute(
        _INSERT_STATUS_EVENT,
        message_id,
        Status.RECEIVED.value,
        event.provider_status,
        None,
        event.occurred_at,
        context.received_at,
        context.notification_id,
        event.is_test,
    )
    if row["conversation"] is None:
        if replied_to is not None and replied_to["conversation"] is not None:
            await _attach(connection, row, replied_to["conversation"])
        elif row["recipient"]:
            await _join_conversation(
                connection, row, our_address=row["recipient"], their_address=row["sender"]
            )
    action = keyword_action(event.body)
    if action is not None:
        await _record_opt_out(
            connection,
            context,
            address=event.sender,
            action=action,
            channel=event.channel.value,
            source="keyword",
            text=event.body,
            occurred_at=event.occurred_at,
            message_id=message_id,
        )
    return message_id


async def _apply_opt_out(
    connection: Connection, context: ApplyContext, event: OptOutReported
) -> None:
    message_id = None
    if event.provider_message_id:
        found = await connection.fetchrow(
            _FIND_OUTBOUND, context.receiver.name, event.provider_message_id
        )
        message_id = found["id"] if found else None
    await _record_opt_out(
        connection,
        context,
        address=event.address,
        action=OptOutAction.OPT_IN if event.opted_in else OptOutAction.OPT_OUT,
        channel=event.channel.value,
        source=event.source,
        text=event.text,
        occurred_at=event.occurred_at,
        message_id=message_id,
    )


async def _record_opt_out(
    connection: Connection,
    context: ApplyContext,
    *,
    address: str,
    action: OptOutAction,
    channel: str,
    source: str,
    text: str | None,
    occurred_at: datetime | None,
    message_id: int | None,
) -> None:
    await connection.execute(
        _INSERT_OPT_OUT,
        address,
        action.value,
        channel,
        context.receiver.provider.name,
        context.receiver.name,
        source,
        text,
        occurred_at or context.received_at,
        context.received_at,
        message_id,
        context.notification_id,
    )


async def _join_conversation(
    connection: Connection, message: asyncpg.Record, *, our_address: str, their_address: str
) -> None:
    conversation_id = await connection.fetchval(
        _JOIN_CONVERSATION,
        message["channel"],
        our_address,
        their_address,
        message["occurred_at"],
        message["occurred_at"],
        message["id"],
    )
    await connection.execute(_SET_CONVERSATION, conversation_id, message["id"])


async def _attach(connection: Connection, message: asyncpg.Record, conversation_id: int) -> None:
    await connection.execute(
        """
        UPDATE callbox_conversation SET
            message_count = message_count + 1,
            last_message_id = CASE WHEN $2::timestamptz >= last_activity_at
                THEN $3 ELSE last_message_id END,
            last_activity_at = GREATEST(last_activity_at, $2::timestamptz)
        WHERE id = $1
        """,
        conversation_id,
        message["occurred_at"],
        message["id"],
    )
    await connection.execute(_SET_CONVERSATION, conversation_id, message["id"])
