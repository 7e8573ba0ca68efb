"""The query layer's one entry point, bound to what the caller may see.

A :class:`CallboxData` is made per request from the API key's :class:`Visibility`; every
read and write of the GraphQL API goes through one of its methods, and each applies the
visibility (and the filter's receivers) itself, so no resolver can forget it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callbox.graphql.data import (
    conversations,
    events,
    messages,
    notifications,
    opt_outs,
    stats,
)
from callbox.graphql.data.addresses import address_candidates, normalised_input
from callbox.graphql.data.filters import (
    BucketSize,
    ConversationQuery,
    MessageQuery,
    NotificationQuery,
    OptOutQuery,
    StatsQuery,
    representable,
)
from callbox.graphql.data.paging import Page, PageRequest
from callbox.graphql.data.params import Params
from callbox.graphql.data.rows import (
    ConversationRow,
    MessageCounts,
    MessageRow,
    NotificationRow,
    OptOutRow,
    SeriesBucket,
    StatusEventRow,
)
from callbox.graphql.data.runner import Sql
from callbox.graphql.data.visibility import Visibility
from callbox.graphql.errors import Forbidden, InvalidInput, NotFound
from callbox.receivers import ReadyReceiver
from callbox.store.outbound import OutboundRecord, RecordedOutbound, record_outbound
from callbox.store.reprocess import ReprocessOutcome, reprocess_notification


class CallboxData:
    def __init__(
        self, sql: Sql, visibility: Visibility, receivers: Sequence[ReadyReceiver]
    ) -> None:
        self.sql = sql
        self.visibility = visibility
        self._receivers = {receiver.name: receiver for receiver in receivers}

    # Receivers ---------------------------------------------------------------------------

    def visible_receivers(self) -> list[ReadyReceiver]:
        return [r for r in self._receivers.values() if self.visibility.allows(r.name)]

    def writable_receiver(self, name: str) -> ReadyReceiver:
        """A configured receiver this key may write to."""
        receiver = self._receivers.get(name)
        if receiver is None or not self.visibility.allows(name):
            raise Forbidden(f"receiver {name!r}: no such receiver for this API key")
        return receiver

    def _scope(self, requested: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return self.visibility.restrict(requested)

    def address_forms(self, value: str, requested: tuple[str, ...] | None) -> tuple[str, ...]:
        """The stored forms of an address given in a filter: a national number is read in the
        default region of each receiver ``requested``, or, when none is named, of each
        receiver this key sees (docs/graphql.md, "Lists and pages")."""
        if requested is None:
            regions = [receiver.context.default_region for receiver in self.visible_receivers()]
        else:
            regions = [
                self._receivers[name].context.default_region if name in self._receivers else None
                for name in requested
            ]
        return address_candidates(value, regions, named=requested is not None)

    def _addresses(
        self, value: str | None, requested: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        return None if value is None else self.address_forms(value, requested)

    # Messages ----------------------------------------------------------------------------

    async def messages(self, query: MessageQuery, page: PageRequest) -> Page[MessageRow]:
        return await messages.page_messages(
            self.sql,
            query,
            page,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def count_messages(self, query: MessageQuery) -> int:
        return await messages.count_messages(
            self.sql,
            query,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def messages_by_id(self, ids: Sequence[int]) -> dict[int, MessageRow]:
        return await messages.messages_by_id(self.sql, ids, receivers=self._scope(None))

    async def conversation_message_pages(
        self, conversation_ids: Sequence[int], page: PageRequest
    ) -> dict[int, Page[MessageRow]]:
        return await messages.conversation_message_pages(
            self.sql, conversation_ids, page, receivers=self._scope(None)
        )

    async def events_by_message(self, ids: Sequence[int]) -> dict[int, list[StatusEventRow]]:
        return await events.events_by_message(self.sql, ids, receivers=self._scope(None))

    async def events_by_notification(self, ids: Sequence[int]) -> dict[int, list[StatusEventRow]]:
        return await events.events_by_notification(self.sql, ids, receivers=self._scope(None))

    # Statements for the read planner (graphql/planner/): the SQL of the reads above, with
    # the same confinement, as parts of one statement; values go to ``p``.

    def message_page_sql(self, query: MessageQuery, page: PageRequest, p: Params) -> str:
        return messages.page_statement(
            query,
            page,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    def message_count_sql(self, query: MessageQuery, p: Params) -> str:
        return messages.count_statement(
            query,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    def message_rows_sql(self, p: Params, condition: str) -> str:
        return messages.rows_statement(p, condition, receivers=self._scope(None))

    def conversation_message_page_sql(self, p: Params, conversation: str, page: PageRequest) -> str:
        return messages.conversation_page_statement(
            p, conversation, page, receivers=self._scope(None)
        )

    def status_event_rows_sql(self, p: Params, condition: str) -> str:
        return events.rows_statement(p, condition, receivers=self._scope(None))

    def conversation_page_sql(self, query: ConversationQuery, page: PageRequest, p: Params) -> str:
        return conversations.page_statement(
            query,
            page,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    def conversation_count_sql(self, query: ConversationQuery, p: Params) -> str:
        return conversations.count_statement(
            query,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    def conversation_rows_sql(self, p: Params, condition: str) -> str:
        return conversations.rows_statement(p, condition, receivers=self._scope(None))

    def notification_page_sql(self, query: NotificationQuery, page: PageRequest, p: Params) -> str:
        return notifications.page_statement(
            query, page, p, receivers=self._scope(query.receivers), with_body=True
        )

    def notification_count_sql(self, query: NotificationQuery, p: Params) -> str:
        return notifications.count_statement(query, p, receivers=self._scope(query.receivers))

    def notification_rows_sql(self, p: Params, condition: str) -> str:
        return notifications.rows_statement(p, condition, receivers=self._scope(None))

    def opt_out_page_sql(self, query: OptOutQuery, page: PageRequest, p: Params) -> str:
        return opt_outs.page_statement(
            query,
            page,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    def opt_out_count_sql(self, query: OptOutQuery, p: Params) -> str:
        return opt_outs.count_statement(
            query,
            p,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    # Conversations -----------------------------------------------------------------------

    async def conversations(
        self, query: ConversationQuery, page: PageRequest
    ) -> Page[ConversationRow]:
        return await conversations.page_conversations(
            self.sql,
            query,
            page,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def count_conversations(self, query: ConversationQuery) -> int:
        return await conversations.count_conversations(
            self.sql,
            query,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def conversations_by_id(self, ids: Sequence[int]) -> dict[int, ConversationRow]:
        return await conversations.conversations_by_id(self.sql, ids, receivers=self._scope(None))

    # Notifications -----------------------------------------------------------------------

    async def notifications(
        self, query: NotificationQuery, page: PageRequest
    ) -> Page[NotificationRow]:
        return await notifications.page_notifications(
            self.sql, query, page, receivers=self._scope(query.receivers)
        )

    async def count_notifications(self, query: NotificationQuery) -> int:
        return await notifications.count_notifications(
            self.sql, query, receivers=self._scope(query.receivers)
        )

    async def notifications_by_id(self, ids: Sequence[int]) -> dict[int, NotificationRow]:
        return await notifications.notifications_by_id(self.sql, ids, receivers=self._scope(None))

    async def notification_bodies(self, ids: Sequence[int]) -> dict[int, bytes | None]:
        return await notifications.bodies_by_id(self.sql, ids, receivers=self._scope(None))

    # Opt-outs ----------------------------------------------------------------------------

    async def opt_outs(self, query: OptOutQuery, page: PageRequest) -> Page[OptOutRow]:
        return await opt_outs.page_opt_outs(
            self.sql,
            query,
            page,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def count_opt_outs(self, query: OptOutQuery) -> int:
        return await opt_outs.count_opt_outs(
            self.sql,
            query,
            receivers=self._scope(query.receivers),
            addresses=self._addresses(query.address, query.receivers),
        )

    async def is_opted_out(self, address: str) -> bool:
        return await opt_outs.is_opted_out(
            self.sql,
            # Not read in several regions: the latest row over several people's numbers
            # could answer for the wrong one. The address is given as stored.
            address_candidates(address, (), named=False),
            receivers=self._scope(None),
        )

    # Stats -------------------------------------------------------------------------------

    async def message_counts(self, query: StatsQuery) -> MessageCounts:
        return await stats.message_counts(self.sql, query, receivers=self._scope(query.receivers))

    async def message_series(
        self, query: StatsQuery, bucket: BucketSize, zone: ZoneInfo
    ) -> list[SeriesBucket]:
        return await stats.message_series(
            self.sql,
            query,
            bucket,
            zone,
            receivers=self._scope(query.receivers),
            now=datetime.now(UTC),
        )

    # Writes ------------------------------------------------------------------------------

    async def record_outbound(
        self,
        *,
        receiver: str,
        provider_message_id: str,
        channel: str | None,
        sender: str | None,
        recipient: str,
        body: str | None,
        reference: str | None,
        sent_at: datetime | None,
        metadata: dict[str, Any],
        recorded_at: datetime,
    ) -> RecordedOutbound:
        ready = self.writable_receiver(receiver)
        if not provider_message_id.strip():
            raise InvalidInput("providerMessageId must not be empty")
        if not recipient.strip():
            raise InvalidInput("to must not be empty")
        region = ready.context.default_region
        to = normalised_input(recipient, region, argument="to")
        from_ = (
            normalised_input(sender, region, argument="from")
            if sender
            else ready.context.our_address
        )
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=ready.context.timezone)
        if sent_at is not None:
            representable(sent_at, "sentAt")
        record = OutboundRecord(
            receiver=ready.name,
            provider=ready.provider.name,
            provider_message_id=provider_message_id.strip(),
            channel=channel or ("EMAIL" if "@" in to else "SMS"),
            sender=from_,
            recipient=to,
            body=body,
            reference=reference,
            sent_at=sent_at,
            recorded_at=recorded_at,
            metadata=metadata,
        )
        async with self.sql.connection() as connection:
            return await record_outbound(connection, record)

    async def reprocess_notification(self, notification_id: int) -> ReprocessOutcome:
        name = await notifications.notification_receiver(
            self.sql, notification_id, receivers=self._scope(None)
        )
        if name is None:
            raise NotFound("no such notification for this API key")
        receiver = self._receivers.get(name)
        if receiver is None:
            raise InvalidInput(
                f"the notification came to receiver {name!r}, which is no longer configured"
            )
        # Idempotent: events already applied are skipped (callbox.store.reprocess).
        async with self.sql.connection() as connection:
            return await reprocess_notification(connection, receiver, notification_id)
