"""Relay connections over keyset pages: edges with opaque cursors, page info, total count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from callbox.graphql.data.cursors import encode_cursor
from callbox.graphql.data.paging import Page
from callbox.graphql.types.fields import field
from callbox.sealing import Sealer

Node = TypeVar("Node")
Row = TypeVar("Row")


@strawberry.type(description="Where a page sits in its list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow (older ones, in a newest-first list)."
    )
    has_previous_page: bool = strawberry.field(
        description="Items come before this page. With first/after this is true whenever"
        " after was given."
    )
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str = strawberry.field(description="Opaque; pass to after or before.")
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @field(description="Items in the whole list (every page), computed on request.")
    async def total_count(self) -> int:
        return await self.count()

    @field(description="The nodes of the edges, for clients that need no cursors.")
    def nodes(self) -> list[Node]:
        return [edge.node for edge in self.edges]


def connection(
    page: Page[Row],
    sealer: Sealer,
    node: Callable[[Row], Node],
    count: Callable[[], Awaitable[int]],
) -> Connection[Node]:
    edges = [
        Edge(cursor=encode_cursor(sealer, page.kind, key), node=node(row))
        for key, row in page.edges
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count=count,
    )


def known_count(value: int) -> Callable[[], Awaitable[int]]:
    """A total count already known (no statement needed)."""

    async def count() -> int:
        return value

    return count
