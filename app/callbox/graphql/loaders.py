"""Per-request DataLoaders: related objects of a whole page are fetched in one statement each.

Resolvers of nested fields (a message's conversation, its history, an event's notification,
a conversation's messages…) ask a loader; the loader collects every key asked for in the same
tick and makes one call to the query layer, so a page costs a fixed number of statements.
Each loader is made when a resolver first asks for it: a request the read planner answers
makes none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from callbox.graphql.data import CallboxData
from callbox.graphql.data.filters import StatsQuery
from callbox.graphql.data.paging import Page, PageRequest
from callbox.graphql.data.rows import (
    ConversationRow,
    MessageCounts,
    MessageRow,
    NotificationRow,
    StatusEventRow,
)

ConversationPageKey = tuple[int, PageRequest]
Row = TypeVar("Row")


class Loaders:
    """The loaders of one request (or, ``cache=False``, of one subscription: its context
    lives as long as the connection, and each event must see rows as they are now; batching
    within one event still applies)."""

    def __init__(self, data: CallboxData, *, cache: bool = True) -> None:
        self._data = data
        self._cache = cache

    def _by_id(
        self, fetch: Callable[[Sequence[int]], Awaitable[Mapping[int, Row]]]
    ) -> DataLoader[int, Row | None]:
        """Rows by id, ``None`` for an id with no row."""

        async def load(ids: list[int]) -> list[Row | None]:
            found = await fetch(ids)
            return [found.get(key) for key in ids]

        return DataLoader(load, cache=self._cache)

    def _histories(
        self, fetch: Callable[[Sequence[int]], Awaitable[Mapping[int, list[StatusEventRow]]]]
    ) -> DataLoader[int, list[StatusEventRow]]:
        """Status histories by id (the query layer gives every id asked, empty or not)."""

        async def load(ids: list[int]) -> list[list[StatusEventRow]]:
            found = await fetch(ids)
            return [found[key] for key in ids]

        return DataLoader(load, cache=self._cache)

    @cached_property
    def message(self) -> DataLoader[int, MessageRow | None]:
        return self._by_id(self._data.messages_by_id)

    @cached_property
    def conversation(self) -> DataLoader[int, ConversationRow | None]:
        return self._by_id(self._data.conversations_by_id)

    @cached_property
    def message_events(self) -> DataLoader[int, list[StatusEventRow]]:
        return self._histories(self._data.events_by_message)

    @cached_property
    def notification(self) -> DataLoader[int, NotificationRow | None]:
        return self._by_id(self._data.notifications_by_id)

    @cached_property
    def notification_body(self) -> DataLoader[int, bytes | None]:
        return self._by_id(self._data.notification_bodies)

    @cached_property
    def notification_events(self) -> DataLoader[int, list[StatusEventRow]]:
        return self._histories(self._data.events_by_notification)

    @cached_property
    def conversation_messages(self) -> DataLoader[ConversationPageKey, Page[MessageRow]]:
        data = self._data

        async def conversation_pages(keys: list[ConversationPageKey]) -> list[Page[MessageRow]]:
            # One statement per distinct page request (usually one for the whole batch).
            by_request: dict[PageRequest, list[int]] = {}
            for conversation, request in keys:
                by_request.setdefault(request, []).append(conversation)
            results = await asyncio.gather(
                *(
                    data.conversation_message_pages(ids, request)
                    for request, ids in by_request.items()
                )
            )
            pages = {
                (conversation, request): page
                for request, found in zip(by_request, results, strict=True)
                for conversation, page in found.items()
            }
            return [pages[key] for key in keys]

        return DataLoader(conversation_pages, cache=self._cache)

    @cached_property
    def message_counts(self) -> DataLoader[StatsQuery, MessageCounts]:
        async def message_counts(queries: list[StatsQuery]) -> list[MessageCounts]:
            return list(
                await asyncio.gather(*(self._data.message_counts(query) for query in queries))
            )

        return DataLoader(message_counts, cache=self._cache)
