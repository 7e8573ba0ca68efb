"""OptOut: one row of the opt-out ledger."""

from __future__ import annotations

from datetime import datetime

import strawberry

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.rows import OptOutRow
from callbox.graphql.types.enums import Channel, OptOutAction
from callbox.graphql.types.fields import field
from callbox.graphql.types.ids import to_id
from callbox.graphql.types.messages import Message
from callbox.graphql.types.notifications import Notification


@strawberry.type(description="An opt-out or opt-in, from a provider push or a keyword reply.")
class OptOut:
    @field(description="Opaque and stable: the same ledger row always has this id.")
    def id(self, info: Info) -> strawberry.ID:
        return to_id(info.context.sealer, CursorKind.OPT_OUT, self.row_id)

    address: str
    action: OptOutAction
    channel: Channel
    provider: str
    receiver: str
    source: str = strawberry.field(
        description="What told us: provider (an opt-out push), keyword (a STOP reply), status,"
        " complaint (marked as spam), unsubscribe, suppression (the provider's suppression"
        " list)."
    )
    text: str | None = strawberry.field(description="The words that did it, when known.")
    occurred_at: datetime
    received_at: datetime
    message_id: strawberry.Private[int | None]
    notification_id: strawberry.Private[int | None]
    row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: OptOutRow) -> OptOut:
        return cls(
            address=row.address,
            action=OptOutAction(row.action),
            channel=Channel(row.channel),
            provider=row.provider,
            receiver=row.receiver,
            source=row.source,
            text=row.text,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            message_id=row.message_id,
            notification_id=row.notification_id,
            row_id=row.id,
        )

    @field(description="The inbound reply or our message it is about, if any.")
    async def message(self, info: Info) -> Message | None:
        if self.message_id is None:
            return None
        row = await info.context.loaders.message.load(self.message_id)
        return Message.from_row(row) if row is not None else None

    @strawberry.field
    async def notification(self, info: Info) -> Notification | None:
        if self.notification_id is None:
            return None
        row = await info.context.loaders.notification.load(self.notification_id)
        return Notification.from_row(row) if row is not None else None
