"""Group commit for the ingest path: the acknowledgement.

Every parsed callback becomes one item in a queue. A few writer tasks each take all the
items waiting (up to ``max_batch``) and store them with one ``callbox_accept_batch`` call:
one statement, one transaction, one commit for the lot, raw requests with their parsed
events (``PENDING``). A callback's future resolves only after that statement returned, that
is after its transaction committed, so nothing is acknowledged before it is durable. The
events are applied behind the acknowledgement (:mod:`callbox.store.applier`). When a batch
fails on one item's data, its items are written again one by one, so one bad item rejects
only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec

from callbox.db.connection import Pool
from callbox.store.faults import WriteHealth

logger = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()

_ACCEPT_BATCH = """
SELECT ordinal, notification_id, state FROM callbox_accept_batch($1::jsonb, $2::bytea[])
ORDER BY ordinal
"""

VALUE_REFUSED: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,  # e.g. a value too large for its index row
)
"""Errors that mean PostgreSQL refused one item's values: that item is rejected, alone."""

# Errors that say nothing about the item itself: a lone item is simply tried again.
TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
# Errors after which a batch is retried item by item rather than failed as a whole.
_RETRY_ALONE = (*VALUE_REFUSED, *TRANSIENT)
_TRANSIENT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One callback ready to store: the raw request's columns and its encoded events."""

    receiver: str
    provider: str
    received_at: datetime
    peer: str
    client: str
    method: str
    content_type: str | None
    headers: dict[str, str]
    body: bytes | None
    body_size: int
    query_string: str
    our_address: str | None
    events_json: str
    note: str | None = None
    """What the provider module did not apply, and why: stored as the notification's
    ``reason`` (``providers.base.NotApplied``)."""

    def document(self) -> dict[str, object]:
        """The item as the JSON object ``callbox_accept_batch`` reads (body passed apart);
        the events are already JSON."""
        return {
            "receiver": self.receiver,
            "provider": self.provider,
            "received_at": self.received_at,
            "peer": self.peer,
            "client": self.client,
            "method": self.method,
            "content_type": self.content_type,
            "headers": self.headers,
            "body_size": self.body_size,
            "query_string": self.query_string,
            "our_address": self.our_address,
            "events": msgspec.Raw(self.events_json.encode()),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A stored request: ``PENDING`` until its events are applied, ``ACCEPTED`` at once
    when it has none."""

    notification_id: int
    state: str


class _Pending:
    """A queued callback and the future its handler awaits."""

    __slots__ = ("future", "item")

    def __init__(self, item: IngestItem) -> None:
        self.item = item
        self.future: asyncio.Future[StoredRow] = asyncio.get_running_loop().create_future()


class IngestWriter:
    """Stores callbacks in batches; ``write`` returns once the callback is committed.

    Example::

        writer = IngestWriter(pool)
        await writer.start()
        row = await writer.write(item)
        await writer.stop()
    """

    def __init__(
        self,
        pool: Pool,
        *,
        writers: int = 2,
        max_batch: int = 64,
        acquire_timeout: float | None = None,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self.health = WriteHealth()
        """Whether writes fail for lack of resources (read by ``/ready``)."""
        self._writers = writers
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"callbox-ingest-writer-{index}")
            for index in range(self._writers)
        ]

    async def stop(self) -> None:
        """Finish what is queued, then stop the writer tasks."""
        await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def write(self, item: IngestItem) -> StoredRow:
        """Store one callback; raises the database's error if it could not."""
        if not self._tasks:
            raise RuntimeError("the ingest writer is not running")
        pending = _Pending(item)
        self._queue.put_nowait(pending)
        return await pending.future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # A callback that stopped waiting (its time limit passed) was answered 503: it
            # is not written now, the provider's retry will be.
            live = [pending for pending in batch if not pending.future.done()]
            try:
                if live:
                    await self._write_batch(live)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_batch(self, batch: list[_Pending], attempt: int = 1) -> None:
        try:
            rows = await self._execute([pending.item for pending in batch])
        except _RETRY_ALONE as error:
            if len(batch) == 1:
                if isinstance(error, TRANSIENT) and attempt < _TRANSIENT_ATTEMPTS:
                    # Two transactions locked the same conversations in opposite orders;
                    # Postgres aborted this one, so it changed nothing: run it again once
                    # the other has had time to finish (jitter keeps retries apart).
                    await asyncio.sleep(random.uniform(0.05, 0.25) * attempt)  # noqa: S311
                    await self._write_batch(batch, attempt + 1)
                else:
                    _fail(batch, error)
                return
            for pending in batch:
                await self._write_batch([pending])
            return
        except Exception as error:  # the database is unreachable, or a bug: fail them all
            self.health.failed(error)
            _fail(batch, error)
            return
        self.health.succeeded()
        for pending, row in zip(batch, rows, strict=True):
            if not pending.future.done():
                pending.future.set_result(row)

    async def _execute(self, items: list[IngestItem]) -> list[StoredRow]:
        documents = _ENCODER.encode([item.document() for item in items]).decode()
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            records = await connection.fetch(_ACCEPT_BATCH, documents, [i.body for i in items])
        return [StoredRow(record["notification_id"], record["state"]) for record in records]


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(error)
