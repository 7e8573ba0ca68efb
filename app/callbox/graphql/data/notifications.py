"""Raw requests (notifications) for debugging: pages, counts, lookups, bodies on demand."""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import NotificationQuery
from callbox.graphql.data.paging import Page, PageRequest, make_page
from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import NotificationRow
from callbox.graphql.data.runner import Sql

_COLUMNS = NotificationRow.COLUMNS


def _conditions(
    query: NotificationQuery, receivers: tuple[str, ...] | None, p: Params
) -> list[str]:
    conditions = []
    if receivers is not None:
        conditions.append(one_of("n.receiver", receivers, p))
    if query.states is not None:
        conditions.append(_state_is(query.states, p))
    if query.received.since is not None:
        conditions.append(f"n.received_at >= {p(query.received.since, 'timestamptz')}")
    if query.received.until is not None:
        conditions.append(f"n.received_at < {p(query.received.until, 'timestamptz')}")
    return conditions


def _state_is(states: Sequence[str], p: Params) -> str:
    """A request is PENDING while its events wait (its stored state is ACCEPTED then)."""
    waiting = NotificationRow.WAITING
    stored = [state for state in states if state != "PENDING"]
    alternatives = []
    if stored:
        condition = one_of("n.state", stored, p)
        if "ACCEPTED" in stored:
            condition = f"({condition} AND NOT {waiting})"
        alternatives.append(condition)
    if "PENDING" in states:
        alternatives.append(waiting)
    return "(" + " OR ".join(alternatives) + ")" if alternatives else "false"


async def page_notifications(
    sql: Sql,
    query: NotificationQuery,
    request: PageRequest,
    *,
    receivers: tuple[str, ...] | None,
) -> Page[NotificationRow]:
    p = Params()
    records = await sql.fetch(page_statement(query, request, p, receivers=receivers), *p.values)
    rows = [NotificationRow.from_record(record) for record in records]
    return make_page(rows, request, CursorKind.NOTIFICATION, lambda row: row.sort_key)


async def count_notifications(
    sql: Sql, query: NotificationQuery, *, receivers: tuple[str, ...] | None
) -> int:
    p = Params()
    count: int = await sql.fetchval(count_statement(query, p, receivers=receivers), *p.values)
    return count


def page_statement(
    query: NotificationQuery,
    request: PageRequest,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    with_body: bool = False,
) -> str:
    """The page's rows (``NotificationRow.COLUMNS``, then ``body`` if ``with_body``,
    ``request.limit`` of them, in order)."""
    conditions = _conditions(query, receivers, p) + request.conditions(p, "n.received_at", "n.id")
    columns = f"{_COLUMNS}, n.body" if with_body else _COLUMNS
    return (
        f"SELECT {columns} FROM callbox_notification n {where(conditions)}"
        f" ORDER BY {request.order('n.received_at', 'n.id')} LIMIT {p(request.limit, 'int')}"
    )


def count_statement(
    query: NotificationQuery, p: Params, *, receivers: tuple[str, ...] | None
) -> str:
    return f"SELECT count(*) FROM callbox_notification n {where(_conditions(query, receivers, p))}"


def rows_statement(p: Params, condition: str, *, receivers: tuple[str, ...] | None) -> str:
    """The raw requests meeting ``condition`` (on ``n``) the receivers may see, with their
    bodies (``NotificationRow.COLUMNS``, then ``body``)."""
    conditions = [condition]
    if receivers is not None:
        conditions.append(one_of("n.receiver", receivers, p))
    return f"SELECT {_COLUMNS}, n.body FROM callbox_notification n {where(conditions)}"


async def notifications_by_id(
    sql: Sql, ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, NotificationRow]:
    p = Params()
    conditions = [f"n.id = ANY({p(list(ids), 'bigint[]')})"]
    if receivers is not None:
        conditions.append(one_of("n.receiver", receivers, p))
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM callbox_notification n {where(conditions)}", *p.values
    )
    return {row.id: row for row in map(NotificationRow.from_record, records)}


async def bodies_by_id(
    sql: Sql, ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, bytes | None]:
    p = Params()
    conditions = [f"n.id = ANY({p(list(ids), 'bigint[]')})"]
    if receivers is not None:
        conditions.append(one_of("n.receiver", receivers, p))
    records = await sql.fetch(
        f"SELECT n.id, n.body FROM callbox_notification n {where(conditions)}", *p.values
    )
    return {
        record["id"]: bytes(record["body"]) if record["body"] is not None else None
        for record in records
    }


async def notification_receiver(
    sql: Sql, notification_id: int, *, receivers: tuple[str, ...] | None
) -> str | None:
    """The receiver of a notification the caller may see, else ``None``."""
    p = Params()
    conditions = [f"n.id = {p(notification_id, 'bigint')}"]
    if receivers is not None:
        conditions.append(one_of("n.receiver", receivers, p))
    receiver: str | None = await sql.fetchval(
        f"SELECT n.receiver FROM callbox_notification n {where(conditions)}", *p.values
    )
    return receiver
