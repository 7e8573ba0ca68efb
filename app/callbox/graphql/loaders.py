"""Per-request DataLoaders: related objects of a whole page are fetched in one statement each.

Resolvers of nested fields (a message's conversation, its history, an event's notification,
a conversation's messages…) ask a loader; the loader collects every key asked for in the same
tick and makes one call to the query layer, so a page costs a fixed number of statements.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Loaders:
    message: DataLoader[int, MessageRow | None]
    conversation: DataLoader[int, ConversationRow | None]
    message_events: DataLoader[int, list[StatusEventRow]]
    notification: DataLoader[int, NotificationRow | None]
    notification_body: DataLoader[int, bytes | None]
    notification_events: DataLoader[int, list[StatusEventRow]]
    conversation_messages: DataLoader[ConversationPageKey, Page[MessageRow]]
    message_counts: DataLoader[StatsQuery, MessageCounts]


def make_loaders(data: CallboxData, *, cache: bool = True) -> Loaders:
    """``cache=False`` for a subscription: its context lives as long as the connection, and
    each event must see rows as they are now (batching within one event still applies)."""

    async def messages(ids: list[int]) -> list[MessageRow | None]:
        found = await data.messages_by_id(ids)
        return [found.get(key) for key in ids]

    async def conversations(ids: list[int]) -> list[ConversationRow | None]:
        found = await data.conversations_by_id(ids)
        return [found.get(key) for key in ids]

    async def message_events(ids: list[int]) -> list[list[StatusEventRow]]:
        found = await data.events_by_message(ids)
        return [found[key] for key in ids]

    async def notifications(ids: list[int]) -> list[NotificationRow | None]:
        found = await data.notifications_by_id(ids)
        return [found.get(key) for key in ids]

    async def notification_bodies(ids: list[int]) -> list[bytes | None]:
        found = await data.notification_bodies(ids)
        return [found.get(key) for key in ids]

    async def notification_events(ids: list[int]) -> list[list[StatusEventRow]]:
        found = await data.events_by_notification(ids)
        return [found[key] for key in ids]

    async def conversation_pages(keys: list[ConversationPageKey]) -> list[Page[MessageRow]]:
        # One statement per distinct page request (usually one for the whole batch).
        by_request: dict[PageRequest, list[int]] = {}
        for conversation, request in keys:
            by_request.setdefault(request, []).append(conversation)
        results = await asyncio.gather(
            *(data.conversation_message_pages(ids, request) for request, ids in by_request.items())
        )
        pages = {
            (conversation, request): page
            for request, found in zip(by_request, results, strict=True)
            for conversation, page in found.items()
        }
        return [pages[key] for key in keys]

    async def message_counts(queries: list[StatsQuery]) -> list[MessageCounts]:
        return list(await asyncio.gather(*(data.message_counts(query) for query in queries)))

    return Loaders(
        message=DataLoader(messages, cache=cache),
        conversation=DataLoader(conversations, cache=cache),
        message_events=DataLoader(message_events, cache=cache),
        notification=DataLoader(notifications, cache=cache),
        notification_body=DataLoader(notification_bodies, cache=cache),
        notification_events=DataLoader(notification_events, cache=cache),
        conversation_messages=DataLoader(conversation_pages, cache=cache),
        message_counts=DataLoader(message_counts, cache=cache),
    )
