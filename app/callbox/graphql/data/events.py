"""Status history: the events of several messages (or several notifications) at once."""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import StatusEventRow
from callbox.graphql.data.runner import Sql

_COLUMNS = StatusEventRow.COLUMNS


def history_order(alias: str = "e") -> str:
    """Oldest first by when the status happened (when the provider did not say: when it came
    in), on rows of ``alias``."""
    return f"COALESCE({alias}.occurred_at, {alias}.received_at), {alias}.id"


def rows_statement(p: Params, condition: str, *, receivers: tuple[str, ...] | None) -> str:
    """The status events (``StatusEventRow.COLUMNS``) meeting ``condition`` (on ``e``) of
    messages the receivers may see."""
    conditions = [condition]
    join = ""
    if receivers is not None:
        join = " JOIN callbox_message m ON m.id = e.message"
        conditions.append(one_of("m.receiver", receivers, p))
    return f"SELECT {_COLUMNS} FROM callbox_status_event e{join} {where(conditions)}"


async def events_by_message(
    sql: Sql, message_ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, list[StatusEventRow]]:
    p = Params()
    condition = f"e.message = ANY({p(list(message_ids), 'bigint[]')})"
    records = await sql.fetch(
        f"{rows_statement(p, condition, receivers=receivers)}"
        f" ORDER BY e.message, {history_order()}",
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
    condition = f"e.notification = ANY({p(list(notification_ids), 'bigint[]')})"
    records = await sql.fetch(
        f"{rows_statement(p, condition, receivers=receivers)} ORDER BY e.notification, e.id",
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
