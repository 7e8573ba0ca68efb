"""The Mutation root (``write`` scope): record outbound messages, reprocess raw requests."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.errors import InvalidInput
from callbox.graphql.types.enums import Channel, NotificationState
from callbox.graphql.types.fields import mutation
from callbox.graphql.types.ids import parse_id
from callbox.graphql.types.messages import Message
from callbox.graphql.types.notifications import Notification


@strawberry.input(
    description="A message the sending application sent through a provider. Recorded under"
    " the same identity as the provider's receipts (receiver, OUTBOUND, providerMessageId)."
)
class RecordOutboundMessageInput:
    receiver: str = strawberry.field(description="The receiver that gets this provider's receipts.")
    provider_message_id: str = strawberry.field(description="The provider's id of the message.")
    to: str = strawberry.field(description="Normalised with the receiver's default region.")
    sender: str | None = strawberry.field(
        default=None, name="from", description="Default: the receiver's ourAddress."
    )
    body: str | None = None
    reference: str | None = None
    channel: Channel | None = strawberry.field(
        default=None, description="Default: EMAIL when to is an e-mail address, else SMS."
    )
    sent_at: datetime | None = strawberry.field(
        default=None, description="Without a zone: the receiver's timezone."
    )
    metadata: JSON | None = strawberry.field(
        default=None, description="A JSON object; keys already known are kept."
    )


@strawberry.type
class RecordOutboundMessagePayload:
    message: Message
    created: bool = strawberry.field(
        description="True if Callbox did not know the message yet (no receipt came first)."
    )


@strawberry.type
class ReprocessNotificationPayload:
    notification: Notification
    state: NotificationState
    reason: str | None = strawberry.field(
        description="As Notification.reason; or why it could not be reprocessed."
    )
    applied: int = strawberry.field(description="Events applied now (0 when all were known).")


@strawberry.type
class Mutation:
    @mutation(
        description="Tell Callbox about a message you sent, before or after its receipts: it"
        " never duplicates the message nor changes a status set by receipts; it fills what"
        " is missing and threads the message once both addresses are known."
    )
    async def record_outbound_message(
        self, info: Info, input: RecordOutboundMessageInput
    ) -> RecordOutboundMessagePayload:
        data = info.context.writer()
        metadata: object = input.metadata if input.metadata is not None else {}
        if not isinstance(metadata, dict):
            raise InvalidInput("metadata must be a JSON object")
        recorded = await data.record_outbound(
            receiver=input.receiver,
            provider_message_id=input.provider_message_id,
            channel=input.channel.value if input.channel is not None else None,
            sender=input.sender,
            recipient=input.to,
            body=input.body,
            reference=input.reference,
            sent_at=input.sent_at,
            metadata=metadata,
            recorded_at=datetime.now(UTC),
        )
        # Read it back fresh, and let nested fields of the payload reuse the row.
        row = (await data.messages_by_id([recorded.message_id]))[recorded.message_id]
        info.context.loaders.message.prime(row.id, row, force=True)
        return RecordOutboundMessagePayload(message=Message.from_row(row), created=recorded.created)

    @mutation(description="Parse a stored raw request again and apply what is new (idempotent).")
    async def reprocess_notification(
        self, info: Info, id: strawberry.ID
    ) -> ReprocessNotificationPayload:
        data = info.context.writer()
        notification_id = parse_id(info.context.sealer, CursorKind.NOTIFICATION, id, "id")
        outcome = await data.reprocess_notification(notification_id)
        row = (await data.notifications_by_id([outcome.notification_id]))[outcome.notification_id]
        info.context.loaders.notification.prime(row.id, row, force=True)
        return ReprocessNotificationPayload(
            notification=Notification.from_row(row),
            state=outcome.state,
            reason=outcome.reason,
            applied=outcome.applied,
        )
