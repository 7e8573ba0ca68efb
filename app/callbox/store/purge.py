"""Purge data past its retention in small batches, safe while Callbox is serving.

Each batch is its own short transaction: pick at most ``batch_size`` rows past the cutoff
(``FOR UPDATE SKIP LOCKED``: rows another transaction holds are left for the next run),
delete them, commit. ``lock_timeout`` bounds any wait, and a batch that meets a deadlock
or a lock timeout is tried again. Cutoffs are fixed when the purge starts, so rows that
arrive meanwhile are never candidates.

Raw requests (``callbox_notification``) go with their dedupe keys (``callbox_applied_event``
rows of the same request, hence exactly as old): the dedupe memory is as long as the raw
retention. Status events and opt-outs that pointed at a purged request keep their data; their
``notification`` becomes NULL (the foreign key says ON DELETE SET NULL). The part of a long
inbound message that came in a purged request goes with it (``callbox_message_part``, ON DELETE
CASCADE): a joined message keeps the whole text, a part still waiting is raw data.

Normalised data: messages Callbox received (``received_at``: when it first learnt of them)
before the cutoff, their status history with them (ON DELETE CASCADE). Not the provider's
``occurred_at``: a receipt dated years ago that arrives today is kept for the whole
retention. Each conversation a batch touched is locked, then its ``message_count``,
``last_message_id`` and ``last_activity_at`` are recomputed from the messages left, and it
is deleted when none are. The opt-out ledger is never purged: it is the record of who asked
not to be contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

import asyncpg

from callbox.db.connection import Connection
from callbox.db.pool import keeps_session_state
from callbox.store.retention import RetentionPolicy

# "cbpurge" in ASCII: one purge at a time across every replica and `callbox purge`.
PURGE_LOCK_KEY = 0x636270757267
LOCK_TIMEOUT = "5s"
_RETRIES = 5
_RETRYABLE: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
    asyncpg.SerializationError,
)

Kind = Literal["raw", "messages"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PurgeProgress:
    receiver: str
    kind: Kind
    deleted: int
    total: int
    """Rows past the cutoff when this part started (rows arriving later are never past it)."""


ProgressCallback = Callable[[PurgeProgress], None]


@dataclass
class ReceiverPurge:
    """What was (or, in a dry run, would be) purged of one receiver."""

    policy: RetentionPolicy
    raw_requests: int = 0
    messages: int = 0
    conversations: int = 0
    """Conversations deleted because their last message was purged (not known in a dry run)."""


@dataclass
class PurgeReport:
    started_at: datetime
    dry_run: bool
    receivers: list[ReceiverPurge] = field(default_factory=list)

    @property
    def raw_requests(self) -> int:
        return sum(part.raw_requests for part in self.receivers)

    @property
    def messages(self) -> int:
        return sum(part.messages for part in self.receivers)

    @property
    def conversations(self) -> int:
        return sum(part.conversations for part in self.receivers)


# A request whose events wait to be applied is kept whatever its age: purging it would lose
# them (a database down for longer than the retention leaves such requests behind).
_WAITING = "EXISTS (SELECT 1 FROM callbox_pending_apply w WHERE w.notification = n.id)"
_COUNT_RAW = f"""
SELECT count(*) FROM callbox_notification n
WHERE receiver = $1 AND received_at < $2 AND NOT {_WAITING}
"""
_PICK_RAW = f"""
SELECT id FROM callbox_notification n
WHERE receiver = $1 AND received_at < $2 AND NOT {_WAITING}
LIMIT $3 FOR UPDATE SKIP LOCKED
"""
_FORGET_DEDUPE_KEYS = "DELETE FROM callbox_applied_event WHERE notification = ANY($1::bigint[])"
_DELETE_RAW = "DELETE FROM callbox_notification WHERE id = ANY($1::bigint[])"

_COUNT_MESSAGES = """
SELECT count(*) FROM callbox_message WHERE receiver = $1 AND received_at < $2
"""
_PICK_MESSAGES = """
SELECT id, conversation FROM callbox_message WHERE receiver = $1 AND received_at < $2
LIMIT $3 FOR UPDATE SKIP LOCKED
"""
_DELETE_MESSAGES = "DELETE FROM callbox_message WHERE id = ANY($1::bigint[])"
# Ingest changes a conversation's counts only while holding its row lock, and its messages
# only in the same transaction: once these locks are ours, the next statement's snapshot
# sees every message of these conversations, and none is added until we commit.
_LOCK_CONVERSATIONS = """
SELECT id FROM callbox_conversation WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
"""
_RECOUNT_CONVERSATIONS = """
UPDATE callbox_conversation AS c
SET message_count = s.message_count, last_message_id = s.last_id, last_activity_at = s.last_at
FROM (
    SELECT DISTINCT ON (m.conversation)
        m.conversation, m.id AS last_id, m.occurred_at AS last_at,
        count(*) OVER (PARTITION BY m.conversation) AS message_count
    FROM callbox_message AS m
    WHERE m.conversation = ANY($1::bigint[])
    ORDER BY m.conversation, m.occurred_at DESC, m.id DESC
) AS s
WHERE c.id = s.conversation
"""
_DELETE_EMPTY_CONVERSATIONS = """
DELETE FROM callbox_conversation AS c
WHERE c.id = ANY($1::bigint[])
    AND NOT EXISTS (SELECT 1 FROM callbox_message AS m WHERE m.conversation = c.id)
"""


async def try_purge_lock(connection: Connection) -> bool:
    # A session-level lock: the pool resets this connection fully when it is released, so
    # a lock whose release failed does not stay with the next user (callbox.db.pool).
    keeps_session_state(connection)
    locked: bool = await connection.fetchval("SELECT pg_try_advisory_lock($1)", PURGE_LOCK_KEY)
    return locked


async def release_purge_lock(connection: Connection) -> None:
    await connection.execute("SELECT pg_advisory_unlock($1)", PURGE_LOCK_KEY)


@contextlib.asynccontextmanager
async def purge_lock(connection: Connection) -> AsyncIterator[bool]:
    """Yield whether this connection now holds the purge lock (released on exit)."""
    locked = await try_purge_lock(connection)
    try:
        yield locked
    finally:
        if locked:
            # If the connection broke, the server has already let go of the lock with it.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await release_purge_lock(connection)


async def purge(
    connection: Connection,
    policies: list[RetentionPolicy],
    *,
    batch_size: int = 5000,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> PurgeReport:
    """Purge every receiver's data past its retention; take the purge lock first."""
    report = PurgeReport(started_at=now or datetime.now(UTC), dry_run=dry_run)
    for policy in policies:
        if policy.keeps_everything:
            continue
        part = ReceiverPurge(policy)
        report.receivers.append(part)
        raw_cutoff = policy.raw_cutoff(report.started_at)
        if raw_cutoff is not None:
            part.raw_requests = await _purge_raw(
                connection, policy.receiver, raw_cutoff, batch_size, dry_run, progress
            )
        normalised_cutoff = policy.normalised_cutoff(report.started_at)
        if normalised_cutoff is not None:
            part.messages, part.conversations = await _purge_messages(
                connection, policy.receiver, normalised_cutoff, batch_size, dry_run, progress
            )
    return report


async def _purge_raw(
    connection: Connection,
    receiver: str,
    cutoff: datetime,
    batch_size: int,
    dry_run: bool,
    progress: ProgressCallback | None,
) -> int:
    total: int = await connection.fetchval(_COUNT_RAW, receiver, cutoff)
    if dry_run or total == 0:
        return total

    async def batch() -> int:
        rows = await connection.fetch(_PICK_RAW, receiver, cutoff, batch_size)
        ids = [row["id"] for row in rows]
        if ids:
            await connection.execute(_FORGET_DEDUPE_KEYS, ids)
            await connection.execute(_DELETE_RAW, ids)
        return len(ids)

    deleted = 0
    while count := await _in_short_transaction(connection, batch):
        deleted += count
        if progress is not None:
            progress(PurgeProgress(receiver, "raw", deleted, max(total, deleted)))
    return deleted


async def _purge_messages(
    connection: Connection,
    receiver: str,
    cutoff: datetime,
    batch_size: int,
    dry_run: bool,
    progress: ProgressCallback | None,
) -> tuple[int, int]:
    total: int = await connection.fetchval(_COUNT_MESSAGES, receiver, cutoff)
    if dry_run or total == 0:
        return total, 0

    async def batch() -> tuple[int, int]:
        rows = await connection.fetch(_PICK_MESSAGES, receiver, cutoff, batch_size)
        if not rows:
            return 0, 0
        await connection.execute(_DELETE_MESSAGES, [row["id"] for row in rows])
        touched = sorted({row["conversation"] for row in rows if row["conversation"] is not None})
        emptied = 0
        if touched:
            await connection.execute(_LOCK_CONVERSATIONS, touched)
            await connection.execute(_RECOUNT_CONVERSATIONS, touched)
            status = await connection.execute(_DELETE_EMPTY_CONVERSATIONS, touched)
            emptied = int(status.rsplit(" ", 1)[-1])  # "DELETE <n>"
        return len(rows), emptied

    deleted = conversations = 0
    while True:
        count, emptied = await _in_short_transaction(connection, batch)
        if not count:
            return deleted, conversations
        deleted += count
        conversations += emptied
        if progress is not None:
            progress(PurgeProgress(receiver, "messages", deleted, max(total, deleted)))


async def _in_short_transaction(connection: Connection, batch: Callable[[], Awaitable[_T]]) -> _T:
    """Run one batch in its own transaction; lock waits are bounded, deadlocks retried."""
    for attempt in range(1, _RETRIES + 1):
        try:
            async with connection.transaction():
                await connection.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                return await batch()
        except _RETRYABLE:
            if attempt == _RETRIES:
                raise
            await asyncio.sleep(random.uniform(0.05, 0.25) * attempt)  # noqa: S311
    raise AssertionError("unreachable")
