"""The ingest pipeline: parse, then in one transaction store the raw request and apply its
events; only after commit is the provider answered 200.

A payload that cannot be parsed is stored as rejected in its own short transaction and
answered 400 with the reason, so it can be reprocessed once the cause is fixed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import asyncpg

from callbox.db.connection import Connection, Pool
from callbox.ingest.apply import encode_events
from callbox.ingest.receivers import ReadyReceiver
from callbox.ingest.writer import IngestItem, IngestWriter
from callbox.model.vocabulary import NotificationState
from callbox.providers.base import Event, InboundRequest, PayloadRejected

logger = logging.getLogger(__name__)

# Errors that mean "the database is not there right now": answer 503 so the provider retries.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


class DatabaseUnavailable(Exception):
    """The database could not be reached; nothing was acknowledged."""


@dataclass(frozen=True, slots=True)
class RawRequest:
    """Everything kept of a request, exactly as received (secrets removed from headers)."""

    receiver: ReadyReceiver
    received_at: datetime
    peer_address: str
    client_address: str
    method: str
    content_type: str | None
    headers: dict[str, str]
    body: bytes | None
    body_size: int
    query_string: str

    def to_item(self, events_json: str) -> IngestItem:
        return IngestItem(
            receiver=self.receiver.name,
            provider=self.receiver.provider.name,
            received_at=self.received_at,
            peer=self.peer_address,
            client=self.client_address,
            method=self.method,
            content_type=self.content_type,
            headers=self.headers,
            body=self.body,
            body_size=self.body_size,
            query_string=self.query_string,
            our_address=self.receiver.context.our_address,
            events_json=events_json,
        )

    def for_provider(self) -> InboundRequest:
        return inbound_request(
            self.method, self.content_type, self.headers, self.body, self.query_string
        )


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status_code: int
    state: NotificationState | None
    reason: str | None = None
    notification_id: int | None = None
    applied: int = 0
    duplicates: int = 0


_INSERT_NOTIFICATION = """
INSERT INTO callbox_notification (
    receiver, provider, received_at, peer_address, client_address, method, content_type,
    headers, body, body_size, query_string, state, reason, event_count, processed_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15)
RETURNING id
"""


def parse_events(receiver: ReadyReceiver, request: InboundRequest) -> Sequence[Event]:
    """Run the provider's pure parser; PayloadRejected propagates with its reason."""
    return receiver.provider.parse(request, receiver.context)


def inbound_request(
    method: str,
    content_type: str | None,
    headers: dict[str, str],
    body: bytes | None,
    query_string: str,
) -> InboundRequest:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return InboundRequest(
        method=method,
        body=body or b"",
        content_type=media_type,
        headers=headers,
        query=dict(parse_qsl(query_string, keep_blank_values=True)),
    )


async def ingest(writer: IngestWriter, pool: Pool, raw: RawRequest) -> IngestOutcome:
    """Store and apply one request; the outcome says how to answer the provider."""
    try:
        events = list(parse_events(raw.receiver, raw.for_provider()))
        events_json = encode_events(events)
    except PayloadRejected as rejection:
        return await store_rejected(pool, raw, rejection.reason, status_code=400)
    except Exception:
        # A bug in a provider module: keep the request for `callbox reprocess`, and answer
        # 500 so the provider retries rather than believing it was handled.
        logger.exception("provider %s failed to parse a request", raw.receiver.provider.name)
        return await store_rejected(
            pool, raw, "internal error while parsing; stored for reprocessing", status_code=500
        )
    try:
        row = await writer.write(raw.to_item(events_json))
    except DATABASE_UNAVAILABLE as error:
        raise DatabaseUnavailable(str(error)) from error
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as error:
        # A value Postgres refuses (e.g. an impossible date): the request is kept, rejected.
        return await store_rejected(
            pool, raw, f"value refused by the database: {error}", status_code=400
        )
    return IngestOutcome(
        200,
        NotificationState(row.state),
        None,
        row.notification_id,
        applied=row.applied,
        duplicates=row.duplicates,
    )


async def store_rejected(
    pool: Pool, raw: RawRequest, reason: str, *, status_code: int
) -> IngestOutcome:
    try:
        async with pool.acquire() as connection:
            notification_id = await _insert_notification(
                connection, raw, NotificationState.REJECTED, reason, 0
            )
    except DATABASE_UNAVAILABLE as error:
        raise DatabaseUnavailable(str(error)) from error
    return IngestOutcome(status_code, NotificationState.REJECTED, reason, notification_id)


async def _insert_notification(
    connection: Connection,
    raw: RawRequest,
    state: NotificationState,
    reason: str | None,
    event_count: int,
) -> int:
    notification_id: int = await connection.fetchval(
        _INSERT_NOTIFICATION,
        raw.receiver.name,
        raw.receiver.provider.name,
        raw.received_at,
        raw.peer_address,
        raw.client_address,
        raw.method,
        raw.content_type,
        json.dumps(raw.headers),
        raw.body,
        raw.body_size,
        raw.query_string,
        state.value,
        reason,
        event_count,
        datetime.now(UTC),
    )
    return notification_id
