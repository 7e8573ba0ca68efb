"""The opt-out ledger: its rows, and whether an address is opted out (its latest row says)."""

from __future__ import annotations

from collections.abc import Sequence

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.data.filters import OptOutQuery
from callbox.graphql.data.paging import Page, PageRequest, make_page
from callbox.graphql.data.params import Params, one_of, where
from callbox.graphql.data.rows import OptOutRow
from callbox.graphql.data.runner import Sql

_COLUMNS = OptOutRow.COLUMNS


def _conditions(
    query: OptOutQuery,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
    p: Params,
) -> list[str]:
    conditions = []
    if receivers is not None:
        conditions.append(one_of("o.receiver", receivers, p))
    if addresses is not None:
        conditions.append(one_of("o.address", addresses, p))
    if query.actions is not None:
        conditions.append(one_of("o.action", query.actions, p))
    if query.channels is not None:
        conditions.append(one_of("o.channel", query.channels, p))
    if query.occurred.since is not None:
        conditions.append(f"o.occurred_at >= {p(query.occurred.since, 'timestamptz')}")
    if query.occurred.until is not None:
        conditions.append(f"o.occurred_at < {p(query.occurred.until, 'timestamptz')}")
    return conditions


async def page_opt_outs(
    sql: Sql,
    query: OptOutQuery,
    request: PageRequest,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> Page[OptOutRow]:
    p = Params()
    statement = page_statement(query, request, p, receivers=receivers, addresses=addresses)
    records = await sql.fetch(statement, *p.values)
    rows = [OptOutRow.from_record(record) for record in records]
    return make_page(rows, request, CursorKind.OPT_OUT, lambda row: row.sort_key)


async def count_opt_outs(
    sql: Sql,
    query: OptOutQuery,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> int:
    p = Params()
    statement = count_statement(query, p, receivers=receivers, addresses=addresses)
    count: int = await sql.fetchval(statement, *p.values)
    return count


def page_statement(
    query: OptOutQuery,
    request: PageRequest,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    """The page's rows (``OptOutRow.COLUMNS``, ``request.limit`` of them, in order)."""
    conditions = _conditions(query, receivers, addresses, p) + request.conditions(
        p, "o.occurred_at", "o.id"
    )
    return (
        f"SELECT {_COLUMNS} FROM callbox_opt_out o {where(conditions)}"
        f" ORDER BY {request.order('o.occurred_at', 'o.id')} LIMIT {p(request.limit, 'int')}"
    )


def count_statement(
    query: OptOutQuery,
    p: Params,
    *,
    receivers: tuple[str, ...] | None,
    addresses: tuple[str, ...] | None,
) -> str:
    conditions = _conditions(query, receivers, addresses, p)
    return f"SELECT count(*) FROM callbox_opt_out o {where(conditions)}"


async def is_opted_out(
    sql: Sql, addresses: tuple[str, ...], *, receivers: tuple[str, ...] | None
) -> bool:
    """The ledger's answer (the rule is ``callbox_is_opted_out``, store/sql/)."""
    opted_out: bool = await sql.fetchval(
        "SELECT callbox_is_opted_out($1::text[], $2::text[])",
        list(addresses),
        list(receivers) if receivers is not None else None,
    )
    return opted_out


async def opt_outs_by_id(sql: Sql, ids: Sequence[int]) -> dict[int, OptOutRow]:
    """Ledger rows by id (what a subscription event points at; shared by every subscriber,
    each cut to its key afterwards)."""
    records = await sql.fetch(
        f"SELECT {_COLUMNS} FROM callbox_opt_out o WHERE o.id = ANY($1::bigint[])", list(ids)
    )
    return {row.id: row for row in map(OptOutRow.from_record, records)}
