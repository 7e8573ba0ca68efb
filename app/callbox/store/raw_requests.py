"""Raw requests as received: what is kept of each, and the rejected ones' own write.

An accepted request is stored together with its events by the group-commit writer
(:mod:`callbox.store.writer`); a request that cannot be applied (unreadable payload, a value
the database refuses, a body over the limit) is stored here as ``REJECTED`` in its own short
transaction, so ``callbox reprocess`` can apply it once the cause is fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from callbox.db.connection import Pool
from callbox.providers.base import InboundRequest
from callbox.receivers import ReadyReceiver
from callbox.store import Store
from callbox.store.faults import faults_as_unavailable
from callbox.store.writer import IngestItem


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

    def to_item(self, events_json: str, note: str | None = None) -> IngestItem:
        """The request and its encoded events; ``note``: what the provider did not apply
        (kept as the notification's reason)."""
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
            note=note,
        )

    def for_provider(self) -> InboundRequest:
        return InboundRequest.from_stored(
            self.method, self.content_type, self.headers, self.body, self.query_string
        )


_INSERT_REJECTED = """
INSERT INTO callbox_notification (
    receiver, provider, received_at, peer_address, client_address, method, content_type,
    headers, body, body_size, query_string, state, reason, event_count, processed_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, 'REJECTED', $12, 0, $13)
RETURNING id
"""


async def store_rejected(store: Store, raw: RawRequest, reason: str) -> int:
    """Keep a request that was not applied, with the reason; its notification id.

    Raises:
        DatabaseUnavailable: a database fault; whether the row was stored is not confirmed.
    """
    with faults_as_unavailable():
        async with store.pool.acquire(timeout=store.limits.acquire_timeout) as connection:
            notification_id: int = await connection.fetchval(
                _INSERT_REJECTED,
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
                reason,
                datetime.now(UTC),
            )
    return notification_id


_PROBE = """
INSERT INTO callbox_notification (
    receiver, provider, peer_address, client_address, method, body_size, state
) VALUES ('-', '-', '-', '-', '-', 0, 'REJECTED')
"""


class _RolledBack(Exception):
    pass


async def probe_write(pool: Pool, *, limit_seconds: float) -> None:
    """Insert a row where callbacks go and roll it back: raises what a callback's write
    would meet (a full disk, a refusing trigger...); leaves nothing behind."""
    try:
        async with pool.acquire(timeout=limit_seconds) as connection, connection.transaction():
            await connection.execute(_PROBE, timeout=limit_seconds)
            raise _RolledBack
    except _RolledBack:
        return
