"""Filters as the query layer takes them: plain values, already merged and validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from callbox.graphql.errors import InvalidInput


def representable(value: datetime, argument: str) -> datetime:
    """``value``, if it is an instant of the years 1 to 9999 in UTC (``0001-01-01T00:00+01:00``
    is not: it is in year 0); :class:`InvalidInput` naming ``argument`` otherwise."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise InvalidInput(
                f"{argument}: {value.isoformat()} is outside the years 1 to 9999 in UTC"
            ) from None
    return value


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``since`` inclusive, ``until`` exclusive; either may be open."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageQuery:
    receivers: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None
    directions: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    failure_reasons: tuple[str, ...] | None = None
    address: str | None = None
    """Either side of the message; normalised as stored data is."""
    conversation_id: int | None = None
    provider_message_id: str | None = None
    reference: str | None = None
    occurred: TimeRange = TimeRange()
    body_contains: str | None = None
    """Case-insensitive substring of the body."""
    report_kinds: tuple[str, ...] | None = None
    """Messages whose history holds a report of one of these kinds (``ReportKind``)."""
    bounce_types: tuple[str, ...] | None = None
    """Messages whose history holds a bounce of one of these types (``BounceType``)."""
    opened: bool | None = None
    """True: opened at least once; False: never reported opened."""
    clicked: bool | None = None


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    receivers: tuple[str, ...] | None = None
    """Conversations holding at least one message of these receivers."""
    channels: tuple[str, ...] | None = None
    address: str | None = None
    """Our side or theirs."""
    last_activity: TimeRange = TimeRange()


@dataclass(frozen=True, slots=True)
class NotificationQuery:
    receivers: tuple[str, ...] | None = None
    states: tuple[str, ...] | None = None
    received: TimeRange = TimeRange()


@dataclass(frozen=True, slots=True)
class OptOutQuery:
    receivers: tuple[str, ...] | None = None
    address: str | None = None
    actions: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    occurred: TimeRange = TimeRange()


class BucketSize(StrEnum):
    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class StatsQuery:
    receivers: tuple[str, ...] | None = None
    occurred: TimeRange = TimeRange()
