"""The Query root: thin resolvers, each going through the query layer (``context.reader()``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from callbox.graphql.context import Info
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import StatsQuery
from callbox.graphql.data.paging import PageRequest
from callbox.graphql.types.conversations import Conversation
from callbox.graphql.types.fields import field
from callbox.graphql.types.filters import (
    ConversationFilter,
    MessageFilter,
    NotificationFilter,
    OptOutFilter,
    merged,
    time_range,
)
from callbox.graphql.types.ids import parse_id
from callbox.graphql.types.messages import Message
from callbox.graphql.types.notifications import Notification
from callbox.graphql.types.opt_outs import OptOut
from callbox.graphql.types.pagination import Connection, connection
from callbox.graphql.types.receivers import Receiver
from callbox.graphql.types.stats import Stats

_PAGE_ARGUMENTS = (
    "Keyset pages, newest first: first/after walk to older items, last/before to newer ones;"
    " at most 100 per page (default 20)."
)


@strawberry.type
class Query:
    @field(description="A message by id (null if there is none this key may see).")
    async def message(self, info: Info, id: strawberry.ID) -> Message | None:
        info.context.reader()
        row = await info.context.loaders.message.load(
            parse_id(info.context.sealer, CursorKind.MESSAGE, id, "id")
        )
        return Message.from_row(row) if row is not None else None

    @field(description=f"Messages, by occurredAt. {_PAGE_ARGUMENTS}")
    async def messages(
        self,
        info: Info,
        filter: MessageFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Message]:
        data = info.context.reader()
        request = PageRequest.from_arguments(
            CursorKind.MESSAGE,
            info.context.sealer,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        query = (filter or MessageFilter()).to_query(info.context.sealer)
        page = await data.messages(query, request)
        return connection(
            page, info.context.sealer, Message.from_row, lambda: data.count_messages(query)
        )

    @field(description="A conversation by id (null if this key sees none of it).")
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation | None:
        info.context.reader()
        row = await info.context.loaders.conversation.load(
            parse_id(info.context.sealer, CursorKind.CONVERSATION, id, "id")
        )
        return Conversation.from_row(row) if row is not None else None

    @field(description=f"Conversations, by last activity. {_PAGE_ARGUMENTS}")
    async def conversations(
        self,
        info: Info,
        filter: ConversationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Conversation]:
        data = info.context.reader()
        request = PageRequest.from_arguments(
            CursorKind.CONVERSATION,
            info.context.sealer,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        query = (filter or ConversationFilter()).to_query()
        page = await data.conversations(query, request)
        return connection(
            page,
            info.context.sealer,
            Conversation.from_row,
            lambda: data.count_conversations(query),
        )

    @field(description="A raw request by id.")
    async def notification(self, info: Info, id: strawberry.ID) -> Notification | None:
        info.context.reader()
        row = await info.context.loaders.notification.load(
            parse_id(info.context.sealer, CursorKind.NOTIFICATION, id, "id")
        )
        return Notification.from_row(row) if row is not None else None

    @field(description=f"Raw requests, by receivedAt. {_PAGE_ARGUMENTS}")
    async def notifications(
        self,
        info: Info,
        filter: NotificationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Notification]:
        data = info.context.reader()
        request = PageRequest.from_arguments(
            CursorKind.NOTIFICATION,
            info.context.sealer,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        query = (filter or NotificationFilter()).to_query()
        page = await data.notifications(query, request)
        return connection(
            page,
            info.context.sealer,
            Notification.from_row,
            lambda: data.count_notifications(query),
        )

    @field(description=f"The opt-out ledger, by occurredAt. {_PAGE_ARGUMENTS}")
    async def opt_outs(
        self,
        info: Info,
        filter: OptOutFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[OptOut]:
        data = info.context.reader()
        request = PageRequest.from_arguments(
            CursorKind.OPT_OUT,
            info.context.sealer,
            first=first,
            after=after,
            last=last,
            before=before,
        )
        query = (filter or OptOutFilter()).to_query()
        page = await data.opt_outs(query, request)
        return connection(
            page, info.context.sealer, OptOut.from_row, lambda: data.count_opt_outs(query)
        )

    @field(
        description="Whether the address is opted out: the latest ledger row for it (by"
        " occurredAt) decides. Give the address as stored (E.164 for phone numbers)."
    )
    async def is_opted_out(self, info: Info, address: str) -> bool:
        return await info.context.reader().is_opted_out(address)

    @field(description="Message statistics for messages with occurredAt in [since, until).")
    def stats(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        receiver: str | None = None,
        receivers: list[str] | None = None,
    ) -> Stats:
        info.context.reader()
        query = StatsQuery(
            receivers=merged(receiver, receivers), occurred=time_range(since, until, "stats")
        )
        return Stats(since=since, until=until, query=query)

    @field(description="The configured receivers (those this key may see).")
    def receivers(self, info: Info) -> list[Receiver]:
        return [Receiver.from_ready(r) for r in info.context.reader().visible_receivers()]
