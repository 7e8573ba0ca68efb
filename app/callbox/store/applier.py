"""Apply stored callbacks' events behind the acknowledgement.

The ingest writer (:mod:`callbox.store.writer`) stores each callback, its parsed events
waiting in ``callbox_pending_apply``, and the provider is answered; the process then hands
the notification's id to its :class:`Applier`, which applies what is waiting in batches of
up to ``max_batch`` with one ``callbox_apply_pending`` statement (one transaction) per
batch:

- **its own first, without polling**: ids arrive in memory the moment they are stored, and
  the applier wakes for them;
- **nothing left behind**: what a process that died (or whose in-memory queue was full)
  stored stays in ``callbox_pending_apply``; every applier claims rows once they are
  ``claim_after`` seconds old. A row is claimed under a row lock and deleted by the
  transaction that applies it, so it is applied once whichever process gets there first;
- **one bad item fails alone**: a batch the database refuses is applied again one item at a
  time; an item that fails alone becomes ``FAILED`` with the reason (``callbox reprocess``
  applies it once the cause is fixed) and the rest apply;
- **no deadlocks**: every application takes ``callbox_lock_apply`` first, so applications
  of all processes run one after another (batches make that cheap);
- **lag is measured**: from a request's arrival to the commit of its application
  (:attr:`ApplyReport.lags`), and the backlog (requests waiting, all processes) is counted
  on every claim round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from callbox.db.connection import Pool
from callbox.store.faults import WriteHealth, fault_kind
from callbox.store.writer import TRANSIENT, VALUE_REFUSED
from callbox.tracebacks import traceback_without_values

logger = logging.getLogger(__name__)

_APPLY = """
SELECT notification_id, state, received_at, applied, duplicates
FROM callbox_apply_pending($1::bigint[])
"""

_WAITING = """
SELECT notification FROM callbox_pending_apply
WHERE received_at < now() - make_interval(secs => $1)
ORDER BY notification LIMIT $2
"""

_BACKLOG = "SELECT count(*) FROM (SELECT 1 FROM callbox_pending_apply LIMIT $1) AS waiting"

_STATES = """
SELECT n.id, n.state, n.reason,
    EXISTS (SELECT 1 FROM callbox_pending_apply w WHERE w.notification = n.id) AS waiting
FROM callbox_notification n WHERE n.id = ANY($1::bigint[])
"""

# Its events stay out of the model; `callbox reprocess` parses the stored body again.
_FAIL = """
WITH failed AS (DELETE FROM callbox_pending_apply WHERE notification = $1 RETURNING notification)
UPDATE callbox_notification SET state = 'FAILED', reason = $2
WHERE id IN (SELECT notification FROM failed)
"""

_MEMORY_LIMIT = 100_000
"""Ids held in memory at most; past that new ones are left to the claim round (in the
table they are safe either way)."""

_TRANSIENT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class AppliedRow:
    """What became of one stored request."""

    notification_id: int
    state: str
    applied: int = 0
    duplicates: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """One committed batch, for metrics: each request's lag (arrival to commit, seconds),
    how many failed, and the backlog last counted."""

    lags: list[float]
    failed: int
    backlog: int


@dataclass
class _Waiting:
    futures: dict[int, asyncio.Future[AppliedRow]] = field(default_factory=dict)

    def resolve(self, row: AppliedRow) -> None:
        future = self.futures.pop(row.notification_id, None)
        if future is not None and not future.done():
            future.set_result(row)

    def fail(self, notification_id: int, error: BaseException) -> None:
        future = self.futures.pop(notification_id, None)
        if future is not None and not future.done():
            future.set_exception(error)


class Applier:
    """One per process: applies what the process stored, and what nobody is applying.

    Example::

        applier = Applier(pool)
        await applier.start()
        applier.submit(notification_id)        # stored: apply soon
        row = await applier.applied(other_id)  # and wait until applied
        await applier.stop()
    """

    def __init__(
        self,
        pool: Pool,
        *,
        max_batch: int = 500,
        claim_after_seconds: float = 5.0,
        claim_interval_seconds: float = 1.0,
        backlog_alert: int = 10_000,
        acquire_timeout: float | None = None,
    ) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._claim_after = claim_after_seconds
        self._claim_interval = claim_interval_seconds
        self.backlog_alert = backlog_alert
        self._acquire_timeout = acquire_timeout
        self._ids: deque[int] = deque()
        self._wake = asyncio.Event()
        self._waiting = _Waiting()
        self._task: asyncio.Task[None] | None = None
        self._next_claim = 0.0
        self._in_flight = 0
        self._alerting = False
        self.health = WriteHealth()
        self.backlog = 0
        """Requests waiting to be applied, all processes, as last counted (at most
        ``backlog_alert`` + 1)."""
        self.listeners: list[Callable[[ApplyReport], None]] = []
        """Called after every committed batch (metrics)."""

    @property
    def own_backlog(self) -> int:
        """Requests this process stored and has not applied yet."""
        return len(self._ids) + self._in_flight

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="callbox-applier")

    async def stop(self) -> None:
        """Apply what this process holds (as far as the database allows), then stop.

        What is left is safe in the table: the next process to start claims it.
        """
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):
            while self._ids:
                await self._apply_batch(self._take())
        for notification_id in list(self._waiting.futures):
            self._waiting.fail(notification_id, RuntimeError("the applier stopped"))

    def submit(self, notification_id: int) -> None:
        """Apply ``notification_id`` soon (past the memory limit the claim round takes it)."""
        if len(self._ids) < _MEMORY_LIMIT:
            self._queue(notification_id)

    def applied(self, notification_id: int) -> asyncio.Future[AppliedRow]:
        """Apply ``notification_id`` soon; the future resolves once it is."""
        future: asyncio.Future[AppliedRow] = asyncio.get_running_loop().create_future()
        self._waiting.futures[notification_id] = future
        self._queue(notification_id)
        return future

    def _queue(self, notification_id: int) -> None:
        self._ids.append(notification_id)
        self._wake.set()

    def _take(self) -> list[int]:
        count = min(self._max_batch, len(self._ids))
        return [self._ids.popleft() for _ in range(count)]

    async def _run(self) -> None:
        while True:
            if not self._ids:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._claim_interval)
                self._wake.clear()
            try:
                if self._ids:
                    batch = self._take()
                    self._in_flight = len(batch)
                    try:
                        await self._apply_batch(batch)
                    finally:
                        self._in_flight = 0
                if time.monotonic() >= self._next_claim:
                    self._next_claim = time.monotonic() + self._claim_interval
                    await self._claim_round()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is out of reach: try again later
                self.health.failed(error)
                if fault_kind(error) is not None:
                    logger.warning("applying stored callbacks failed: %s", type(error).__name__)
                else:  # a bug: where it is, without the values (they may be personal data)
                    logger.error(
                        "applying stored callbacks failed: %s", traceback_without_values(error)
                    )
                await asyncio.sleep(self._claim_interval)

    async def _claim_round(self) -> None:
        """Count the backlog; claim what has waited past ``claim_after``."""
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            self.backlog = await connection.fetchval(_BACKLOG, self.backlog_alert + 1)
            ids = (
                [
                    row["notification"]
                    for row in await connection.fetch(_WAITING, self._claim_after, self._max_batch)
                ]
                if self.backlog
                else []
            )
        self._alert()
        if ids:
            await self._apply_batch(ids)

    def _alert(self) -> None:
        over = self.backlog > self.backlog_alert
        if over and not self._alerting:
            logger.warning(
                "apply backlog over %d stored callbacks waiting: normalisation is behind arrivals",
                self.backlog_alert,
            )
        elif self._alerting and not over:
            logger.info("apply backlog back under %d", self.backlog_alert)
        self._alerting = over

    async def _apply_batch(self, ids: list[int]) -> None:
        try:
            rows = await self._apply_each_alone(ids) if len(ids) == 1 else await self._apply(ids)
        except Exception as error:
            if fault_kind(error) is not None or len(ids) == 1:
                for notification_id in ids:
                    self._waiting.fail(notification_id, error)
                raise
            # A value refused, or a bug: apply them one by one to find the item that causes it.
            rows = []
            for notification_id in ids:
                rows.extend(await self._apply_each_alone([notification_id]))
        self.health.succeeded()
        now = datetime.now().astimezone()
        lags: list[float] = []
        failed = 0
        for row, received_at in rows:
            if received_at is not None:
                lags.append(max(0.0, (now - received_at).total_seconds()))
            failed += row.state == "FAILED"
            self._waiting.resolve(row)
        seen = {row.notification_id for row, _ in rows}
        await self._settle([i for i in ids if i not in seen])
        if rows:
            report = ApplyReport(lags, failed, self.backlog)
            for listener in self.listeners:
                listener(report)

    async def _apply(self, ids: list[int]) -> list[tuple[AppliedRow, datetime | None]]:
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            records = await connection.fetch(_APPLY, ids)
        return [
            (
                AppliedRow(
                    record["notification_id"],
                    record["state"],
                    record["applied"],
                    record["duplicates"],
                ),
                record["received_at"],
            )
            for record in records
        ]

    async def _apply_each_alone(self, ids: list[int]) -> list[tuple[AppliedRow, datetime | None]]:
        (notification_id,) = ids
        for attempt in range(1, _TRANSIENT_ATTEMPTS + 1):
            try:
                return await self._apply(ids)
            except Exception as error:
                if fault_kind(error) is not None:
                    raise
                if isinstance(error, TRANSIENT) and attempt < _TRANSIENT_ATTEMPTS:
                    await asyncio.sleep(random.uniform(0.05, 0.25) * attempt)  # noqa: S311
                    continue
                return [(await self._mark_failed(notification_id, error), None)]
        raise AssertionError("unreachable")

    async def _mark_failed(self, notification_id: int, error: Exception) -> AppliedRow:
        if isinstance(error, VALUE_REFUSED):
            reason = f"value refused by the database: {error}"
        else:
            reason = f"applying failed: {type(error).__name__}: {error}"
        # The log names the request and the error's type only: its text may quote values.
        logger.error(
            "stored callback %d could not be applied: %s (marked FAILED; `callbox reprocess`"
            " applies it once the cause is fixed)",
            notification_id,
            type(error).__name__,
        )
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            await connection.execute(_FAIL, notification_id, reason)
        return AppliedRow(notification_id, "FAILED", reason=reason)

    async def _settle(self, ids: list[int]) -> None:
        """Ids the batch did not apply: applied by someone else (answer their waiters), or
        held by another transaction right now (try again soon)."""
        waited = [i for i in ids if i in self._waiting.futures]
        if not waited:
            return
        async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
            records = await connection.fetch(_STATES, waited)
        found = {record["id"]: record for record in records}
        for notification_id in waited:
            record = found.get(notification_id)
            if record is None:
                self._waiting.fail(notification_id, LookupError("the request is gone"))
            elif record["waiting"]:
                self._ids.append(notification_id)
                self._wake.set()
            else:
                self._waiting.resolve(
                    AppliedRow(notification_id, record["state"], reason=record["reason"])
                )
