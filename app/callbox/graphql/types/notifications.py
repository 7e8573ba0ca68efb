"""Notification: one raw HTTP request to a receiver, kept for debugging and reprocessing."""

from __future__ import annotations

import base64
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.rows import NotificationRow
from callbox.graphql.types.enums import NotificationState
from callbox.graphql.types.fields import field
from callbox.graphql.types.ids import to_id
from callbox.graphql.types.messages import StatusEvent


@strawberry.type(description="One raw request to a receiver, exactly as received.")
class Notification:
    @field(description="Opaque and stable: the same raw request always has this id.")
    def id(self, info: Info) -> strawberry.ID:
        return to_id(info.context.sealer, CursorKind.NOTIFICATION, self.row_id)

    receiver: str
    provider: str
    state: NotificationState
    reason: str | None = strawberry.field(
        description="REJECTED: why. FAILED: why applying its events failed. ACCEPTED or"
        " DUPLICATE: what the provider's request says"
        " that Callbox did not apply, and why (e.g. a Mailgun event that names no message, a"
        " Sinch summary report that names no recipient); null when everything applied."
    )
    received_at: datetime
    processed_at: datetime | None
    client_address: str = strawberry.field(
        description="The client, after trusted proxies' X-Forwarded-For."
    )
    peer_address: str = strawberry.field(description="The socket peer.")
    method: str
    content_type: str | None
    headers: JSON = strawberry.field(description="Headers as stored (secrets never are).")
    query_string: str
    body_size: int = strawberry.field(description="Bytes received (also when not stored).")
    event_count: int = strawberry.field(
        description="Events the provider module found in it to apply (what it did not apply"
        " is in reason)."
    )
    row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: NotificationRow) -> Notification:
        return cls(
            receiver=row.receiver,
            provider=row.provider,
            state=NotificationState(row.state),
            reason=row.reason,
            received_at=row.received_at,
            processed_at=row.processed_at,
            client_address=row.client_address,
            peer_address=row.peer_address,
            method=row.method,
            content_type=row.content_type,
            headers=JSON(row.headers),
            query_string=row.query_string,
            body_size=row.body_size,
            event_count=row.event_count,
            row_id=row.id,
        )

    @field(
        description="The body as UTF-8 text (invalid bytes replaced); null when it was not"
        " stored (over the receiver's size limit)."
    )
    async def body(self, info: Info) -> str | None:
        body = await info.context.loaders.notification_body.load(self.row_id)
        return body.decode("utf-8", errors="replace") if body is not None else None

    @field(description="The exact body bytes, base64-encoded.")
    async def body_base64(self, info: Info) -> str | None:
        body = await info.context.loaders.notification_body.load(self.row_id)
        return base64.b64encode(body).decode() if body is not None else None

    @field(description="The status events this request applied.")
    async def events(self, info: Info) -> list[StatusEvent]:
        rows = await info.context.loaders.notification_events.load(self.row_id)
        return [StatusEvent.from_row(row) for row in rows]
