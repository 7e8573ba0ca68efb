"""What subscription events point at (messages, status reports, opt-out rows), loaded once
per batch of events for every subscriber that gets one of them, then cut to each subscriber's
API key.

The hub reads a batch of events once for the whole process; a thousand subscribers of the
same receiver then share three statements instead of running three thousand. The rows are
loaded for all receivers and each subscriber keeps only those its key may see
(:meth:`EventDetails.message_for` and the others check the row's receiver), on top of the
events themselves having been filtered by receiver already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callbox.events.log import EventRow
from callbox.graphql.data import events, messages, opt_outs
from callbox.graphql.data.rows import MessageRow, OptOutRow, StatusEventRow
from callbox.graphql.data.runner import Sql
from callbox.graphql.data.visibility import Visibility

SHARED_KEY = "graphql-event-details"


@dataclass(frozen=True, slots=True)
class EventDetails:
    messages: dict[int, MessageRow]
    status_events: dict[int, StatusEventRow]
    opt_outs: dict[int, OptOutRow]

    def message_for(self, row: EventRow, visibility: Visibility) -> MessageRow | None:
        message = self.messages.get(row.message_id) if row.message_id is not None else None
        return message if message is not None and visibility.allows(message.receiver) else None

    def status_event_for(self, row: EventRow, visibility: Visibility) -> StatusEventRow | None:
        if row.status_event_id is None or self.message_for(row, visibility) is None:
            return None  # a status event is visible through its message
        return self.status_events.get(row.status_event_id)

    def opt_out_for(self, row: EventRow, visibility: Visibility) -> OptOutRow | None:
        found = self.opt_outs.get(row.opt_out_id) if row.opt_out_id is not None else None
        return found if found is not None and visibility.allows(found.receiver) else None


async def _none() -> dict[int, Any]:
    return {}


async def load_event_details(sql: Sql, rows: Sequence[EventRow]) -> EventDetails:
    """At most three statements (none for kinds of rows the batch does not have)."""
    message_ids = sorted({row.message_id for row in rows if row.message_id is not None})
    status_ids = sorted({row.status_event_id for row in rows if row.status_event_id is not None})
    opt_out_ids = sorted({row.opt_out_id for row in rows if row.opt_out_id is not None})
    found_messages, found_events, found_opt_outs = await asyncio.gather(
        messages.messages_by_id(sql, message_ids, receivers=None) if message_ids else _none(),
        events.status_events_by_id(sql, status_ids) if status_ids else _none(),
        opt_outs.opt_outs_by_id(sql, opt_out_ids) if opt_out_ids else _none(),
    )
    return EventDetails(found_messages, found_events, found_opt_outs)
