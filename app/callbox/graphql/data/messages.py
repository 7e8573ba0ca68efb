"""Messages: pages by filter, counts, lookups by id, and pages per conversation (batched).

Address filters become one index-ordered branch per stored form and side (``sender``,
``recipient``), merged with UNION and cut to the page. Each branch seeks, per receiver in
scope, on ``(receiver, sender|recipient, occurred_at DESC, id DESC)`` (a lateral join over
the receivers) and merges their pages: so a busy address pages as fast as a quiet one, at any
depth, whatever share of its messages the key may see. A key that sees every receiver seeks
in every receiver that has messages, found with one index probe each (``_PRESENT``): there
is no index on an address alone (docs/indexes.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import MessageQuery
from callbox.graphql.data.paging import Page, PageRequest, make_page
from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import MessageRow
from callbox.graphql.data.runner import Sql
from callbox.model.vocabulary import ReportKind

_COLUMNS = MessageRow.COLUMNS

_PRESENT = (
    "present(receiver) AS ((SELECT receiver FROM callbox_message ORDER BY receiver LIMIT 1)"
    " UNION ALL SELECT (SELECT m.receiver FROM callbox_message m"
    " WHERE m.receiver > present.receiver ORDER BY m.receiver LIMIT 1)"
    " FROM present WHERE present.receiver IS NOT NULL)"
)
"""Every receiver that has messages: a loose index scan, one probe per receiver."""


def _scope(receivers: tuple[str, ...] | None, p: Params) -> str:
    """A ``WITH`` clause defining ``scope(receiver)``: the receivers to seek in."""
    if receivers is None:
        return (
            f"WITH RECURSIVE {_PRESENT}, scope(receiver) AS"
            " (SELECT receiver FROM present WHERE receiver IS NOT NULL)"
        )
    return f"WITH scope(receiver) AS (SELECT unnest({p(list(receivers), 'text[]')}))"


def _conditions(query: MessageQuery, receivers: tuple[str, ...] | None, p: Params) -> list[str]:
    """Every filter except the address, on ``callbox_message m``."""
    conditions = []
    if receivers is not None:
        conditions.append(one_of("m.receiver", receivers, p))
    for column, values in (
        ("m.provider", query.providers),
        ("m.direction", query.directions),
        ("m.channel", query.channels),
        ("m.status", query.statuses),
        ("m.failure_reason", query.failure_reasons),
    ):
        if values is not None:
            conditions.append(one_of(column, values, p))
    if query.conversation_id is not None:
        conditions.append(f"m.conversation = {p(query.conversation_id, 'bigint')}")
    if query.provider_message_id is not None:
        conditions.append(f"m.provider_message_id = {p(query.provider_message_id, 'text')}")
    if query.reference is not None:
        conditions.append(f"m.reference = {p(query.reference, 'text')}")
    if query.occurred.since is not None:
        conditions.append(f"m.occurred_at >= {p(query.occurred.since, 'timestamptz')}")
    if query.occurred.until is not None:
        conditions.append(f"m.occurred_at < {p(query.occurred.until, 'timestamptz')}")
    if query.body_contains:
        conditions.append(f"strpos(lower(m.body), lower({p(query.body_contains, 'text')})) > 0")
    for column, wanted in (("m.opened_at", query.opened), ("m.clicked_at", query.clicked)):
        if wanted is not None:
            conditions.append(f"{column} IS {'NOT NULL' if wanted else 'NULL'}")
    # A semi-join on the history. The kinds are written as literals (they are the enum's
    # own words): with a parameter the planner could not prove `kind <> 'STATUS'`, the
    # predicate of the partial index on the reports that are not plain statuses.
    if query.report_kinds is not None:
        kinds = ", ".join(f"'{ReportKind(kind).value}'" for kind in query.report_kinds)
        conditions.append(_history_has(f"e.kind IN ({kinds})" if kinds else "false"))
    if query.bounce_types is not None:
        conditions.append(_history_has(one_of("e.bounce_type", query.bounce_types, p)))
    return conditions


def _history_has(condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM callbox_status_event e WHERE e.message = m.id AND {condition})"


def page_statement(
    query: MessageQuery,
    request: PageRequest,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    """The page's rows (``MessageRow.COLUMNS``, ``request.limit`` of them, in the request's
    order); ``addresses``: the stored forms of ``query.address`` (see addresses.py)."""
    keyset = request.conditions(p, "m.occurred_at", "m.id")
    limit = p(request.limit, "int")
    order = request.order("m.occurred_at", "m.id")
    if addresses is None:
        conditions = _conditions(query, receivers, p) + keyset
        return (
            f"SELECT {_COLUMNS} FROM callbox_message m {where(conditions)}"
            f" ORDER BY {order} LIMIT {limit}"
        )
    scope = _scope(receivers, p)
    conditions = _conditions(query, None, p) + keyset
    branches = [
        f"(SELECT b.occurred_at, b.id FROM scope CROSS JOIN LATERAL"
        f" (SELECT m.occurred_at, m.id FROM callbox_message m"
        f" {where(['m.receiver = scope.receiver', *conditions, seek])}"
        f" ORDER BY {order} LIMIT {limit}) b)"
        for seek in _address_seeks(addresses, p)
    ]
    return (
        f"{scope} SELECT {_COLUMNS} FROM (SELECT occurred_at, id"
        f" FROM ({' UNION '.join(branches)}) u"
        f" ORDER BY {request.order('occurred_at', 'id')} LIMIT {limit}) k"
        f" JOIN callbox_message m ON m.id = k.id"
        f" ORDER BY {request.order('k.occurred_at', 'k.id')}"
    )


async def page_messages(
    sql: Sql,
    query: MessageQuery,
    request: PageRequest,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> Page[MessageRow]:
    """``addresses``: the stored forms of ``query.address`` (see addresses.py)."""
    p = Params()
    statement = page_statement(query, request, p, receivers=receivers, addresses=addresses)
    rows = [MessageRow.from_record(r) for r in await sql.fetch(statement, *p.values)]
    return make_page(rows, request, CursorKind.MESSAGE, lambda row: row.sort_key)


def _address_seeks(addresses: tuple[str, ...], p: Params) -> list[str]:
    """The address condition of each branch: one per stored form of the address and side."""
    seeks = []
    for address in addresses:
        value = p(address, "text")
        seeks += [f"m.sender = {value}", f"m.recipient = {value}"]
    return seeks or ["false"]


def count_statement(
    query: MessageQuery,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    """One row, one column: how many messages match."""
    if addresses is None:
        conditions = _conditions(query, receivers, p)
        return f"SELECT count(*) FROM callbox_message m {where(conditions)}"
    # Either side = both sides' counts minus the messages on both sides: index counts
    # instead of deduplicating a bitmap of every matching row (10x faster). The receivers
    # come first, as in the indexes on (receiver, sender|recipient, ...). The messages on
    # both sides are, per receiver and pair of stored forms, a merge join of the two
    # index scans (both in (occurred_at, id) order; it stops when either side ends).
    scope = _scope(receivers, p)
    conditions = _conditions(query, None, p)
    values = p(list(addresses), "text[]")
    either = "m.receiver = ANY(ARRAY(SELECT receiver FROM scope))"
    counts = [
        f"(SELECT count(*) FROM callbox_message m"
        f" {where([either, *conditions, f'm.{side} = ANY({values})'])})"
        for side in ("sender", "recipient")
    ]
    pairs = [
        "m.receiver = scope.receiver",
        "m.sender = a.address",
        "r.receiver = scope.receiver",
        "r.recipient = b.address",
        *conditions,
    ]
    counts.append(
        f"(SELECT COALESCE(sum(n), 0) FROM scope, unnest({values}) AS a(address),"
        f" unnest({values}) AS b(address), LATERAL (SELECT count(*) AS n"
        " FROM callbox_message m JOIN callbox_message r"
        f" ON r.occurred_at = m.occurred_at AND r.id = m.id {where(pairs)}) both_sides)"
    )
    return f"{scope} SELECT {counts[0]} + {counts[1]} - {counts[2]}"


async def count_messages(
    sql: Sql,
    query: MessageQuery,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> int:
    p = Params()
    statement = count_statement(query, p, receivers=receivers, addresses=addresses)
    count: int = await sql.fetchval(statement, *p.values)
    return count


def rows_statement(p: Params, condition: str, *, receivers: tuple[str, ...] | None) -> str:
    """The messages (``MessageRow.COLUMNS``) meeting ``condition`` (on ``m``) that the
    receivers may see."""
    conditions = [condition]
    if receivers is not None:
        conditions.append(one_of("m.receiver", receivers, p))
    return f"SELECT {_COLUMNS} FROM callbox_message m {where(conditions)}"


async def messages_by_id(
    sql: Sql, ids: Sequence[int], *, receivers: tuple[str, ...] | None
) -> dict[int, MessageRow]:
    p = Params()
    condition = f"m.id = ANY({p(list(ids), 'bigint[]')})"
    records = await sql.fetch(rows_statement(p, condition, receivers=receivers), *p.values)
    return {row.id: row for row in map(MessageRow.from_record, records)}


def conversation_page_statement(
    p: Params, conversation: str, request: PageRequest, *, receivers: tuple[str, ...] | None
) -> str:
    """One page (``request.limit`` rows, in the request's order) of the messages of the
    conversation whose id is the SQL expression ``conversation``."""
    conditions = [f"m.conversation = {conversation}"]
    if receivers is not None:
        conditions.append(one_of("m.receiver", receivers, p))
    conditions += request.conditions(p, "m.occurred_at", "m.id")
    return (
        f"SELECT {_COLUMNS} FROM callbox_message m {where(conditions)}"
        f" ORDER BY {request.order('m.occurred_at', 'm.id')} LIMIT {p(request.limit, 'int')}"
    )


async def conversation_message_pages(
    sql: Sql,
    conversation_ids: Sequence[int],
    request: PageRequest,
    *,
    receivers: tuple[str, ...] | None,
) -> dict[int, Page[MessageRow]]:
    """One page of messages for each of several conversations, in one statement."""
    p = Params()
    ids = p(list(conversation_ids), "bigint[]")
    page = conversation_page_statement(p, "parent.id", request, receivers=receivers)
    statement = (
        f"SELECT parent.id AS parent, x.* FROM unnest({ids}) AS parent(id)"
        f" CROSS JOIN LATERAL ({page}) x"
        f" ORDER BY parent.id, {request.order('x.occurred_at', 'x.id')}"
    )
    grouped: dict[int, list[MessageRow]] = {conversation: [] for conversation in conversation_ids}
    for record in await sql.fetch(statement, *p.values):
        grouped[record["parent"]].append(MessageRow.from_record(record))
    return {
        conversation: make_page(rows, request, CursorKind.MESSAGE, lambda row: row.sort_key)
        for conversation, rows in grouped.items()
    }
