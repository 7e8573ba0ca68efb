"""The Subscription root: live events over WebSocket (graphql-transport-ws); see
docs/subscriptions.md.

Each subscription registers a subscriber with the process's event hub (callbox.events),
with a filter built on the server from the API key's receivers. Its statements wait through
a short database outage (see ``websocket.OutageTolerantSql``). Events come in batches; what
they point at (messages, status reports, opt-out rows) is loaded once per batch for every
subscriber and cut to the key. An error ending a subscription names a code and, when there
is one, the cursor to resubscribe with (``after``) so nothing is lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator
from typing import cast

import strawberry

from callbox.events.errors import LiveUpdateError, SubscriberTooSlow
from callbox.events.filters import EventFilter
from callbox.events.position import CursorUnreadable, EventPosition, parse_cursor
from callbox.events.subscriber import Subscriber
from callbox.graphql.context import Info
from callbox.graphql.data import Visibility
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.rows import ConversationRow
from callbox.graphql.errors import InvalidInput, NotFound, PublicError, log_internal_error
from callbox.graphql.event_details import SHARED_KEY, load_event_details
from callbox.graphql.fanout import SharedEvent
from callbox.graphql.types.conversations import Conversation
from callbox.graphql.types.fields import subscription
from callbox.graphql.types.ids import parse_id
from callbox.graphql.types.message_events import MessageEvent, MessageEventFilter
from callbox.graphql.websocket import SubscriptionContext
from callbox.sealing import Sealer

logger = logging.getLogger(__name__)

TOO_SLOW_REASON = (
    "SUBSCRIBER_TOO_SLOW: a subscription fell behind its queue bound;"
    " resubscribe with after: its error's cursor"
)
"""The close reason of a connection one of whose subscriptions fell behind."""


class SubscriptionFailed(PublicError):
    """Why a subscription cannot start or go on: ``extensions.code``, and
    ``extensions.cursor`` when resubscribing with it as ``after`` loses nothing."""

    def __init__(
        self, message: str, code: str, resume_from: EventPosition | None, sealer: Sealer
    ) -> None:
        super().__init__(message)
        self.code = code
        self.extensions = {"code": code}
        if resume_from is not None:
            self.extensions["cursor"] = resume_from.cursor(sealer)

    @classmethod
    def of(cls, error: LiveUpdateError, sealer: Sealer) -> SubscriptionFailed:
        return cls(str(error), error.code, error.resume_from, sealer)


def _failure(error: Exception, subscriber: Subscriber, context: SubscriptionContext) -> PublicError:
    if isinstance(error, SubscriberTooSlow):
        context.close_reason = TOO_SLOW_REASON
    if isinstance(error, LiveUpdateError):
        if error.resume_from is None:  # (raised by a statement that outlasted no outage)
            error.resume_from = subscriber.handed
        return SubscriptionFailed.of(error, context.sealer)
    if isinstance(error, PublicError):
        return error
    log_internal_error(logger, "subscription failed", error)
    return SubscriptionFailed(
        "Unexpected error; resubscribe with after: the cursor in this error",
        "INTERNAL_SERVER_ERROR",
        subscriber.handed,
        context.sealer,
    )


def _subscription_context(info: Info) -> SubscriptionContext:
    context = info.context
    if not isinstance(context, SubscriptionContext):
        raise InvalidInput(
            "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql"
        )
    return context


def _position(after: str | None, sealer: Sealer) -> EventPosition | None:
    if after is None:
        return None
    try:
        return parse_cursor(after, sealer)
    except CursorUnreadable as error:
        raise InvalidInput(str(error)) from None


async def _started(subscriber: Subscriber, sealer: Sealer) -> Subscriber:
    try:
        await subscriber.check()
    except LiveUpdateError as error:
        raise SubscriptionFailed.of(error, sealer) from None
    return subscriber


async def _message_events(
    subscriber: Subscriber, context: SubscriptionContext, visibility: Visibility
) -> AsyncGenerator[SharedEvent, None]:
    load = functools.partial(load_event_details, context.sql)
    async with subscriber:
        try:
            async for deliveries in subscriber.batches():
                for row, batch in deliveries:
                    details = await batch.shared(SHARED_KEY, load)
                    # Built only by the first subscriber of its group to execute the event
                    # (callbox.graphql.fanout); the others send that one's encoded payload.
                    build = functools.partial(
                        MessageEvent.build, row, details, visibility, context.sealer
                    )
                    yield SharedEvent(batch, row.key, build)
                    subscriber.sent(row)  # asked for the next one: this one was sent
        except Exception as error:
            raise _failure(error, subscriber, context) from None


async def _conversation_updates(
    subscriber: Subscriber, context: SubscriptionContext, conversation_id: int
) -> AsyncGenerator[SharedEvent, None]:
    data = context.reader()

    async def load(_: object) -> dict[int, ConversationRow]:
        return await data.conversations_by_id([conversation_id])

    async with subscriber:
        try:
            async for deliveries in subscriber.batches():
                # Read once per batch for every subscriber of the conversation under the same
                # key's visibility, and executed once per group (callbox.graphql.fanout).
                batch = deliveries[-1].batch
                key = ("conversation", conversation_id)
                found = await batch.shared((*key, data.visibility), load)
                if conversation_id in found:
                    build = functools.partial(Conversation.from_row, found[conversation_id])
                    yield SharedEvent(batch, key, build)
        except Exception as error:
            raise _failure(error, subscriber, context) from None


@strawberry.type
class Subscription:
    # The resolvers check everything they can before the stream starts, so a refusal is the
    # protocol's "error" message for the operation; the streams then end with an error
    # carrying a cursor when they cannot go on.

    @subscription(
        description="Changes to messages as they commit: received, status changed, recorded,"
        " opted out, for the receivers this key may see. With after (an event's cursor) it"
        " first sends every matching event since that one, in order, then live ones: no gap,"
        " no repeat. Cursors older than the replay window (7 days by default) are refused"
        " (CURSOR_EXPIRED)."
    )
    async def message_events(
        self, info: Info, filter: MessageEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[MessageEvent, None]:
        # (The stream yields SharedEvents: graphql.fanout builds the MessageEvent from one.)
        context = _subscription_context(info)
        data = context.reader()
        event_filter = (filter or MessageEventFilter()).to_filter(data, context.sealer)
        position = _position(after, context.sealer)
        subscriber = await _started(context.hub.subscribe(event_filter, position), context.sealer)
        return cast(
            AsyncGenerator[MessageEvent, None],
            _message_events(subscriber, context, data.visibility),
        )

    @subscription(
        description="The conversation as it is after each change to it (a message in it"
        " received, recorded, changing status or opting out) that this key may see; changes"
        " committed together are sent once. Not found: an error."
    )
    async def conversation_updated(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[Conversation, None]:
        context = _subscription_context(info)
        data = context.reader()
        conversation_id = parse_id(context.sealer, CursorKind.CONVERSATION, id, "id")
        if conversation_id not in await data.conversations_by_id([conversation_id]):
            raise NotFound(f"no conversation {id}")
        receivers = data.visibility.restrict(None)
        event_filter = EventFilter(
            receivers=frozenset(receivers) if receivers is not None else None,
            conversation_ids=frozenset({conversation_id}),
        )
        subscriber = await _started(context.hub.subscribe(event_filter), context.sealer)
        return cast(
            AsyncGenerator[Conversation, None],
            _conversation_updates(subscriber, context, conversation_id),
        )
