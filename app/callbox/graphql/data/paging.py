"""Keyset pagination over newest-first lists: page requests, pages, and their SQL pieces.

Lists are ordered by (time, id) descending. ``first``/``after`` walk towards older items,
``last``/``before`` towards newer ones; both use row comparisons that an index on
``(…, time DESC, id DESC)`` answers with a seek, never OFFSET.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from callbox.graphql.data.cursors import CursorKind, SortKey, decode_cursor
from callbox.graphql.data.params import Params
from callbox.graphql.errors import InvalidInput
from callbox.sealing import Sealer

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A validated page request: ``size`` items after ``after`` and before ``before``,
    taken from the newest end (``backwards`` false) or the oldest end (``backwards`` true)."""

    size: int
    backwards: bool = False
    after: SortKey | None = None
    before: SortKey | None = None

    @classmethod
    def from_arguments(
        cls,
        kind: CursorKind,
        sealer: Sealer,
        *,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
    ) -> PageRequest:
        if first is not None and last is not None:
            raise InvalidInput("give first or last, not both")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise InvalidInput(f"{name} must be between 0 and {MAX_PAGE_SIZE}")
        backwards = last is not None
        size = last if last is not None else first if first is not None else DEFAULT_PAGE_SIZE
        return cls(
            size=size,
            backwards=backwards,
            after=decode_cursor(sealer, kind, after, "after") if after else None,
            before=decode_cursor(sealer, kind, before, "before") if before else None,
        )

    def conditions(self, params: Params, at: str, id_: str) -> list[str]:
        """Row comparisons placing rows strictly between the cursors."""
        conditions = []
        if self.after is not None:
            after_at, after_id = params(self.after.at, "timestamptz"), params(self.after.id)
            conditions.append(f"({at}, {id_}) < ({after_at}, {after_id}::bigint)")
        if self.before is not None:
            before_at, before_id = params(self.before.at, "timestamptz"), params(self.before.id)
            conditions.append(f"({at}, {id_}) > ({before_at}, {before_id}::bigint)")
        return conditions

    def order(self, at: str, id_: str) -> str:
        direction = "ASC" if self.backwards else "DESC"
        return f"{at} {direction}, {id_} {direction}"

    @property
    def limit(self) -> int:
        """One more than the page, to learn whether another page follows."""
        return self.size + 1


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Items newest first, each with its sort key (sealed into a cursor for the client)."""

    kind: CursorKind
    edges: list[tuple[SortKey, T]]
    has_next_page: bool
    has_previous_page: bool

    @property
    def items(self) -> list[T]:
        return [item for _, item in self.edges]


def make_page(
    rows: Sequence[T], request: PageRequest, kind: CursorKind, key: Callable[[T], SortKey]
) -> Page[T]:
    """Turn the ``limit`` rows a query returned (in its order) into a newest-first page."""
    kept = list(rows[: request.size])
    if request.backwards:
        kept.reverse()
    has_next, has_previous = page_bounds(request, len(rows))
    edges = [(key(row), row) for row in kept]
    return Page(kind, edges, has_next_page=has_next, has_previous_page=has_previous)


def page_bounds(request: PageRequest, returned: int) -> tuple[bool, bool]:
    """``(has_next_page, has_previous_page)`` of a page whose query returned ``returned``
    rows (at most ``request.limit``)."""
    more = returned > request.size
    if request.backwards:
        return request.before is not None, more
    return more, request.after is not None
