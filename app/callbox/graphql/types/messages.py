"""Message and StatusEvent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.rows import MessageRow, StatusEventRow
from callbox.graphql.types.enums import (
    BounceType,
    Channel,
    Direction,
    FailureReason,
    ReportKind,
    Status,
)
from callbox.graphql.types.fields import field
from callbox.graphql.types.ids import to_id

if TYPE_CHECKING:
    from callbox.graphql.types.conversations import Conversation
    from callbox.graphql.types.notifications import Notification


@strawberry.type(
    description="One report about a message, as received: a status, or (kind) a"
    " deferral, an open, a click, a complaint, an unsubscribe."
)
class StatusEvent:
    kind: ReportKind = strawberry.field(
        description="STATUS: a delivery status, which may change the message's status; any"
        " other kind is kept here and leaves it as it is."
    )
    status: Status = strawberry.field(
        description="The status reported; for other kinds, the status the report implies"
        " (DELIVERED for an open, SENT for a deferral)."
    )
    provider_status: str | None = strawberry.field(description="The provider's own word.")
    failure_reason: FailureReason | None
    bounce_type: BounceType | None = strawberry.field(
        description="When the report is a bounce: what kind."
    )
    detail: str | None = strawberry.field(
        description="What the provider said of it: a bounce's SMTP answer, a rejection's"
        " reason, the link clicked."
    )
    occurred_at: datetime | None = strawberry.field(
        description="When it happened, by the provider's clock (null: not said)."
    )
    received_at: datetime = strawberry.field(description="When Callbox received the report.")
    is_test: bool
    notification_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: StatusEventRow) -> StatusEvent:
        return cls(
            kind=ReportKind(row.kind),
            status=Status(row.status),
            provider_status=row.provider_status,
            failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
            bounce_type=BounceType(row.bounce_type) if row.bounce_type else None,
            detail=row.detail,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            is_test=row.is_test,
            notification_id=row.notification_id,
        )

    @field(description="The raw request that carried this report.")
    async def notification(
        self, info: Info
    ) -> Annotated[Notification, strawberry.lazy("callbox.graphql.types.notifications")] | None:
        from callbox.graphql.types.notifications import Notification

        if self.notification_id is None:
            return None
        row = await info.context.loaders.notification.load(self.notification_id)
        return Notification.from_row(row) if row is not None else None


@strawberry.type(description="One message, inbound or outbound, with what is known of it.")
class Message:
    @field(description="Opaque and stable: the same message always has this id.")
    def id(self, info: Info) -> strawberry.ID:
        return to_id(info.context.sealer, CursorKind.MESSAGE, self.row_id)

    provider: str
    receiver: str = strawberry.field(description="The receiver (callback URL) it came through.")
    provider_message_id: str
    direction: Direction
    channel: Channel
    sender: str | None = strawberry.field(name="from", description="E.164, e-mail or name.")
    recipient: str | None = strawberry.field(name="to", description="E.164, e-mail or name.")
    subject: str | None = strawberry.field(description="E-mail: the subject line.")
    body: str | None = strawberry.field(description="The text (of an e-mail: its plain text).")
    status: Status
    failure_reason: FailureReason | None
    provider_status: str | None = strawberry.field(
        description="The provider's own word for the current status."
    )
    reference: str | None = strawberry.field(description="The sender's own reference.")
    in_reply_to: str | None = strawberry.field(
        description="Provider id of our message this inbound message answers, when known."
    )
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    updated_at: datetime
    occurred_at: datetime = strawberry.field(
        description="When the message happened (sent or received); lists are ordered by it."
    )
    status_occurred_at: datetime | None = strawberry.field(
        description="The provider's time of the current status."
    )
    opened_at: datetime | None = strawberry.field(
        description="E-mail: the first open reported (null: none); opens leave the status."
    )
    clicked_at: datetime | None = strawberry.field(
        description="E-mail: the first click reported (null: none)."
    )
    metadata: JSON
    is_test: bool
    conversation_id: strawberry.Private[int | None]
    row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: MessageRow) -> Message:
        return cls(
            provider=row.provider,
            receiver=row.receiver,
            provider_message_id=row.provider_message_id,
            direction=Direction(row.direction),
            channel=Channel(row.channel),
            sender=row.sender,
            recipient=row.recipient,
            subject=row.subject,
            body=row.body,
            status=Status(row.status),
            failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
            provider_status=row.provider_status,
            reference=row.reference,
            in_reply_to=row.in_reply_to,
            created_at=row.created_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            updated_at=row.updated_at,
            occurred_at=row.occurred_at,
            status_occurred_at=row.status_occurred_at,
            opened_at=row.opened_at,
            clicked_at=row.clicked_at,
            metadata=JSON(row.metadata),
            is_test=row.is_test,
            conversation_id=row.conversation_id,
            row_id=row.id,
        )

    @field(description="The thread it belongs to (null until both sides are known).")
    async def conversation(
        self, info: Info
    ) -> Annotated[Conversation, strawberry.lazy("callbox.graphql.types.conversations")] | None:
        from callbox.graphql.types.conversations import Conversation

        if self.conversation_id is None:
            return None
        row = await info.context.loaders.conversation.load(self.conversation_id)
        return Conversation.from_row(row) if row is not None else None

    @field(
        description="History, oldest first (by when it happened): every status and every"
        " other report (opens, clicks, deferrals...)."
    )
    async def events(self, info: Info) -> list[StatusEvent]:
        rows = await info.context.loaders.message_events.load(self.row_id)
        return [StatusEvent.from_row(row) for row in rows]
