"""Where a reader is in the event log, and the opaque cursor clients get for it.

An event's place is ``(xid, id)``: the id of the transaction that wrote its row (``xid8``)
and the row's id. Readers take only rows whose transaction is older than every transaction
still running (see ``log.py``), in ``(xid, id)`` order, so a row can never appear later
before a position already passed, whatever order transactions commit in.

A cursor seals ``(xid, id, unix milliseconds)`` with the instance key
(:mod:`callbox.sealing`): transaction ids and row ids count everything the instance does, for
every receiver, so a client sees neither. The time is when the position was known to be
current (for an event: when it was stored), so a cursor older than the replay window can be
refused before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from callbox.sealing import Sealer, Unsealable

_PURPOSE = "event-cursor"


class CursorUnreadable(ValueError):
    """The text is not a subscription cursor (its message is meant for the client)."""


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Everything up to ``(xid, id)`` has been read; ``at``: when that was known current."""

    xid: int
    id: int
    at: datetime

    @property
    def key(self) -> tuple[int, int]:
        return (self.xid, self.id)

    def cursor(self, sealer: Sealer) -> str:
        return sealer.seal(_PURPOSE, self.xid, self.id, int(self.at.timestamp() * 1000))

    def confirmed_at(self, at: datetime) -> EventPosition:
        """The same place, known current at ``at``."""
        return EventPosition(self.xid, self.id, at)


def start_position(at: datetime) -> EventPosition:
    """Before every row (an empty log)."""
    return EventPosition(0, 0, at)


def parse_cursor(cursor: str, sealer: Sealer) -> EventPosition:
    try:
        xid, row_id, millis = sealer.open(_PURPOSE, cursor.strip(), 3)
        if xid < 0 or row_id < 0:
            raise ValueError(xid, row_id)
        at = datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (Unsealable, ValueError, OverflowError, OSError):
        raise CursorUnreadable("after: not a cursor of a subscription event") from None
    return EventPosition(xid, row_id, at)
