"""The process's one NOTIFY listener, and the reader that feeds every local subscriber.

One connection per process (not per subscriber) runs ``LISTEN callbox_events`` and reads the
log: a notification (sent by Postgres only after the writing transaction commits) wakes the
reader, which reads the rows after its position, once, and offers them to every live local
subscriber; each keeps those matching its own filter. Reads are at least 5 ms apart, so under
load one read serves many commits; with no live subscriber, notifications only mark the
reader as behind, and a subscription that starts makes it read first (:meth:`caught_up`).
It also reads every couple of seconds without a notification (a lost notification, or rows
held back behind an older transaction, cost at most that delay), and that read doubles as
the connection's heartbeat.

The connection is supervised: when it is lost (Postgres restarted, network cut, a read timed
out) it is closed and opened again with exponential backoff; once back, the reader reads from
where it was, so live subscribers get what was committed meanwhile, without loss or repeat.
Statements subscriptions run on the pool meanwhile (replays, what events point at) wait for
the database in :meth:`EventHub.outlast`, and a subscription started meanwhile waits for the
listener: a short outage is invisible. If it stays lost longer than ``[subscriptions]
outage_grace_seconds``, every subscription is ended with ``LIVE_UPDATES_INTERRUPTED`` and the
cursor of the last event it sent, so no client waits in silence; new subscriptions are
refused with ``LIVE_UPDATES_UNAVAILABLE`` until the connection is back.

Stopping: :func:`end_subscriptions_for_shutdown` ends every subscription with
``SHUTTING_DOWN`` and its cursor, for a server about to close its connections (``callbox
serve`` calls it on SIGTERM, before uvicorn closes WebSockets with 1012).

Why a hand-written listener rather than Litestar's ``AsyncPgChannelsBackend``: that backend
delivers payloads to channel subscribers, but here the payload is only a wake-up, and what
matters is noticing a lost connection, reconnecting, catching up from the table and telling
``/ready``; the backend has no hook for any of these, so its part would be one
``add_listener`` call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

import asyncpg
from prometheus_client import Counter, Gauge

from callbox.db.connection import Pool
from callbox.db.periodic import run_every
from callbox.events.errors import (
    LiveUpdatesInterrupted,
    LiveUpdatesUnavailable,
    ShuttingDown,
)
from callbox.events.filters import EventFilter
from callbox.events.log import Fetch, read_head, read_page
from callbox.events.position import EventPosition
from callbox.events.subscriber import EventBatch, Subscriber
from callbox.settings import Subscriptions
from callbox.store.event_log_purge import purge_expired_events
from callbox.store.faults import FaultKind, fault_kind

logger = logging.getLogger(__name__)

CHANNEL = "callbox_events"
PAGE = 1000
"""Rows read per statement by the reader."""
POLL_SECONDS = 2.0
"""A read without a notification at least this often (also the connection's heartbeat)."""
HELD_BACK_FIRST_SECONDS = 0.005
HELD_BACK_MAX_SECONDS = 0.5
"""While rows wait behind an older running transaction, look again after 5 ms, doubling."""
MIN_READ_INTERVAL_SECONDS = 0.005
"""Reads follow each other at least this far apart: under load, the notifications of many
commits are served by one read (at most this much added latency)."""
STATEMENT_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
START_WAIT_SECONDS = 5.0
"""How long start-up waits for the first connection (then it carries on connecting)."""
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0
"""A statement failing for an outage is run again after this pause (doubling), once the
listener is connected again."""
SHUTDOWN_DRAIN_SECONDS = 5.0
"""How long :func:`end_subscriptions_for_shutdown` waits for subscriptions to end."""
SHUTDOWN_SEND_SECONDS = 0.1
"""After the last subscription ended: time for its error to be written to its socket."""

Result = TypeVar("Result")

OUT_OF_REACH = frozenset({FaultKind.REFUSED, FaultKind.TIMEOUT})
"""The database faults (:func:`callbox.store.faults.fault_kind`) during which live updates
wait for the database, within ``outage_grace_seconds``, and run a statement again."""

_running: set[EventHub] = set()
"""The hubs running in this process (what :func:`end_subscriptions_for_shutdown` ends)."""


async def end_subscriptions_for_shutdown() -> None:
    """End every subscription of this process with ``SHUTTING_DOWN`` and its cursor, refuse
    new ones, and wait (at most ``SHUTDOWN_DRAIN_SECONDS``) until they have ended, so their
    errors are sent before the server closes its connections. The hubs keep listening until
    their ``running`` block exits."""
    hubs = list(_running)
    for hub in hubs:
        hub.end_subscriptions()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SHUTDOWN_DRAIN_SECONDS):
            for hub in hubs:
                await hub.no_subscriptions.wait()
    await asyncio.sleep(SHUTDOWN_SEND_SECONDS)


class EventMetrics(Protocol):
    """What the hub records into (``callbox.ops.metrics.CallboxMetrics`` has these)."""

    subscriptions_open: Gauge
    events_fanned_out: Counter
    subscribers_too_slow: Counter
    listener_reconnects: Counter


class ListenerLost(Exception):
    """The listening connection closed."""


class EventHub:
    """Example (what ``create_app`` does)::

    hub = EventHub(settings.subscriptions)
    async with hub.running(database_url, pool):
        async with hub.subscribe(EventFilter(receivers=frozenset({"notify"}))) as s:
            async for deliveries in s.batches():
                ...
    """

    def __init__(self, settings: Subscriptions) -> None:
        self.settings = settings
        self.metrics: EventMetrics | None = None
        self._url: str | None = None
        self._pool: Pool | None = None
        self._position: EventPosition | None = None
        self._connection: asyncpg.Connection | None = None
        self._connected = False
        self._stopping = False
        self._down_since: float | None = None
        self._subscribers: set[Subscriber] = set()
        self._live: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._notifications = 0
        """Notifications received so far."""
        self._covered = 0
        """Every notification up to this count was received before a read that has ended."""
        self._catching_up: list[tuple[int, asyncio.Future[None]]] = []
        self._lost = asyncio.Event()
        self._up = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._interrupt_timer: asyncio.TimerHandle | None = None
        self._unavailable_since = time.monotonic()
        """Since when the listener is not connected (start-up, or the connection lost)."""
        self._ending = asyncio.Event()
        """Set when the hub stops taking subscriptions (shutdown)."""
        self.no_subscriptions = asyncio.Event()
        """Set while no subscription is open."""
        self.no_subscriptions.set()

    def record_into(self, metrics: EventMetrics) -> None:
        self.metrics = metrics

    # State --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def last_position(self) -> EventPosition | None:
        """The reader's position, even while the listener is away (``None`` before its
        first read)."""
        return self._position

    def readiness_problem(self) -> str | None:
        """``None`` when the listener is connected, else a short, secret-free reason."""
        if self._url is None:
            return "not started"
        if self._connected:
            return None
        if self._down_since is None:
            return "connecting"
        return f"disconnected for {time.monotonic() - self._down_since:.0f} s; reconnecting"

    async def readiness_problem_now(self, wait: float = 1.0) -> str | None:
        """:meth:`readiness_problem`, after cutting a reconnect backoff short: the listener
        tries again now, and this waits up to ``wait`` seconds for it. Without this, a
        database back after an outage leaves ``/ready`` at 503 for as long as the backoff
        still runs (up to ``BACKOFF_MAX_SECONDS``) though everything else is ready."""
        if self._url is None or self._connected or self._stopping:
            return self.readiness_problem()
        self._retry_now.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._up.wait()
        return self.readiness_problem()

    # For subscriptions --------------------------------------------------------------------

    def subscribe(
        self, event_filter: EventFilter, after: EventPosition | None = None
    ) -> Subscriber:
        return Subscriber(
            self,
            event_filter,
            after,
            queue_size=self.settings.queue_size,
            replay_window=timedelta(days=self.settings.replay_days),
        )

    def current_position(self) -> EventPosition:
        """The reader's position; :class:`LiveUpdatesUnavailable` while it has none."""
        if self._stopping:
            raise ShuttingDown(
                "this server is shutting down; subscribe to another one (after: your last"
                " event's cursor)"
            )
        if not self._connected or self._position is None:
            raise LiveUpdatesUnavailable(
                "live updates are unavailable on this server right now (its database"
                " connection is being re-established); retry shortly"
            )
        return self._position

    async def available(self) -> None:
        """Wait for the listener while it is not connected, within ``outage_grace_seconds``
        of losing it (or of starting); past that, return at once (the caller then finds no
        position: :class:`LiveUpdatesUnavailable`)."""
        if not self._connected and not self._stopping:
            await self._wait_for_listener(self._outage_ends())

    def _outage_ends(self) -> float:
        """When (``time.monotonic()``) the current outage exceeds the grace."""
        return self._unavailable_since + self.settings.outage_grace_seconds

    async def _wait_for_listener(self, deadline: float) -> None:
        """Until the listener is connected, the hub is stopping, or ``deadline``."""
        timeout = deadline - time.monotonic()
        if self._connected or self._stopping or timeout <= 0:
            return
        waits = [asyncio.ensure_future(self._up.wait()), asyncio.ensure_future(self._ending.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def live_position(self) -> EventPosition:
        """The reader's position once it covers every notification received so far (waiting
        for the listener through a short outage, see :meth:`available`)."""
        await self.caught_up()
        return self.current_position()

    async def outlast(self, statement: Callable[[], Awaitable[Result]]) -> Result:
        """Run ``statement`` (on the pool, for a subscription); while the database is out of
        reach, wait for the listener to be back and run it again, for at most
        ``outage_grace_seconds`` (from the first failure, or from losing the listener if
        that was earlier), then raise :class:`LiveUpdatesInterrupted` (without a cursor:
        the subscription sets it)."""
        grace = self.settings.outage_grace_seconds
        first_failure: float | None = None
        pause = RETRY_FIRST_SECONDS
        while True:
            try:
                return await statement()
            except Exception as error:
                if fault_kind(error) not in OUT_OF_REACH:
                    raise  # a bad statement, not an outage
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                deadline = first_failure + grace
                if not self._connected:
                    deadline = min(deadline, self._outage_ends())
                if self._stopping:
                    raise self.current_position_error() from error
                if now >= deadline:
                    raise LiveUpdatesInterrupted(
                        f"the database has been out of reach for more than {grace:g} s;"
                        " resubscribe with after: the cursor in this error (to this or another"
                        " server)"
                    ) from error
            await self._wait_for_listener(deadline)
            await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, RETRY_MAX_SECONDS)

    def current_position_error(self) -> LiveUpdatesUnavailable | ShuttingDown:
        try:
            self.current_position()
        except (LiveUpdatesUnavailable, ShuttingDown) as error:
            return error
        return LiveUpdatesUnavailable("live updates are unavailable right now; retry shortly")

    async def caught_up(self) -> None:
        """Wait until the reader's position covers every notification received so far.

        With no live subscriber, the reader does not read at each notification (nobody would
        be offered the rows), only every ``POLL_SECONDS``; a subscription starting then waits
        for one read, so it does not start behind and get events from before it began.
        """
        await self.available()
        self.current_position()  # raises while there is no listener
        mark = self._notifications
        if self._covered >= mark:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._catching_up.append((mark, waiter))
        self._wake.set()
        try:
            async with asyncio.timeout(STATEMENT_TIMEOUT_SECONDS):
                await asyncio.shield(waiter)
        except TimeoutError:
            raise LiveUpdatesUnavailable(
                "the event log cannot be read right now; retry shortly"
            ) from None

    @property
    def fetch(self) -> Fetch:
        """Statements on the pool (replays read there, not on the listening connection)."""
        if self._pool is None:
            raise LiveUpdatesUnavailable("live updates are not started; retry shortly")
        return self._pool.fetch

    def register(self, subscriber: Subscriber) -> None:
        self._subscribers.add(subscriber)
        self.no_subscriptions.clear()
        if self.metrics is not None:
            self.metrics.subscriptions_open.inc()

    def unregister(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.discard(subscriber)
            self._live.discard(subscriber)
            if not self._subscribers:
                self.no_subscriptions.set()
            if self.metrics is not None:
                self.metrics.subscriptions_open.dec()

    def feed(self, subscriber: Subscriber) -> None:
        """From now on, offer ``subscriber`` every row read (after its position)."""
        subscriber.live = True
        self._live.add(subscriber)

    def stop_feeding(self, subscriber: Subscriber) -> None:
        self._live.discard(subscriber)

    def count_delivered(self, count: int) -> None:
        if self.metrics is not None:
            self.metrics.events_fanned_out.inc(count)

    def count_too_slow(self) -> None:
        if self.metrics is not None:
            self.metrics.subscribers_too_slow.inc()

    # Running ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, database_url: str, pool: Pool) -> AsyncIterator[None]:
        """Listen and read while the block runs; subscriptions end when it exits."""
        self._url, self._pool, self._stopping = database_url, pool, False
        self._ending.clear()
        self._unavailable_since = time.monotonic()
        _running.add(self)
        tasks = [asyncio.create_task(self._supervise(), name="callbox-event-listener")]
        if self.settings.purge_interval_minutes > 0:
            tasks.append(asyncio.create_task(self._purge_regularly(), name="callbox-event-purge"))
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(START_WAIT_SECONDS):
                    await self._up.wait()
            yield
        finally:
            _running.discard(self)
            self.end_subscriptions()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._interrupt_timer is not None:
                self._interrupt_timer.cancel()
            self._connected = False
            self._up.clear()
            self._url = None

    def end_subscriptions(self) -> None:
        """Stopping: end every subscription with ``SHUTTING_DOWN`` and refuse new ones."""
        self._stopping = True
        self._ending.set()
        for subscriber in list(self._subscribers):
            subscriber.end(
                ShuttingDown(
                    "this server is shutting down; resubscribe with after: the cursor in"
                    " this error (to another server)"
                ),
                drop_pending=True,  # (resumed from the cursor, elsewhere)
            )

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST_SECONDS
        first = True
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await self._connect()
                if self._position is None:
                    self._position = await read_head(self._statements(connection))
                self._came_up(first)
                first = False
                backoff = BACKOFF_FIRST_SECONDS
                await self._follow(connection)
            except Exception as error:  # whatever it was, reconnect: never stop listening
                logger.warning(
                    "event listener: %s: %s; reconnecting in %.1f s",
                    type(error).__name__,
                    error,
                    backoff,
                    extra={"callbox_event": "listener_lost"},
                )
            finally:
                self._went_down()
                if connection is not None:
                    connection.terminate()
            # Back off, unless asked to try now (``/ready`` asks: readiness_problem_now).
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff * random.uniform(0.8, 1.2)):  # noqa: S311
                    await self._retry_now.wait()
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _connect(self) -> asyncpg.Connection:
        assert self._url is not None
        self._lost.clear()
        connection: asyncpg.Connection = await asyncpg.connect(
            self._url, timeout=CONNECT_TIMEOUT_SECONDS
        )
        self._connection = connection
        try:
            await connection.add_listener(CHANNEL, self._on_notification)
            connection.add_termination_listener(self._on_termination)
        except BaseException:
            connection.terminate()
            raise
        return connection

    def _on_notification(self, *_: object) -> None:
        self._notifications += 1
        self._wake.set()

    def _on_termination(self, connection: object) -> None:
        if connection is self._connection:
            self._lost.set()
            self._wake.set()

    @staticmethod
    def _statements(connection: asyncpg.Connection) -> Fetch:
        return functools.partial(connection.fetch, timeout=STATEMENT_TIMEOUT_SECONDS)

    def _came_up(self, first: bool) -> None:
        self._connected = True
        self._down_since = None
        self._up.set()
        if self._interrupt_timer is not None:
            self._interrupt_timer.cancel()
            self._interrupt_timer = None
        if not first:
            if self.metrics is not None:
                self.metrics.listener_reconnects.inc()
            logger.info("event listener reconnected", extra={"callbox_event": "listener_back"})

    def _went_down(self) -> None:
        self._connection = None
        if not self._connected:
            return
        self._connected = False
        self._up.clear()
        self._down_since = self._unavailable_since = time.monotonic()
        grace = self.settings.outage_grace_seconds
        loop = asyncio.get_running_loop()
        self._interrupt_timer = loop.call_later(grace, self._interrupt_subscribers)

    def _interrupt_subscribers(self) -> None:
        self._interrupt_timer = None
        if self._connected:
            return
        grace = self.settings.outage_grace_seconds
        for subscriber in list(self._subscribers):
            subscriber.end(
                LiveUpdatesInterrupted(
                    f"the database has been out of reach for more than {grace:g} s; resubscribe"
                    " with after: the cursor in this error (to this or another server)"
                )
            )

    async def _follow(self, connection: asyncpg.Connection) -> None:
        """Read whenever woken (and regularly), until the connection is lost."""
        statements = self._statements(connection)
        # Notifications may have been missed while away: as if one came (read at once if
        # anyone is subscribed, else before the next subscription starts).
        self._notifications += 1
        self._wake.set()
        delay = POLL_SECONDS
        held_back_delay = HELD_BACK_FIRST_SECONDS
        loop = asyncio.get_running_loop()
        while True:
            woken = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
                    woken = True
            if self._lost.is_set() or connection.is_closed():
                raise ListenerLost("the listening connection closed")
            self._wake.clear()
            if woken and not self._live and not self._catching_up:
                delay = POLL_SECONDS  # nobody to offer rows to: read at the next poll
                continue
            started, mark = loop.time(), self._notifications
            waiters, self._catching_up = self._catching_up, []
            try:
                held_back = await self._read_new(statements)
                self._covered = max(self._covered, mark)
            finally:  # (if the read failed, the subscription finds the listener down)
                for _, waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            if held_back:
                delay = held_back_delay
                held_back_delay = min(held_back_delay * 2, HELD_BACK_MAX_SECONDS)
            else:
                delay = POLL_SECONDS
                held_back_delay = HELD_BACK_FIRST_SECONDS
            await asyncio.sleep(max(0.0, started + MIN_READ_INTERVAL_SECONDS - loop.time()))

    async def _read_new(self, statements: Fetch) -> bool:
        """Read everything readable after the position and offer it; whether rows are held
        back behind an older transaction."""
        while True:
            assert self._position is not None
            page = await read_page(statements, self._position, limit=PAGE)
            end = page.end(self._position, PAGE)
            batch = EventBatch(page.rows)
            for subscriber in list(self._live):
                subscriber.offer(batch, end)
            self._position = end
            if len(page.rows) < PAGE:
                return page.held_back

    async def _purge_regularly(self) -> None:
        interval = self.settings.purge_interval_minutes * 60
        await run_every(interval, self._purge_once, what="event log purge")

    async def _purge_once(self) -> None:
        if self._pool is None:
            return
        async with self._pool.acquire() as connection:
            deleted = await purge_expired_events(connection, replay_days=self.settings.replay_days)
        if deleted:
            logger.info(
                "event log purge: %d rows",
                deleted,
                extra={"callbox_event": "event_purge", "rows": deleted},
            )
