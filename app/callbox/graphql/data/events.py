"""Status history: the events of several messages (or several notifications) at once."""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import StatusEventRow
from callbox.graphql.data.runner import Sql

_COLUMNS = StatusEventRow.COLUMNS

# Oldest first by when the status happened (when the provider did not say: when it came in).
_HISTORY_ORDER = "COALESCE(e.occurred_at, e.received_at), e.id"


async def events_by_message(
    sql: Sql, message_ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, list[StatusEventRow]]:
    p = Params()
    conditions = [f"e.message = ANY({p(list(message_ids), 'bigint[]')})"]
    join = ""
    if receivers is not None:
        join = " JOIN callbox_message m ON m.id = e.message"
        conditions.append(one_of("m.receiver", receivers, p))
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM callbox_status_event e{join} {where(conditions)}"
        f" ORDER BY e.message, {_HISTORY_ORDER}",
        *p.values,
    )
    grouped: dict[int, list[StatusEventRow]] = {message_id: [] for message_id in message_ids}
    for row in map(StatusEventRow.from_record, records):
        grouped[row.message_id].append(row)
    return grouped


async def events_by_notification(
    sql: Sql, notification_ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, list[StatusEventRow]]:
    p = Params()
    conditions = [f"e.notification = ANY({p(list(notification_ids), 'bigint[]')})"]
    join = ""
    if receivers is not None:
        join = " JOIN callbox_message m ON m.id = e.message"
        conditions.append(one_of("m.receiver", receivers, p))
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM callbox_status_event e{join} {where(conditions)}"
        " ORDER BY e.notification, e.id",
        *p.values,
    )
    grouped: dict[int, list[StatusEventRow]] = {key: [] for key in notification_ids}
    for row in map(StatusEventRow.from_record, records):
        assert row.notification_id is not None
        grouped[row.notification_id].append(row)
    return grouped


async def status_events_by_id(sql: Sql, ids: Sequence[int]) -> dict[int, StatusEventRow]:
    """Status events by their own ids (what a subscription event points at; shared by every
    subscriber, each cut to its key afterwards)."""
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM callbox_status_event e WHERE e.id = ANY($1::bigint[])",
        list(ids),
    )
    return {row.id: row for row in map(StatusEventRow.from_record, records)}
