"""One subscription: replay from its cursor, then live rows from the hub, through a bounded
queue.

A subscriber with a cursor first reads the log itself, page by page, up to the hub's current
position; when it has caught up (checked with no ``await`` between the check and the switch)
it goes live, and from then on the hub hands it every row after that position. Either way it
keeps its own position and skips rows at or before it, so it gets every matching event once,
in order, even when its cursor came from a replica that had read further than this one.

The resume point (``handed``, the cursor of the error that ends a subscription) moves with
every event the consumer has sent (:meth:`Subscriber.sent`), and to the end of a list once it
asks for the next: resubscribing from it repeats nothing.

The queue is bounded: a client reading more slowly than events come is ended with
``SUBSCRIBER_TOO_SLOW`` and the cursor of the last event it was given, instead of holding
more and more memory.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import asyncpg

from callbox.events.errors import (
    BadCursor,
    CursorExpired,
    LiveUpdateError,
    LiveUpdatesInterrupted,
    LiveUpdatesUnavailable,
    SubscriberTooSlow,
)
from callbox.events.filters import EventFilter
from callbox.events.log import EventRow, is_from_this_database, read_page
from callbox.events.position import EventPosition

if TYPE_CHECKING:
    from callbox.events.hub import EventHub

REPLAY_PAGE = 500
"""Rows read per statement while replaying."""

Shared = TypeVar("Shared")


class EventBatch:
    """Rows read together. What subscribers derive from them (the messages they are about)
    is computed once, by whichever subscriber asks first, and shared by the others.

    ``memo``: what subscribers derive per event and share among themselves (the GraphQL
    layer keeps each group's executed ``next`` payload there); it lives as long as the batch.
    """

    __slots__ = ("_shared", "memo", "rows")

    def __init__(self, rows: Sequence[EventRow]) -> None:
        self.rows = tuple(rows)
        self._shared: dict[Hashable, asyncio.Future[Any]] = {}
        self.memo: dict[Hashable, Any] = {}

    async def shared(
        self, key: Hashable, load: Callable[[Sequence[EventRow]], Awaitable[Shared]]
    ) -> Shared:
        future = self._shared.get(key)
        if future is None:
            future = asyncio.ensure_future(load(self.rows))
            future.add_done_callback(_retrieve)
            self._shared[key] = future
        try:
            return cast(Shared, await shared_result(future))
        except Exception:
            if self._shared.get(key) is future:
                del self._shared[key]  # the next subscriber tries again
            raise


async def shared_result(future: asyncio.Future[Shared]) -> Shared:
    """The result of work many subscribers wait for: at once when it is done (most of them
    come after), else awaited through a shield, so that one subscriber going away does not
    cancel it for the others."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return await asyncio.shield(future)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Delivery(NamedTuple):
    row: EventRow
    batch: EventBatch


class Subscriber:
    """Use ``async with`` (it counts as open meanwhile), then iterate :meth:`batches`."""

    def __init__(
        self,
        hub: EventHub,
        event_filter: EventFilter,
        after: EventPosition | None,
        *,
        queue_size: int,
        replay_window: timedelta,
    ) -> None:
        self.filter = event_filter
        self.live = False
        self._hub = hub
        self._after = after
        self._queue_size = queue_size
        self._replay_window = replay_window
        self._pending: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._ended: LiveUpdateError | None = None
        self._dropped = False
        """Ended with what was not sent yet dropped."""
        self._busy = False
        """The consumer holds a list of deliveries it has not finished sending."""
        self.position: EventPosition | None = None
        """Every row up to here has been examined (matching ones queued or handed out)."""
        self.handed: EventPosition | None = None
        """Every matching row up to here has been handed to the consumer: the resume point."""

    async def __aenter__(self) -> Subscriber:
        self._hub.register(self)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._hub.unregister(self)

    async def check(self) -> None:
        """Raise a :class:`LiveUpdateError` now if the subscription cannot start (no listener
        within the outage grace, or a cursor that is expired or not from this database);
        changes nothing. Through a short database outage it waits."""
        if self._after is None and not self._hub.connected:
            # Started during an outage: from where the reader was, so that what commits
            # while it waits is not lost.
            self._after = self._hub.last_position
            await self._hub.caught_up()
            return
        await self._hub.caught_up()
        after = self._after
        if after is None:
            return
        if after.at < datetime.now(UTC) - self._replay_window:
            days = self._replay_window / timedelta(days=1)
            raise CursorExpired(
                f"after: this cursor is older than the replay window ({days:g} days), so"
                " events after it may be gone; read the current state with a query, then"
                " subscribe without after"
            )
        try:
            known = await self._hub.outlast(lambda: is_from_this_database(self._hub.fetch, after))
        except (LiveUpdatesInterrupted, asyncpg.PostgresError):  # (a timeout, say)
            raise LiveUpdatesUnavailable(
                "the event log cannot be read right now; retry shortly", resume_from=after
            ) from None
        if not known:
            raise BadCursor("after: this cursor is not from this database")

    async def batches(self) -> AsyncIterator[list[Delivery]]:
        """Matching events, in order, a list at a time; raises a :class:`LiveUpdateError`
        when the subscription cannot go on. Call :meth:`check` first."""
        await self._start()
        async for deliveries in self._replay():
            yield deliveries
        while True:
            if self._pending:
                deliveries = list(self._pending)
                self._pending.clear()
                end = self.position
                assert end is not None
                self._busy = True
                yield deliveries
                self._handed_out(len(deliveries), end)
                continue
            if self._ended is not None:
                raise self._ending()  # after what was queued before the end
            await self._ready.wait()
            self._ready.clear()

    def sent(self, row: EventRow) -> None:
        """The consumer has sent this event (of the list it was given): resuming from here
        repeats nothing, should the subscription end before the list is done."""
        if self.handed is None or row.key > self.handed.key:
            self.handed = row.position
        if self._dropped:
            raise self._ending()  # ended, the rest dropped: not even the rest of this list

    # Called by the hub, synchronously -----------------------------------------------------

    def offer(self, batch: EventBatch, end: EventPosition) -> None:
        """Rows the hub read, up to ``end``; those after this subscriber's position that
        match are queued."""
        if self._ended is not None or self.position is None:
            return
        after = self.position.key
        new = [
            Delivery(row, batch)
            for row in batch.rows
            if row.key > after and self.filter.matches(row)
        ]
        if end.key >= after:
            self.position = end
        if not new:
            if not self._pending and not self._busy:
                self.handed = self.position
            return
        if len(self._pending) + len(new) > self._queue_size:
            self._hub.count_too_slow()
            self.end(
                SubscriberTooSlow(
                    f"this subscription fell more than {self._queue_size} events behind;"
                    " read faster, or resubscribe with after: the cursor in this error"
                ),
                drop_pending=True,
            )
            return
        self._pending.extend(new)
        self._ready.set()

    def end(self, error: LiveUpdateError, *, drop_pending: bool = False) -> None:
        """End the subscription: queued events are still handed out, unless dropped."""
        if self._ended is not None:
            return
        self._ended = error
        if drop_pending:
            self._dropped = True
            self._pending.clear()
        self._hub.stop_feeding(self)
        self._ready.set()

    # Start and replay ------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._after is None:
            head = await self._hub.live_position()
            self.position = self.handed = head
            self._hub.feed(self)  # from the reader's position on: no replay
        else:
            self.position = self.handed = self._after

    async def _replay(self) -> AsyncIterator[list[Delivery]]:
        while not self.live:
            if self._ended is not None:
                raise self._ending()
            bound = await self._live_position()
            assert self.position is not None
            if self.position.key >= bound.key:
                self._hub.feed(self)  # no await since the check: nothing falls in between
                return
            try:
                page = await self._hub.outlast(
                    functools.partial(
                        read_page,
                        self._hub.fetch,
                        self.position,
                        limit=REPLAY_PAGE,
                        until=bound,
                        receivers=self.filter.receiver_list,
                    )
                )
            except LiveUpdateError as error:
                error.resume_from = self.handed
                raise
            except asyncpg.PostgresError:  # not an outage (hub.outlast waits those out)
                raise LiveUpdatesInterrupted(
                    "the event log cannot be read right now; resubscribe with after: the"
                    " cursor in this error",
                    resume_from=self.handed,
                ) from None
            batch = EventBatch(page.rows)
            deliveries = [Delivery(row, batch) for row in page.rows if self.filter.matches(row)]
            self.position = bound if len(page.rows) < REPLAY_PAGE else page.rows[-1].position
            end = self.position
            if deliveries:
                self._busy = True
                yield deliveries
            self._handed_out(len(deliveries), end)

    async def _live_position(self) -> EventPosition:
        """The hub's position, waiting through a short outage; past it, the subscription
        ends with ``LIVE_UPDATES_INTERRUPTED`` and its cursor."""
        try:
            return await self._hub.live_position()
        except LiveUpdatesUnavailable as error:
            raise LiveUpdatesInterrupted(
                "live updates were interrupted (the database is out of reach); resubscribe"
                " with after: the cursor in this error",
                resume_from=self.handed,
            ) from error

    def _handed_out(self, count: int, end: EventPosition) -> None:
        """The consumer asked for more: it has sent what it was given, so ``end`` becomes
        the resume point (not before: a consumer failing half-way must resume before it)."""
        self._busy = False
        self.handed = end
        if count:
            self._hub.count_delivered(count)

    def _ending(self) -> LiveUpdateError:
        assert self._ended is not None
        self._ended.resume_from = self.handed
        return self._ended
