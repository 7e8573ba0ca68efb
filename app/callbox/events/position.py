"""Where a reader is in the event log, and the opaque cursor clients get for it.

An event's place is ``(xid, id)``: the id of the transaction that wrote its row (``xid8``)
and the row's id. Readers take only rows whose transaction is older than every transaction
still running (see ``log.py``), in ``(xid, id)`` order, so a row can never appear later
before a position already passed, whatever order transactions commit in.

A cursor is base64url of ``ev1:<xid>:<id>:<unix milliseconds>``. The time is when the
position was known to be current (for an event: when it was stored), so a cursor older than
the replay window can be refused before anything is read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

_PREFIX = "ev1"
_MAX_BIGINT = 2**63 - 1


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

    def cursor(self) -> str:
        millis = int(self.at.timestamp() * 1000)
        text = f"{_PREFIX}:{self.xid}:{self.id}:{millis}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def confirmed_at(self, at: datetime) -> EventPosition:
        """The same place, known current at ``at``."""
        return EventPosition(self.xid, self.id, at)


def start_position(at: datetime) -> EventPosition:
    """Before every row (an empty log)."""
    return EventPosition(0, 0, at)


def parse_cursor(cursor: str) -> EventPosition:
    try:
        padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        prefix, xid, row_id, millis = text.split(":")
        if prefix != _PREFIX:
            raise ValueError(prefix)
        values = int(xid), int(row_id), int(millis)
        if any(not 0 <= value <= _MAX_BIGINT for value in values):
            raise ValueError(values)
        at = datetime.fromtimestamp(values[2] / 1000, tz=UTC)
    except (ValueError, UnicodeError, binascii.Error, OverflowError, OSError):
        raise CursorUnreadable("after: not a cursor of a subscription event") from None
    return EventPosition(values[0], values[1], at)
