"""Per-request DataLoaders: related objects of a whole page are fetched in one statement each.

Resolvers of nested fields (a message's conversation, its history, an event's notification,
a conversation's messages…) ask a loader; the loader collects every key asked for in the same
tick and makes one call to the query layer, so a page costs a fixed number of statements.
Each loader is made when a resolver first asks for it: a request the read planner answers
makes none.
"""

from __future__ import annotations

import asyncio
from functools import cached_property

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


class Loaders:
    """The loaders of one request (or, ``cache=False``, of one subscription: its context
    lives as long as the connection, and each event must see rows as they are now; batching
    within one event still applies)."""

    def __init__(self, data: CallboxData, *, cache: bool = True) -> None:
        self._data = data
        self._cache = cache

    @cached_property
    def message(self) -> DataLoader[int, MessageRow | None]:
        async def messages(ids: list[int]) -> list[MessageRow | None]:
            found = await self._data.messages_by_id(ids)
            return [found.get(key) for key in ids]

        return DataLoader(messages, cache=self._cache)

    @cached_property
    def conversation(self) -> DataLoader[int, ConversationRow | None]:
        async def conversations(ids: list[int]) -> list[ConversationRow | None]:
            found = await self._data.conversations_by_id(ids)
            return [found.get(key) for key in ids]

        return DataLoader(conversations, cache=self._cache)

    @cached_property
    def message_events(self) -> DataLoader[int, list[StatusEventRow]]:
        async def message_events(ids: list[int]) -> list[list[StatusEventRow]]:
            found = await self._data.events_by_message(ids)
            return [found[key] for key in ids]

        return DataLoader(message_events, cache=self._cache)

    @cached_property
    def notification(self) -> DataLoader[int, NotificationRow | None]:
        async def notifications(ids: list[int]) -> list[NotificationRow | None]:
            found = await self._data.notifications_by_id(ids)
            return [found.get(key) for key in ids]

        return DataLoader(notifications, cache=self._cache)

    @cached_property
    def notification_body(self) -> DataLoader[int, bytes | None]:
        async def notification_bodies(ids: list[int]) -> list[bytes | None]:
            found = await self._data.notification_bodies(ids)
            return [found.get(key) for key in ids]

        return DataLoader(notification_bodies, cache=self._cache)

    @cached_property
    def notification_events(self) -> DataLoader[int, list[StatusEventRow]]:
        async def notification_events(ids: list[int]) -> list[list[StatusEventRow]]:
            found = await self._data.events_by_notification(ids)
            return [found[key] for key in ids]

        return DataLoader(notification_events, cache=self._cache)

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
