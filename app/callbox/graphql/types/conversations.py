"""Conversation: the thread between one of our addresses and another party on one channel."""

from __future__ import annotations

from datetime import datetime

import strawberry

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.paging import PageRequest
from callbox.graphql.data.rows import ConversationRow
from callbox.graphql.types.enums import Channel
from callbox.graphql.types.fields import field
from callbox.graphql.types.ids import to_id
from callbox.graphql.types.messages import Message
from callbox.graphql.types.pagination import Connection, connection, known_count


@strawberry.type(
    description="A thread: our address and theirs on one channel. With a key confined to some"
    " receivers, only their messages count (createdAt, messageCount, lastMessage, lastActivityAt)."
)
class Conversation:
    @field(description="Opaque and stable: the same conversation always has this id.")
    def id(self, info: Info) -> strawberry.ID:
        return to_id(info.context.sealer, CursorKind.CONVERSATION, self.row_id)

    channel: Channel
    our_address: str
    their_address: str
    created_at: datetime
    last_activity_at: datetime
    message_count: int
    last_message_id: strawberry.Private[int | None]
    row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: ConversationRow) -> Conversation:
        return cls(
            channel=Channel(row.channel),
            our_address=row.our_address,
            their_address=row.their_address,
            created_at=row.created_at,
            last_activity_at=row.last_activity_at,
            message_count=row.message_count,
            last_message_id=row.last_message_id,
            row_id=row.id,
        )

    @strawberry.field
    async def last_message(self, info: Info) -> Message | None:
        if self.last_message_id is None:
            return None
        row = await info.context.loaders.message.load(self.last_message_id)
        return Message.from_row(row) if row is not None else None

    @field(description="The thread's messages, newest first.")
    async def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Message]:
        request = PageRequest.from_arguments(
            CursorKind.MESSAGE,
            info.context.sealer,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        page = await info.context.loaders.conversation_messages.load((self.row_id, request))
        return connection(
            page, info.context.sealer, Message.from_row, known_count(self.message_count)
        )
