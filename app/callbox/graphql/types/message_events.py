"""MessageEvent (what ``messageEvents`` yields), its kinds, and its filter."""

from __future__ import annotations

from datetime import datetime

import strawberry

from callbox.events.filters import EventFilter
from callbox.events.kinds import EventKind
from callbox.events.log import EventRow
from callbox.graphql.data import CallboxData
from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.visibility import Visibility
from callbox.graphql.event_details import EventDetails
from callbox.graphql.types.enums import Direction
from callbox.graphql.types.filters import merged
from callbox.graphql.types.ids import parse_id
from callbox.graphql.types.messages import Message, StatusEvent
from callbox.graphql.types.opt_outs import OptOut
from callbox.sealing import Sealer

strawberry.enum(
    EventKind,
    name="MessageEventKind",
    description="RECEIVED: an inbound message arrived. STATUS_CHANGED: a status report about"
    " one of our messages joined its history (statusEvent.kind STATUS; precedence decides"
    " whether it is now the message's status). REPORTED: a report that leaves the message's"
    " status as it is joined its history: a deferral, an open, a click, a complaint or an"
    " unsubscribe (statusEvent.kind says which). RECORDED: the sending application recorded"
    " a message (recordOutboundMessage). OPTED_OUT: a row was added to the opt-out ledger (an"
    " opt-out or an opt back in: see optOut.action).",
)


@strawberry.input(
    description="Events matching every field given (the API key's receivers always apply on top)."
)
class MessageEventFilter:
    receiver: str | None = None
    receivers: list[str] | None = None
    conversation_id: strawberry.ID | None = None
    message_id: strawberry.ID | None = None
    address: str | None = strawberry.field(
        default=None,
        description="The other party (who wrote, whom we wrote to, who opted out), normalised"
        " like stored addresses: a national number is read in the default region of each"
        " receiver filtered on, or, when none is named, of each receiver the key sees.",
    )
    direction: Direction | None = None
    kinds: list[EventKind] | None = None

    def to_filter(self, data: CallboxData, sealer: Sealer) -> EventFilter:
        """The server-side filter: the key's visibility narrows the receivers asked for."""
        requested = merged(self.receiver, self.receivers)
        receivers = data.visibility.restrict(requested)
        return EventFilter(
            receivers=frozenset(receivers) if receivers is not None else None,
            kinds=frozenset(kind.value for kind in self.kinds) if self.kinds else None,
            directions=frozenset({self.direction.value}) if self.direction else None,
            conversation_ids=_ids(
                sealer, CursorKind.CONVERSATION, self.conversation_id, "filter.conversationId"
            ),
            message_ids=_ids(sealer, CursorKind.MESSAGE, self.message_id, "filter.messageId"),
            addresses=_addresses(self.address, requested, data),
        )


def _ids(
    sealer: Sealer, kind: CursorKind, value: strawberry.ID | None, argument: str
) -> frozenset[int] | None:
    return frozenset({parse_id(sealer, kind, value, argument)}) if value is not None else None


def _addresses(
    value: str | None, requested: tuple[str, ...] | None, data: CallboxData
) -> frozenset[str] | None:
    return None if value is None else frozenset(data.address_forms(value, requested))


@strawberry.type(description="One change, delivered after its transaction committed.")
class MessageEvent:
    cursor: str = strawberry.field(
        description="Opaque. Pass it as after to resume right after this event."
    )
    kind: EventKind
    receiver: str
    address: str | None = strawberry.field(
        description="The other party: who wrote, whom we wrote to, or who opted out."
    )
    stored_at: datetime = strawberry.field(description="When Callbox stored the change.")
    message: Message | None = strawberry.field(
        description="The message, as it is when the event is delivered (null: the event is"
        " about no message, such as an opt-out push, or the message was purged)."
    )
    status_event: StatusEvent | None = strawberry.field(
        description="RECEIVED, STATUS_CHANGED and REPORTED: the report this event applied."
    )
    opt_out: OptOut | None = strawberry.field(
        description="OPTED_OUT: the ledger row (OPT_OUT, or OPT_IN for an opt back in)."
    )

    @classmethod
    def build(
        cls, row: EventRow, details: EventDetails, visibility: Visibility, sealer: Sealer
    ) -> MessageEvent:
        message = details.message_for(row, visibility)
        status_event = details.status_event_for(row, visibility)
        opt_out = details.opt_out_for(row, visibility)
        return cls(
            cursor=row.position.cursor(sealer),
            kind=EventKind(row.kind),
            receiver=row.receiver,
            address=row.address,
            stored_at=row.created_at,
            message=Message.from_row(message) if message is not None else None,
            status_event=StatusEvent.from_row(status_event) if status_event else None,
            opt_out=OptOut.from_row(opt_out) if opt_out is not None else None,
        )
