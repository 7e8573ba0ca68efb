"""Conversations, ordered by last activity, as the caller may see them.

A key that sees every receiver reads the conversation table as it is (its denormalised last
activity, last message and count). A confined key, or a filter on receivers, sees a
conversation only through its own receivers' messages: it is listed if it holds at least one
of them, ordered by the newest of them, and its count and last message cover only them. That
list is read from the messages themselves: walking the receivers' messages newest first, a
conversation is placed at the first (newest) message of it that is met.
"""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import ConversationQuery
from callbox.graphql.data.paging import Page, PageRequest, make_page
from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import ConversationRow
from callbox.graphql.data.runner import Sql

_COLUMNS = ConversationRow.COLUMNS
_PARTIES = "c.id, c.channel, c.our_address, c.their_address"


def _first_visible(receivers: tuple[str, ...], p: Params) -> str:
    """A confined caller's ``created_at``: its first visible message, not the thread's."""
    return (
        "(SELECT min(k.occurred_at) FROM callbox_message k WHERE k.conversation = c.id"
        f" AND {one_of('k.receiver', receivers, p)}) AS created_at"
    )


_WHOLE = f"{_COLUMNS}, c.last_activity_at, c.last_message_id, c.message_count"


def _conversation_conditions(
    query: ConversationQuery, p: Params, addresses: tuple[str, ...] | None
) -> list[str]:
    """Filters on ``callbox_conversation c`` (not the activity range: that depends on who
    is looking)."""
    conditions = []
    if query.channels is not None:
        conditions.append(one_of("c.channel", query.channels, p))
    if addresses is not None:
        values = p(list(addresses), "text[]")
        conditions.append(f"(c.our_address = ANY({values}) OR c.their_address = ANY({values}))")
    return conditions


def _last_visible(receivers: tuple[str, ...], p: Params) -> list[str]:
    """Conditions making ``m`` the newest message of its conversation among ``receivers``."""
    return [
        one_of("m.receiver", receivers, p),
        "m.conversation IS NOT NULL",
        "NOT EXISTS (SELECT 1 FROM callbox_message newer WHERE newer.conversation ="
        f" m.conversation AND {one_of('newer.receiver', receivers, p)}"
        " AND (newer.occurred_at, newer.id) > (m.occurred_at, m.id))",
    ]


def _activity(query: ConversationQuery, column: str, p: Params) -> list[str]:
    conditions = []
    if query.last_activity.since is not None:
        conditions.append(f"{column} >= {p(query.last_activity.since, 'timestamptz')}")
    if query.last_activity.until is not None:
        conditions.append(f"{column} < {p(query.last_activity.until, 'timestamptz')}")
    return conditions


async def page_conversations(
    sql: Sql,
    query: ConversationQuery,
    request: PageRequest,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> Page[ConversationRow]:
    """``addresses``: the stored forms of ``query.address`` (see addresses.py)."""
    p = Params()
    statement = page_statement(query, request, p, receivers=receivers, addresses=addresses)
    rows = [ConversationRow.from_record(r) for r in await sql.fetch(statement, *p.values)]
    return make_page(rows, request, CursorKind.CONVERSATION, lambda row: row.sort_key)


def page_statement(
    query: ConversationQuery,
    request: PageRequest,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    """The page's rows (the columns of ``ConversationRow``, ``request.limit`` of them, in the
    request's order)."""
    if receivers is None:
        return _whole_page(query, request, p, addresses)
    return _visible_page(query, request, p, addresses, receivers)


def _whole_page(
    query: ConversationQuery,
    request: PageRequest,
    p: Params,
    addresses: tuple[str, ...] | None,
) -> str:
    conditions = [
        *_conversation_conditions(query, p, None),
        *_activity(query, "c.last_activity_at", p),
        *request.conditions(p, "c.last_activity_at", "c.id"),
    ]
    limit = p(request.limit, "int")
    order = request.order("c.last_activity_at", "c.id")
    if addresses is None:
        return (
            f"SELECT {_WHOLE} FROM callbox_conversation c {where(conditions)}"
            f" ORDER BY {order} LIMIT {limit}"
        )
    # One index seek per stored form and side, merged (as for messages).
    branches = []
    for address in addresses:
        value = p(address, "text")
        for side in ("our_address", "their_address"):
            branches.append(
                f"(SELECT c.last_activity_at, c.id FROM callbox_conversation c"
                f" {where([*conditions, f'c.{side} = {value}'])} ORDER BY {order} LIMIT {limit})"
            )
    return (
        f"SELECT {_WHOLE} FROM (SELECT last_activity_at, id FROM ({' UNION '.join(branches)}) u"
        f" ORDER BY {request.order('last_activity_at', 'id')} LIMIT {limit}) k"
        f" JOIN callbox_conversation c ON c.id = k.id"
        f" ORDER BY {request.order('k.last_activity_at', 'k.id')}"
    )


def _visible_page(
    query: ConversationQuery,
    request: PageRequest,
    p: Params,
    addresses: tuple[str, ...] | None,
    receivers: tuple[str, ...],
) -> str:
    conditions = [
        *_last_visible(receivers, p),
        *_conversation_conditions(query, p, addresses),
        *_activity(query, "m.occurred_at", p),
        *request.conditions(p, "m.occurred_at", "m.conversation"),
    ]
    return (
        "WITH page AS (SELECT m.conversation AS id, m.occurred_at AS last_activity_at,"
        " m.id AS last_message_id FROM callbox_message m"
        " JOIN callbox_conversation c ON c.id = m.conversation"
        f" {where(conditions)} ORDER BY {request.order('m.occurred_at', 'm.conversation')}"
        f" LIMIT {p(request.limit, 'int')})"
        f" SELECT {_PARTIES}, {_first_visible(receivers, p)}, page.last_activity_at,"
        " page.last_message_id,"
        " (SELECT count(*) FROM callbox_message k WHERE k.conversation = c.id"
        f" AND {one_of('k.receiver', receivers, p)})::int AS message_count"
        " FROM page JOIN callbox_conversation c ON c.id = page.id"
        f" ORDER BY {request.order('page.last_activity_at', 'page.id')}"
    )


async def count_conversations(
    sql: Sql,
    query: ConversationQuery,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> int:
    p = Params()
    statement = count_statement(query, p, receivers=receivers, addresses=addresses)
    count: int = await sql.fetchval(statement, *p.values)
    return count


def count_statement(
    query: ConversationQuery,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    """One row, one column: how many conversations match, as the receivers see them."""
    if receivers is None:
        conditions = [
            *_conversation_conditions(query, p, addresses),
            *_activity(query, "c.last_activity_at", p),
        ]
        return f"SELECT count(*) FROM callbox_conversation c {where(conditions)}"
    conditions = [
        *_last_visible(receivers, p),
        *_conversation_conditions(query, p, addresses),
        *_activity(query, "m.occurred_at", p),
    ]
    return (
        "SELECT count(*) FROM callbox_message m"
        f" JOIN callbox_conversation c ON c.id = m.conversation {where(conditions)}"
    )


async def conversations_by_id(
    sql: Sql, ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, ConversationRow]:
    p = Params()
    condition = f"c.id = ANY({p(list(ids), 'bigint[]')})"
    records = await sql.fetch(rows_statement(p, condition, receivers=receivers), *p.values)
    return {row.id: row for row in map(ConversationRow.from_record, records)}


def rows_statement(p: Params, condition: str, *, receivers: tuple[str, ...] | None) -> str:
    """The conversations meeting ``condition`` (on ``c``), as the receivers see them (the
    columns of ``ConversationRow``)."""
    if receivers is None:
        return f"SELECT {_WHOLE} FROM callbox_conversation c WHERE {condition}"
    # No visible message, no row: the conversation does not exist for this caller.
    return (
        f"SELECT {_PARTIES}, {_first_visible(receivers, p)},"
        " last.occurred_at AS last_activity_at,"
        " last.id AS last_message_id, counted.n AS message_count"
        " FROM callbox_conversation c"
        " CROSS JOIN LATERAL (SELECT m.occurred_at, m.id FROM callbox_message m"
        f" WHERE m.conversation = c.id AND {one_of('m.receiver', receivers, p)}"
        " ORDER BY m.occurred_at DESC, m.id DESC LIMIT 1) last"
        " CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM callbox_message m"
        f" WHERE m.conversation = c.id AND {one_of('m.receiver', receivers, p)}) counted"
        f" WHERE {condition}"
    )
