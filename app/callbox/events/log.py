"""Reading ``callbox_event`` in ``(xid, id)`` order, only below the oldest running transaction.

``pg_snapshot_xmin(pg_current_snapshot())`` is the oldest transaction still running when the
statement starts; every transaction with a smaller id has finished (committed or rolled
back). Rows of those transactions are therefore final: no row can later appear with an
``(xid, id)`` smaller than a row already read. A committed row of a younger transaction waits
until every older one finishes; ``held_back`` says that such rows exist, so the reader looks
again shortly instead of waiting for the next notification.

The xmin is cluster-wide: a long write transaction in any database of the server (a bulk
load, a session left idle in a transaction) delays live events until it ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from callbox.events.position import EventPosition, start_position

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]
"""``fetch(query, *args)`` of an asyncpg connection or pool (or the query layer's ``Sql``)."""

_COLUMNS = (
    "e.xid::text AS xid_text, e.id, e.kind, e.receiver, e.direction, e.message,"
    " e.status_event, e.conversation, e.opt_out, e.address, e.created_at"
)
_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())"


@dataclass(frozen=True, slots=True)
class EventRow:
    """One applied change. ``address``: the other party (not our number)."""

    xid: int
    id: int
    kind: str
    receiver: str
    direction: str | None
    message_id: int | None
    status_event_id: int | None
    conversation_id: int | None
    opt_out_id: int | None
    address: str | None
    created_at: datetime

    @property
    def key(self) -> tuple[int, int]:
        return (self.xid, self.id)

    @property
    def position(self) -> EventPosition:
        return EventPosition(self.xid, self.id, self.created_at)

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> EventRow:
        return cls(
            xid=int(record["xid_text"]),
            id=record["id"],
            kind=record["kind"],
            receiver=record["receiver"],
            direction=record["direction"],
            message_id=record["message"],
            status_event_id=record["status_event"],
            conversation_id=record["conversation"],
            opt_out_id=record["opt_out"],
            address=record["address"],
            created_at=record["created_at"],
        )


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[EventRow]
    held_back: bool
    """Committed rows exist that cannot be read yet (an older transaction is running)."""
    read_at: datetime

    def end(self, after: EventPosition, limit: int) -> EventPosition:
        """Where the next page starts: the last row, or ``after`` if this page was empty.

        A page shorter than ``limit`` read everything readable: the position is current."""
        last = self.rows[-1].position if self.rows else after
        return last.confirmed_at(self.read_at) if len(self.rows) < limit else last


async def read_page(
    fetch: Fetch,
    after: EventPosition,
    *,
    limit: int,
    until: EventPosition | None = None,
    receivers: tuple[str, ...] | None = None,
) -> LogPage:
    """Rows after ``after`` (and at most ``until``), of ``receivers`` (None: all), in order.

    One statement; it always returns one row at least, carrying the horizon facts.
    """
    args: list[Any] = [str(after.xid), after.id, limit]
    conditions = [f"e.xid < {_HORIZON}", "(e.xid, e.id) > ($1::text::xid8, $2::bigint)"]
    if until is not None:
        args += [str(until.xid), until.id]
        conditions.append(f"(e.xid, e.id) <= (${len(args) - 1}::text::xid8, ${len(args)}::bigint)")
    if receivers is not None:
        args.append(list(receivers))
        conditions.append(f"e.receiver = ANY(${len(args)}::text[])")
    records = await fetch(
        "SELECT h.read_at, h.held_back, r.* FROM (SELECT statement_timestamp() AS read_at,"
        f" EXISTS (SELECT 1 FROM callbox_event w WHERE w.xid >= {_HORIZON}) AS held_back) h"
        f" LEFT JOIN LATERAL (SELECT {_COLUMNS}, e.xid AS sort_xid FROM callbox_event e"
        f" WHERE {' AND '.join(conditions)} ORDER BY e.xid, e.id LIMIT $3) r ON true"
        " ORDER BY r.sort_xid, r.id",
        *args,
    )
    first = records[0]
    rows = [EventRow.from_record(record) for record in records if record["id"] is not None]
    return LogPage(rows=rows, held_back=first["held_back"], read_at=first["read_at"])


async def read_head(fetch: Fetch) -> EventPosition:
    """The position after the last readable row (the start of an empty log), current now."""
    records = await fetch(
        "SELECT statement_timestamp() AS read_at, r.xid_text, r.id FROM (SELECT 1) one"
        f" LEFT JOIN LATERAL (SELECT e.xid::text AS xid_text, e.id FROM callbox_event e"
        f" WHERE e.xid < {_HORIZON} ORDER BY e.xid DESC, e.id DESC LIMIT 1) r ON true"
    )
    record = records[0]
    if record["id"] is None:
        return start_position(record["read_at"])
    return EventPosition(int(record["xid_text"]), record["id"], record["read_at"])


async def is_from_this_database(fetch: Fetch, position: EventPosition) -> bool:
    """Whether the position's transaction id has been handed out here (a cursor of another
    database, or of one restored from an older backup, is not)."""
    records = await fetch(
        "SELECT $1::text::xid8 < pg_snapshot_xmax(pg_current_snapshot()) AS known",
        str(position.xid),
    )
    known: bool = records[0]["known"]
    return known
