"""Filter inputs, turned into the query layer's filters. Singular and plural forms of a field
(receiver / receivers) combine: either value matches. Time ranges are [since, until)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

import strawberry

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import (
    ConversationQuery,
    MessageQuery,
    NotificationQuery,
    OptOutQuery,
    TimeRange,
    representable,
)
from callbox.graphql.errors import InvalidInput
from callbox.graphql.types.enums import (
    BounceType,
    Channel,
    Direction,
    FailureReason,
    NotificationState,
    OptOutAction,
    ReportKind,
    Status,
)
from callbox.graphql.types.ids import parse_id
from callbox.sealing import Sealer


def merged(one: str | Enum | None, many: Iterable[str | Enum] | None) -> tuple[str, ...] | None:
    """The values of a singular and a plural filter field together; None when neither is set."""
    if one is None and many is None:
        return None
    values = [one] if one is not None else []
    values += list(many or [])
    return tuple(dict.fromkeys(v.value if isinstance(v, Enum) else v for v in values))


def time_range(since: datetime | None, until: datetime | None, field: str) -> TimeRange:
    since = since if since is None else representable(since, f"{field}: since")
    until = until if until is None else representable(until, f"{field}: until")
    if since is not None and until is not None and until < since:
        raise InvalidInput(f"{field}: until is before since")
    return TimeRange(since, until)


@strawberry.input(description="Messages matching every field given.")
class MessageFilter:
    receiver: str | None = None
    receivers: list[str] | None = None
    provider: str | None = None
    providers: list[str] | None = None
    direction: Direction | None = None
    channel: Channel | None = None
    status: Status | None = None
    statuses: list[Status] | None = None
    failure_reason: FailureReason | None = None
    address: str | None = strawberry.field(
        default=None,
        description="Either side (from or to). Normalised like stored addresses: a national"
        " number is read in the default region of each receiver filtered on, or, when none"
        " is named, of each receiver the key sees.",
    )
    conversation_id: strawberry.ID | None = None
    provider_message_id: str | None = None
    reference: str | None = None
    since: datetime | None = strawberry.field(default=None, description="occurredAt >= since")
    until: datetime | None = strawberry.field(default=None, description="occurredAt < until")
    body_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive text in the body."
    )
    event_kind: ReportKind | None = strawberry.field(
        default=None, description="Messages whose history holds a report of this kind."
    )
    event_kinds: list[ReportKind] | None = None
    bounce_type: BounceType | None = strawberry.field(
        default=None,
        description="Messages whose history holds a bounce of this type (a SOFT bounce"
        " need not have ended the message).",
    )
    bounce_types: list[BounceType] | None = None
    opened: bool | None = strawberry.field(
        default=None,
        description="E-mail: true, opened at least once (openedAt set); false, never"
        " reported opened.",
    )
    clicked: bool | None = strawberry.field(
        default=None, description="E-mail: true, clicked at least once; false, never."
    )

    def to_query(self, sealer: Sealer) -> MessageQuery:
        return MessageQuery(
            receivers=merged(self.receiver, self.receivers),
            providers=merged(self.provider, self.providers),
            directions=merged(self.direction, None),
            channels=merged(self.channel, None),
            statuses=merged(self.status, self.statuses),
            failure_reasons=merged(self.failure_reason, None),
            address=self.address,
            conversation_id=parse_id(
                sealer, CursorKind.CONVERSATION, self.conversation_id, "conversationId"
            )
            if self.conversation_id is not None
            else None,
            provider_message_id=self.provider_message_id,
            reference=self.reference,
            occurred=time_range(self.since, self.until, "filter"),
            body_contains=self.body_contains or None,
            report_kinds=merged(self.event_kind, self.event_kinds),
            bounce_types=merged(self.bounce_type, self.bounce_types),
            opened=self.opened,
            clicked=self.clicked,
        )


@strawberry.input(description="Conversations matching every field given.")
class ConversationFilter:
    receiver: str | None = strawberry.field(
        default=None, description="Holding at least one message of this receiver."
    )
    receivers: list[str] | None = None
    channel: Channel | None = None
    address: str | None = strawberry.field(
        default=None,
        description="Our side or theirs, normalised like MessageFilter.address (07700900123"
        " with a GB receiver is +447700900123).",
    )
    active_since: datetime | None = strawberry.field(
        default=None, description="lastActivityAt >= activeSince"
    )
    active_until: datetime | None = strawberry.field(
        default=None, description="lastActivityAt < activeUntil"
    )

    def to_query(self) -> ConversationQuery:
        return ConversationQuery(
            receivers=merged(self.receiver, self.receivers),
            channels=merged(self.channel, None),
            address=self.address,
            last_activity=time_range(self.active_since, self.active_until, "filter"),
        )


@strawberry.input(description="Raw requests matching every field given.")
class NotificationFilter:
    receiver: str | None = None
    receivers: list[str] | None = None
    state: NotificationState | None = None
    states: list[NotificationState] | None = None
    since: datetime | None = strawberry.field(default=None, description="receivedAt >= since")
    until: datetime | None = strawberry.field(default=None, description="receivedAt < until")

    def to_query(self) -> NotificationQuery:
        return NotificationQuery(
            receivers=merged(self.receiver, self.receivers),
            states=merged(self.state, self.states),
            received=time_range(self.since, self.until, "filter"),
        )


@strawberry.input(description="Opt-out ledger rows matching every field given.")
class OptOutFilter:
    receiver: str | None = None
    receivers: list[str] | None = None
    address: str | None = None
    action: OptOutAction | None = None
    channel: Channel | None = None
    since: datetime | None = strawberry.field(default=None, description="occurredAt >= since")
    until: datetime | None = strawberry.field(default=None, description="occurredAt < until")

    def to_query(self) -> OptOutQuery:
        return OptOutQuery(
            receivers=merged(self.receiver, self.receivers),
            address=self.address,
            actions=merged(self.action, None),
            channels=merged(self.channel, None),
            occurred=time_range(self.since, self.until, "filter"),
        )
