"""What the query layer returns: plain, typed rows (no GraphQL in here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from callbox.graphql.data.cursors import SortKey


def _json(value: Any) -> Any:
    # asyncpg hands jsonb over as text unless a codec is set; accept both.
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    provider: str
    receiver: str
    provider_message_id: str
    direction: str
    channel: str
    sender: str | None
    recipient: str | None
    body: str | None
    status: str
    provider_status: str | None
    failure_reason: str | None
    reference: str | None
    status_occurred_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    updated_at: datetime
    occurred_at: datetime
    conversation_id: int | None
    in_reply_to: str | None
    metadata: Any
    is_test: bool
    subject: str | None
    opened_at: datetime | None
    clicked_at: datetime | None

    COLUMNS = (
        "m.id, m.provider, m.receiver, m.provider_message_id, m.direction, m.channel, m.sender,"
        " m.recipient, m.body, m.status, m.provider_status, m.failure_reason, m.reference,"
        " m.status_occurred_at, m.created_at, m.sent_at, m.delivered_at, m.updated_at,"
        " m.occurred_at, m.conversation, m.in_reply_to, m.metadata, m.is_test, m.subject,"
        " m.opened_at, m.clicked_at"
    )

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> MessageRow:
        return cls(
            id=record["id"],
            provider=record["provider"],
            receiver=record["receiver"],
            provider_message_id=record["provider_message_id"],
            direction=record["direction"],
            channel=record["channel"],
            sender=record["sender"],
            recipient=record["recipient"],
            body=record["body"],
            status=record["status"],
            provider_status=record["provider_status"],
            failure_reason=record["failure_reason"],
            reference=record["reference"],
            status_occurred_at=record["status_occurred_at"],
            created_at=record["created_at"],
            sent_at=record["sent_at"],
            delivered_at=record["delivered_at"],
            updated_at=record["updated_at"],
            occurred_at=record["occurred_at"],
            conversation_id=record["conversation"],
            in_reply_to=record["in_reply_to"],
            metadata=_json(record["metadata"]),
            is_test=record["is_test"],
            subject=record["subject"],
            opened_at=record["opened_at"],
            clicked_at=record["clicked_at"],
        )

    @property
    def sort_key(self) -> SortKey:
        return SortKey(self.occurred_at, self.id)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """A conversation as one caller sees it: for a confined key, ``last_activity_at``,
    ``last_message_id`` and ``message_count`` cover only the messages it may see."""

    id: int
    channel: str
    our_address: str
    their_address: str
    created_at: datetime
    last_activity_at: datetime
    last_message_id: int | None
    message_count: int

    COLUMNS = "c.id, c.channel, c.our_address, c.their_address, c.created_at"

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> ConversationRow:
        return cls(
            id=record["id"],
            channel=record["channel"],
            our_address=record["our_address"],
            their_address=record["their_address"],
            created_at=record["created_at"],
            last_activity_at=record["last_activity_at"],
            last_message_id=record["last_message_id"],
            message_count=record["message_count"],
        )

    @property
    def sort_key(self) -> SortKey:
        return SortKey(self.last_activity_at, self.id)


@dataclass(frozen=True, slots=True)
class StatusEventRow:
    id: int
    message_id: int
    status: str
    provider_status: str | None
    failure_reason: str | None
    occurred_at: datetime | None
    received_at: datetime
    notification_id: int | None
    is_test: bool
    kind: str
    bounce_type: str | None
    detail: str | None

    COLUMNS = (
        "e.id, e.message, e.status, e.provider_status, e.failure_reason, e.occurred_at,"
        " e.received_at, e.notification, e.is_test, e.kind, e.bounce_type, e.detail"
    )

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> StatusEventRow:
        return cls(
            id=record["id"],
            message_id=record["message"],
            status=record["status"],
            provider_status=record["provider_status"],
            failure_reason=record["failure_reason"],
            occurred_at=record["occurred_at"],
            received_at=record["received_at"],
            notification_id=record["notification"],
            is_test=record["is_test"],
            kind=record["kind"],
            bounce_type=record["bounce_type"],
            detail=record["detail"],
        )


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """A raw request, without its body (loaded separately, only when asked for)."""

    id: int
    receiver: str
    provider: str
    received_at: datetime
    peer_address: str
    client_address: str
    method: str
    content_type: str | None
    headers: dict[str, str]
    body_size: int
    query_string: str
    state: str
    reason: str | None
    event_count: int
    processed_at: datetime | None

    WAITING = "EXISTS (SELECT 1 FROM callbox_pending_apply w WHERE w.notification = n.id)"
    """The request's events wait to be applied: it is PENDING, whatever its stored state."""
    COLUMNS = (
        "n.id, n.receiver, n.provider, n.received_at, n.peer_address, n.client_address,"
        " n.method, n.content_type, n.headers, n.body_size, n.query_string,"
        f" CASE WHEN {WAITING} THEN 'PENDING' ELSE n.state END AS state, n.reason,"
        " n.event_count, n.processed_at"
    )

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> NotificationRow:
        return cls(
            id=record["id"],
            receiver=record["receiver"],
            provider=record["provider"],
            received_at=record["received_at"],
            peer_address=record["peer_address"],
            client_address=record["client_address"],
            method=record["method"],
            content_type=record["content_type"],
            headers=_json(record["headers"]),
            body_size=record["body_size"],
            query_string=record["query_string"],
            state=record["state"],
            reason=record["reason"],
            event_count=record["event_count"],
            processed_at=record["processed_at"],
        )

    @property
    def sort_key(self) -> SortKey:
        return SortKey(self.received_at, self.id)


@dataclass(frozen=True, slots=True)
class OptOutRow:
    id: int
    address: str
    action: str
    channel: str
    provider: str
    receiver: str
    source: str
    text: str | None
    occurred_at: datetime
    received_at: datetime
    message_id: int | None
    notification_id: int | None

    COLUMNS = (
        "o.id, o.address, o.action, o.channel, o.provider, o.receiver, o.source, o.text,"
        " o.occurred_at, o.received_at, o.message, o.notification"
    )

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> OptOutRow:
        return cls(
            id=record["id"],
            address=record["address"],
            action=record["action"],
            channel=record["channel"],
            provider=record["provider"],
            receiver=record["receiver"],
            source=record["source"],
            text=record["text"],
            occurred_at=record["occurred_at"],
            received_at=record["received_at"],
            message_id=record["message"],
            notification_id=record["notification"],
        )

    @property
    def sort_key(self) -> SortKey:
        return SortKey(self.occurred_at, self.id)


@dataclass(frozen=True, slots=True)
class KeyCount:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class MessageCounts:
    """Counts of the messages in a stats window, grouped several ways."""

    total: int
    by_provider: list[KeyCount]
    by_receiver: list[KeyCount]
    by_direction: list[KeyCount]
    by_channel: list[KeyCount]
    by_status: list[KeyCount]
    by_failure_reason: list[KeyCount]
    opened: int
    """Messages opened at least once (e-mail)."""
    clicked: int
    """Messages with at least one click (e-mail)."""


@dataclass(frozen=True, slots=True)
class SeriesBucket:
    start: datetime
    count: int
    inbound: int
    outbound: int
    delivered: int
    failed: int
    opened: int
    clicked: int
